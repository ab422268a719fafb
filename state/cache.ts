// The cache contract (a Store that is never truth), its in-process implementation and the read/write-through wrapper.

import type {
  Delta,
  MergeOptions,
  MergeResult,
  ReadOptions,
  Scope,
  StateKey,
  Store,
} from "./store.ts";
import { stateKeyString, uniqueStateKeys } from "../internal/state_key.ts";

export { MemoryCache, type MemoryCacheOptions } from "./memory_cache.ts";

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

/** Counters a {@linkcode CachedStore} keeps since it was created. */
export interface CachedStoreStats {
  /** Keys read. */
  readonly reads: number;
  /** Keys answered by the cache. */
  readonly hits: number;
  /** Keys read from the store (misses, fresh reads and degraded reads). */
  readonly storeReads: number;
  /** Keys read from the store because the cache failed or held a key awaiting invalidation. */
  readonly degradedReads: number;
  /** Cache calls that failed (reads, fills, write-through, invalidations). */
  readonly cacheErrors: number;
  /** Keys waiting for an invalidation the cache could not take yet. */
  readonly pendingInvalidations: number;
  /**
   * Keys whose invalidation was given up because the queue was full
   * (`maxPendingInvalidations`); the cache may serve them stale until their
   * write intent or maximum age expires.
   */
  readonly droppedInvalidations: number;
  /**
   * Whether the cache looks down: its last call failed, or invalidations
   * are waiting for it. Reads then go to the store.
   */
  readonly cacheDown: boolean;
  /** The last cache failure's message, or `null` when there was none. */
  readonly lastCacheError: string | null;
  /** When the last cache failure happened, in epoch ms, or `null`. */
  readonly lastCacheErrorAt: number | null;
}

/** Options for {@linkcode CachedStore}. */
export interface CachedStoreOptions {
  /**
   * The expiry of a filled value, usually the window's
   * `expiresAt(bucket)`. Default: none (the cache's maximum age still applies).
   */
  readonly fillExpiresAt?: (
    namespace: string,
    key: StateKey,
  ) => number | undefined;
  /** Called with every cache failure, which is otherwise only counted. */
  readonly onCacheError?: (error: unknown, operation: string) => void;
  /** The most keys kept for a later invalidation when the cache is down. Default: 100 000. */
  readonly maxPendingInvalidations?: number;
  /**
   * How long to wait before retrying queued invalidations, in ms (doubling
   * up to 5 s while the cache stays down). Default: 100.
   */
  readonly retryInvalidationsMs?: number;
  /**
   * Namespaces that bypass the cache entirely (read and written only in the
   * store). Default: murmur's own state (namespaces starting with
   * `"__murmur"`, such as exactly-once progress).
   */
  readonly bypass?: (namespace: string) => boolean;
}

interface Pending {
  scope: Scope<unknown>;
  keys: Map<string, StateKey>;
}

const RESERVED = (namespace: string) => namespace.startsWith("__murmur");

/**
 * A {@linkcode Store} that reads through a {@linkcode Cache} and writes
 * through it after the store: the one place the cache protocol runs (fill
 * leases on reads; write intent, store write, then write-through or
 * invalidation; failed invalidations queued and retried).
 *
 * The store stays truth: a cache failure never fails a read (it is counted
 * and the store answers) and never fails a merge once the store write
 * succeeded (it is counted and reported to `onCacheError`). A write-through
 * or invalidation the cache could not take queues its keys: they are
 * retried in the background (and before the next write), and until then
 * this wrapper reads them from the store, never from the cache. Their cached
 * values also expire with the write's intent. `close()` closes both the
 * store and the cache.
 *
 * @example Usage
 * ```ts
 * import { CachedStore, MemoryCache, MemoryStore } from "@murmur/core/state";
 * import { sum } from "@murmur/core/monoid";
 * import assert from "node:assert/strict";
 *
 * const store = new CachedStore(new MemoryStore(), new MemoryCache());
 * const scope = { namespace: "clicks", monoid: sum() };
 * const key = { entity: "post:1", bucket: null };
 * await store.merge(scope, [{ key, value: 2 }]);
 * assert.equal(await store.get(scope, key), 2); // miss: read from the store, filled
 * await store.merge(scope, [{ key, value: 3 }]); // written through to the cached value
 * const stats = { cacheHits: 0, cacheMisses: 0 };
 * assert.deepEqual(await store.getMany(scope, [key], { stats }), [5]); // hit
 * assert.equal(stats.cacheHits, 1);
 * assert.equal(store.stats().hits, 1);
 * ```
 */
