// Stores named by a config: memory, Deno KV, DynamoDB, each optionally behind a swap alias; and the Valkey cache.

import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  type Cache,
  CachedStore,
  MemoryStore,
  type Store,
} from "../state/mod.ts";
import { KvStore } from "../state/kv.ts";
import { DynamoDBStore, ensureTable } from "../state/dynamodb.ts";
import { ValkeyCache } from "../state/valkey.ts";
import {
  type AliasRegistry,
  DynamoDBAliasRegistry,
  KvAliasRegistry,
  SwappableStore,
  type SwappableStoreOptions,
} from "../state/swap.ts";
import type { MurmurConfig, StoreSpec } from "./types.ts";

/** A store opened from a config, with what else was opened for it. */
export interface OpenedStore extends AsyncDisposable {
  /** The store pipelines write (a {@linkcode SwappableStore} when the config names an alias). */
  readonly store: Store;
  /** Where the alias lives, when the config names one. */
  readonly aliases: AliasRegistry | null;
  /** The alias, or `null`. */
  readonly alias: string | null;
  /** Opens the store of another table of the same backend (a shadow for a replay). */
  table(name: string): Promise<Store>;
  /** Closes the store, the registry and the clients; safe to call more than once. */
  close(): Promise<void>;
}

/** Options of {@linkcode openStore}. */
export interface OpenStoreOptions {
  /** Write this table instead of the configured one (or the alias's). */
  readonly table?: string;
  /** Callbacks of the alias follower. */
  readonly swap?: Pick<SwappableStoreOptions, "onSwap" | "onError">;
  /**
   * A cache per state table, wrapped around each table's store
   * (`CachedStore`), e.g. `(table) => openCache(config, onError, table)`.
   * With an alias, each table gets its own cache keys, so a swap never
   * serves values cached from the old table. Default: none.
   */
  readonly cache?: (table: string) => Cache | null;
}

interface Backend {
  readonly open: (table: string) => Promise<Store>;
  readonly fixed: string;
  readonly aliases: AliasRegistry | null;
  readonly alias: string | null;
  readonly close: () => Promise<void>;
}

async function backend(spec: StoreSpec): Promise<Backend> {
  if (spec.kind === "memory") {
    const memory = new MemoryStore();
    return {
      open: () => Promise.resolve(memory),
      fixed: "memory",
      aliases: null,
      alias: null,
      close: () => Promise.resolve(),
    };
  }
  if (spec.kind === "kv") {
    const kv = await Deno.openKv(spec.path ?? undefined);
    return {
      open: (table) =>
        Promise.resolve(
          new KvStore(kv, {
            prefix: ["murmur", table],
            name: `deno-kv:${table}`,
          }),
        ),
      fixed: spec.table,
      aliases: spec.alias === null ? null : new KvAliasRegistry(kv),
      alias: spec.alias,
      close: () => Promise.resolve(kv.close()),
    };
  }
  const client = new DynamoDBClient({
    region: spec.region,
    ...(spec.endpoint === null ? {} : {
      endpoint: spec.endpoint,
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
    }),
  });
  return {
    open: async (table) => {
      if (spec.createTable) await ensureTable(client, table);
      return new DynamoDBStore(client, table, {
        ...(spec.concurrency === null ? {} : { concurrency: spec.concurrency }),
      });
    },
    fixed: spec.table,
    aliases: spec.alias === null
      ? null
      : new DynamoDBAliasRegistry(client, spec.aliasTable),
    alias: spec.alias,
    close: () => Promise.resolve(client.destroy()),
  };
}

/** The swap alias a store config names, opened for reading and swapping. */
export interface OpenedAlias extends AsyncDisposable {
  /** Where the alias lives, or `null` when the config names no alias. */
  readonly aliases: AliasRegistry | null;
  /** The alias, or `null`. */
  readonly alias: string | null;
  /** Closes the registry and its client; safe to call more than once. */
  close(): Promise<void>;
}

