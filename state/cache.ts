// The cache contract: a Store that is never truth, with fill leases and write intents (CachedStore runs the protocol).

import type {
  Delta,
  MergeOptions,
  MergeResult,
  Scope,
  StateKey,
  Store,
} from "./store.ts";

export { MemoryCache, type MemoryCacheOptions } from "./memory_cache.ts";
export {
  CachedStore,
  type CachedStoreOptions,
  type CachedStoreStats,
} from "./cached_store.ts";

/**
 * Permission to fill one key, taken before reading the key from the store.
 *
 * The token is opaque. A fill with it succeeds only if no write touched the
 * key between the lease and the fill, no write is in flight on the key, the
 * key is still absent from the cache and the lease is younger than the
 * cache's lease lifetime.
 */
export interface FillLease {
  /** The key the lease is for. */
  readonly key: StateKey;
  /** The cache's opaque token. */
  readonly token: string;
}

/**
 * One value read from the store, offered to the cache under a lease.
 *
 * @typeParam V The value type.
 */
export interface CacheFill<V> {
  /** The lease taken before the store read. */
  readonly lease: FillLease;
  /** The value the store answered. */
  readonly value: V;
  /** Epoch ms after which the value must be gone, usually the store's expiry (bucket end plus retention). */
  readonly expiresAt?: number;
}

/**
 * A write announced to the cache before it goes to the store.
 *
 * Created by {@linkcode Cache.beginWrite} and completed by
 * {@linkcode Cache.merge} (or {@linkcode Cache.invalidate}) with the same
 * intent. While it is open, fills of its keys are refused; if it is never
 * completed, its keys drop out of the cache when it expires.
 */
export interface WriteIntent {
  /** A unique id. */
  readonly id: string;
  /** The scope's namespace. */
  readonly namespace: string;
  /** The keys about to be written. */
  readonly keys: readonly StateKey[];
}

/** Options for {@linkcode Cache.merge}. */
export interface CacheMergeOptions extends MergeOptions {
  /**
   * The intent opened by {@linkcode Cache.beginWrite} before the store
   * write. Without it (or once it expired) the cache cannot tell whether a
   * concurrent fill already saw the write, so it drops the keys instead of
   * updating them.
   */
  readonly intent?: WriteIntent;
}

/** Options for {@linkcode Cache.invalidate}. */
export interface InvalidateOptions {
  /** An intent to close along with the invalidation (e.g. after a failed store write). */
  readonly intent?: WriteIntent;
}

/** Counters a cache keeps since it was created. */
export interface CacheStats {
  /** Reads answered from the cache. */
  readonly hits: number;
  /** Reads the cache could not answer (absent, expired, or the cache was unreachable). */
  readonly misses: number;
  /** Fills stored. */
  readonly fills: number;
  /** Fills refused because a write raced them, the key was present, or the lease expired. */
  readonly fillsRefused: number;
  /** Deltas folded into cached values by write-through. */
  readonly updates: number;
  /** Keys dropped so the next read refills them from the store. */
  readonly invalidations: number;
  /** Calls that failed because the cache was unreachable or answered an error. */
  readonly errors: number;
}

/**
 * A cache in front of a {@linkcode Store}: it answers reads when it can and
 * is never truth.
 *
 * A cache never holds a partial value. Write-through
 * ({@linkcode Cache.merge}) folds deltas only into values already present, so
 * a cold key stays absent and the next reader fills it from the store. Fills
 * run under memcache-style leases, and writes announce themselves first with
 * {@linkcode Cache.beginWrite}, so a fill can never store a value older than
 * a write, nor one that a later write-through would count twice:
 *
 * 1. a reader that misses takes leases ({@linkcode Cache.lease}), reads the
 *    store, and offers the values ({@linkcode Cache.fill});
 * 2. a writer opens an intent ({@linkcode Cache.beginWrite}), which cancels
 *    outstanding leases and refuses fills while it is open, writes the store,
 *    then completes the intent with the applied deltas
 *    ({@linkcode Cache.merge}); a write to an absent key cancels leases
 *    again;
 * 3. an intent that is never completed (crash, outage) expires, and its keys
 *    expire from the cache with it.
 *
 * {@linkcode CachedStore} runs this protocol for a store and a cache; most
 * code should use it rather than call a cache directly.
 *
 * As a {@linkcode Store}, `get` and `getMany` answer cached values
 * (`undefined` on a miss) and `merge` is the write-through above: marks and
 * claims are ignored (the store already decided), and
 * {@linkcode MergeResult.skipped} lists deltas the cache did not fold in
 * because their key was absent or had to be dropped.
 */