export class CachedStore implements Store {
  /** `"<store>+<cache>"`. */
  readonly name: string;
  /** The store of truth. */
  readonly store: Store;
  /** The cache in front of it. */
  readonly cache: Cache;
  #options: CachedStoreOptions;
  #bypass: (namespace: string) => boolean;
  #pending = new Map<string, Pending>();
  #pendingCount = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #retryDelay: number;
  #flushing: Promise<void> | null = null;
  #flushFailedAt = -Infinity;
  #closed = false;
  #stats = {
    reads: 0,
    hits: 0,
    storeReads: 0,
    degradedReads: 0,
    cacheErrors: 0,
    droppedInvalidations: 0,
    lastCacheError: null as string | null,
    lastCacheErrorAt: null as number | null,
  };
  #lastCallFailed = false;

  /**
   * Wraps a store with a cache.
   *
   * @param store The store of truth.
   * @param cache The cache in front of it.
   * @param options Fill expiry, error reporting; see {@linkcode CachedStoreOptions}.
   */
  constructor(store: Store, cache: Cache, options: CachedStoreOptions = {}) {
    this.store = store;
    this.cache = cache;
    this.name = `${store.name}+${cache.name}`;
    this.#options = options;
    this.#bypass = options.bypass ?? RESERVED;
    this.#retryDelay = options.retryInvalidationsMs ?? 100;
  }

  /** The store's limits: the cache holds the keys the store holds. */
  get limits(): Store["limits"] {
    return this.store.limits;
  }

  #failed(error: unknown, operation: string): void {
    this.#stats.cacheErrors++;
    this.#stats.lastCacheError = error instanceof Error
      ? error.message
      : String(error);
    this.#stats.lastCacheErrorAt = Date.now();
    this.#lastCallFailed = true;
    this.#options.onCacheError?.(error, operation);
  }

  /**
   * Reads one value, from the cache when it holds it.
   *
   * @typeParam V The value type.
   * @param scope The scope to read from.
   * @param key The key to read.
   * @returns The value, or `undefined` when the store holds nothing.
   */
  async get<V>(scope: Scope<V>, key: StateKey): Promise<V | undefined> {
    const [value] = await this.getMany(scope, [key]);
    return value;
  }

  /**
   * Reads many values: hits from the cache, misses from the store (then
   * offered to the cache under leases). Keys awaiting an invalidation are
   * read from the store.
   *
   * @typeParam V The value type.
   * @param scope The scope to read from.
   * @param keys The keys to read.
   * @param options `fresh` skips the cache; `stats` gets this call's hits and misses.
   * @returns One value or `undefined` per key, in order.
   * @throws Whatever the store throws; cache failures are only counted.
   */
  async getMany<V>(
    scope: Scope<V>,
    keys: readonly StateKey[],
    options: ReadOptions = {},
  ): Promise<(V | undefined)[]> {
    const stats = options.stats;
    const storeOptions = options.signal === undefined
      ? undefined
      : { signal: options.signal };
    if (options.fresh === true || this.#bypass(scope.namespace)) {
      if (stats !== undefined) stats.cacheMisses += keys.length;
      return await this.store.getMany(scope, keys, storeOptions);
    }
    this.#stats.reads += keys.length;
    let cached: (V | undefined)[];
    try {
      cached = await this.cache.getMany(scope, keys);
      this.#lastCallFailed = false;
    } catch (error) {
      this.#failed(error, "getMany");
      this.#stats.degradedReads += keys.length;
      this.#stats.storeReads += keys.length;
      if (stats !== undefined) stats.cacheMisses += keys.length;
      return await this.store.getMany(scope, keys, storeOptions);
    }
    const waiting = this.#pending.get(scope.namespace)?.keys;
    const missing: number[] = [];
    for (let i = 0; i < keys.length; i++) {
      if (cached[i] === undefined) missing.push(i);
      else if (waiting?.has(stateKeyString(keys[i]!))) {
        // Its invalidation has not reached the cache: the cached value may be stale.
        this.#stats.degradedReads++;
        missing.push(i);
      }
    }
    const hits = keys.length - missing.length;
    this.#stats.hits += hits;
    if (stats !== undefined) {
      stats.cacheHits += hits;
      stats.cacheMisses += missing.length;
      if (stats.hits !== undefined) {
        for (let i = 0; i < keys.length; i++) stats.hits[i] = true;
        for (const i of missing) stats.hits[i] = false;
      }
    }
    if (missing.length === 0) return cached;
    const missingKeys = missing.map((i) => keys[i]!);
    let leases: FillLease[] | undefined;
    try {
      leases = await this.cache.lease(scope, missingKeys);
    } catch (error) {
      this.#failed(error, "lease");
      this.#stats.degradedReads += missing.length;
    }
    this.#stats.storeReads += missing.length;
    const values = await this.store.getMany(scope, missingKeys, storeOptions);
    const fills: CacheFill<V>[] = [];
    const fillExpiresAt = this.#options.fillExpiresAt;
    for (let j = 0; j < missing.length; j++) {
      const value = values[j];
      cached[missing[j]!] = value;
      const lease = leases?.[j];
      if (value === undefined || lease === undefined) continue;
      if (waiting?.has(stateKeyString(lease.key))) continue;
      const expiresAt = fillExpiresAt?.(scope.namespace, lease.key);
      fills.push(
        expiresAt === undefined
          ? { lease, value }
          : { lease, value, expiresAt },
      );
    }
    if (fills.length > 0) {
      try {
        await this.cache.fill(scope, fills);
      } catch (error) {
        this.#failed(error, "fill");
      }
    }
    return cached;
  }

  /**
   * Merges into the store, then writes through to the cache.
   *
   * @typeParam V The value type.
   * @param scope The scope to write to.
   * @param deltas The changes to fold in.
   * @param options Passed to the store's merge.
   * @returns The store's result.
   * @throws Whatever the store throws; cache failures are only counted.
   */
  async merge<V>(
    scope: Scope<V>,
    deltas: readonly Delta<V>[],
    options: MergeOptions = {},
  ): Promise<MergeResult> {
    if (this.#bypass(scope.namespace)) {
      return await this.store.merge(scope, deltas, options);
    }
    const keys = uniqueStateKeys(deltas.map((delta) => delta.key));
    if (this.#pendingCount > 0) {
      // Ask the cache again only once the retry delay passed since it last
      // failed, so writes during an outage do not each wait on a timeout.
      if (Date.now() - this.#flushFailedAt >= this.#retryDelay) {
        await this.#flushPending();
      }
      if (this.#pendingCount > 0) {
        // Still down: write the store alone and queue the keys behind the others.
        try {
          return await this.store.merge(scope, deltas, options);
        } finally {
          this.#queue(scope, keys);
        }
      }
    }
    let intent: WriteIntent;
    try {
      intent = await this.cache.beginWrite(scope, keys);
    } catch (error) {
      this.#failed(error, "beginWrite");
      // An intent the cache never saw: completing it drops the keys.
      intent = { id: crypto.randomUUID(), namespace: scope.namespace, keys };
    }
    let result: MergeResult;
    try {
      result = await this.store.merge(scope, deltas, options);
    } catch (error) {
      // The store may have applied part of the call: drop what the cache holds.
      await this.#invalidate(scope, keys, intent);
      throw error;
    }
    const skipped = new Set(result.skipped);
    const applied = skipped.size === 0
      ? deltas
      : deltas.filter((_, i) => !skipped.has(i));
    try {
      await this.cache.merge(scope, applied, { intent });
      this.#lastCallFailed = false;
    } catch (error) {
      this.#failed(error, "merge");
      await this.#invalidate(scope, keys, intent);
    }
    return result;
  }

  async #invalidate<V>(
    scope: Scope<V>,
    keys: readonly StateKey[],
    intent: WriteIntent,
  ): Promise<void> {
    try {
      await this.cache.invalidate(scope, keys, { intent });
    } catch (error) {
      this.#failed(error, "invalidate");
      this.#flushFailedAt = Date.now();
      this.#queue(scope, keys);
    }
  }

  #queue<V>(scope: Scope<V>, keys: readonly StateKey[]): void {
    const limit = this.#options.maxPendingInvalidations ?? 100_000;
    let pending = this.#pending.get(scope.namespace);
    if (pending === undefined) {
      pending = { scope: scope as Scope<unknown>, keys: new Map() };
      this.#pending.set(scope.namespace, pending);
    }
    for (const key of keys) {
      const k = stateKeyString(key);
      if (pending.keys.has(k)) continue;
      if (this.#pendingCount >= limit) {
        this.#stats.droppedInvalidations++;
        continue;
      }
      pending.keys.set(k, key);
      this.#pendingCount++;
    }
    this.#scheduleRetry();
  }

  #scheduleRetry(): void {
    if (this.#retryTimer !== undefined || this.#closed) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#flushPending().then(() => {
        if (this.#pendingCount > 0) {
          this.#retryDelay = Math.min(5000, Math.max(50, this.#retryDelay * 2));
          this.#scheduleRetry();
        } else {
          this.#retryDelay = this.#options.retryInvalidationsMs ?? 100;
        }
      });
    }, this.#retryDelay);
    // A queued invalidation must not keep a finished program alive.
    Deno.unrefTimer(this.#retryTimer as unknown as number);
  }

  /** Sends queued invalidations; one flush at a time, keys removed only once the cache took them. */
  #flushPending(): Promise<void> {
    this.#flushing ??= (async () => {
      try {
        for (const [namespace, pending] of [...this.#pending]) {
          const keys = [...pending.keys.values()];
          try {
            await this.cache.invalidate(pending.scope, keys);
            this.#lastCallFailed = false;
          } catch (error) {
            this.#failed(error, "invalidate");
            this.#flushFailedAt = Date.now();
            return;
          }
          for (const key of keys) {
            if (pending.keys.delete(stateKeyString(key))) this.#pendingCount--;
          }
          if (pending.keys.size === 0) this.#pending.delete(namespace);
        }
      } finally {
        this.#flushing = null;
      }
    })();
    return this.#flushing;
  }

  /**
   * Waits until every queued invalidation reached the cache, or `signal` fires.
   *
   * @param signal Stops waiting.
   * @returns Whether nothing is queued any more.
   */
  async settle(signal?: AbortSignal): Promise<boolean> {
    while (this.#pendingCount > 0 && signal?.aborted !== true) {
      await this.#flushPending();
      if (this.#pendingCount > 0) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    return this.#pendingCount === 0;
  }

  /**
   * The counters since the wrapper was created, and whether the cache looks down.
   *
   * @returns A snapshot of the counters.
   */
  stats(): CachedStoreStats {
    return {
      ...this.#stats,
      pendingInvalidations: this.#pendingCount,
      cacheDown: this.#lastCallFailed || this.cache.down === true ||
        this.#pendingCount > 0,
    };
  }

  /**
   * Closes the store and the cache (after one last try at queued invalidations).
   *
   * @returns A promise that resolves when both are closed.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    if (this.#pendingCount > 0) await this.#flushPending();
    await Promise.all([this.store.close(), this.cache.close()]);
  }

  /** Same as {@linkcode CachedStore.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
