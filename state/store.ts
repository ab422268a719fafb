// The one interface every state backend implements: memory, Deno KV, DynamoDB, Valkey.

import type { Monoid } from "../monoid/monoid.ts";
import { utf8Length } from "../internal/utf8.ts";

/**
 * Where a value lives: an entity and a window bucket.
 *
 * `bucket` is the bucket's start in epoch milliseconds, or `null` for the
 * all-time value of an unwindowed pipeline. `null` can never be confused with
 * the 1970 bucket (`0`).
 */
export interface StateKey {
  /** The entity, e.g. `"post:42"`. Never empty. */
  readonly entity: string;
  /** The bucket's start in epoch ms, or `null` for all-time. */
  readonly bucket: number | null;
}

/**
 * A named family of values folded with one monoid: usually one pipeline.
 *
 * Backends keep scopes apart (a key prefix, a partition-key prefix), so one
 * store can hold many pipelines.
 *
 * @typeParam V The value type.
 */
export interface Scope<V> {
  /** The namespace, usually the pipeline name. */
  readonly namespace: string;
  /** The monoid that folds values; backends pick their write path from `monoid.kind`. */
  readonly monoid: Monoid<V>;
}

/**
 * The run of positions, in one replayable ordered stream (a Kafka partition, a
 * Kinesis shard, a JSON-Lines file), whose records were folded into a delta.
 */
export interface StreamMark {
  /** The stream's identity, e.g. `"kafka:page_views:3"`. */
  readonly stream: string;
  /** The lowest position folded into the delta. */
  readonly from: bigint;
  /** The highest position folded into the delta (inclusive). */
  readonly to: bigint;
}

/**
 * A change to fold into one key's value.
 *
 * @typeParam V The value type.
 */
export interface Delta<V> {
  /** The key to change. */
  readonly key: StateKey;
  /** The value to fold in with the scope's monoid. */
  readonly value: V;
  /** Epoch ms after which the backend may drop the entry (bucket end plus retention). */
  readonly expiresAt?: number;
  /**
   * Exactly-once marks. For each mark the entry (scope + key) remembers the
   * highest position applied from that stream, written in the same atomic
   * write as the value. The delta is applied when every mark starts past the
   * remembered position (or the stream is new to the entry), skipped when
   * every mark ends at or before it, and refused with
   * {@linkcode MarkConflictError} otherwise (part of it was applied: the caller
   * must split it per record). An applied delta raises each stream's
   * remembered position to the mark's `to`. Marks are kept as long as the
   * entry; they never expire on their own.
   */
  readonly marks?: readonly StreamMark[];
  /**
   * Event ids to claim atomically with this delta. Claims are remembered per
   * entry (scope + key), so the same id may be claimed once under each key
   * and two scopes never suppress each other. The delta is applied (and its
   * ids claimed) when none of them is claimed yet, skipped when all are, and
   * refused with {@linkcode MarkConflictError} otherwise. A failed merge
   * leaves no claim behind. Backends keep a claim at least
   * {@linkcode MergeOptions.claimTtl} and may drop it after.
   */
  readonly claims?: readonly string[];
}

/** Options for {@linkcode Store.getMany}. */
export interface ReadOptions {
  /** Read past any cache, from the backend of truth. Default: `false`. */
  readonly fresh?: boolean;
  /** Aborts the read between backend calls. */
  readonly signal?: AbortSignal;
  /** Counters a caching store adds its hits and misses to. Default: none. */
  readonly stats?: ReadStats;
}

/**
 * Per-call read counters a caching store fills ({@linkcode ReadOptions.stats});
 * a plain store leaves them alone.
 */
export interface ReadStats {
  /** Keys answered from the cache. */
  cacheHits: number;
  /** Keys the cache did not hold (read from the backend). */
  cacheMisses: number;
  /**
   * Per key of the call, whether the cache answered it: when the caller
   * passes an array, a caching store sets `hits[i]` for every key `i`.
   */
  hits?: boolean[];
}

/** Options for {@linkcode Store.merge}. */
export interface MergeOptions {
  /** Aborts the merge between backend calls. */
  readonly signal?: AbortSignal;
  /** How long, in ms, claims written by this merge must be remembered at least. Default: 7 days. */
  readonly claimTtl?: number;
}

/** The default of {@linkcode MergeOptions.claimTtl}: seven days in ms. */
export const DEFAULT_CLAIM_TTL_MS = 7 * 24 * 60 * 60 * 1000;

/** What {@linkcode Store.merge} did. */
export interface MergeResult {
  /** How many deltas were applied. */
  readonly applied: number;
  /** Indexes (into the deltas given) of deltas skipped because their marks or claims were already applied. */
  readonly skipped: readonly number[];
}