export interface Cache extends Store {
  /**
   * Whether the cache looks unreachable right now (its last call failed).
   * Optional: a cache that never fails leaves it out. {@linkcode CachedStore}
   * reports it in its stats.
   */
  readonly down?: boolean;
  /**
   * Takes fill leases for keys about to be read from the store.
   *
   * @param scope The scope of the keys.
   * @param keys The keys that missed.
   * @returns One lease per key, in order.
   */
  lease<V>(scope: Scope<V>, keys: readonly StateKey[]): Promise<FillLease[]>;
  /**
   * Stores values read from the store, each only if its lease still holds.
   *
   * @param scope The scope of the values.
   * @param fills The values with their leases.
   * @returns Per fill, whether it was stored.
   */
  fill<V>(scope: Scope<V>, fills: readonly CacheFill<V>[]): Promise<boolean[]>;
  /**
   * Announces a store write to `keys`: cancels their leases and refuses fills
   * until the intent is completed or expires.
   *
   * @param scope The scope of the keys.
   * @param keys The keys about to be written.
   * @returns The intent to pass to {@linkcode Cache.merge}.
   */
  beginWrite<V>(
    scope: Scope<V>,
    keys: readonly StateKey[],
  ): Promise<WriteIntent>;
  /**
   * Write-through after the store write: folds `deltas` into values present
   * in the cache and completes `options.intent` for all its keys.
   *
   * @param scope The scope of the deltas.
   * @param deltas The deltas the store applied.
   * @param options The intent from {@linkcode Cache.beginWrite}.
   * @returns How many deltas were folded in; the others' keys were absent or dropped.
   */
  merge<V>(
    scope: Scope<V>,
    deltas: readonly Delta<V>[],
    options?: CacheMergeOptions,
  ): Promise<MergeResult>;
  /**
   * Drops keys so the next read refills them, cancelling their leases.
   *
   * @param scope The scope of the keys.
   * @param keys The keys to drop.
   * @param options An intent to close at the same time.
   */
  invalidate<V>(
    scope: Scope<V>,
    keys: readonly StateKey[],
    options?: InvalidateOptions,
  ): Promise<void>;
  /**
   * The counters since the cache was created.
   *
   * @returns A snapshot of the counters.
   */
  stats(): CacheStats;
}

/**
 * Thrown by a cache's write calls ({@linkcode Cache.beginWrite},
 * {@linkcode Cache.merge}, {@linkcode Cache.invalidate}) when the cache
 * cannot be reached. Reads never throw it: they count a miss.
 *
 * @example Usage
 * ```ts
 * import { CacheUnavailableError } from "@murmur/core/state";
 * const error = new CacheUnavailableError("valkey:localhost:6379", "merge", new Error("ECONNREFUSED"));
 * import assert from "node:assert/strict";
 * assert.equal(error.name, "CacheUnavailableError");
 * ```
 */
export class CacheUnavailableError extends Error {
  /** The cache's name. */
  readonly cache: string;
  /** The operation that failed, e.g. `"merge"`. */
  readonly operation: string;
  /**
   * Creates the error.
   *
   * @param cache The cache's name.
   * @param operation The operation that failed.
   * @param cause The underlying error.
   */
  constructor(cache: string, operation: string, cause: unknown) {
    super(
      `cache "${cache}" failed during ${operation}: ${
        cause instanceof Error ? cause.message : String(cause)
      }; reads fall back to the store, check that the cache server is up`,
      { cause },
    );
    this.name = "CacheUnavailableError";
    this.cache = cache;
    this.operation = operation;
  }
}

/** Default lifetime of a cached value after a fill: 15 minutes. */
export const DEFAULT_CACHE_MAX_AGE_MS = 15 * 60 * 1000;
/** Default lifetime of a write intent: 30 s. */
export const DEFAULT_WRITE_LEASE_MS = 30 * 1000;
/** Default lifetime of a fill lease: 5 s. */
export const DEFAULT_FILL_LEASE_MS = 5 * 1000;
