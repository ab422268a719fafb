// The one interface every state backend implements: memory, Deno KV, DynamoDB, Valkey.

import type { Monoid } from "../monoid/monoid.ts";

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
   * Exactly-once marks. For each mark the entry remembers the highest position
   * applied from that stream, written in the same atomic write as the value.
   * The delta is applied when every mark starts past the remembered position,
   * skipped when every mark ends at or before it, and refused with
   * {@linkcode MarkConflictError} otherwise (part of it was applied: the caller
   * must split it per record).
   */
  readonly marks?: readonly StreamMark[];
  /**
   * Event ids to claim atomically with this delta. Applied when none is
   * claimed yet, skipped when all are, refused with
   * {@linkcode MarkConflictError} otherwise.
   */
  readonly claims?: readonly string[];
}

/** Options for {@linkcode Store.merge}. */
export interface MergeOptions {
  /** Aborts the merge between backend calls. */
  readonly signal?: AbortSignal;
}

/** What {@linkcode Store.merge} did. */
export interface MergeResult {
  /** How many deltas were applied. */
  readonly applied: number;
  /** Indexes (into the deltas given) of deltas skipped because their marks or claims were already applied. */
  readonly skipped: readonly number[];
}

/**
 * A state backend. Every backend passes the shared conformance suite.
 *
 * `merge` is durable when its promise resolves: the runtime acks source
 * records only after that.
 */
export interface Store {
  /** A short description, e.g. `"memory"`, `"deno-kv"`, `"dynamodb:murmur_state"`. */
  readonly name: string;
  /** Reads one value; `undefined` when the key holds nothing. */
  get<V>(scope: Scope<V>, key: StateKey): Promise<V | undefined>;
  /** Reads many values, answering in the order of `keys`. */
  getMany<V>(
    scope: Scope<V>,
    keys: readonly StateKey[],
  ): Promise<(V | undefined)[]>;
  /** Folds deltas into stored values with the scope's monoid, durably. */
  merge<V>(
    scope: Scope<V>,
    deltas: readonly Delta<V>[],
    options?: MergeOptions,
  ): Promise<MergeResult>;
  /** Releases connections and handles. */
  close(): Promise<void>;
}

/**
 * Thrown by {@linkcode Store.merge} when a delta's marks or claims were
 * partly applied already, so the delta can be neither applied nor skipped.
 *
 * @example Usage
 * ```ts
 * import { MarkConflictError } from "@murmur/core/state";
 * const error = new MarkConflictError("page_views", { entity: "post:1", bucket: null }, "kafka:pv:0 holds 15, delta covers 10..20");
 * console.log(error.name); // "MarkConflictError"
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
