/**
 * The atomic table swap: a small alias record names the live state table of
 * a pipeline (or store), and {@linkcode SwappableStore} routes reads and
 * writes to whatever table the alias names now, following a change without
 * a restart.
 *
 * The flow that rebuilds state without losing an event:
 *
 * 1. {@linkcode prepareShadow}: name a shadow table and a cut `from` (a bucket
 *    start in the future). Live writers that follow the alias copy every
 *    delta of a bucket at or after `from` into the shadow as well.
 * 2. Replay the archive into the shadow, writing only buckets before `from`
 *    (`replay(…, { until: from })`).
 * 3. {@linkcode swap}: the shadow becomes the live table. Every follower
 *    lets the writes it has in flight finish on the old route first
 *    (draining), then sends new writes and reads to the new table.
 *
 * Every change is a compare-and-set on the record's version, so of two
 * operators racing, one wins and the other gets {@linkcode AliasConflictError}.
 *
 * @example Following a swap
 * ```ts
 * import { MemoryAliasRegistry, swap, SwappableStore } from "@murmur/core/state/swap";
 * import { MemoryStore } from "@murmur/core/state";
 * import { sum } from "@murmur/core/monoid";
 * import assert from "node:assert/strict";
 *
 * const tables = new Map([["v1", new MemoryStore()], ["v2", new MemoryStore()]]);
 * const aliases = new MemoryAliasRegistry();
 * await swap(aliases, "orders", "v1");
 * const store = await SwappableStore.open(aliases, "orders", (t) => tables.get(t)!, { closeTargets: false });
 * const scope = { namespace: "revenue", monoid: sum() };
 * const key = { entity: "c1", bucket: null };
 * await store.merge(scope, [{ key, value: 5 }]);
 * await swap(aliases, "orders", "v2");
 * await store.refresh();
 * await store.merge(scope, [{ key, value: 7 }]);
 * assert.equal(await tables.get("v1")!.get(scope, key), 5);
 * assert.equal(await store.get(scope, key), 7);
 * await store.close();
 * ```
 *
 * @module
 */

import type {
  Delta,
  MergeOptions,
  MergeResult,
  ReadOptions,
  Scope,
  StateKey,
  Store,
  StoreLimits,
} from "./store.ts";
import type { AliasRecord, AliasRegistry, ShadowTarget } from "./_alias.ts";
import { delay } from "../internal/async.ts";

export {
  AliasConflictError,
  type AliasRecord,
  type AliasRegistry,
  type AliasUpdate,
  DynamoDBAliasRegistry,
  ensureAliasTable,
  KvAliasRegistry,
  type KvAliasRegistryOptions,
  MemoryAliasRegistry,
  type ShadowTarget,
} from "./_alias.ts";

/** Thrown when an alias a store should follow does not exist. */
export class AliasNotFoundError extends Error {
  /** The alias. */
  readonly alias: string;

  /**
   * Creates the error.
   *
   * @param alias The alias.
   * @param registry Where it was looked up.
   */
  constructor(alias: string, registry: string) {
    super(
      `alias "${alias}" does not exist in ${registry}: create it with \`murmur swap --to <table>\` (or swap(registry, "${alias}", table))`,
    );
    this.name = "AliasNotFoundError";
    this.alias = alias;
  }
}

/** Options of {@linkcode swap} and {@linkcode prepareShadow}. */
export interface SwapOptions {
  /**
   * The version the operator saw (from `murmur status`); the change fails
   * with `AliasConflictError` when the alias moved on since. Default: the
   * version read just before the write (still a compare-and-set).
   */
  readonly expectVersion?: number;
}

/**
 * Makes `target` the live table of `alias` (creating the alias when it does
 * not exist) and clears its shadow. A compare-and-set: of two operators
 * racing, one gets `AliasConflictError`.
 *
 * @param registry Where the alias lives.
 * @param alias The alias.
 * @param target The new live table.
 * @param options The expected version.
 * @returns The new record; the current one when `target` is live already with no shadow.
 * @throws {AliasConflictError} When the alias changed since it was read (or since `expectVersion`).
 */
