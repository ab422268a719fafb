// Bucket functions: a counter value to the index of a stable range (a search facet).

/** The family a {@linkcode Buckets} belongs to. */
export type BucketsKind = "log" | "linear" | "manual";

/**
 * Ranges that cover every finite number, numbered in ascending order: bucket
 * `b` holds the values `lowerBound(b) <= v < upperBound(b)`, and
 * `bucketOf` is monotone (a larger value never lands in a smaller bucket).
 */
export interface Buckets {
  /** Which family: `log`, `linear` or `manual`. */
  readonly kind: BucketsKind;
  /**
   * The bucket holding a value.
   *
   * @param value A finite counter value (a bigint is read as a number).
   * @returns The bucket index.
   * @throws {RangeError} When the value is NaN or infinite.
   */
  bucketOf(value: number | bigint): number;
  /**
   * The smallest value of a bucket.
   *
   * @param bucket A bucket index.
   * @returns Its inclusive lower bound; `-Infinity` for an open first bucket.
   */
  lowerBound(bucket: number): number;
  /**
   * The end of a bucket.
   *
   * @param bucket A bucket index.
   * @returns Its exclusive upper bound; `Infinity` for an open last bucket.
   */
  upperBound(bucket: number): number;
  /**
   * A short facet label for a bucket, e.g. `"1k-10k"`, `"<1"` or `"1M+"`.
   *
   * @param bucket A bucket index.
   * @returns The label.
   */
  label(bucket: number): string;
}

/** Options for {@linkcode logBuckets}. */
export interface LogBucketsOptions {
  /** Ratio between consecutive bucket bounds; must be > 1. Default: 10. */
  readonly base?: number;
  /** Lower bound of bucket 1; bucket 0 holds everything below it. Must be > 0. Default: 1. */
  readonly start?: number;
}

/** Options for {@linkcode linearBuckets}. */
export interface LinearBucketsOptions {
  /** Width of every bucket; must be > 0. */
  readonly width: number;
  /** Lower bound of bucket 0 (buckets below it are negative). Default: 0. */
  readonly offset?: number;
}

/** Options for {@linkcode manualBuckets}. */
export interface ManualBucketsOptions {
  /** One label per bucket (`thresholds.length + 1` of them). Default: generated from the bounds. */
  readonly labels?: readonly string[];
}

function finite(value: number | bigint): number {
  const v = typeof value === "bigint" ? Number(value) : value;
  if (!Number.isFinite(v)) {
    throw new RangeError(
      `projection: value ${value} is not a finite number; project counters, not NaN or Infinity`,
    );
  }
  return v;
}

function checkIndex(bucket: number): void {
  if (!Number.isSafeInteger(bucket)) {
    throw new RangeError(
      `projection: bucket ${bucket} is not an integer index; take it from bucketOf()`,
    );
  }
}

/** Compact text of a bound: 1500 → "1.5k", 2000000 → "2M". */
function compactNumber(value: number): string {
  const units: [number, string][] = [[1e12, "T"], [1e9, "G"], [1e6, "M"], [
    1e3,
    "k",
  ]];
  const magnitude = Math.abs(value);
  for (const [size, suffix] of units) {
    if (magnitude >= size) {
      return `${Number((value / size).toPrecision(3))}${suffix}`;
    }
  }
  return String(Number(value.toPrecision(3)));
}

function rangeLabel(lower: number, upper: number): string {
  if (lower === -Infinity) return `<${compactNumber(upper)}`;
  if (upper === Infinity) return `${compactNumber(lower)}+`;
  return `${compactNumber(lower)}-${compactNumber(upper)}`;
}

// Finds the largest bucket whose lower bound is <= v, starting from a
// floating-point estimate and correcting it against lowerBound itself, so
// bucketOf and lowerBound agree exactly at every boundary.
function settle(
  estimate: number,
  v: number,
  lowerBound: (b: number) => number,
  min: number,
): number {
  let b = Math.max(min, estimate);
  while (b > min && lowerBound(b) > v) b--;
  while (lowerBound(b + 1) <= v) b++;
  return b;
}

/**
 * Logarithmic buckets: bucket 0 holds values below `start`, bucket `k >= 1`
 * holds `start·base^(k-1) <= v < start·base^k`. With the defaults a counter
 * from 0 to 1 M crosses 7 buckets: `<1`, `1-10`, `10-100`, … `1M+`.
 *
 * @param options Base and start; see {@linkcode LogBucketsOptions}.
 * @returns The buckets.
 * @throws {RangeError} When `base <= 1` or `start <= 0`.
 *
 * @example Order-of-magnitude facets
 * ```ts
 * import { logBuckets } from "@murmur/core/projection";
 * import assert from "node:assert/strict";
 *
 * const likes = logBuckets();
 * assert.equal(likes.bucketOf(0), 0);
 * assert.equal(likes.bucketOf(999), 3);
 * assert.equal(likes.bucketOf(1000), 4);
 * assert.equal(likes.label(4), "1k-10k");
 * ```
 */
