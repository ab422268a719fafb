// The cache contract (a Store that is never truth), its in-process implementation and the read/write-through wrapper.

import type {
  Delta,
  MergeOptions,
  MergeResult,
  Scope,
  StateKey,
  Store,
} from "./store.ts";

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
 * console.log(error.name); // "CacheUnavailableError"
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

/** Options for {@linkcode MemoryCache}. */
export interface MemoryCacheOptions {
  /** The clock, in epoch ms. Default: `Date.now`. */
  readonly now?: () => number;
  /**
   * How long a filled value may live, whatever its store expiry, in ms; it
   * bounds how long any unforeseen divergence could last. Default: 15 minutes.
   */
  readonly maxAgeMs?: number;
  /** How long a write intent holds, in ms. Default: 30 s. */
  readonly writeLeaseMs?: number;
  /** How long a fill lease holds, in ms. Default: 5 s. */
  readonly fillLeaseMs?: number;
  /** The cache's {@linkcode Cache.name}. Default: `"memory-cache"`. */
  readonly name?: string;
}

interface MemoryEntry {
  bytes: Uint8Array | undefined;
  /** When the value expires, shortened to an open intent's deadline. */
  valueExpiresAt: number;
  /** The value's own expiry, restored once no intent is open. */
  targetExpiresAt: number;
  /** Changes on every event that must refuse outstanding leases. */
  generation: string;
  /** When the generation last changed, to forget idle entries once no lease can still name it. */
  changedAt: number;
  /** Open intents: id to deadline. */
  intents: Map<string, number>;
}

function keyString(namespace: string, key: StateKey): string {
  return `${namespace}\u0000${key.entity}\u0000${key.bucket ?? "all"}`;
}

function uniqueKeys(keys: Iterable<StateKey>): StateKey[] {
  const seen = new Map<string, StateKey>();
  for (const key of keys) {
    seen.set(`${key.entity}\u0000${key.bucket ?? "all"}`, key);
  }
  return [...seen.values()];
}

/**
 * An in-process {@linkcode Cache} with the same lease and intent rules as
 * the Valkey cache, for tests, the demo and single-process runs.
 *
 * Values are kept encoded with the scope's codec, so callers never share
 * state with the cache. Write-through folds every kind with the monoid.
 *
 * @example Usage
 * ```ts
 * import { MemoryCache } from "@murmur/core/state";
 * import { sum } from "@murmur/core/monoid";
 * import assert from "node:assert/strict";
 *
 * const cache = new MemoryCache();
 * const scope = { namespace: "clicks", monoid: sum() };
 * const key = { entity: "post:1", bucket: null };
 * const [lease] = await cache.lease(scope, [key]);
 * assert.deepEqual(await cache.fill(scope, [{ lease: lease!, value: 5 }]), [true]);
 * const intent = await cache.beginWrite(scope, [key]);
 * await cache.merge(scope, [{ key, value: 2 }], { intent });
 * assert.equal(await cache.get(scope, key), 7);
 * ```
 */