export async function swap(
  registry: AliasRegistry,
  alias: string,
  target: string,
  options: SwapOptions = {},
): Promise<AliasRecord> {
  const current = await registry.read(alias);
  const expected = options.expectVersion ?? current?.version ?? 0;
  if (
    options.expectVersion === undefined && current !== undefined &&
    current.target === target && current.shadow === null
  ) return current;
  return await registry.write(alias, { target, shadow: null }, expected);
}

/** Options of {@linkcode prepareShadow}. */
export interface PrepareShadowOptions extends SwapOptions {
  /**
   * Accept a cut that is not in the future. Live writers copy only what they
   * write after they notice the shadow, and a replay writes only the buckets
   * before the cut, so a past cut loses the events between the cut and that
   * moment. Only for tests and for pipelines with no live writer. Default: `false`.
   */
  readonly allowPastCut?: boolean;
  /** The clock, in epoch ms. Default: `Date.now`. */
  readonly now?: () => number;
}

/**
 * Names a shadow table of `alias`: followers keep writing the live table
 * and also copy every delta of a bucket at or after `from` into the shadow,
 * so a replay of the buckets before `from` completes it. Choose `from` far
 * enough ahead (a bucket start after every follower's poll interval) that
 * all followers see the shadow before its first bucket begins.
 *
 * @param registry Where the alias lives.
 * @param alias The alias; it must exist.
 * @param shadow The shadow table and the first bucket copied into it.
 * @param options The expected version; whether a past cut is accepted.
 * @returns The new record.
 * @throws {RangeError} When the cut is not in the future (unless `allowPastCut`), or the shadow is the live table.
 * @throws {AliasNotFoundError} When the alias does not exist.
 * @throws {AliasConflictError} When it changed since it was read.
 */
export async function prepareShadow(
  registry: AliasRegistry,
  alias: string,
  shadow: ShadowTarget,
  options: PrepareShadowOptions = {},
): Promise<AliasRecord> {
  const now = (options.now ?? Date.now)();
  if (shadow.from <= now && options.allowPastCut !== true) {
    throw new RangeError(
      `alias "${alias}": the cut ${
        new Date(shadow.from).toISOString()
      } is not in the future, so events between it and the moment live writers see the shadow would be in neither the replay nor the copy: choose a bucket start after every follower's poll interval (e.g. the next hour or day)`,
    );
  }
  const current = await registry.read(alias);
  if (current === undefined) throw new AliasNotFoundError(alias, registry.name);
  if (current.target === shadow.target) {
    throw new RangeError(
      `alias "${alias}": the shadow "${shadow.target}" is the live table already; name a new table`,
    );
  }
  return await registry.write(
    alias,
    { target: current.target, shadow },
    options.expectVersion ?? current.version,
  );
}

/** Options of {@linkcode SwappableStore.open}. */
export interface SwappableStoreOptions {
  /** How often the alias is read when the registry cannot push changes, in ms. Default: 1000. */
  readonly pollInterval?: number;
  /** Called once a change took effect (in-flight writes drained). */
  readonly onSwap?: (from: AliasRecord, to: AliasRecord) => void;
  /** Called when reading the alias failed (the store keeps its route and tries again). */
  readonly onError?: (error: unknown) => void;
  /** Close the tables' stores when they leave the route and on close(). Default: `true`. */
  readonly closeTargets?: boolean;
}

interface Route {
  readonly record: AliasRecord;
  readonly live: Store;
  readonly shadow: { readonly store: Store; readonly from: number } | null;
  inflight: number;
  idle: PromiseWithResolvers<void> | null;
  reading: number;
  unread: PromiseWithResolvers<void> | null;
}

/**
 * A {@linkcode Store} that follows an alias: reads and writes go to the live
 * table the alias names, and a change (polled, or pushed by Deno KV's
 * `watch`) takes effect without a restart.
 *
 * A merge runs whole on one route. When the alias changes, new merges wait
 * while the merges in flight on the old route finish (draining), so no
 * write is in flight to a table after it stopped being live, and per-key
 * order holds across the switch. While the alias names a shadow, a merge
 * writes the live table and copies deltas of buckets at or after the cut
 * into the shadow; the merge resolves once both are durable.
 */