export function logBuckets(options: LogBucketsOptions = {}): Buckets {
  const base = options.base ?? 10;
  const start = options.start ?? 1;
  if (!(base > 1) || !Number.isFinite(base)) {
    throw new RangeError(
      `logBuckets: base ${base} must be a finite number > 1`,
    );
  }
  if (!(start > 0) || !Number.isFinite(start)) {
    throw new RangeError(
      `logBuckets: start ${start} must be a finite number > 0`,
    );
  }
  const lowerBound = (bucket: number): number => {
    checkIndex(bucket);
    if (bucket <= 0) return -Infinity;
    return start * base ** (bucket - 1);
  };
  return Object.freeze({
    kind: "log" as const,
    bucketOf(value: number | bigint): number {
      const v = finite(value);
      if (v < start) return 0;
      const estimate = Math.floor(Math.log(v / start) / Math.log(base)) + 1;
      return settle(estimate, v, lowerBound, 0);
    },
    lowerBound,
    upperBound: (bucket: number): number => lowerBound(bucket + 1),
    label: (bucket: number): string =>
      rangeLabel(lowerBound(bucket), lowerBound(bucket + 1)),
  });
}

/**
 * Linear buckets of equal width: bucket `k` holds
 * `offset + k·width <= v < offset + (k+1)·width` (negative `k` below `offset`).
 *
 * @param options Width and offset; see {@linkcode LinearBucketsOptions}.
 * @returns The buckets.
 * @throws {RangeError} When `width <= 0` or the offset is not finite.
 *
 * @example Star ratings in half-star steps
 * ```ts
 * import { linearBuckets } from "@murmur/core/projection";
 * import assert from "node:assert/strict";
 *
 * const rating = linearBuckets({ width: 0.5, offset: 1 });
 * assert.equal(rating.bucketOf(1), 0);
 * assert.equal(rating.bucketOf(4.7), 7);
 * assert.equal(rating.lowerBound(7), 4.5);
 * ```
 */
export function linearBuckets(options: LinearBucketsOptions): Buckets {
  const { width } = options;
  const offset = options.offset ?? 0;
  if (!(width > 0) || !Number.isFinite(width)) {
    throw new RangeError(
      `linearBuckets: width ${width} must be a finite number > 0`,
    );
  }
  if (!Number.isFinite(offset)) {
    throw new RangeError(`linearBuckets: offset ${offset} must be finite`);
  }
  const lowerBound = (bucket: number): number => {
    checkIndex(bucket);
    return offset + bucket * width;
  };
  return Object.freeze({
    kind: "linear" as const,
    bucketOf(value: number | bigint): number {
      const v = finite(value);
      const estimate = Math.floor((v - offset) / width);
      return settle(estimate, v, lowerBound, -Number.MAX_SAFE_INTEGER);
    },
    lowerBound,
    upperBound: (bucket: number): number => lowerBound(bucket + 1),
    label: (bucket: number): string =>
      rangeLabel(lowerBound(bucket), lowerBound(bucket + 1)),
  });
}

/**
 * Buckets between hand-picked thresholds: bucket 0 holds values below
 * `thresholds[0]`, bucket `k` holds `thresholds[k-1] <= v < thresholds[k]`,
 * and the last bucket is open-ended.
 *
 * @param thresholds Strictly ascending finite bounds (at least one).
 * @param options Labels; see {@linkcode ManualBucketsOptions}.
 * @returns The buckets.
 * @throws {RangeError} When the thresholds are empty, not finite or not
 * strictly ascending, or the labels do not number `thresholds.length + 1`.
 *
 * @example Product tiers
 * ```ts
 * import { manualBuckets } from "@murmur/core/projection";
 * import assert from "node:assert/strict";
 *
 * const sales = manualBuckets([10, 100, 1000], {
 *   labels: ["new", "selling", "popular", "bestseller"],
 * });
 * assert.equal(sales.label(sales.bucketOf(250)), "popular");
 * assert.equal(sales.bucketOf(5000), 3);
 * ```
 */
export function manualBuckets(
  thresholds: readonly number[],
  options: ManualBucketsOptions = {},
): Buckets {
  if (thresholds.length === 0) {
    throw new RangeError("manualBuckets: give at least one threshold");
  }
  const bounds = [...thresholds];
  for (let i = 0; i < bounds.length; i++) {
    const t = bounds[i]!;
    if (!Number.isFinite(t) || (i > 0 && !(t > bounds[i - 1]!))) {
      throw new RangeError(
        `manualBuckets: thresholds must be finite and strictly ascending; got ${
          JSON.stringify(thresholds)
        }`,
      );
    }
  }
  const labels = options.labels;
  if (labels !== undefined && labels.length !== bounds.length + 1) {
    throw new RangeError(
      `manualBuckets: ${bounds.length} thresholds make ${
        bounds.length + 1
      } buckets, but ${labels.length} labels were given`,
    );
  }
  const last = bounds.length;
  const clamp = (bucket: number): number => {
    checkIndex(bucket);
    return Math.min(Math.max(bucket, 0), last);
  };
  const lowerBound = (bucket: number): number => {
    const b = clamp(bucket);
    return b === 0 ? -Infinity : bounds[b - 1]!;
  };
  const upperBound = (bucket: number): number => {
    const b = clamp(bucket);
    return b === last ? Infinity : bounds[b]!;
  };
  return Object.freeze({
    kind: "manual" as const,
    bucketOf(value: number | bigint): number {
      const v = finite(value);
      let lo = 0;
      let hi = bounds.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (bounds[mid]! <= v) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    },
    lowerBound,
    upperBound,
    label: (bucket: number): string =>
      labels?.[clamp(bucket)] ??
        rangeLabel(lowerBound(bucket), upperBound(bucket)),
  });
}