/**
 * A state backend. Every backend passes the shared conformance suite
 * (`storeConformance` in `@murmur/core/testing`).
 *
 * `merge` is durable when its promise resolves: the runtime acks source
 * records only after that. Each delta is applied atomically (value, marks,
 * claims and expiry together); a call with many deltas need not be atomic as
 * a whole, and when it fails some deltas may have been applied (the runtime
 * retries with marks or claims to stay exact). Several deltas for the same key
 * in one call are all applied. Concurrent merges to one key never lose an
 * update. A backend throws {@linkcode DeltaRejectedError} for a delta it can
 * never apply (too large, undecodable stored value) so the runtime can
 * dead-letter its records instead of retrying; any other error is treated as
 * transient.
 */
export interface Store {
  /** A short description, e.g. `"memory"`, `"deno-kv"`, `"dynamodb:murmur_state"`. */
  readonly name: string;
  /** Reads one value; `undefined` when the key holds nothing. */
  get<V>(scope: Scope<V>, key: StateKey): Promise<V | undefined>;
  /**
   * Reads many values, answering in the order of `keys`. A store that sits
   * in front of another (a cache) adds to `options.stats`; `options.fresh`
   * asks it to skip its cached copies.
   */
  getMany<V>(
    scope: Scope<V>,
    keys: readonly StateKey[],
    options?: ReadOptions,
  ): Promise<(V | undefined)[]>;
  /** Folds deltas into stored values with the scope's monoid, durably. */
  merge<V>(
    scope: Scope<V>,
    deltas: readonly Delta<V>[],
    options?: MergeOptions,
  ): Promise<MergeResult>;
  /** Releases connections and handles. */
  close(): Promise<void>;
  /**
   * What the backend can hold; the runtime and the querier check entities
   * against it (with {@linkcode entityProblem}) before any call. Absent:
   * {@linkcode DEFAULT_MAX_ENTITY_BYTES}.
   */
  readonly limits?: StoreLimits | undefined;
  /** Calls `close()`, so `await using store = ...` releases it. Every built-in store has it. */
  [Symbol.asyncDispose]?(): Promise<void>;
}

/** What a {@linkcode Store} can hold. */
export interface StoreLimits {
  /** The longest entity, in UTF-8 bytes, the backend can key (after its own prefixes). */
  readonly maxEntityBytes: number;
}

/** The entity limit assumed for a store that declares no {@linkcode Store.limits}: 1 024 bytes. */
export const DEFAULT_MAX_ENTITY_BYTES = 1024;

/**
 * Why a store cannot hold `entity`, or `undefined` when it can: the entity is
 * empty, not a string, or longer in UTF-8 bytes than the store's
 * {@linkcode StoreLimits.maxEntityBytes} (default
 * {@linkcode DEFAULT_MAX_ENTITY_BYTES}). The runtime dead-letters records
 * whose entity has a problem, and the querier answers `invalid_argument`,
 * both before any store call.
 *
 * @param store The store (only its `limits` are read).
 * @param entity The entity to check.
 * @returns The reason, or `undefined` when the entity is fine.
 *
 * @example Usage
 * ```ts
 * import { entityProblem, MemoryStore } from "@murmur/core/state";
 * import assert from "node:assert/strict";
 *
 * const store = new MemoryStore();
 * assert.equal(entityProblem(store, "post:42"), undefined);
 * assert.match(entityProblem(store, "")!, /empty/);
 * assert.match(entityProblem(store, "é".repeat(40_000))!, /bytes/);
 * ```
 */
export function entityProblem(
  store: Pick<Store, "limits" | "name">,
  entity: string,
): string | undefined {
  if (typeof entity !== "string") {
    return `the entity must be a string, not ${typeof entity}`;
  }
  if (entity.length === 0) return "the entity is empty";
  const max = store.limits?.maxEntityBytes ?? DEFAULT_MAX_ENTITY_BYTES;
  // Each UTF-16 unit is at most 3 UTF-8 bytes: skip the count for short entities.
  if (entity.length * 3 <= max) return undefined;
  const bytes = utf8Length(entity);
  if (bytes <= max) return undefined;
  return `the entity is ${bytes} bytes in UTF-8, more than the ${max} bytes store "${store.name}" can key; shorten or hash it`;
}

/**
 * Thrown by {@linkcode Store.merge} when a delta's marks or claims were
 * partly applied already, so the delta can be neither applied nor skipped.
 *
 * @example Usage
 * ```ts
 * import { MarkConflictError } from "@murmur/core/state";
 * import assert from "node:assert/strict";
 * const error = new MarkConflictError("page_views", { entity: "post:1", bucket: null }, "kafka:pv:0 holds 15, delta covers 10..20");
 * assert.equal(error.name, "MarkConflictError");
 * ```
 */
