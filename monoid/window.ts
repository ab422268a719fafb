// Tumbling UTC time windows: bucket keys, retention, "last N" and range listings, bucket merges.

import type { Monoid } from "./monoid.ts";

/** The width of a window's buckets. */
export type Granularity = "minute" | "hour" | "day";

/**
 * Tumbling UTC buckets of one granularity.
 *
 * A bucket is keyed by its start in epoch milliseconds (UTC, aligned to the
 * epoch, so daily buckets start at UTC midnight). A bucket holds events with
 * `start <= time < start + size`. Keys are never `0`-as-"all time": an
 * unwindowed value uses `bucket: null` in the store.
 */
export interface Window {
  /** The bucket width's name. */
  readonly granularity: Granularity;
  /** The bucket width in ms. */
  readonly size: number;
  /** How long a bucket is kept after its END, in ms; `null` keeps it forever. */
  readonly retention: number | null;
  /**
   * The start of the bucket holding `timeMs` (floored, so pre-1970 times land in the right bucket).
   * Throws a `RangeError` for a time outside the `Date` range (±8.64e15 ms) or not a number.
   */
  bucketOf(timeMs: number): number;
  /** The exclusive end of a bucket (`bucket + size`). Throws a `RangeError` when `bucket` is not a bucket start. */
  bucketEnd(bucket: number): number;
  /** When a backend may drop the bucket: its END plus `retention`; `undefined` when kept forever. */
  expiresAt(bucket: number): number | undefined;
  /**
   * The bucket holding `nowMs` and the `n - 1` before it, oldest first. The
   * answer covers `[start of the oldest bucket, nowMs]`: whole buckets, the
   * newest one "so far". Throws a `RangeError` unless `1 <= n <= 100 000`.
   */
  lastN(n: number, nowMs: number): number[];
  /**
   * The buckets intersecting `[startMs, endMs)`, oldest first (empty when
   * `endMs <= startMs`). The first and last buckets may stick out of the
   * range. Throws a `RangeError` when more than 100 000 buckets would be listed.
   */
  range(startMs: number, endMs: number): number[];
}

/** Options for {@linkcode minutely}, {@linkcode hourly} and {@linkcode daily}. */
export interface WindowOptions {
  /**
   * How long to keep a bucket after its end, in ms (see {@linkcode days}).
   * Omit to keep buckets forever.
   */
  readonly retention?: number;
}

/** The most buckets one listing may hold; larger requests throw a `RangeError`. */
export const MAX_BUCKETS = 100_000;

/** The largest time magnitude accepted, in ms: the ECMAScript `Date` range. */
const MAX_TIME = 8.64e15;

const SIZES: Readonly<Record<Granularity, number>> = Object.freeze({
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
});

function duration(n: number, unit: number, name: string): number {
  if (typeof n !== "number" || !Number.isFinite(n)) {
    throw new RangeError(`${name}(${n}): give a finite number`);
  }
  return n * unit;
}

/**
 * Milliseconds in `n` minutes.
 *
 * @param n The number of minutes.
 * @returns `n * 60 000`.
 * @throws {RangeError} When `n` is not finite.
 *
 * @example Usage
 * ```ts
 * import { minutes } from "@murmur/core/monoid";
 * import assert from "node:assert/strict";
 * assert.equal(minutes(5), 300000);
 * ```
 */
export function minutes(n: number): number {
  return duration(n, SIZES.minute, "minutes");
}

/**
 * Milliseconds in `n` hours.
 *
 * @param n The number of hours.
 * @returns `n * 3 600 000`.
 * @throws {RangeError} When `n` is not finite.
 *
 * @example Usage
 * ```ts
 * import { hours } from "@murmur/core/monoid";
 * import assert from "node:assert/strict";
 * assert.equal(hours(2), 7200000);
 * ```
 */
export function hours(n: number): number {
  return duration(n, SIZES.hour, "hours");
}

/**
 * Milliseconds in `n` days (of exactly 24 hours: UTC has no DST).
 *
 * @param n The number of days.
 * @returns `n * 86 400 000`.
 * @throws {RangeError} When `n` is not finite.
 *
 * @example Usage
 * ```ts
 * import { days } from "@murmur/core/monoid";
 * import assert from "node:assert/strict";
 * assert.equal(days(90), 7776000000);
 * ```
 */
export function days(n: number): number {
  return duration(n, SIZES.day, "days");
}

function label(granularity: Granularity): string {
  return `${granularity} window`;
}

