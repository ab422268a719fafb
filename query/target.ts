// What the query layer needs from a pipeline: a name, a monoid, a window, a store, maybe a cache and a Top-K report size.

import type { Monoid } from "../monoid/monoid.ts";
import type { Cache, Scope, Store } from "../state/mod.ts";

/** A window's bucket granularity. */
export type Granularity = "minute" | "hour" | "day";

/**
 * The part of a window the query layer uses; `daily()`, `hourly()` and
 * `minutely()` from `@murmur/core/monoid` provide it.
 */
export interface QueryWindow {
  /** The bucket granularity. */
  readonly granularity: Granularity;
  /** The bucket size in milliseconds. */
  readonly size: number;
  /** How long buckets are kept, in milliseconds, or `null` for ever. */
  readonly retention: number | null;
  /** The start of the bucket holding `timeMs`. */
  bucketOf(timeMs: number): number;
  /** The end (exclusive) of the bucket starting at `bucket`. */
  bucketEnd(bucket: number): number;
  /** The starts of the last `n` buckets up to the one holding `nowMs`, oldest first. */
  lastN(n: number, nowMs: number): readonly number[];
  /** The starts of the buckets overlapping `[startMs, endMs)`, oldest first. */
  range(startMs: number, endMs: number): readonly number[];
  /** When a backend may drop the bucket, or `undefined` when kept forever; cache fills expire then. */
  expiresAt?(bucket: number): number | undefined;
}

/**
 * A pipeline as the query layer sees it. A built pipeline from
 * `@murmur/core/pipeline` satisfies it, and so does a plain object.
 *
 * @typeParam V The value type its monoid folds.
 */
export interface QueryTarget<V> {
  /** The pipeline's name: queries name it. */
  readonly name: string;
  /** The monoid that folds its values; queries merge buckets with it. */
  readonly monoid: Monoid<V>;
  /** Its window, or `null` when it keeps one all-time value per entity. */
  readonly window: QueryWindow | null;
  /** Where its values live. */
  readonly store: Store;
  /**
   * The cache in front of the store, if any. Reads go through it only when it
   * is a {@linkcode Cache} (with fill leases); a plain store used as a cache
   * may hold partial values, so reads skip it.
   */
  readonly cache?: Cache | Store | null;
  /** The scope its values are stored under; `{ namespace: name, monoid }` when absent. */
  readonly scope?: Scope<V>;
  /** A description of its source, e.g. `"kafka:page_views"`, shown by the admin UI. */
  readonly source?: { readonly name: string } | null;
  /**
   * How many entries its Top-K answers report, heaviest first, when a query
   * does not say; `null` or absent reports every item the sketch tracks. A
   * `topN()` pipeline sets it to its `n`.
   */
  readonly top?: number | null;
}
