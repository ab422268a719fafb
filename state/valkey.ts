/**
 * A {@linkcode Cache} on Valkey (or Redis ≥ 7): counters by `INCRBY`,
 * HyperLogLogs natively with `PFMERGE` on the same `HYLL` bytes DynamoDB
 * holds, `max`/`min` by an atomic compare; other kinds are dropped on write
 * and refilled from the store. Fills run under leases and writes under
 * intents (Lua scripts, atomic per key), so the cache never holds a partial
 * or stale value; an outage degrades reads to the store and is counted.
 *
 * Design notes, key layout and options are in `docs/valkey.md`.
 *
 * @example Usage
 * ```ts ignore
 * import { CachedStore } from "@murmur/core/state";
 * import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
 * import { DynamoDBStore } from "@murmur/core/state/dynamodb";
 * import { ValkeyCache } from "@murmur/core/state/valkey";
 *
 * const cache = new ValkeyCache({ url: "redis://localhost:6379" });
 * const dynamo = new DynamoDBStore(new DynamoDBClient({ region: "eu-west-1" }), "murmur_state");
 * const store = new CachedStore(dynamo, cache);
 * ```
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { ConnectionOptions } from "node:tls";
import { Cluster, Redis } from "iovalkey";
import type { Monoid } from "../monoid/monoid.ts";
import {
  type Cache,
  type CacheFill,
  type CacheMergeOptions,
  type CacheStats,
  CacheUnavailableError,
  DEFAULT_CACHE_MAX_AGE_MS,
  DEFAULT_FILL_LEASE_MS,
  DEFAULT_WRITE_LEASE_MS,
  type FillLease,
  type InvalidateOptions,
  type WriteIntent,
} from "./cache.ts";
import type { Delta, MergeResult, Scope, StateKey } from "./store.ts";
import { BEGIN, FILL, INVALIDATE, LEASE, MERGE } from "./_valkey_scripts.ts";
import { zeroCacheStats } from "./_cache_stats.ts";

/** Options for {@linkcode ValkeyCache}. */
export interface ValkeyCacheOptions {
  /**
   * A server URL, e.g. `redis://user:secret@cache:6379/0`, or `rediss://…`
   * for TLS. Fields given below override the URL's.
   */
  readonly url?: string;
  /** The host. Default: `localhost` (or the URL's). */
  readonly host?: string;
  /** The port. Default: `6379` (or the URL's). */
  readonly port?: number;
  /** The ACL user name (Valkey/Redis ≥ 6). */
  readonly username?: string;
  /** The password (`AUTH`). */
  readonly password?: string;
  /** The database index. Default: `0`. */
  readonly db?: number;
  /**
   * TLS: `true` for the system's trust store, or Node TLS options (`ca`,
   * `cert`, `key`, `servername`, `rejectUnauthorized`…) passed to iovalkey.
   */
  readonly tls?: boolean | ConnectionOptions;
  /**
   * Cluster mode: some of the cluster's nodes to start from (the rest are
   * discovered). `url`, `host` and `port` are then ignored; auth, TLS and
   * timeouts apply to every node.
   */
  readonly cluster?: readonly {
    readonly host: string;
    readonly port: number;
  }[];
  /** Prefix of every key; must not contain `{` or `}`. Default: `"murmur:"`. */
  readonly keyPrefix?: string;
  /** How long a command may take before it counts as an outage, in ms. Default: 1000. */
  readonly commandTimeoutMs?: number;
  /** The longest a filled value lives, whatever the store's expiry, in ms. Default: 15 minutes. */
  readonly maxAgeMs?: number;
  /** How long a write intent holds, in ms. Default: 30 s. */
  readonly writeLeaseMs?: number;
  /** How long a fill lease holds, in ms. Default: 5 s. */
  readonly fillLeaseMs?: number;
  /**
   * After a failure, how long reads, leases, fills, write intents and
   * write-through answer without asking the server (misses, refused fills,
   * write calls failing at once), in ms, so an outage costs callers nothing.
   * Invalidations are always sent: skipping one would leave a stale value.
   * Default: 2000.
   */
  readonly outageCooldownMs?: number;
  /** Called with every failure, which is otherwise only counted. */
  readonly onError?: (error: unknown, operation: string) => void;
}