function makeWindow(
  granularity: Granularity,
  options: WindowOptions | undefined,
): Window {
  const size = SIZES[granularity];
  const retention = options?.retention ?? null;
  if (
    retention !== null &&
    (typeof retention !== "number" || !(retention >= 0) ||
      !Number.isFinite(retention))
  ) {
    throw new RangeError(
      `${
        label(granularity)
      }: retention ${retention} must be a finite number of ms >= 0, e.g. days(90); omit it to keep buckets forever`,
    );
  }
  const name = label(granularity);

  function checkTime(timeMs: number, what: string): void {
    if (typeof timeMs !== "number" || !(Math.abs(timeMs) <= MAX_TIME)) {
      throw new RangeError(
        `${name}: ${what} ${
          String(timeMs)
        } is not an epoch-ms time within ±${MAX_TIME} (the Date range)`,
      );
    }
  }

  function checkBucket(bucket: number): void {
    checkTime(bucket, "bucket");
    if (bucket % size !== 0) {
      throw new RangeError(
        `${name}: ${bucket} is not the start of a ${granularity} bucket; use bucketOf(time) to get one`,
      );
    }
  }

  function bucketOf(timeMs: number): number {
    checkTime(timeMs, "time");
    const r = timeMs % size;
    // `%` keeps the dividend's sign; floor by stepping back for negatives. `+ 0` turns -0 into 0.
    return (r < 0 ? timeMs - r - size : timeMs - r) + 0;
  }

  function bucketEnd(bucket: number): number {
    checkBucket(bucket);
    return bucket + size;
  }

  function expiresAt(bucket: number): number | undefined {
    checkBucket(bucket);
    return retention === null ? undefined : bucket + size + retention;
  }

  function list(first: number, last: number): number[] {
    const n = (last - first) / size + 1;
    if (n > MAX_BUCKETS) {
      throw new RangeError(
        `${name}: the request spans ${n} ${granularity} buckets, more than the limit of ${MAX_BUCKETS}; narrow it or use a coarser window`,
      );
    }
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) out[i] = first + i * size;
    return out;
  }

  function lastN(n: number, nowMs: number): number[] {
    if (!Number.isInteger(n) || n < 1 || n > MAX_BUCKETS) {
      throw new RangeError(
        `${name}: lastN(${n}) needs a whole number of buckets from 1 to ${MAX_BUCKETS}`,
      );
    }
    const newest = bucketOf(nowMs);
    return list(newest - (n - 1) * size, newest);
  }

  function range(startMs: number, endMs: number): number[] {
    checkTime(startMs, "range start");
    checkTime(endMs, "range end");
    if (endMs <= startMs) return [];
    const first = bucketOf(startMs);
    let last = bucketOf(endMs);
    if (last === endMs) last -= size;
    return list(first, last);
  }

  return Object.freeze({
    granularity,
    size,
    retention,
    bucketOf,
    bucketEnd,
    expiresAt,
    lastN,
    range,
  });
}

/**
 * A window of one-minute UTC buckets.
 *
 * @param options Retention (ms after a bucket's end); default: keep forever.
 * @returns A frozen {@linkcode Window}.
 * @throws {RangeError} When `retention` is negative or not finite.
 *
 * @example Usage
 * ```ts
 * import { hours, minutely } from "@murmur/core/monoid";
 * import assert from "node:assert/strict";
 * const w = minutely({ retention: hours(6) });
 * assert.equal(w.bucketOf(Date.UTC(2024, 0, 1, 12, 34, 56)), 1704112440000);
 * ```
 */
export function minutely(options?: WindowOptions): Window {
  return makeWindow("minute", options);
}

/**
 * A window of one-hour UTC buckets.
 *
 * @param options Retention (ms after a bucket's end); default: keep forever.
 * @returns A frozen {@linkcode Window}.
 * @throws {RangeError} When `retention` is negative or not finite.
 *
 * @example Usage
 * ```ts
 * import { days, hourly } from "@murmur/core/monoid";
 * import assert from "node:assert/strict";
 * const w = hourly({ retention: days(7) });
 * const bucket = w.bucketOf(Date.UTC(2024, 0, 1, 12, 34));
 * assert.equal(new Date(bucket).toISOString(), "2024-01-01T12:00:00.000Z");
 * assert.equal(new Date(w.expiresAt(bucket)!).toISOString(), "2024-01-08T13:00:00.000Z");
 * ```
 */
export function hourly(options?: WindowOptions): Window {
  return makeWindow("hour", options);
}