export class MarkConflictError extends Error {
  /** The scope's namespace. */
  readonly namespace: string;
  /** The key whose delta conflicted. */
  readonly key: StateKey;
  /** Creates the error. */
  constructor(namespace: string, key: StateKey, detail: string) {
    super(
      `scope "${namespace}" key ${
        JSON.stringify(key)
      }: delta was partly applied already (${detail}); split it per record and merge again`,
    );
    this.name = "MarkConflictError";
    this.namespace = namespace;
    this.key = key;
  }
}

/**
 * Thrown by {@linkcode Store.merge} when one delta can never be applied, e.g.
 * its entity is longer than the store's {@linkcode StoreLimits} or it makes
 * the stored item larger than the backend allows. Never worth a retry.
 * Backends check what they can before writing anything of the call, so
 * usually no delta of the call was applied; a refusal the backend only
 * learns at write time (DynamoDB's `ValidationException`) may come after
 * other deltas of the call were applied, which marks or claims make safe to
 * merge again.
 *
 * @example Usage
 * ```ts
 * import { DeltaRejectedError } from "@murmur/core/state";
 * import assert from "node:assert/strict";
 * const error = new DeltaRejectedError("page_views", 3, { entity: "post:1", bucket: null }, "item would exceed 400 KB");
 * assert.equal(error.index, 3);
 * ```
 */
export class DeltaRejectedError extends Error {
  /** The scope's namespace. */
  readonly namespace: string;
  /** The index, in the deltas given to `merge`, of the rejected delta. */
  readonly index: number;
  /** The rejected delta's key. */
  readonly key: StateKey;
  /** Creates the error. */
  constructor(
    namespace: string,
    index: number,
    key: StateKey,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(
      `scope "${namespace}" key ${
        JSON.stringify(key)
      }: the store cannot apply this delta (${reason}); its records are dead-lettered`,
      options,
    );
    this.name = "DeltaRejectedError";
    this.namespace = namespace;
    this.index = index;
    this.key = key;
  }
}

/**
 * Thrown by {@linkcode Store.get} and {@linkcode Store.getMany} for a key the
 * store can never hold (an empty entity, or one longer than its
 * {@linkcode StoreLimits}): a permanent input error, never worth a retry.
 * Writes of such a key throw {@linkcode DeltaRejectedError} instead.
 *
 * @example Usage
 * ```ts
 * import { EntityRejectedError } from "@murmur/core/state";
 * import assert from "node:assert/strict";
 *
 * const error = new EntityRejectedError("page_views", "", "the entity is empty");
 * assert.equal(error.name, "EntityRejectedError");
 * assert.match(error.message, /the entity is empty/);
 * ```
 */
export class EntityRejectedError extends Error {
  /** The scope's namespace. */
  readonly namespace: string;
  /** The entity refused. */
  readonly entity: string;
  /** Why the store cannot hold it. */
  readonly reason: string;
  /** Creates the error. */
  constructor(namespace: string, entity: string, reason: string) {
    const shown = entity.length > 64 ? `${entity.slice(0, 64)}…` : entity;
    super(
      `scope "${namespace}" entity ${
        JSON.stringify(shown)
      }: the store cannot hold this key (${reason}); no value can exist under it, so fix the request rather than retry`,
    );
    this.name = "EntityRejectedError";
    this.namespace = namespace;
    this.entity = entity;
    this.reason = reason;
  }
}

/**
 * Thrown by a store whose own retries of a transient failure (throttling,
 * 5xx answers, refused connections) ran out. The store has already waited
 * and retried by its policy, so the runtime does not retry the call again:
 * it stops the run with its `StoreFailureError` at once, and retry layers
 * never multiply. The message says what to check.
 *
 * @example Usage
 * ```ts
 * import { StoreUnavailableError } from "@murmur/core/state";
 * import assert from "node:assert/strict";
 *
 * const error = new StoreUnavailableError("dynamodb:murmur_state", 8, "is DynamoDB running?");
 * assert.equal(error.attempts, 8);
 * assert.match(error.message, /after 8 attempts/);
 * ```
 */
export class StoreUnavailableError extends Error {
  /** The store's name. */
  readonly store: string;
  /** How many attempts the store made. */
  readonly attempts: number;
  /**
   * Creates the error.
   *
   * @param store The store's name.
   * @param attempts How many attempts the store made.
   * @param detail What failed and what to check.
   * @param options The last error as `cause`.
   */
  constructor(
    store: string,
    attempts: number,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(
      `store "${store}" still failed after ${attempts} attempts: ${detail}`,
      options,
    );
    this.name = "StoreUnavailableError";
    this.store = store;
    this.attempts = attempts;
  }
}