export class SwappableStore implements Store {
  readonly #registry: AliasRegistry;
  readonly #alias: string;
  readonly #open: (target: string) => Store | Promise<Store>;
  readonly #options: SwappableStoreOptions;
  readonly #stores = new Map<string, Store>();
  readonly #stop = new AbortController();
  #route: Route;
  #switching: Promise<void> | null = null;
  #follow: Promise<void> = Promise.resolve();
  readonly #closing: Promise<void>[] = [];

  private constructor(
    registry: AliasRegistry,
    alias: string,
    open: (target: string) => Store | Promise<Store>,
    options: SwappableStoreOptions,
    route: Route,
  ) {
    this.#registry = registry;
    this.#alias = alias;
    this.#open = open;
    this.#options = options;
    this.#route = route;
  }

  /**
   * Resolves the alias and starts following it.
   *
   * @param registry Where the alias lives.
   * @param alias The alias.
   * @param open Opens the store of a table, e.g. `(t) => new DynamoDBStore(client, t)`.
   * @param options Polling, callbacks, ownership of the tables' stores.
   * @returns The store.
   * @throws {AliasNotFoundError} When the alias does not exist.
   */
  static async open(
    registry: AliasRegistry,
    alias: string,
    open: (target: string) => Store | Promise<Store>,
    options: SwappableStoreOptions = {},
  ): Promise<SwappableStore> {
    const record = await registry.read(alias);
    if (record === undefined) {
      throw new AliasNotFoundError(alias, registry.name);
    }
    const stores = new Map<string, Store>();
    const route = await routeOf(record, stores, open);
    const store = new SwappableStore(registry, alias, open, options, route);
    for (const [k, v] of stores) store.#stores.set(k, v);
    store.#follow = store.#watch();
    return store;
  }

  /** `"alias:<alias>→<live table's store>"`. */
  get name(): string {
    return `alias:${this.#alias}→${this.#route.live.name}`;
  }

  /** The live table's limits (entity size), which may change with a swap. */
  get limits(): StoreLimits | undefined {
    return this.#route.live.limits;
  }

  /** The alias record in effect. */
  get record(): AliasRecord {
    return this.#route.record;
  }

  /** The live table in effect. */
  get target(): string {
    return this.#route.record.target;
  }