/**
 * A window of one-day UTC buckets (midnight to midnight UTC).
 *
 * Expiry is the bucket's END plus `retention`, so replayed history and late
 * events expire when the data is old, not a full retention after they were
 * written.
 *
 * @param options Retention (ms after a bucket's end); default: keep forever.
 * @returns A frozen {@linkcode Window}.
 * @throws {RangeError} When `retention` is negative or not finite.
 *
 * @example Usage
 * ```ts
 * import { daily, days } from "@murmur/core/monoid";
 * import assert from "node:assert/strict";
 * const w = daily({ retention: days(90) });
 * const now = Date.UTC(2024, 2, 10, 15, 0);
 * const week = w.lastN(7, now).map((b) => new Date(b).toISOString().slice(0, 10));
 * assert.equal(week[0], "2024-03-04");
 * assert.equal(week[6], "2024-03-10");
 * assert.equal(w.bucketOf(-1), -86400000);
 * ```
 */
export function daily(options?: WindowOptions): Window {
  return makeWindow("day", options);
}

/** A half-open interval of epoch ms: `start <= time < end`. */
export interface Coverage {
  /** The first ms covered. */
  readonly start: number;
  /** The first ms after the interval. */
  readonly end: number;
}

/**
 * The exact interval a list of buckets covers: from the start of the oldest
 * to the end of the newest. For a `lastN` answer the newest bucket is the
 * current one, so its data reaches only up to now.
 *
 * @param window The window the buckets belong to.
 * @param buckets Bucket starts, in any order, without gaps.
 * @returns The covered `[start, end)` interval, or `null` for no buckets.
 * @throws {RangeError} When a value is not a bucket start or the buckets leave a gap.
 *
 * @example Usage
 * ```ts
 * import { coverage, daily } from "@murmur/core/monoid";
 * import assert from "node:assert/strict";
 * const w = daily();
 * const now = Date.UTC(2024, 2, 10, 15, 0);
 * const c = coverage(w, w.lastN(7, now))!;
 * assert.equal(new Date(c.start).toISOString(), "2024-03-04T00:00:00.000Z");
 * assert.equal(new Date(c.end).toISOString(), "2024-03-11T00:00:00.000Z");
 * ```
 */
export function coverage(
  window: Window,
  buckets: readonly number[],
): Coverage | null {
  if (buckets.length === 0) return null;
  let lo = Infinity;
  let hi = -Infinity;
  const seen = new Set<number>();
  for (const bucket of buckets) {
    window.bucketEnd(bucket);
    seen.add(bucket);
    if (bucket < lo) lo = bucket;
    if (bucket > hi) hi = bucket;
  }
  if ((hi - lo) / window.size + 1 !== seen.size) {
    throw new RangeError(
      `${window.granularity} window: the buckets leave gaps, so they do not cover one interval`,
    );
  }
  return { start: lo, end: hi + window.size };
}

/** Options for {@linkcode trailing}. */
export interface TrailingOptions {
  /** The moment the duration ends at, in epoch ms. Default: `Date.now()`. */
  readonly now?: number;
  /**
   * What to do with the bucket of the finest window that straddles the start
   * (`now - duration`) when that start is not on a bucket boundary:
   * `"include"` (default) reads it, so the answer covers at least the
   * duration and at most one finest bucket more; `"exclude"` drops it, so the
   * answer covers at most the duration.
   */
  readonly edge?: "include" | "exclude";
}

/** The buckets one window contributes to a {@linkcode TrailingPlan}. */
export interface TrailingPart {
  /** The window these buckets belong to. */
  readonly window: Window;
  /** Bucket starts, oldest first. */
  readonly buckets: readonly number[];
}

/** Which buckets answer "the last `duration`", and what interval they really cover. */
export interface TrailingPlan {
  /** The parts, coarsest window first; windows that contribute nothing are left out. */
  readonly parts: readonly TrailingPart[];
  /** What was asked: `[now - duration, now]`, as `{ start, end: now }`. */
  readonly requested: Coverage;
  /**
   * What the buckets cover, or `null` when no bucket fits (`"exclude"` with a
   * duration shorter than a bucket). `end` is the end of the current bucket;
   * as buckets hold no events later than now (barring future timestamps), the
   * data covered is `[coverage.start, now]`.
   */
  readonly coverage: Coverage | null;
  /** `true` when `coverage.start` equals `requested.start`: no over- or under-count at the old edge. */
  readonly exact: boolean;
}

