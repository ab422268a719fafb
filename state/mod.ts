/**
 * State: the one {@linkcode Store} interface every backend implements (get,
 * getMany, merge of deltas with expiry and exactly-once marks and claims)
 * and the in-memory backend. The embedded Deno KV backend lives in
 * `@murmur/core/state/kv`, DynamoDB and Valkey in their own entry points.
 *
 * @example Usage
 * ```ts
 * import { MemoryStore } from "@murmur/core/state";
 * import { max } from "@murmur/core/monoid";
 * import assert from "node:assert/strict";
 *
 * const store = new MemoryStore();
 * const scope = { namespace: "peak_temp", monoid: max() };
 * const key = { entity: "sensor:1", bucket: null };
 * await store.merge(scope, [{ key, value: 21.5 }, { key, value: 19 }]);
 * assert.equal(await store.get(scope, key), 21.5);
 * ```
 *
 * @module
 */

export {
  DEFAULT_CLAIM_TTL_MS,
  DEFAULT_MAX_ENTITY_BYTES,
  type Delta,
  DeltaRejectedError,
  entityProblem,
  EntityRejectedError,
  MarkConflictError,
  type MergeOptions,
  type MergeResult,
  type ReadOptions,
  type ReadStats,
  type Scope,
  type StateKey,
  type Store,
  type StoreLimits,
  StoreUnavailableError,
  type StreamMark,
} from "./store.ts";
export { MemoryStore, type MemoryStoreOptions } from "./memory.ts";
export {
  type Cache,
  CachedStore,
  type CachedStoreOptions,
  type CachedStoreStats,
  type CacheFill,
  type CacheMergeOptions,
  type CacheStats,
  CacheUnavailableError,
  DEFAULT_CACHE_MAX_AGE_MS,
  DEFAULT_FILL_LEASE_MS,
  DEFAULT_WRITE_LEASE_MS,
  type FillLease,
  type InvalidateOptions,
  MemoryCache,
  type MemoryCacheOptions,
  type WriteIntent,
} from "./cache.ts";
export * from "./cache.ts";