  /**
   * Reads the alias now and switches when it changed; resolves once the
   * switch took effect (in-flight writes drained).
   *
   * @returns A promise that resolves when the store follows the current record.
   */
  async refresh(): Promise<void> {
    const record = await this.#registry.read(this.#alias);
    if (record === undefined || record.version <= this.#route.record.version) {
      return;
    }
    while (this.#switching !== null) await this.#switching;
    if (record.version <= this.#route.record.version) return;
    const switching = this.#switchTo(record);
    this.#switching = switching;
    try {
      await switching;
    } finally {
      if (this.#switching === switching) this.#switching = null;
    }
  }

  async #switchTo(record: AliasRecord): Promise<void> {
    const old = this.#route;
    const fresh = new Map<string, Store>(this.#stores);
    const next = await routeOf(record, fresh, this.#open);
    if (old.inflight > 0) {
      old.idle ??= Promise.withResolvers<void>();
      await old.idle.promise;
    }
    this.#route = next;
    const used = new Set([record.target, record.shadow?.target]);
    const dropped: Store[] = [];
    for (const [target, store] of fresh) {
      if (used.has(target)) {
        this.#stores.set(target, store);
      } else {
        this.#stores.delete(target);
        dropped.push(store);
      }
    }
    if (this.#options.closeTargets !== false && dropped.length > 0) {
      // Reads still on the old route finish before its stores close.
      this.#closing.push((async () => {
        if (old.reading > 0) {
          old.unread ??= Promise.withResolvers<void>();
          await old.unread.promise;
        }
        for (const store of dropped) {
          await store.close().catch((error) => this.#options.onError?.(error));
        }
      })());
    }
    this.#options.onSwap?.(old.record, record);
  }

  async #watch(): Promise<void> {
    const signal = this.#stop.signal;
    const changes = this.#registry.changes?.(this.#alias, signal);
    const tick = async () => {
      try {
        await this.refresh();
      } catch (error) {
        if (!signal.aborted) this.#options.onError?.(error);
      }
    };
    if (changes !== undefined) {
      try {
        for await (const _ of changes) await tick();
      } catch (error) {
        if (!signal.aborted) this.#options.onError?.(error);
      }
      return;
    }
    const every = this.#options.pollInterval ?? 1000;
    while (!signal.aborted) {
      try {
        await delay(every, signal);
      } catch {
        return;
      }
      await tick();
    }
  }

  /**
   * Reads one value from the live table.
   *
   * @typeParam V The value type.
   * @param scope The scope.
   * @param key The key.
   * @returns The value, or `undefined`.
   */
  get<V>(scope: Scope<V>, key: StateKey): Promise<V | undefined> {
    return this.#read((store) => store.get(scope, key));
  }

  /**
   * Reads many values from the live table.
   *
   * @typeParam V The value type.
   * @param scope The scope.
   * @param keys The keys.
   * @param options Freshness, signal and read stats, passed to the live table's store.
   * @returns One value or `undefined` per key.
   */
  getMany<V>(
    scope: Scope<V>,
    keys: readonly StateKey[],
    options?: ReadOptions,
  ): Promise<(V | undefined)[]> {
    return this.#read((store) => store.getMany(scope, keys, options));
  }

  async #read<T>(call: (store: Store) => Promise<T>): Promise<T> {
    const route = this.#route;
    route.reading++;
    try {
      return await call(route.live);
    } finally {
      if (--route.reading === 0 && route.unread !== null) {
        route.unread.resolve();
        route.unread = null;
      }
    }
  }

  /**
   * Merges into the live table (and the shadow, for buckets at or after its
   * cut); waits while a switch drains.
   *
   * @typeParam V The value type.
   * @param scope The scope.
   * @param deltas The deltas.
   * @param options Signal and claim TTL.
   * @returns What the live table did.
   */
  async merge<V>(
    scope: Scope<V>,
    deltas: readonly Delta<V>[],
    options?: MergeOptions,
  ): Promise<MergeResult> {
    while (this.#switching !== null) await this.#switching;
    const route = this.#route;
    route.inflight++;
    try {
      const shadow = route.shadow;
      const copied = shadow === null
        ? []
        : deltas.filter((d) =>
          d.key.bucket !== null && d.key.bucket >= shadow.from
        );
      const [live, copy] = await Promise.allSettled([
        route.live.merge(scope, deltas, options),
        copied.length === 0
          ? Promise.resolve(undefined)
          : shadow!.store.merge(scope, copied, options),
      ]);
      if (live.status === "rejected") throw live.reason;
      if (copy.status === "rejected") throw copy.reason;
      return live.value;
    } finally {
      if (--route.inflight === 0 && route.idle !== null) {
        route.idle.resolve();
        route.idle = null;
      }
    }
  }

  /** Stops following the alias and closes the tables' stores (unless `closeTargets: false`). */
  async close(): Promise<void> {
    this.#stop.abort();
    await this.#follow;
    while (this.#switching !== null) await this.#switching;
    await Promise.all(this.#closing);
    if (this.#options.closeTargets !== false) {
      for (const store of this.#stores.values()) await store.close();
    }
    this.#stores.clear();
  }

  /** Calls close(). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

async function routeOf(
  record: AliasRecord,
  stores: Map<string, Store>,
  open: (target: string) => Store | Promise<Store>,
): Promise<Route> {
  const storeOf = async (target: string) => {
    let store = stores.get(target);
    if (store === undefined) {
      store = await open(target);
      stores.set(target, store);
    }
    return store;
  };
  const live = await storeOf(record.target);
  const shadow = record.shadow === null ? null : {
    store: await storeOf(record.shadow.target),
    from: record.shadow.from,
  };
  return {
    record,
    live,
    shadow,
    inflight: 0,
    idle: null,
    reading: 0,
    unread: null,
  };
}