/**
 * Plans an exact-as-possible trailing answer, e.g. "the last 24 hours", from
 * one or more windows of the same data.
 *
 * `window.lastN(n, now)` is bucket-aligned: "last 7 days" on daily buckets is
 * the 6 previous whole days plus today so far, which may be almost a day more
 * or less than 168 hours. `trailing` instead starts at `now - duration`: the
 * coarsest window supplies the whole buckets it can, finer windows fill the
 * edge, and only the finest window's bucket straddling the start is inexact
 * (see {@linkcode TrailingOptions.edge}). With minute buckets the answer is
 * within one minute of the request; `exact` says when it is exact.
 *
 * Fold the values of all parts with the pipeline's monoid (e.g. via
 * {@linkcode mergeBuckets}): the parts never overlap, because day, hour and
 * minute boundaries nest in UTC.
 *
 * @param windows The windows the data is kept in (any order; one granularity each).
 * @param durationMs How far back to go, in ms (> 0).
 * @param options `now` and the `edge` policy.
 * @returns The plan: parts, requested and covered intervals, exactness.
 * @throws {RangeError} When `durationMs` is not positive and finite, no window is given, or more than 100 000 buckets would be needed.
 *
 * @example Last 24 hours from daily and hourly buckets
 * ```ts
 * import { daily, hourly, hours, trailing } from "@murmur/core/monoid";
 * import assert from "node:assert/strict";
 * const now = Date.UTC(2024, 2, 10, 15, 0);
 * const plan = trailing([daily(), hourly()], hours(24), { now });
 * assert.deepEqual(
 *   plan.parts.map((part) => [part.window.granularity, part.buckets.length]),
 *   [["day", 1], ["hour", 9]],
 * );
 * assert.equal(plan.exact, true);
 * ```
 */
export function trailing(
  windows: Window | readonly Window[],
  durationMs: number,
  options?: TrailingOptions,
): TrailingPlan {
  const list: readonly Window[] = Array.isArray(windows)
    ? windows
    : [windows as Window];
  if (list.length === 0) {
    throw new RangeError("trailing: give at least one window");
  }
  if (
    typeof durationMs !== "number" || !(durationMs > 0) ||
    !Number.isFinite(durationMs)
  ) {
    throw new RangeError(
      `trailing: duration ${durationMs} must be a positive finite number of ms, e.g. days(7)`,
    );
  }
  const now = options?.now ?? Date.now();
  const edge = options?.edge ?? "include";
  const bySize = new Map<number, Window>();
  for (const w of list) if (!bySize.has(w.size)) bySize.set(w.size, w);
  const sorted = [...bySize.values()].sort((a, b) => b.size - a.size);
  const finest = sorted[sorted.length - 1]!;
  finest.bucketOf(now);
  const start = now - durationMs;
  finest.bucketOf(start);

  const parts: TrailingPart[] = [];
  let total = 0;
  let upper: number | null = null;
  for (const w of sorted) {
    const floor = w.bucketOf(start);
    const ceil = floor === start ? floor : floor + w.size;
    const lo = w === finest && edge === "include" ? floor : ceil;
    const hi = upper === null ? w.bucketOf(now) : upper - w.size;
    if (lo > hi) continue;
    const n = (hi - lo) / w.size + 1;
    total += n;
    if (total > MAX_BUCKETS) {
      throw new RangeError(
        `trailing: the plan needs ${total} buckets, more than the limit of ${MAX_BUCKETS}; add a coarser window or shorten the duration`,
      );
    }
    parts.push({ window: w, buckets: w.range(lo, hi + w.size) });
    upper = lo;
  }
  let covered: Coverage | null = null;
  if (parts.length > 0) {
    const first = parts[0]!;
    const newest = first.buckets[first.buckets.length - 1]!;
    covered = { start: upper!, end: newest + first.window.size };
  }
  return {
    parts,
    requested: { start, end: now },
    coverage: covered,
    exact: covered !== null && covered.start === start,
  };
}

/**
 * Folds bucket values with a monoid, skipping missing buckets: a bucket with
 * no data is never folded as a fake zero, and "no data at all" stays
 * distinguishable from a real identity value.
 *
 * @typeParam V The value type.
 * @param monoid The pipeline's monoid.
 * @param values Bucket values, `undefined` where a bucket holds nothing.
 * @returns The folded value, or `undefined` when every bucket was missing.
 *
 * @example Usage
 * ```ts
 * import { max, mergeBuckets } from "@murmur/core/monoid";
 * import assert from "node:assert/strict";
 * assert.equal(mergeBuckets(max(), [3, undefined, -2]), 3);
 * assert.equal(mergeBuckets(max(), [undefined, undefined]), undefined);
 * ```
 */
export function mergeBuckets<V>(
  monoid: Monoid<V>,
  values: Iterable<V | undefined>,
): V | undefined {
  const present: V[] = [];
  for (const value of values) if (value !== undefined) present.push(value);
  return present.length === 0 ? undefined : monoid.combineAll(present);
}