/** Marks a call skipped because the server failed moments ago. */
class Skipped extends Error {
  constructor() {
    super("skipped: the server failed moments ago");
    this.name = "Skipped";
  }
}

/** How a scope's values live in Valkey. */
type CachePath = "incr" | "max" | "min" | "hll" | "bytes";

function pathOf(monoid: Monoid<unknown>): CachePath {
  if (monoid.additive) return "incr";
  const kind = monoid.kind === "monotonic" ? "max" : monoid.kind;
  if (kind === "max" || kind === "min") {
    const identity = monoid.identity();
    if (identity === null || typeof identity === "number") return kind;
  }
  if (monoid.kind === "hll" && monoid.codec.format === "hyll") return "hll";
  return "bytes";
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const decoder = new TextDecoder();

/** Escapes the characters that delimit the key layout, so distinct keys never collide. */
function escape(part: string): string {
  return part.replace(
    /[%{}|]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

type Script = (...args: (string | Buffer)[]) => Promise<unknown>;

/** iovalkey sends a Buffer as raw bytes but a bare Uint8Array as text. */
function arg(value: string | Uint8Array): string | Buffer {
  return typeof value === "string"
    ? value
    : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

interface Scripts {
  murmurLease: Script;
  murmurFill: Script;
  murmurBegin: Script;
  murmurMerge: Script;
  murmurInvalidate: Script;
}

/**
 * A {@linkcode Cache} on Valkey or Redis (standalone or cluster).
 *
 * Key layout: `<prefix>{<namespace>|<entity>}|<bucket>` holds the value
 * (`<bucket>` is the bucket's epoch ms or `all`), `…|meta` a hash with the
 * lease generation, the value's expiry and open write intents, `…|tmp`
 * scratch for `PFMERGE`. The braces make a hash tag per entity, so a key's
 * three Valkey keys share a cluster slot and each script stays on one node.
 *
 * Write-through by kind:
 * - additive (`sum`, `count`) with integer deltas: `INCRBY` in a script that
 *   only touches present keys; fraction deltas drop the key (Valkey's
 *   long-double arithmetic would not match the store's);
 * - `hll`: `PFMERGE` of the delta's `HYLL` bytes, so `PFCOUNT` works on the
 *   cached key and the bytes equal the store's;
 * - `max`, `monotonic`, `min` over numbers: an atomic compare-and-set;
 * - every other kind: the key is dropped and the next read refills it. A Lua
 *   script cannot run the monoid, and a client-side read-combine-write would
 *   make every writer pay a round trip for values nobody may read; dropping
 *   can never leave a wrong value behind.
 *
 * Reads, leases and fills never throw: on an outage they count an error and
 * answer misses (and refused fills). `beginWrite`, `merge` and `invalidate`
 * throw {@linkcode CacheUnavailableError}; {@linkcode CachedStore} counts
 * those, queues the keys and retries until the invalidation lands. After a
 * failure the cache does not ask the server again for `outageCooldownMs`
 * (except to invalidate), so an outage costs callers little waiting on
 * timeouts.
 *
 * @example Usage
 * ```ts ignore
 * import { ValkeyCache } from "@murmur/core/state/valkey";
 * import { sum } from "@murmur/core/monoid";
 *
 * const cache = new ValkeyCache({ url: "rediss://cache.internal:6379", username: "murmur", password: Deno.env.get("VALKEY_PASSWORD") });
 * const scope = { namespace: "page_views", monoid: sum() };
 * console.log(await cache.get(scope, { entity: "post:1", bucket: null }));
 * console.log(cache.stats());
 * await cache.close();
 * ```
 */
export class ValkeyCache implements Cache {
  /** `"valkey:<host>:<port>"`, or `"valkey:cluster"`. */
  readonly name: string;
  #client: Redis | Cluster;
  #scripts: Scripts;
  #prefix: string;
  #maxAge: number;
  #writeLease: number;
  #fillLease: number;
  #onError: ((error: unknown, operation: string) => void) | undefined;
  #cooldown: number;
  #downUntil = 0;
  #down = false;
  #batch: number;
  #cluster: boolean;
  #metaTtl: string;
  #stats = zeroCacheStats();

  /**
   * Creates the client; it connects on first use.
   *
   * @param options Connection, auth, TLS, key prefix and lifetimes; see {@linkcode ValkeyCacheOptions}.
   * @throws {TypeError} When the key prefix holds `{` or `}`.
   */
  constructor(options: ValkeyCacheOptions = {}) {
    const prefix = options.keyPrefix ?? "murmur:";
    if (/[{}]/.test(prefix)) {
      throw new TypeError(
        `valkey cache: key prefix ${
          JSON.stringify(prefix)
        } holds "{" or "}", which would break the per-entity hash tag; choose another prefix`,
      );
    }
    this.#prefix = prefix;
    this.#maxAge = options.maxAgeMs ?? DEFAULT_CACHE_MAX_AGE_MS;
    this.#writeLease = options.writeLeaseMs ?? DEFAULT_WRITE_LEASE_MS;
    this.#fillLease = options.fillLeaseMs ?? DEFAULT_FILL_LEASE_MS;
    for (
      const [label, value] of [
        ["maxAgeMs", this.#maxAge],
        ["writeLeaseMs", this.#writeLease],
        ["fillLeaseMs", this.#fillLease],
      ] as const
    ) {
      if (!Number.isFinite(value) || value <= 0) {
        throw new RangeError(
          `valkey cache: ${label} must be a positive number of ms, got ${value}`,
        );
      }
    }
    this.#onError = options.onError;
    this.#cooldown = options.outageCooldownMs ?? 2000;
    const node = {
      ...(options.username === undefined ? {} : { username: options.username }),
      ...(options.password === undefined ? {} : { password: options.password }),
      ...(options.tls === undefined || options.tls === false
        ? {}
        : { tls: options.tls === true ? {} : options.tls }),
      commandTimeout: options.commandTimeoutMs ?? 1000,
      maxRetriesPerRequest: 1,
    };
    if (options.cluster !== undefined) {
      this.#client = new Cluster(
        options.cluster.map(({ host, port }) => ({ host, port })),
        {
          lazyConnect: true,
          enableAutoPipelining: true,
          clusterRetryStrategy: (times: number) => Math.min(times * 100, 2000),
          redisOptions: node,
        },
      );
    } else {
      const settings = {
        ...node,
        ...(options.host === undefined ? {} : { host: options.host }),
        ...(options.port === undefined ? {} : { port: options.port }),
        ...(options.db === undefined ? {} : { db: options.db }),
        lazyConnect: true,
        enableAutoPipelining: true,
        retryStrategy: (times: number) => Math.min(times * 100, 2000),
      };
      this.#client = options.url === undefined
        ? new Redis(settings)
        : new Redis(options.url, settings);
    }
    // Connection errors surface on the commands that fail; the event only needs a listener.
    this.#client.on("error", () => {});
    // A cluster call must stay in one slot, so there every key goes alone and
    // the scripts declare their key count (iovalkey routes by those keys);
    // standalone, a call carries a batch and passes its key count first.
    this.#cluster = this.#client instanceof Cluster;
    this.#batch = this.#cluster ? 1 : 128;
    for (
      const [name, lua, keysPerItem] of [
        ["murmurLease", LEASE, 1],
        ["murmurFill", FILL, 2],
        ["murmurBegin", BEGIN, 2],
        ["murmurMerge", MERGE, 3],
        ["murmurInvalidate", INVALIDATE, 2],
      ] as const
    ) {
      this.#client.defineCommand(
        name,
        this.#cluster ? { lua, numberOfKeys: keysPerItem } : { lua },
      );
    }
    this.#metaTtl = String(this.#maxAge + this.#writeLease + this.#fillLease);
    this.#scripts = this.#client as unknown as Scripts;
    this.name = this.#client instanceof Cluster
      ? "valkey:cluster"
      : `valkey:${this.#client.options.host ?? "localhost"}:${
        this.#client.options.port ?? 6379
      }`;
  }

  /**
   * The Valkey key holding a value: `<prefix>{<namespace>|<entity>}|<bucket>`.
   *
   * @param namespace The scope's namespace.
   * @param key The state key.
   * @returns The key, e.g. for `PFCOUNT` or inspection with `valkey-cli`.
   *
   * @example Usage
   * ```ts
   * import { ValkeyCache } from "@murmur/core/state/valkey";
   * const cache = new ValkeyCache({ port: 1 });
   * import assert from "node:assert/strict";
   * assert.equal(cache.keyOf("page_views", { entity: "post:1", bucket: null }), "murmur:{page_views|post:1}|all");
   * await cache.close();
   * ```
   */
  keyOf(namespace: string, key: StateKey): string {
    return `${this.#prefix}{${escape(namespace)}|${escape(key.entity)}}|${
      key.bucket === null ? "all" : String(key.bucket)
    }`;
  }

  /** Runs one of the scripts on a batch of keys. */
  #run(
    script: keyof Scripts,
    keys: readonly string[],
    args: readonly (string | Buffer)[],
  ): Promise<unknown> {
    return this.#cluster
      ? this.#scripts[script](...keys, ...args)
      : this.#scripts[script](String(keys.length), ...keys, ...args);
  }

  /** Splits work into script batches. */
  #chunks<T>(items: readonly T[]): T[][] {
    const out: T[][] = [];
    for (let i = 0; i < items.length; i += this.#batch) {
      out.push(items.slice(i, i + this.#batch));
    }
    return out;
  }

  #failed(error: unknown, operation: string): void {
    if (error instanceof Skipped) return;
    this.#stats.errors++;
    this.#downUntil = Date.now() + this.#cooldown;
    this.#down = true;
    this.#onError?.(error, operation);
  }

  /**
   * Whether the server looks down: its last call failed and none succeeded
   * since. Reads answer misses meanwhile; `CachedStore.stats()` shows it.
   */
  get down(): boolean {
    return this.#down;
  }

  /** Throws {@linkcode Skipped} while the server is presumed down. */
  #available(): void {
    if (Date.now() < this.#downUntil) throw new Skipped();
  }

  #encode<V>(scope: Scope<V>, path: CachePath, value: V): Uint8Array | string {
    if (path === "hll" || path === "bytes") {
      return scope.monoid.codec.encode(value);
    }
    if (value === null) return "null";
    if (typeof value === "number" || typeof value === "bigint") {
      return String(value);
    }
    throw new TypeError(
      `valkey cache: scope "${scope.namespace}" holds ${typeof value} values, not numbers`,
    );
  }

  #decode<V>(scope: Scope<V>, path: CachePath, bytes: Uint8Array): V {
    if (path === "hll" || path === "bytes") {
      return scope.monoid.codec.decode(bytes);
    }
    const text = decoder.decode(bytes);
    if (text === "null" && path !== "incr") return null as V;
    if (typeof scope.monoid.identity() === "bigint") {
      if (!/^-?\d+$/.test(text)) {
        throw new RangeError(`not an integer: ${text}`);
      }
      return BigInt(text) as V;
    }
    const value = Number(text);
    if (text.trim() === "" || Number.isNaN(value)) {
      throw new RangeError(`not a number: ${text}`);
    }
    if (
      path === "incr" && Number.isInteger(value) && !Number.isSafeInteger(value)
    ) {
      throw new RangeError(`${text} is beyond 2^53`);
    }
    return value as V;
  }

  /**
   * Reads one cached value; never throws.
   *
   * @typeParam V The value type.
   * @param scope The scope to read from.
   * @param key The key to read.
   * @returns The value, or `undefined` on a miss or an outage.
   */
  async get<V>(scope: Scope<V>, key: StateKey): Promise<V | undefined> {
    const [value] = await this.getMany(scope, [key]);
    return value;
  }

  /**
   * Reads many cached values (pipelined); never throws.
   *
   * @typeParam V The value type.
   * @param scope The scope to read from.
   * @param keys The keys to read.
   * @returns One value or `undefined` (a miss, an unreadable value or an outage) per key.
   */
  async getMany<V>(
    scope: Scope<V>,
    keys: readonly StateKey[],
  ): Promise<(V | undefined)[]> {
    let replies: (Uint8Array | null)[];
    try {
      this.#available();
      const names = keys.map((key) => this.keyOf(scope.namespace, key));
      replies = (await Promise.all(
        this.#chunks(names).map((chunk) => this.#client.mgetBuffer(...chunk)),
      )).flat();
      this.#down = false;
    } catch (error) {
      this.#failed(error, "getMany");
      this.#stats.misses += keys.length;
      return keys.map(() => undefined);
    }
    const path = pathOf(scope.monoid as Monoid<unknown>);
    const unreadable: StateKey[] = [];
    const values = replies.map((bytes, i) => {
      if (bytes === null) {
        this.#stats.misses++;
        return undefined;
      }
      try {
        const value = this.#decode(scope, path, bytes);
        this.#stats.hits++;
        return value;
      } catch (error) {
        this.#failed(error, "decode");
        this.#stats.misses++;
        unreadable.push(keys[i]!);
        return undefined;
      }
    });
    // A value no reader can use would never be refilled: drop it.
    if (unreadable.length > 0) {
      await this.invalidate(scope, unreadable).catch(() => {});
    }
    return values;
  }

  /**
   * Takes fill leases; never throws (an outage answers leases that cannot fill).
   *
   * @typeParam V The value type.
   * @param scope The scope of the keys.
   * @param keys The keys that missed.
   * @returns One lease per key, in order.
   */
  async lease<V>(
    scope: Scope<V>,
    keys: readonly StateKey[],
  ): Promise<FillLease[]> {
    try {
      this.#available();
      const chunks = this.#chunks(keys);
      const replies = await Promise.all(
        chunks.map((chunk) =>
          this.#run(
            "murmurLease",
            chunk.map((key) => `${this.keyOf(scope.namespace, key)}|meta`),
            [],
          ) as Promise<string[]>
        ),
      );
      return chunks.flatMap((chunk, c) => {
        const [now, ...generations] = replies[c]!;
        return chunk.map((key, i) => ({
          key,
          token: `${now}@${generations[i]}`,
        }));
      });
    } catch (error) {
      this.#failed(error, "lease");
      return keys.map((key) => ({ key, token: "" }));
    }
  }

  /**
   * Stores values under their leases; never throws (an outage refuses them).
   *
   * @typeParam V The value type.
   * @param scope The scope of the values.
   * @param fills The values with their leases.
   * @returns Per fill, whether it was stored.
   */
  async fill<V>(
    scope: Scope<V>,
    fills: readonly CacheFill<V>[],
  ): Promise<boolean[]> {
    const path = pathOf(scope.monoid as Monoid<unknown>);
    let stored: boolean[];
    try {
      this.#available();
      // A lease taken during an outage has no token and can never fill.
      const usable = fills.filter((fill) => fill.lease.token.includes("@"));
      const answers = await Promise.all(
        this.#chunks(usable).map((chunk) => {
          const keys: string[] = [];
          const args: (string | Buffer)[] = [
            String(this.#fillLease),
            String(this.#maxAge),
            this.#metaTtl,
          ];
          for (const fill of chunk) {
            const key = this.keyOf(scope.namespace, fill.lease.key);
            const at = fill.lease.token.indexOf("@");
            keys.push(key, `${key}|meta`);
            args.push(
              fill.lease.token.slice(at + 1),
              fill.lease.token.slice(0, at),
              arg(this.#encode(scope, path, fill.value)),
              fill.expiresAt === undefined
                ? ""
                : String(Math.floor(fill.expiresAt)),
            );
          }
          return this.#run("murmurFill", keys, args) as Promise<number[]>;
        }),
      );
      const byFill = new Map<CacheFill<V>, boolean>();
      usable.forEach((fill, i) => {
        byFill.set(
          fill,
          answers[Math.floor(i / this.#batch)]![i % this.#batch] === 1,
        );
      });
      stored = fills.map((fill) => byFill.get(fill) ?? false);
    } catch (error) {
      this.#failed(error, "fill");
      stored = fills.map(() => false);
    }
    for (const ok of stored) {
      if (ok) this.#stats.fills++;
      else this.#stats.fillsRefused++;
    }
    return stored;
  }

  /**
   * Opens a write intent on `keys` before the store write.
   *
   * @typeParam V The value type.
   * @param scope The scope of the keys.
   * @param keys The keys about to be written.
   * @returns The intent for {@linkcode ValkeyCache.merge}.
   * @throws {CacheUnavailableError} When Valkey cannot be reached.
   */
  async beginWrite<V>(
    scope: Scope<V>,
    keys: readonly StateKey[],
  ): Promise<WriteIntent> {
    const unique = new Map<string, StateKey>();
    for (const key of keys) unique.set(this.keyOf(scope.namespace, key), key);
    const id = crypto.randomUUID();
    try {
      this.#available();
      await Promise.all(
        this.#chunks([...unique.keys()]).map((chunk) =>
          this.#run(
            "murmurBegin",
            chunk.flatMap((key) => [key, `${key}|meta`]),
            [id, String(this.#writeLease), this.#metaTtl],
          )
        ),
      );
    } catch (error) {
      this.#failed(error, "beginWrite");
      throw new CacheUnavailableError(this.name, "beginWrite", error);
    }
    return { id, namespace: scope.namespace, keys: [...unique.values()] };
  }

  /**
   * Write-through: folds the deltas into present values (each key
   * atomically, keys batched into script calls) and closes the intent for
   * all its keys.
   *
   * @typeParam V The value type.
   * @param scope The scope of the deltas.
   * @param deltas The deltas the store applied.
   * @param options The intent from {@linkcode ValkeyCache.beginWrite}.
   * @returns How many deltas were folded in; the others' keys were absent or dropped.
   * @throws {CacheUnavailableError} When Valkey cannot be reached.
   */
  async merge<V>(
    scope: Scope<V>,
    deltas: readonly Delta<V>[],
    options: CacheMergeOptions = {},
  ): Promise<MergeResult> {
    options.signal?.throwIfAborted();
    const { monoid } = scope;
    const path = pathOf(monoid as Monoid<unknown>);
    const groups = new Map<
      string,
      { indexes: number[]; values: V[]; expiresAt: number | undefined }
    >();
    const group = (key: StateKey) => {
      const k = this.keyOf(scope.namespace, key);
      let g = groups.get(k);
      if (g === undefined) {
        g = { indexes: [], values: [], expiresAt: undefined };
        groups.set(k, g);
      }
      return g;
    };
    for (const key of options.intent?.keys ?? []) group(key);
    deltas.forEach((delta, i) => {
      const g = group(delta.key);
      g.indexes.push(i);
      g.values.push(delta.value);
      if (delta.expiresAt !== undefined) {
        g.expiresAt = Math.min(g.expiresAt ?? Infinity, delta.expiresAt);
      }
    });
    const id = options.intent?.id ?? "";
    let codes: number[];
    try {
      this.#available();
      const replies = await Promise.all(
        this.#chunks([...groups]).map((chunk) => {
          const keys: string[] = [];
          const args: (string | Buffer)[] = [id, this.#metaTtl];
          for (const [key, g] of chunk) {
            const [op, operand] = this.#operation(scope, path, g.values);
            keys.push(key, `${key}|meta`, `${key}|tmp`);
            args.push(
              op,
              arg(operand),
              g.expiresAt === undefined ? "" : String(Math.floor(g.expiresAt)),
            );
          }
          return this.#run("murmurMerge", keys, args) as Promise<number[]>;
        }),
      );
      codes = replies.flat();
      this.#down = false;
    } catch (error) {
      this.#failed(error, "merge");
      throw new CacheUnavailableError(this.name, "merge", error);
    }
    let applied = 0;
    const skipped: number[] = [];
    [...groups.values()].forEach((g, i) => {
      const code = codes[i];
      if (code === 1) applied += g.indexes.length;
      else skipped.push(...g.indexes);
      if (code === 2) this.#stats.invalidations++;
    });
    this.#stats.updates += applied;
    skipped.sort((a, b) => a - b);
    return { applied, skipped };
  }

  /** The script op folding `values` (one key's deltas) into a cached value. */
  #operation<V>(
    scope: Scope<V>,
    path: CachePath,
    values: readonly V[],
  ): [string, string | Uint8Array] {
    if (values.length === 0) return ["keep", ""];
    let folded: V;
    try {
      folded = scope.monoid.combineAll(values);
    } catch {
      return ["drop", ""];
    }
    switch (path) {
      case "incr": {
        if (typeof folded === "bigint") {
          return folded >= INT64_MIN && folded <= INT64_MAX
            ? ["incr", folded.toString()]
            : ["drop", ""];
        }
        return typeof folded === "number" && Number.isSafeInteger(folded)
          ? ["incr", String(folded)]
          : ["drop", ""];
      }
      case "max":
      case "min":
        if (folded === null) return ["keep", ""];
        return typeof folded === "number" && !Number.isNaN(folded)
          ? [path, String(folded)]
          : ["drop", ""];
      case "hll":
        return ["pfmerge", scope.monoid.codec.encode(folded)];
      default:
        return ["drop", ""];
    }
  }

  /**
   * Drops keys (and closes an intent) so the next read refills them.
   *
   * @typeParam V The value type.
   * @param scope The scope of the keys.
   * @param keys The keys to drop.
   * @param options An intent to close at the same time.
   * @returns A promise that resolves when the keys are dropped.
   * @throws {CacheUnavailableError} When Valkey cannot be reached.
   */
  async invalidate<V>(
    scope: Scope<V>,
    keys: readonly StateKey[],
    options: InvalidateOptions = {},
  ): Promise<void> {
    const unique = new Set<string>();
    for (const key of [...keys, ...(options.intent?.keys ?? [])]) {
      unique.add(this.keyOf(scope.namespace, key));
    }
    const token = crypto.randomUUID();
    try {
      // Never skipped during the outage cooldown: an invalidation that is not
      // even tried leaves a stale value behind, so each one asks the server.
      const dropped = await Promise.all(
        this.#chunks([...unique]).map((chunk) =>
          this.#run(
            "murmurInvalidate",
            chunk.flatMap((key) => [key, `${key}|meta`]),
            [token, options.intent?.id ?? "", this.#metaTtl],
          ) as Promise<number>
        ),
      );
      for (const n of dropped) this.#stats.invalidations += n;
      this.#down = false;
      this.#downUntil = 0;
    } catch (error) {
      this.#failed(error, "invalidate");
      throw new CacheUnavailableError(this.name, "invalidate", error);
    }
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
   * Closes the connection.
   *
   * @returns A promise that resolves when closed.
   */
  async close(): Promise<void> {
    if (this.#client.status === "wait") {
      // Never connected (connections are lazy): nothing to say goodbye to.
      this.#client.disconnect();
      return;
    }
    try {
      await this.#client.quit();
    } catch {
      this.#client.disconnect();
    }
  }
}