/**
 * Opens the alias registry a store config names (for `murmur swap` and
 * `murmur status`), without opening any state table.
 *
 * @param spec The store spec.
 * @returns The registry and alias (both `null` when the config names none).
 */
export async function openAlias(spec: StoreSpec): Promise<OpenedAlias> {
  const b = await backend(spec);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await b.aliases?.close();
    await b.close();
  };
  return {
    aliases: b.aliases,
    alias: b.alias,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * Opens the store a config names: Deno KV, DynamoDB or memory, following
 * its swap alias when it names one.
 *
 * @param spec The store spec.
 * @param options Table override and swap callbacks.
 * @returns The opened store.
 */
export async function openStore(
  spec: StoreSpec,
  options: OpenStoreOptions = {},
): Promise<OpenedStore> {
  const b = await backend(spec);
  const cacheFor = options.cache;
  const open = cacheFor === undefined ? b.open : async (table: string) => {
    const inner = await b.open(table);
    const cache = cacheFor(table);
    return cache === null ? inner : new CachedStore(inner, cache);
  };
  let store: Store;
  if (options.table !== undefined) {
    store = await open(options.table);
  } else if (b.aliases !== null && b.alias !== null) {
    store = await SwappableStore.open(b.aliases, b.alias, open, {
      pollInterval: spec.kind === "memory" ? 1000 : spec.pollInterval,
      ...options.swap,
    });
  } else {
    store = await open(b.fixed);
  }
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await store.close();
    await b.aliases?.close();
    await b.close();
  };
  return {
    store,
    aliases: b.aliases,
    alias: b.alias,
    table: b.open,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * Opens the Valkey cache a config names, or `null`.
 *
 * @param config The config.
 * @param onError Called with cache failures (the store stays the truth).
 * @param table The state table whose values it caches: its name is added to
 * the key prefix, so each table of a swap alias has its own keys. Default: none.
 * @returns The cache, or `null`.
 */
export function openCache(
  config: MurmurConfig,
  onError?: (error: unknown, operation: string) => void,
  table?: string,
): ValkeyCache | null {
  if (config.cache === null) return null;
  return new ValkeyCache({
    url: config.cache.url,
    keyPrefix: table === undefined
      ? config.cache.keyPrefix
      : `${config.cache.keyPrefix}${table}:`,
    ...(onError === undefined ? {} : { onError }),
  });
}

/** Options of {@linkcode openState}. */
export interface OpenStateOptions extends Omit<OpenStoreOptions, "cache"> {
  /** Called with cache failures (the store stays the truth). */
  readonly onCacheError?: (error: unknown, operation: string) => void;
}

/** The store and cache a config names, ready for `buildPipelines`. */
export interface OpenedState extends OpenedStore {
  /**
   * The cache to give the pipelines, or `null`: `null` too when the config
   * follows a swap alias, because each table's cache then sits inside the
   * followed store.
   */
  readonly cache: ValkeyCache | null;
}

/**
 * Opens the store and the cache of a config the way a worker or a query
 * server needs them: a plain table gets one cache for the pipelines; behind
 * a swap alias each table gets its own cache inside the followed store, so a
 * swap never serves values cached from the old table.
 *
 * @param config The config.
 * @param options Table override, swap callbacks, cache error callback.
 * @returns The store, the pipelines' cache, and one close for both.
 */
export async function openState(
  config: MurmurConfig,
  options: OpenStateOptions = {},
): Promise<OpenedState> {
  const { onCacheError, ...rest } = options;
  const spec = config.store;
  const aliased = rest.table === undefined && spec.kind !== "memory" &&
    spec.alias !== null;
  const opened = await openStore(spec, {
    ...rest,
    ...(aliased
      ? { cache: (table: string) => openCache(config, onCacheError, table) }
      : {}),
  });
  const cache = aliased ? null : openCache(config, onCacheError);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await opened.close();
    await cache?.close();
  };
  return { ...opened, cache, close, [Symbol.asyncDispose]: close };
}
