// Hysteresis over buckets: a counter must clear a boundary by a margin before its facet moves.

import type { Buckets } from "./buckets.ts";

/** Options for {@linkcode hysteresis}. */
export interface HysteresisOptions {
  /**
   * How far past a boundary a value must go before the bucket changes, as a
   * fraction of the narrower of the two buckets that meet there (for a
   * boundary between two open-ended buckets: of the boundary's magnitude).
   * `0` is no hysteresis; must be `>= 0` and `< 1`. Default: `0.1`.
   */
  readonly band?: number;
}

/** The values a bucket keeps once entered: `stayFrom <= v < stayBelow`. */
export interface Band {
  /** The smallest value that keeps the bucket (below its lower bound by the margin). */
  readonly stayFrom: number;
  /** The value at which the bucket is left upwards (above its upper bound by the margin). */
  readonly stayBelow: number;
}

/**
 * Buckets with a memory: the next bucket depends on the bucket the value is
 * projected into now, so a counter wobbling around a boundary keeps one
 * facet instead of re-indexing on every wobble.
 */
export interface Hysteresis {
  /** The underlying buckets. */
  readonly buckets: Buckets;
  /** The band fraction in use. */
  readonly band: number;
  /**
   * The bucket a value should be projected into, given the current one.
   *
   * @param current The bucket the value is projected into now, or
   * `undefined` when it was never projected (then this is `bucketOf(value)`).
   * @param value The counter's new value.
   * @returns `current` while the value stays inside its band, otherwise
   * `buckets.bucketOf(value)`. For a fixed `current` the result is monotone in `value`.
   */
  next(current: number | undefined, value: number | bigint): number;
  /**
   * The values that keep a bucket once it is entered.
   *
   * @param bucket A bucket index.
   * @returns Its band.
   */
  bandOf(bucket: number): Band;
}

/**
 * Wraps buckets with hysteresis.
 *
 * @param buckets The buckets (log, linear or manual).
 * @param options The band; see {@linkcode HysteresisOptions}.
 * @returns The hysteresis projection.
 * @throws {RangeError} When the band is not in `[0, 1)`.
 *
 * @example A counter wobbling around 1000 keeps its facet
 * ```ts
 * import { hysteresis, logBuckets } from "@murmur/core/projection";
 * import assert from "node:assert/strict";
 *
 * const likes = hysteresis(logBuckets(), { band: 0.1 });
 * let facet = likes.next(undefined, 995);
 * assert.equal(facet, 3); // 100-1k
 * for (const v of [1001, 998, 1050, 990]) facet = likes.next(facet, v);
 * assert.equal(facet, 3); // still 100-1k: 1050 is inside the margin
 * facet = likes.next(facet, 1200);
 * assert.equal(facet, 4); // 1k-10k
 * assert.equal(likes.next(facet, 950), 4); // 910 is the way back down
 * ```
 */
export function hysteresis(
  buckets: Buckets,
  options: HysteresisOptions = {},
): Hysteresis {
  const band = options.band ?? 0.1;
  if (!(band >= 0 && band < 1)) {
    throw new RangeError(
      `hysteresis: band ${band} must be >= 0 and < 1 (a fraction of a bucket's width)`,
    );
  }
  // The margin around the lower boundary of `bucket`, between bucket-1 and bucket.
  const marginBelow = (bucket: number): number => {
    const boundary = buckets.lowerBound(bucket);
    if (!Number.isFinite(boundary)) return 0;
    const below = boundary - buckets.lowerBound(bucket - 1);
    const above = buckets.upperBound(bucket) - boundary;
    const narrower = Math.min(below, above);
    return band * (Number.isFinite(narrower) ? narrower : Math.abs(boundary));
  };
  const bandOf = (bucket: number): Band => ({
    stayFrom: buckets.lowerBound(bucket) - marginBelow(bucket),
    stayBelow: buckets.upperBound(bucket) + marginBelow(bucket + 1),
  });
  return Object.freeze({
    buckets,
    band,
    next(current: number | undefined, value: number | bigint): number {
      const raw = buckets.bucketOf(value);
      if (current === undefined || raw === current) return raw;
      const v = typeof value === "bigint" ? Number(value) : value;
      const { stayFrom, stayBelow } = bandOf(current);
      return v >= stayFrom && v < stayBelow ? current : raw;
    },
    bandOf,
  });
}