export class MemoryCache implements Cache {
  /** The cache's description. */
  readonly name: string;
  #now: () => number;
  #maxAge: number;
  #writeLease: number;
  #fillLease: number;
  #entries = new Map<string, MemoryEntry>();
  #counter = 0;
  #closed = false;
  #stats = {
    hits: 0,
    misses: 0,
    fills: 0,
    fillsRefused: 0,
    updates: 0,
    invalidations: 0,
    errors: 0,
  };

  /**
   * Creates an empty cache.
   *
   * @param options Clock, lifetimes and name; see {@linkcode MemoryCacheOptions}.
   */
  constructor(options: MemoryCacheOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#maxAge = options.maxAgeMs ?? DEFAULT_CACHE_MAX_AGE_MS;
    this.#writeLease = options.writeLeaseMs ?? DEFAULT_WRITE_LEASE_MS;
    this.#fillLease = options.fillLeaseMs ?? DEFAULT_FILL_LEASE_MS;
    this.name = options.name ?? "memory-cache";
  }

  #check(): void {
    if (this.#closed) {
      throw new Error(
        `cache "${this.name}" is closed: create a new MemoryCache`,
      );
    }
  }

  #token(): string {
    return `${++this.#counter}`;
  }

  /** The entry with expired values and intents pruned; creates it when asked. */
  #entry(k: string, now: number, create: true): MemoryEntry;
  #entry(k: string, now: number, create: false): MemoryEntry | undefined;
  #entry(k: string, now: number, create: boolean): MemoryEntry | undefined {
    let entry = this.#entries.get(k);
    if (entry !== undefined) {
      if (entry.bytes !== undefined && entry.valueExpiresAt <= now) {
        entry.bytes = undefined;
      }
      for (const [id, deadline] of entry.intents) {
        if (deadline <= now) entry.intents.delete(id);
      }
      if (
        entry.bytes === undefined && entry.intents.size === 0 &&
        now - entry.changedAt > this.#fillLease
      ) {
        this.#entries.delete(k);
        entry = undefined;
      }
    }
    if (entry === undefined && create) {
      entry = {
        bytes: undefined,
        valueExpiresAt: Infinity,
        targetExpiresAt: Infinity,
        generation: "",
        changedAt: now,
        intents: new Map(),
      };
      this.#entries.set(k, entry);
    }
    return entry;
  }

  #settleExpiry(entry: MemoryEntry): void {
    let expiry = entry.targetExpiresAt;
    for (const deadline of entry.intents.values()) {
      expiry = Math.min(expiry, deadline);
    }
    entry.valueExpiresAt = expiry;
  }

  #renew(entry: MemoryEntry, now: number, generation = this.#token()): void {
    entry.generation = generation;
    entry.changedAt = now;
  }

  #drop(entry: MemoryEntry, now: number): void {
    if (entry.bytes !== undefined) this.#stats.invalidations++;
    entry.bytes = undefined;
    this.#renew(entry, now);
  }

  /**
   * Reads one cached value.
   *
   * @typeParam V The value type.
   * @param scope The scope to read from.
   * @param key The key to read.
   * @returns The value, or `undefined` on a miss.
   */
  async get<V>(scope: Scope<V>, key: StateKey): Promise<V | undefined> {
    const [value] = await this.getMany(scope, [key]);
    return value;
  }

  /**
   * Reads many cached values in the order of `keys`.
   *
   * @typeParam V The value type.
   * @param scope The scope to read from.
   * @param keys The keys to read.
   * @returns One value or `undefined` (a miss) per key.
   */
  getMany<V>(
    scope: Scope<V>,
    keys: readonly StateKey[],
  ): Promise<(V | undefined)[]> {
    this.#check();
    const now = this.#now();
    return Promise.resolve(keys.map((key) => {
      const entry = this.#entry(keyString(scope.namespace, key), now, false);
      if (entry?.bytes === undefined) {
        this.#stats.misses++;
        return undefined;
      }
      this.#stats.hits++;
      return scope.monoid.codec.decode(entry.bytes);
    }));
  }

  /**
   * Takes fill leases for keys about to be read from the store.
   *
   * @typeParam V The value type.
   * @param scope The scope of the keys.
   * @param keys The keys that missed.
   * @returns One lease per key, in order.
   */
  lease<V>(scope: Scope<V>, keys: readonly StateKey[]): Promise<FillLease[]> {
    this.#check();
    const now = this.#now();
    return Promise.resolve(keys.map((key) => {
      const entry = this.#entry(keyString(scope.namespace, key), now, false);
      return { key, token: `${entry?.generation ?? ""}@${now}` };
    }));
  }

  /**
   * Stores values read from the store, each only if its lease still holds.
   *
   * @typeParam V The value type.
   * @param scope The scope of the values.
   * @param fills The values with their leases.
   * @returns Per fill, whether it was stored.
   */
  fill<V>(scope: Scope<V>, fills: readonly CacheFill<V>[]): Promise<boolean[]> {
    this.#check();
    const now = this.#now();
    return Promise.resolve(fills.map((fill) => {
      const at = fill.lease.token.lastIndexOf("@");
      const generation = fill.lease.token.slice(0, at);
      const issued = Number(fill.lease.token.slice(at + 1));
      const k = keyString(scope.namespace, fill.lease.key);
      const entry = this.#entry(k, now, false);
      const expiry = Math.min(fill.expiresAt ?? Infinity, now + this.#maxAge);
      const stored = at >= 0 && now - issued <= this.#fillLease &&
        (entry?.generation ?? "") === generation &&
        (entry === undefined || entry.intents.size === 0) &&
        entry?.bytes === undefined && expiry > now;
      if (!stored) {
        this.#stats.fillsRefused++;
        return false;
      }
      const target = this.#entry(k, now, true);
      target.bytes = scope.monoid.codec.encode(fill.value);
      target.targetExpiresAt = expiry;
      target.valueExpiresAt = expiry;
      this.#stats.fills++;
      return true;
    }));
  }

  /**
   * Announces a store write: cancels the keys' leases and refuses fills until
   * the intent completes or expires; present values expire with the intent
   * unless it completes.
   *
   * @typeParam V The value type.
   * @param scope The scope of the keys.
   * @param keys The keys about to be written.
   * @returns The intent to pass to {@linkcode MemoryCache.merge}.
   */
  beginWrite<V>(
    scope: Scope<V>,
    keys: readonly StateKey[],
  ): Promise<WriteIntent> {
    this.#check();
    const now = this.#now();
    const id = this.#token();
    const unique = uniqueKeys(keys);
    for (const key of unique) {
      const entry = this.#entry(keyString(scope.namespace, key), now, true);
      this.#renew(entry, now, id);
      entry.intents.set(id, now + this.#writeLease);
      this.#settleExpiry(entry);
    }
    return Promise.resolve({ id, namespace: scope.namespace, keys: unique });
  }

  /**
   * Folds deltas into present values and completes the intent.
   *
   * @typeParam V The value type.
   * @param scope The scope of the deltas.
   * @param deltas The deltas the store applied.
   * @param options The intent from {@linkcode MemoryCache.beginWrite}.
   * @returns How many deltas were folded in; the others' keys were absent or dropped.
   */
  merge<V>(
    scope: Scope<V>,
    deltas: readonly Delta<V>[],
    options: CacheMergeOptions = {},
  ): Promise<MergeResult> {
    try {
      this.#check();
      options.signal?.throwIfAborted();
      const now = this.#now();
      const { intent } = options;
      const { monoid } = scope;
      const live = new Set<string>();
      const keys = new Map<string, StateKey>();
      for (const key of intent?.keys ?? []) {
        keys.set(keyString(scope.namespace, key), key);
      }
      for (const delta of deltas) {
        keys.set(keyString(scope.namespace, delta.key), delta.key);
      }
      for (const k of keys.keys()) {
        const entry = this.#entry(k, now, false);
        if (intent !== undefined && entry?.intents.has(intent.id)) {
          live.add(k);
        } else if (entry !== undefined) this.#drop(entry, now);
      }
      let applied = 0;
      const skipped: number[] = [];
      for (let i = 0; i < deltas.length; i++) {
        const delta = deltas[i]!;
        const k = keyString(scope.namespace, delta.key);
        const entry = this.#entry(k, now, false);
        if (!live.has(k) || entry?.bytes === undefined) {
          skipped.push(i);
          continue;
        }
        const value = monoid.combine(
          monoid.codec.decode(entry.bytes),
          delta.value,
        );
        entry.bytes = monoid.codec.encode(value);
        if (delta.expiresAt !== undefined) {
          entry.targetExpiresAt = Math.min(
            entry.targetExpiresAt,
            delta.expiresAt,
          );
        }
        this.#stats.updates++;
        applied++;
      }
      for (const k of live) {
        const entry = this.#entry(k, now, true);
        if (entry.bytes === undefined) this.#renew(entry, now);
        entry.intents.delete(intent!.id);
        this.#settleExpiry(entry);
      }
      return Promise.resolve({ applied, skipped });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Drops keys so the next read refills them, cancelling their leases.
   *
   * @typeParam V The value type.
   * @param scope The scope of the keys.
   * @param keys The keys to drop.
   * @param options An intent to close at the same time.
   * @returns A promise that resolves when the keys are dropped.
   */
  invalidate<V>(
    scope: Scope<V>,
    keys: readonly StateKey[],
    options: InvalidateOptions = {},
  ): Promise<void> {
    this.#check();
    const now = this.#now();
    const all = [...keys, ...(options.intent?.keys ?? [])];
    for (const key of uniqueKeys(all)) {
      const entry = this.#entry(keyString(scope.namespace, key), now, true);
      this.#drop(entry, now);
      if (options.intent !== undefined) {
        entry.intents.delete(options.intent.id);
      }
      this.#settleExpiry(entry);
    }
    return Promise.resolve();
  }

  /**
   * The counters since the cache was created.
   *
   * @returns A snapshot of the counters.
   */
  stats(): CacheStats {
    return { ...this.#stats };
  }

  /**
   * Drops every value (as a restarted cache server would), keeping counters.
   *
   * @example Usage
   * ```ts
   * import { MemoryCache } from "@murmur/core/state";
   * const cache = new MemoryCache();
   * cache.clear();
   * console.log(cache.stats().hits); // 0
   * ```
   */
  clear(): void {
    this.#entries.clear();
  }

  /**
   * Drops everything; later calls throw.
   *
   * @returns A promise that resolves when closed.
   */
  close(): Promise<void> {
    this.#closed = true;
    this.#entries.clear();
    return Promise.resolve();
  }
}

/** Counters a {@linkcode CachedStore} keeps since it was created. */
export interface CachedStoreStats {
  /** Keys read. */
  readonly reads: number;
  /** Keys answered by the cache. */
  readonly hits: number;
  /** Keys read from the store (misses and degraded reads). */
  readonly storeReads: number;
  /** Keys read from the store because the cache failed. */
  readonly degradedReads: number;
  /** Cache calls that failed (reads, fills, write-through, invalidations). */
  readonly cacheErrors: number;
  /** Keys waiting for an invalidation the cache could not take yet. */
  readonly pendingInvalidations: number;
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
}

interface Pending {
  scope: Scope<unknown>;
  keys: Map<string, StateKey>;
}

/**
 * A {@linkcode Store} that reads through a {@linkcode Cache} and writes
 * through it after the store, running the cache's lease protocol.
 *
 * The store stays truth: a cache failure never fails a read (it is counted
 * and the store answers) and never fails a merge once the store write
 * succeeded (it is counted and reported to `onCacheError`). A write-through
 * the cache could not take leaves the keys to be invalidated on the next
 * call, and their cached values expire with the write's intent meanwhile.
 * `close()` closes both the store and the cache.
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
 * assert.equal(await store.get(scope, key), 5); // hit
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
  #pending = new Map<string, Pending>();
  #pendingCount = 0;
  #stats = {
    reads: 0,
    hits: 0,
    storeReads: 0,
    degradedReads: 0,
    cacheErrors: 0,
  };

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
  }

  #failed(error: unknown, operation: string): void {
    this.#stats.cacheErrors++;
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
   * offered to the cache under leases).
   *
   * @typeParam V The value type.
   * @param scope The scope to read from.
   * @param keys The keys to read.
   * @returns One value or `undefined` per key, in order.
   * @throws Whatever the store throws; cache failures are only counted.
   */
  async getMany<V>(
    scope: Scope<V>,
    keys: readonly StateKey[],
  ): Promise<(V | undefined)[]> {
    this.#stats.reads += keys.length;
    let cached: (V | undefined)[];
    try {
      cached = await this.cache.getMany(scope, keys);
    } catch (error) {
      this.#failed(error, "getMany");
      this.#stats.degradedReads += keys.length;
      this.#stats.storeReads += keys.length;
      return await this.store.getMany(scope, keys);
    }
    const missing: number[] = [];
    for (let i = 0; i < keys.length; i++) {
      if (cached[i] === undefined) missing.push(i);
    }
    this.#stats.hits += keys.length - missing.length;
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
    const values = await this.store.getMany(scope, missingKeys);
    const fills: CacheFill<V>[] = [];
    const fillExpiresAt = this.#options.fillExpiresAt;
    for (let j = 0; j < missing.length; j++) {
      const value = values[j];
      cached[missing[j]!] = value;
      const lease = leases?.[j];
      if (value === undefined || lease === undefined) continue;
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
    await this.#flushPending();
    const keys = uniqueKeys(deltas.map((delta) => delta.key));
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
    const applied = deltas.filter((_, i) => !skipped.has(i));
    try {
      await this.cache.merge(scope, applied, { intent });
    } catch (error) {
      this.#failed(error, "merge");
      this.#queue(scope, keys);
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
      const k = `${key.entity}\u0000${key.bucket ?? "all"}`;
      if (pending.keys.has(k) || this.#pendingCount >= limit) continue;
      pending.keys.set(k, key);
      this.#pendingCount++;
    }
  }

  async #flushPending(): Promise<void> {
    for (const [namespace, pending] of this.#pending) {
      try {
        await this.cache.invalidate(pending.scope, [...pending.keys.values()]);
      } catch (error) {
        this.#failed(error, "invalidate");
        return;
      }
      this.#pendingCount -= pending.keys.size;
      this.#pending.delete(namespace);
    }
  }

  /**
   * The counters since the wrapper was created.
   *
   * @returns A snapshot of the counters.
   */
  stats(): CachedStoreStats {
    return { ...this.#stats, pendingInvalidations: this.#pendingCount };
  }

  /**
   * Closes the store and the cache.
   *
   * @returns A promise that resolves when both are closed.
   */
  async close(): Promise<void> {
    await Promise.all([this.store.close(), this.cache.close()]);
  }
}
