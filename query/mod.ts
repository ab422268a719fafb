/**
 * Read what pipelines computed: all-time values, the last N buckets, `[start,
 * end)` ranges, for one or many entities, from any number of pipelines.
 *
 * - {@linkcode createQuerier} reads in process: cache → store (`freshRead`
 *   skips the cache), identical concurrent reads coalesced, answers in each
 *   caller's order, `present` telling "no data" from zero, input limits that
 *   refuse unbounded scans.
 * - {@linkcode lambdaQuery} merges a batch view and a realtime layer with the
 *   pipeline's monoid.
 * - `@murmur/core/admin` serves `murmur.v1.QueryService` over Connect, next
 *   to the admin API and UI, and `@murmur/core/query/client` is the typed
 *   client for it.
 *
 * @example Usage
 * ```ts
 * import { createQuerier } from "@murmur/core/query";
 * import { sum } from "@murmur/core/monoid";
 * import { MemoryStore } from "@murmur/core/state";
 * import assert from "node:assert/strict";
 *
 * const day = 86_400_000;
 * const window = {
 *   granularity: "day" as const,
 *   size: day,
 *   retention: null,
 *   bucketOf: (t: number) => Math.floor(t / day) * day,
 *   bucketEnd: (b: number) => b + day,
 *   lastN: (n: number, now: number) =>
 *     Array.from({ length: n }, (_, i) => (Math.floor(now / day) - n + 1 + i) * day),
 *   range: (start: number, end: number) => {
 *     const out: number[] = [];
 *     for (let b = Math.floor(start / day) * day; b < end; b += day) out.push(b);
 *     return out;
 *   },
 * };
 * const store = new MemoryStore();
 * const views = { name: "views", monoid: sum(), window, store };
 * const scope = { namespace: "views", monoid: sum() };
 * await store.merge(scope, [
 *   { key: { entity: "post:1", bucket: 0 }, value: 2 },
 *   { key: { entity: "post:1", bucket: day }, value: 5 },
 * ]);
 *
 * const querier = createQuerier([views]);
 * const answer = await querier.getWindow(views, "post:1", 7, { at: day + 1 });
 * assert.equal(answer.value, 7);
 * assert.deepEqual(answer.coverage.presentBuckets, [0, day]);
 * ```
 *
 * @module
 */

export {
  type Coverage,
  createQuerier,
  DEFAULT_QUERY_LIMITS,
  Querier,
  type QuerierOptions,
  type QueryAnswer,
  type QueryLimits,
  type ReadOptions,
  type ReadStats,
  type TimeRange,
  type WindowReadOptions,
} from "./query.ts";
export type { Granularity, QueryTarget, QueryWindow } from "./target.ts";
export {
  InvalidQueryError,
  PipelineNotFoundError,
  WindowMismatchError,
} from "./errors.ts";
export { lambdaQuery, type LambdaQueryOptions } from "./lambda_query.ts";
export {
  type BloomProbe,
  type CardinalityValue,
  type TopKEntry,
  type TypedValue,
  typedValue,
  type TypedValueOptions,
} from "./typed.ts";
