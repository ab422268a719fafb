// MemoryCache: the in-process Cache with the same lease and intent rules as the Valkey cache.

import type {
  Cache,
  CacheFill,
  CacheMergeOptions,
  CacheStats,
  FillLease,
  InvalidateOptions,
  WriteIntent,
} from "./cache.ts";
import {
  DEFAULT_CACHE_MAX_AGE_MS,
  DEFAULT_FILL_LEASE_MS,
  DEFAULT_WRITE_LEASE_MS,
} from "./cache.ts";
import type { Delta, MergeResult, Scope, StateKey } from "./store.ts";
import { zeroCacheStats } from "./_cache_stats.ts";
import { scopedKeyString, uniqueStateKeys } from "../internal/state_key.ts";

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
  #stats = zeroCacheStats();

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
    return this.#lookup(scope, keys, (_key, entry) => {
      if (entry?.bytes === undefined) {
        this.#stats.misses++;
        return undefined;
      }
      this.#stats.hits++;
      return scope.monoid.codec.decode(entry.bytes);
    });
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
    return this.#lookup(scope, keys, (key, entry, now) => ({
      key,
      token: `${entry?.generation ?? ""}@${now}`,
    }));
  }

  /** Answers per key from its live entry (none is created), at one reading of the clock. */
  #lookup<V, R>(
    scope: Scope<V>,
    keys: readonly StateKey[],
    answer: (key: StateKey, entry: MemoryEntry | undefined, now: number) => R,
  ): Promise<R[]> {
    this.#check();
    const now = this.#now();
    return Promise.resolve(keys.map((key) =>
      answer(
        key,
        this.#entry(scopedKeyString(scope.namespace, key), now, false),
        now,
      )
    ));
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
      const k = scopedKeyString(scope.namespace, fill.lease.key);
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
    const unique = uniqueStateKeys(keys);
    for (const key of unique) {
      const entry = this.#entry(
        scopedKeyString(scope.namespace, key),
        now,
        true,
      );
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
        keys.set(scopedKeyString(scope.namespace, key), key);
      }
      for (const delta of deltas) {
        keys.set(scopedKeyString(scope.namespace, delta.key), delta.key);
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
        const k = scopedKeyString(scope.namespace, delta.key);
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
    for (const key of uniqueStateKeys(all)) {
      const entry = this.#entry(
        scopedKeyString(scope.namespace, key),
        now,
        true,
      );
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
   * import assert from "node:assert/strict";
   * assert.equal(cache.stats().hits, 0);
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
