/**
 * Projection: turn a live counter into a stable search facet. Bucket
 * functions ({@linkcode logBuckets}, {@linkcode linearBuckets},
 * {@linkcode manualBuckets}) map a value to an ordered range, and
 * {@linkcode hysteresis} keeps the current range until the value clears a
 * boundary by a margin, so a search index is rewritten on the handful of
 * transitions that matter instead of on every increment.
 *
 * @example A counter rising from 0 past 1 M changes facet 7 times
 * ```ts
 * import { hysteresis, logBuckets } from "@murmur/core/projection";
 * import assert from "node:assert/strict";
 *
 * const likes = hysteresis(logBuckets());
 * let facet: number | undefined;
 * let reindexes = 0;
 * for (let v = 0; v <= 1_200_000; v++) {
 *   const next = likes.next(facet, v);
 *   if (next !== facet) reindexes++;
 *   facet = next;
 * }
 * assert.equal(reindexes, 8); // the first projection, then 7 transitions
 * assert.equal(likes.buckets.label(facet!), "1M-10M");
 * ```
 *
 * @module
 */

export {
  type Buckets,
  type BucketsKind,
  linearBuckets,
  type LinearBucketsOptions,
  logBuckets,
  type LogBucketsOptions,
  manualBuckets,
  type ManualBucketsOptions,
} from "./buckets.ts";
export {
  type Band,
  type Hysteresis,
  hysteresis,
  type HysteresisOptions,
} from "./hysteresis.ts";
