// CachedStore: the one place the cache protocol runs (fill leases on reads; intent, store write, write-through or invalidation; queued retries).

import type { Cache, CacheFill, FillLease, WriteIntent } from "./cache.ts";
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
