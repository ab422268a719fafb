/**
 * A {@linkcode Store} on Amazon DynamoDB: atomic `ADD` for additive monoids,
 * conditional set-if-greater for `max`/`min`, versioned read-combine-write
 * for sketches and every other kind, with exactly-once marks in the same
 * conditional write as the value and claims in one transaction with it.
 *
 * The table layout, the `ensureTable` helper for development and a
 * Terraform / CloudFormation description are in `docs/dynamodb.md`.
 *
 * @example Usage
 * ```ts ignore
 * import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
 * import { DynamoDBStore, ensureTable } from "@murmur/core/state/dynamodb";
 * import { sum } from "@murmur/core/monoid";
 * import assert from "node:assert/strict";
 *
 * const client = new DynamoDBClient({ endpoint: "http://localhost:8000", region: "local" });
 * await ensureTable(client, "murmur_state");
 * const store = new DynamoDBStore(client, "murmur_state");
 * const scope = { namespace: "page_views", monoid: sum() };
 * await store.merge(scope, [{ key: { entity: "post:1", bucket: null }, value: 3 }]);
 * assert.equal(await store.get(scope, { entity: "post:1", bucket: null }), 3);
 * ```
 *
 * @module
 */

import {
  type AttributeValue,
  BatchGetItemCommand,
  GetItemCommand,
  type TransactWriteItem,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import type { Monoid } from "../monoid/monoid.ts";
import {
  ALL_TIME,
  checkNamespace,
  claimSortKey,
  fromNumberText,
  itemKey,
  MARK_PREFIX,
  markPosition,
  markText,
  PK,
  rowId,
  SK,
  toNumberText,
  TTL,
  ttlSeconds,
  VALUE,
  VERSION,
} from "./_dynamodb_layout.ts";
import { errorName, isTransient, permanentRefusal } from "./_dynamodb_retry.ts";
import {
  DynamoDBContentionError,
  DynamoDBUnavailableError,
} from "./_dynamodb_errors.ts";

export {
  DynamoDBContentionError,
  DynamoDBUnavailableError,
} from "./_dynamodb_errors.ts";
export { ensureTable, type EnsureTableOptions } from "./_dynamodb_table.ts";
import { checkDeltaEntities, checkReadEntities } from "./_limits.ts";
import { delay as sleep, forEachLimit } from "../internal/async.ts";
import { backoff, retry, type RetryPolicy } from "../internal/retry.ts";
import { utf8Length } from "../internal/utf8.ts";
import { packByWeight } from "../internal/pack.ts";
import { conflictDetail, decide, decideClaims, decideMarks } from "./_marks.ts";
import type { MarkDecision } from "./_marks.ts";
import {
  DEFAULT_CLAIM_TTL_MS,
  type Delta,
  DeltaRejectedError,
  EntityRejectedError,
  MarkConflictError,
  type MergeOptions,
  type MergeResult,
  type Scope,
  type StateKey,
  type Store,
  type StoreLimits,
  type StreamMark,
} from "./store.ts";

/**
 * What the store needs of a DynamoDB client: the AWS SDK v3
 * `DynamoDBClient` from `npm:@aws-sdk/client-dynamodb` fits.
 */
export interface DynamoDBClientLike {
  /** Sends a command; the store passes commands of `@aws-sdk/client-dynamodb`. */
  send(
    command: unknown,
    options?: { abortSignal?: AbortSignal },
  ): Promise<unknown>;
  /** Releases the client's sockets. */
  destroy(): void;
}

/** The most claims one delta may carry: a transaction holds 100 writes, one is the state row. */
export const MAX_CLAIMS_PER_DELTA = 99;
/** DynamoDB's limit of actions in one `TransactWriteItems`. */
const MAX_TRANSACTION_ITEMS = 100;
/** The largest encoded value written, leaving room under DynamoDB's 400 KB item limit for keys and marks. */
export const MAX_VALUE_BYTES = 380 * 1024;
/** DynamoDB's partition-key limit in bytes. */
const MAX_PARTITION_KEY_BYTES = 2048;
/** DynamoDB's sort-key limit in bytes. */
const MAX_SORT_KEY_BYTES = 1024;
/** Namespace bytes (plus the `#` separator) the entity limit leaves room for. */
const NAMESPACE_RESERVE = 128;

/** Why DynamoDB cannot key this entity under this namespace (exact bytes), or `undefined`. */
function keyProblem(namespace: string, entity: string): string | undefined {
  const bytes = utf8Length(namespace) + 1 + utf8Length(entity);
  return bytes > MAX_PARTITION_KEY_BYTES
    ? `with the namespace the partition key takes ${bytes} bytes, over DynamoDB's ${MAX_PARTITION_KEY_BYTES}; shorten the namespace or the entity`
    : undefined;
}

/**
 * How the store retries throttling, 5xx answers, network errors and
 * unprocessed keys, inside one call. This is the only retry of those
 * failures: when it runs out the store throws
 * {@linkcode DynamoDBUnavailableError}, which the runtime does not retry
 * again. Lost compare-and-set races have their own bound
 * ({@linkcode DynamoDBStoreOptions.maxCasAttempts}).
 */
export interface DynamoDBRetryOptions {
  /** Attempts per call before giving up with {@linkcode DynamoDBUnavailableError}. Default: 8. */
  readonly maxAttempts?: number;
  /** The first backoff's upper bound, in ms (full jitter, doubling). Default: 50. */
  readonly baseDelayMs?: number;
  /** The largest backoff, in ms. Default: 5000. */
  readonly maxDelayMs?: number;
}

/** Options for {@linkcode DynamoDBStore}. */
export interface DynamoDBStoreOptions {
  /** Writes (one per key) and batch reads kept in flight at once. Default: 32. */
  readonly concurrency?: number;
  /** Retries of transient failures; see {@linkcode DynamoDBRetryOptions}. */
  readonly retry?: DynamoDBRetryOptions;
  /** Read-combine-write attempts per delta before {@linkcode DynamoDBContentionError}. Default: 30. */
  readonly maxCasAttempts?: number;
  /** Whether {@linkcode DynamoDBStore.close} destroys the client. Default: `false` (the caller owns it). */
  readonly closeClient?: boolean;
  /**
   * How many writes (deltas, plus the claim rows they carry) of one merge
   * share a `TransactWriteItems` request, up to DynamoDB's 100. Each delta
   * keeps its own marks and conditions, so exactly-once is the same as with
   * single writes; a transaction that a condition cancels is retried without
   * the refused deltas, which are then decided one by one. Grouping cuts
   * requests (and the SDK's CPU per request) about a hundredfold; on AWS a
   * transactional write costs two write units per item instead of one, so
   * set `1` (one `UpdateItem` per delta) where write cost matters more than
   * throughput. Sketches and other read-combine-write monoids always write
   * one delta per request. Default: 100.
   */
  readonly transactionSize?: number;
}

/** Counters a {@linkcode DynamoDBStore} keeps since it was created. */
export interface DynamoDBStoreStats {
  /** Read requests sent (GetItem, BatchGetItem), retries included. */
  readonly readRequests: number;
  /** Write requests sent (UpdateItem, TransactWriteItems), retries included. */
  readonly writeRequests: number;
  /** Calls retried after throttling, a 5xx answer or a network error. */
  readonly transientRetries: number;
  /** Writes retried after a concurrent writer changed the item. */
  readonly conflictRetries: number;
  /** Keys BatchGetItem left unprocessed and the store asked again. */
  readonly unprocessedKeys: number;
}

type Path = "add" | "max" | "min" | "cas";

type Item = Record<string, AttributeValue>;

function pathOf(monoid: Monoid<unknown>): Path {
  if (monoid.additive) return "add";
  const kind = monoid.kind === "monotonic" ? "max" : monoid.kind;
  if (kind === "max" || kind === "min") {
    const identity = monoid.identity();
    if (
      identity === null || typeof identity === "number" ||
      typeof identity === "bigint"
    ) return kind;
  }
  return "cas";
}

/** One delta, checked and encoded before anything of the call is written. */
interface Plan {
  readonly index: number;
  readonly key: StateKey;
  readonly itemKey: Item;
  /** N text for numeric paths (undefined: nothing to fold, e.g. max's "not set"). */
  readonly number: string | undefined;
  readonly marks: readonly StreamMark[];
  readonly claims: readonly string[];
  readonly ttl: string | undefined;
}

/** An update expression under construction. */
class Expression {
  readonly names: Record<string, string> = {};
  readonly values: Record<string, AttributeValue> = {};
  readonly set: string[] = [];
  readonly add: string[] = [];
  readonly conditions: string[] = [];
  #n = 0;

  name(attribute: string): string {
    const alias = `#a${this.#n++}`;
    this.names[alias] = attribute;
    return alias;
  }

  value(value: AttributeValue): string {
    const alias = `:a${this.#n++}`;
    this.values[alias] = value;
    return alias;
  }

  update(): string | undefined {
    const parts = [];
    if (this.set.length > 0) parts.push(`SET ${this.set.join(", ")}`);
    if (this.add.length > 0) parts.push(`ADD ${this.add.join(", ")}`);
    return parts.length > 0 ? parts.join(" ") : undefined;
  }

  request(): {
    UpdateExpression?: string;
    ConditionExpression?: string;
    ExpressionAttributeNames?: Record<string, string>;
    ExpressionAttributeValues?: Record<string, AttributeValue>;
  } {
    const update = this.update();
    const out: ReturnType<Expression["request"]> = {};
    if (update !== undefined) out.UpdateExpression = update;
    if (this.conditions.length > 0) {
      out.ConditionExpression = this.conditions.join(" AND ");
    }
    if (Object.keys(this.names).length > 0) {
      out.ExpressionAttributeNames = this.names;
    }
    if (Object.keys(this.values).length > 0) {
      out.ExpressionAttributeValues = this.values;
    }
    return out;
  }
}

/** The outcome of one write attempt that DynamoDB refused. */
interface Refusal {
  /** The state row as it was, when known. */
  item: Item | undefined;
  /** Whether the state row's condition failed (versus only claims or a conflict). */
  stateFailed: boolean;
  /** Per claim, whether it was held already (undefined when no claims). */
  claimsHeld: boolean[] | undefined;
  /** The transaction lost to a concurrent one: retry. */
  conflict: boolean;
}

/** Whether an item's TTL has passed: DynamoDB deletes such items only eventually, so reads hide them. */
function expired(item: Item, now: number): boolean {
  const ttl = item[TTL]?.N;
  return ttl !== undefined && Number(ttl) * 1000 <= now;
}

/**
 * A {@linkcode Store} on one DynamoDB table (layout in `docs/dynamodb.md`).
 *
 * Write paths, chosen from the scope's monoid:
 * - additive monoids (`sum`, `count`): one `UpdateItem` `ADD`;
 * - `max`, `monotonic` and `min` over numbers: one `UpdateItem` that sets
 *   the value only if it beats the stored one (a losing delta still records
 *   its marks);
 * - everything else (sketches, top-k, custom): read, combine, then write
 *   under a version condition, retrying with the item DynamoDB returns on
 *   a failed condition.
 *
 * Exactly-once: a delta's marks are checked and raised in the same
 * conditional write as its value; its claims are conditional puts of claim
 * rows in one `TransactWriteItems` with the state update. Either the value
 * and its marks/claims land together or neither does, so a crash or a failed
 * write can neither lose nor double-count a replayed delta.
 *
 * Reads are strongly consistent; `getMany` uses `BatchGetItem` in chunks of
 * 100, retrying unprocessed keys with jittered backoff. Throttling, 5xx and
 * network errors are retried with backoff, then surface as
 * {@linkcode DynamoDBUnavailableError}. Numbers are DynamoDB decimals read
 * back without loss: bigints for bigint monoids, and a `RangeError` when a
 * number monoid's integer leaves the safe range.
 *
 * @example Usage
 * ```ts ignore
 * import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
 * import { DynamoDBStore } from "@murmur/core/state/dynamodb";
 * import { max } from "@murmur/core/monoid";
 *
 * const client = new DynamoDBClient({ region: "eu-west-1" });
 * const store = new DynamoDBStore(client, "murmur_state", { concurrency: 16 });
 * const scope = { namespace: "peak_temp", monoid: max() };
 * const key = { entity: "sensor:1", bucket: 1_700_000_000_000 };
 * await store.merge(scope, [{
 *   key,
 *   value: 21.5,
 *   expiresAt: 1_700_086_400_000,
 *   marks: [{ stream: "kafka:temps:0", from: 10n, to: 42n }],
 * }]);
 * ```
 */
export class DynamoDBStore implements Store {
  /** `"dynamodb:<table>"`. */
  readonly name: string;
  /**
   * The longest entity, in UTF-8 bytes: DynamoDB's 2 048-byte partition key
   * (`<namespace>#<entity>`) less room for a 128-byte namespace: 1 919.
   */
  readonly limits: StoreLimits = {
    maxEntityBytes: MAX_PARTITION_KEY_BYTES - NAMESPACE_RESERVE - 1,
  };
  /** The table name. */
  readonly table: string;
  #client: DynamoDBClientLike;
  #concurrency: number;
  #retry: RetryPolicy;
  #maxCasAttempts: number;
  #closeClient: boolean;
  #transactionSize: number;
  #queues = new Map<string, Promise<void>>();
  #stats = {
    readRequests: 0,
    writeRequests: 0,
    transientRetries: 0,
    conflictRetries: 0,
    unprocessedKeys: 0,
  };

  /**
   * Creates a store on an existing table.
   *
   * @param client A `DynamoDBClient` (region, endpoint, credentials are its business).
   * @param table The table name.
   * @param options Concurrency, retries; see {@linkcode DynamoDBStoreOptions}.
   */
  constructor(
    client: DynamoDBClientLike,
    table: string,
    options: DynamoDBStoreOptions = {},
  ) {
    this.#client = client;
    this.table = table;
    this.name = `dynamodb:${table}`;
    this.#concurrency = Math.max(1, options.concurrency ?? 32);
    this.#retry = {
      maxAttempts: Math.max(1, options.retry?.maxAttempts ?? 8),
      baseDelayMs: options.retry?.baseDelayMs ?? 50,
      maxDelayMs: options.retry?.maxDelayMs ?? 5000,
    };
    this.#maxCasAttempts = Math.max(1, options.maxCasAttempts ?? 30);
    this.#closeClient = options.closeClient ?? false;
    this.#transactionSize = Math.min(
      MAX_TRANSACTION_ITEMS,
      Math.max(1, Math.floor(options.transactionSize ?? MAX_TRANSACTION_ITEMS)),
    );
  }

  /** Sends a command, retrying transient failures with jittered backoff. */
  #send<T>(
    operation: string,
    call: (options: { abortSignal?: AbortSignal }) => Promise<T>,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    const write = operation === "UpdateItem" ||
      operation === "TransactWriteItems";
    const options = signal === undefined ? {} : { abortSignal: signal };
    return retry(() => {
      if (write) this.#stats.writeRequests++;
      else this.#stats.readRequests++;
      return call(options);
    }, {
      policy: this.#retry,
      signal,
      retryable: isTransient,
      onFailure: (_, attempt) => {
        if (attempt < this.#retry.maxAttempts) this.#stats.transientRetries++;
      },
      exhausted: (error, attempts) =>
        new DynamoDBUnavailableError(this.table, operation, attempts, error),
    });
  }

  /** Throws {@linkcode EntityRejectedError} for a key DynamoDB cannot hold. */
  #checkRead(namespace: string, keys: readonly StateKey[]): void {
    checkReadEntities(this, namespace, keys);
    for (const key of keys) {
      const problem = keyProblem(namespace, key.entity);
      if (problem !== undefined) {
        throw new EntityRejectedError(namespace, key.entity, problem);
      }
    }
  }

  #decode<V>(
    scope: Scope<V>,
    path: Path,
    item: Item,
    key: StateKey,
  ): V {
    const attribute = item[VALUE];
    if (attribute === undefined) return scope.monoid.identity();
    const what = `scope "${scope.namespace}" key ${JSON.stringify(key)}`;
    if (path === "cas") {
      if (attribute.B === undefined) {
        throw new TypeError(
          `dynamodb: ${what} holds a non-binary value but the scope's monoid "${scope.monoid.name}" stores bytes; is another pipeline using the same namespace?`,
        );
      }
      return scope.monoid.codec.decode(attribute.B);
    }
    if (attribute.N === undefined) {
      throw new TypeError(
        `dynamodb: ${what} holds a non-numeric value but the scope's monoid "${scope.monoid.name}" stores numbers; is another pipeline using the same namespace?`,
      );
    }
    return fromNumberText(
      attribute.N,
      typeof scope.monoid.identity() === "bigint",
      what,
      path === "add",
    ) as V;
  }

  /**
   * Reads one value (strongly consistent).
   *
   * @typeParam V The value type.
   * @param scope The scope to read from.
   * @param key The key to read.
   * @returns The value, or `undefined` when the key holds nothing.
   * @throws {DynamoDBUnavailableError} When DynamoDB keeps failing.
   * @throws {RangeError} When a stored integer is too large for a number monoid.
   */
  async get<V>(scope: Scope<V>, key: StateKey): Promise<V | undefined> {
    checkNamespace(scope.namespace);
    this.#checkRead(scope.namespace, [key]);
    const command = new GetItemCommand({
      TableName: this.table,
      Key: itemKey(scope.namespace, key),
      ConsistentRead: true,
      ProjectionExpression: "#v, #ttl",
      ExpressionAttributeNames: { "#v": VALUE, "#ttl": TTL },
    });
    const out = await this.#send(
      "GetItem",
      (o) => this.#client.send(command, o) as Promise<{ Item?: Item }>,
      undefined,
    );
    if (out.Item === undefined || expired(out.Item, Date.now())) {
      return undefined;
    }
    return this.#decode(scope, pathOf(scope.monoid), out.Item, key);
  }

  /**
   * Reads many values (strongly consistent) with `BatchGetItem` in chunks of
   * 100, chunks in parallel, unprocessed keys retried with jittered backoff.
   *
   * @typeParam V The value type.
   * @param scope The scope to read from.
   * @param keys The keys to read (duplicates are read once).
   * @returns One value or `undefined` per key, in order.
   * @throws {DynamoDBUnavailableError} When DynamoDB keeps failing or leaving keys unprocessed.
   */
  async getMany<V>(
    scope: Scope<V>,
    keys: readonly StateKey[],
  ): Promise<(V | undefined)[]> {
    checkNamespace(scope.namespace);
    this.#checkRead(scope.namespace, keys);
    const unique = new Map<string, Item>();
    const ids = keys.map((key) => {
      const k = itemKey(scope.namespace, key);
      const id = rowId(k.pk.S, k.sk.S);
      unique.set(id, k);
      return id;
    });
    const requests = [...unique.values()];
    const chunks: Item[][] = [];
    for (let i = 0; i < requests.length; i += 100) {
      chunks.push(requests.slice(i, i + 100));
    }
    const found = new Map<string, Item>();
    await forEachLimit(
      chunks,
      Math.max(1, Math.min(this.#concurrency, 8)),
      (chunk) => this.#batchGet(chunk, found),
    );
    const path = pathOf(scope.monoid);
    const now = Date.now();
    return keys.map((key, i) => {
      const item = found.get(ids[i]!);
      return item === undefined || expired(item, now)
        ? undefined
        : this.#decode(scope, path, item, key);
    });
  }

  async #batchGet(keys: Item[], found: Map<string, Item>): Promise<void> {
    let pending = keys;
    let idle = 0;
    while (pending.length > 0) {
      const command = new BatchGetItemCommand({
        RequestItems: {
          [this.table]: {
            Keys: pending,
            ConsistentRead: true,
            ProjectionExpression: "#pk, #sk, #v, #ttl",
            ExpressionAttributeNames: {
              "#pk": PK,
              "#sk": SK,
              "#v": VALUE,
              "#ttl": TTL,
            },
          },
        },
      });
      const out = await this.#send(
        "BatchGetItem",
        (o) =>
          this.#client.send(command, o) as Promise<{
            Responses?: Record<string, Item[]>;
            UnprocessedKeys?: Record<string, { Keys?: Item[] }>;
          }>,
        undefined,
      );
      const items = out.Responses?.[this.table] ?? [];
      for (const item of items) {
        found.set(rowId(item[PK]?.S ?? "", item[SK]?.S ?? ""), item);
      }
      const rest = out.UnprocessedKeys?.[this.table]?.Keys ?? [];
      if (rest.length === 0) return;
      this.#stats.unprocessedKeys += rest.length;
      idle = items.length > 0 ? 0 : idle + 1;
      if (idle >= this.#retry.maxAttempts) {
        throw new DynamoDBUnavailableError(
          this.table,
          "BatchGetItem",
          idle,
          new Error(`${rest.length} keys stayed unprocessed`),
        );
      }
      await sleep(backoff(this.#retry, idle));
      pending = rest;
    }
  }

  /**
   * Folds deltas into stored values; keys in parallel (up to the store's
   * concurrency), deltas of one key in order.
   *
   * @typeParam V The value type.
   * @param scope The scope to write to.
   * @param deltas The changes to fold in.
   * @param options Abort signal and claim retention.
   * @returns How many deltas were applied and which were skipped as already applied.
   * @throws {DeltaRejectedError} When a delta can never be written (checked before any write, except a combined value outgrowing the item limit).
   * @throws {MarkConflictError} When a delta's marks or claims were partly applied already.
   * @throws {DynamoDBUnavailableError} When DynamoDB keeps throttling or failing.
   * @throws {DynamoDBContentionError} When a read-combine-write keeps losing to other writers.
   */
  async merge<V>(
    scope: Scope<V>,
    deltas: readonly Delta<V>[],
    options: MergeOptions = {},
  ): Promise<MergeResult> {
    const { signal } = options;
    signal?.throwIfAborted();
    checkNamespace(scope.namespace);
    checkDeltaEntities(this, scope.namespace, deltas);
    const path = pathOf(scope.monoid as Monoid<unknown>);
    const plans = deltas.map((delta, index) =>
      this.#plan(scope, path, delta, index)
    );
    const groups = new Map<string, Plan[]>();
    for (const plan of plans) {
      const id = rowId(plan.itemKey[PK]!.S!, plan.itemKey[SK]!.S!);
      const group = groups.get(id);
      if (group === undefined) groups.set(id, [plan]);
      else group.push(plan);
    }
    const claimTtl = ttlSeconds(
      Date.now() + (options.claimTtl ?? DEFAULT_CLAIM_TTL_MS),
    );
    let applied = 0;
    const skipped: number[] = [];
    const done = (plan: Plan, outcome: "apply" | "skip") => {
      if (outcome === "skip") skipped.push(plan.index);
      else applied++;
    };
    const one = (plan: Plan): Promise<"apply" | "skip"> => {
      signal?.throwIfAborted();
      const apply = () =>
        this.#apply(scope, path, plan, deltas[plan.index]!, claimTtl, signal)
          .catch((error: unknown) => {
            // A refusal that no retry can change rejects this delta only.
            const reason = permanentRefusal(error);
            if (reason === undefined) throw error;
            throw new DeltaRejectedError(
              scope.namespace,
              plan.index,
              plan.key,
              reason,
              { cause: error },
            );
          });
      // Writers in this process queue per item rather than race on its condition.
      return path === "add" && plan.claims.length === 0
        ? apply()
        : this.#exclusive(
          rowId(plan.itemKey[PK]!.S!, plan.itemKey[SK]!.S!),
          apply,
        );
    };
    if (path !== "cas" && this.#transactionSize > 1) {
      // Round r writes the r-th delta of every item, so an item's deltas stay in order.
      const lists = [...groups.values()];
      for (let round = 0;; round++) {
        const heads: Plan[] = [];
        for (const list of lists) {
          const plan = list[round];
          if (plan !== undefined) heads.push(plan);
        }
        if (heads.length === 0) break;
        await forEachLimit(
          // A transaction's actions: each delta's state row plus its claim rows.
          packByWeight(
            heads,
            (plan) => 1 + plan.claims.length,
            this.#transactionSize,
          ),
          this.#concurrency,
          (chunk) =>
            this.#writeTransaction(scope, path, chunk, deltas, {
              claimTtl,
              signal,
              one,
              done,
            }),
          signal,
        );
      }
    } else {
      await forEachLimit(
        [...groups.values()],
        this.#concurrency,
        async (group) => {
          for (const plan of group) done(plan, await one(plan));
        },
        signal,
      );
    }
    skipped.sort((a, b) => a - b);
    return { applied, skipped };
  }

  /** Runs `task` after every earlier task queued on the same item. */
  async #exclusive<T>(id: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#queues.get(id);
    let release!: () => void;
    const done = new Promise<void>((resolve) => (release = resolve));
    this.#queues.set(id, done);
    try {
      await previous;
      return await task();
    } finally {
      release();
      if (this.#queues.get(id) === done) this.#queues.delete(id);
    }
  }

  #plan<V>(scope: Scope<V>, path: Path, delta: Delta<V>, index: number): Plan {
    const reject = (reason: string, cause?: unknown) =>
      new DeltaRejectedError(
        scope.namespace,
        index,
        delta.key,
        reason,
        cause === undefined ? undefined : { cause },
      );
    const keyIssue = keyProblem(scope.namespace, delta.key.entity);
    if (keyIssue !== undefined) throw reject(keyIssue);
    for (const claim of delta.claims ?? []) {
      const bytes = utf8Length(claimSortKey(delta.key.bucket, claim));
      if (bytes > MAX_SORT_KEY_BYTES) {
        throw reject(
          `a claim's sort key takes ${bytes} bytes, over DynamoDB's ${MAX_SORT_KEY_BYTES}; use event ids under 1 000 bytes`,
        );
      }
    }
    const key = itemKey(scope.namespace, delta.key);
    let number: string | undefined;
    const value: unknown = delta.value;
    if (path === "cas") {
      let bytes: Uint8Array;
      try {
        bytes = scope.monoid.codec.encode(delta.value);
      } catch (error) {
        throw reject("the value cannot be encoded", error);
      }
      if (bytes.length > MAX_VALUE_BYTES) {
        throw reject(
          `the encoded value has ${bytes.length} bytes, over the ${MAX_VALUE_BYTES} a DynamoDB item can hold`,
        );
      }
    } else if (value !== null || path === "add") {
      if (typeof value !== "number" && typeof value !== "bigint") {
        throw reject(`${typeof value} is not a number DynamoDB can store`);
      }
      number = toNumberText(value);
      if (number === undefined) {
        throw reject(
          `${value} is outside what a DynamoDB number holds (finite, at most 38 digits)`,
        );
      }
    }
    for (const mark of delta.marks ?? []) {
      if (
        markText(mark.from) === undefined || markText(mark.to) === undefined
      ) {
        throw reject(
          `mark ${mark.stream} ${mark.from}..${mark.to}: DynamoDB marks hold positions from 0 to 99 digits`,
        );
      }
    }
    const claims = delta.claims ?? [];
    if (claims.length > MAX_CLAIMS_PER_DELTA) {
      throw reject(
        `it carries ${claims.length} claims, more than the ${MAX_CLAIMS_PER_DELTA} one transaction can hold; flush smaller batches`,
      );
    }
    return {
      index,
      key: delta.key,
      itemKey: key,
      number,
      marks: delta.marks ?? [],
      claims,
      ttl: delta.expiresAt === undefined
        ? undefined
        : ttlSeconds(delta.expiresAt),
    };
  }

  /** Applies one delta, retrying races; answers whether it was applied or skipped. */
  async #apply<V>(
    scope: Scope<V>,
    path: Path,
    plan: Plan,
    delta: Delta<V>,
    claimTtl: string,
    signal: AbortSignal | undefined,
  ): Promise<"apply" | "skip"> {
    // For the read-combine-write path the item is read first; the others write blind.
    let item: Item | undefined | null = null;
    let marksOnly = path !== "cas" && path !== "add" &&
      plan.number === undefined;
    for (let attempt = 1;; attempt++) {
      if (path === "cas" && item === null) {
        item = await this.#read(plan, signal);
      }
      if (item !== null) {
        const decision = this.#decideMarks(plan, item);
        if (decision === "skip" && plan.claims.length === 0) return "skip";
        if (decision === "conflict") throw this.#conflict(scope, plan, item);
      }
      const expression = this.#expression(
        scope,
        path,
        plan,
        delta,
        item ?? undefined,
        marksOnly,
      );
      const refusal = await this.#write(plan, expression, claimTtl, signal);
      if (refusal === undefined) return "apply";
      if (refusal.conflict) {
        this.#giveUpAfter(attempt, scope.namespace, plan);
        this.#stats.conflictRetries++;
        await sleep(this.#conflictBackoff(attempt), signal);
        item = path === "cas" ? null : item;
        continue;
      }
      const old = refusal.stateFailed
        ? refusal.item ?? await this.#read(plan, signal) ?? {}
        : undefined;
      const byMarks = old === undefined
        ? (plan.marks.length > 0 ? "apply" : undefined)
        : this.#decideMarks(plan, old);
      const byClaims = refusal.claimsHeld === undefined
        ? undefined
        : decideClaims(plan.claims, (c) =>
          refusal.claimsHeld![plan.claims.indexOf(c)] === true);
      const decision = decide(byMarks, byClaims);
      if (decision === "skip") return "skip";
      if (decision === "conflict") {
        throw new MarkConflictError(
          scope.namespace,
          plan.key,
          conflictDetail(
            plan.marks,
            (s) => this.#remembered(old ?? {}, s),
            plan.claims,
            (c) => refusal.claimsHeld?.[plan.claims.indexOf(c)] === true,
          ),
        );
      }
      // The marks and claims allow the delta: the value condition failed.
      this.#giveUpAfter(attempt, scope.namespace, plan);
      if (old !== undefined && (path === "max" || path === "min")) {
        if (!this.#beats(path, plan, old)) {
          // The stored value already wins; only the marks, claims and expiry move.
          if (
            plan.marks.length === 0 && plan.claims.length === 0 &&
            plan.ttl === undefined
          ) return "apply";
          marksOnly = true;
          item = null;
          continue;
        }
        marksOnly = false;
      }
      this.#stats.conflictRetries++;
      item = path === "cas" ? (old ?? null) : null;
      // The returned item is fresh, so retry at once; after a few losses spread the racers out.
      if (attempt > 2) {
        await sleep(this.#conflictBackoff(attempt - 2), signal);
      }
    }
  }

  /** Backoff between lost races (other processes): full jitter from a fifth of the base, at most 1 s. */
  #conflictBackoff(attempt: number): number {
    return backoff({
      ...this.#retry,
      baseDelayMs: this.#retry.baseDelayMs / 5,
      maxDelayMs: Math.min(this.#retry.maxDelayMs, 1000),
    }, attempt - 1);
  }

  #remembered(item: Item, stream: string): bigint | undefined {
    return markPosition(item[MARK_PREFIX + stream]);
  }

  #decideMarks(plan: Plan, item: Item): MarkDecision | undefined {
    return decideMarks(
      plan.marks.length > 0 ? plan.marks : undefined,
      (s) => this.#remembered(item, s),
    );
  }

  #conflict<V>(scope: Scope<V>, plan: Plan, item: Item): MarkConflictError {
    return new MarkConflictError(
      scope.namespace,
      plan.key,
      conflictDetail(
        plan.marks,
        (s) => this.#remembered(item, s),
        undefined,
        () => false,
      ),
    );
  }

  /** Whether the delta's number beats the stored one for max/min. */
  #beats(path: "max" | "min", plan: Plan, item: Item): boolean {
    const stored = item[VALUE]?.N;
    if (stored === undefined || plan.number === undefined) {
      return plan.number !== undefined;
    }
    const a = Number(plan.number);
    const b = Number(stored);
    if (a !== b) return path === "max" ? a > b : a < b;
    // Equal as doubles: compare exactly (DynamoDB compares decimals).
    const exactA = plan.number.includes(".") ? undefined : BigInt(plan.number);
    const exactB = stored.includes(".") || /e/i.test(stored)
      ? undefined
      : BigInt(stored);
    if (exactA === undefined || exactB === undefined) return false;
    return path === "max" ? exactA > exactB : exactA < exactB;
  }

  async #read(plan: Plan, signal: AbortSignal | undefined): Promise<Item> {
    const names: Record<string, string> = { "#v": VALUE, "#ver": VERSION };
    const projection = ["#v", "#ver"];
    plan.marks.forEach((mark, i) => {
      names[`#m${i}`] = MARK_PREFIX + mark.stream;
      projection.push(`#m${i}`);
    });
    const command = new GetItemCommand({
      TableName: this.table,
      Key: plan.itemKey,
      ConsistentRead: true,
      ProjectionExpression: projection.join(", "),
      ExpressionAttributeNames: names,
    });
    const out = await this.#send(
      "GetItem",
      (o) => this.#client.send(command, o) as Promise<{ Item?: Item }>,
      signal,
    );
    return out.Item ?? {};
  }

  #expression<V>(
    scope: Scope<V>,
    path: Path,
    plan: Plan,
    delta: Delta<V>,
    item: Item | undefined,
    marksOnly: boolean,
  ): Expression {
    const e = new Expression();
    if (plan.ttl !== undefined) {
      e.set.push(`${e.name(TTL)} = ${e.value({ N: plan.ttl })}`);
    }
    for (const mark of plan.marks) {
      const name = e.name(MARK_PREFIX + mark.stream);
      e.set.push(`${name} = ${e.value({ S: markText(mark.to)! })}`);
      // A mark written as N by an earlier version is below any position too long for an N.
      const from = toNumberText(mark.from);
      const legacy = from === undefined
        ? `attribute_type(${name}, ${e.value({ S: "N" })})`
        : `(attribute_type(${name}, ${e.value({ S: "N" })}) AND ${name} < ${
          e.value({ N: from })
        })`;
      e.conditions.push(
        `(attribute_not_exists(${name}) OR ${name} < ${
          e.value({ S: markText(mark.from)! })
        } OR ${legacy})`,
      );
    }
    if (marksOnly) return e;
    const v = e.name(VALUE);
    if (path === "add") {
      e.add.push(`${v} ${e.value({ N: plan.number! })}`);
    } else if (path === "max" || path === "min") {
      const candidate = e.value({ N: plan.number! });
      e.set.push(`${v} = ${candidate}`);
      e.conditions.push(
        `(attribute_not_exists(${v}) OR ${v} ${
          path === "max" ? "<" : ">"
        } ${candidate})`,
      );
    } else {
      const { monoid } = scope;
      const current = item?.[VALUE] === undefined
        ? monoid.identity()
        : this.#decodeForWrite(scope, plan, item);
      const next = monoid.combine(current, delta.value);
      const bytes = monoid.codec.encode(next);
      if (bytes.length > MAX_VALUE_BYTES) {
        throw new DeltaRejectedError(
          scope.namespace,
          plan.index,
          plan.key,
          `the combined value would have ${bytes.length} bytes, over the ${MAX_VALUE_BYTES} a DynamoDB item can hold`,
        );
      }
      e.set.push(`${v} = ${e.value({ B: bytes })}`);
      const ver = e.name(VERSION);
      const stored = item?.[VERSION]?.N;
      e.set.push(
        `${ver} = ${e.value({ N: String(Number(stored ?? "0") + 1) })}`,
      );
      e.conditions.push(
        stored === undefined
          ? `attribute_not_exists(${ver})`
          : `${ver} = ${e.value({ N: stored })}`,
      );
    }
    return e;
  }

  #decodeForWrite<V>(scope: Scope<V>, plan: Plan, item: Item): V {
    try {
      return this.#decode(scope, "cas", item, plan.key);
    } catch (error) {
      throw new DeltaRejectedError(
        scope.namespace,
        plan.index,
        plan.key,
        "the stored value cannot be decoded with the scope's codec",
        { cause: error },
      );
    }
  }

  /**
   * Writes several deltas of distinct items in one transaction, each with its
   * own marks and conditions. When conditions cancel it, the deltas whose
   * actions DynamoDB did not refuse go again in a new transaction and each
   * refused one is decided alone by the single-write path (skip, conflict,
   * a losing max/min): nothing of a cancelled transaction was applied, so
   * every delta still lands exactly once.
   */
  async #writeTransaction<V>(
    scope: Scope<V>,
    path: Path,
    chunk: readonly Plan[],
    deltas: readonly Delta<V>[],
    how: {
      claimTtl: string;
      signal: AbortSignal | undefined;
      one: (plan: Plan) => Promise<"apply" | "skip">;
      done: (plan: Plan, outcome: "apply" | "skip") => void;
    },
  ): Promise<void> {
    const { claimTtl, signal, one, done } = how;
    const alone = async (plans: readonly Plan[]) => {
      for (const plan of plans) done(plan, await one(plan));
    };
    let pending = chunk;
    for (let attempt = 1; pending.length > 0; attempt++) {
      signal?.throwIfAborted();
      // One delta needs no transaction (and costs one write unit, not two).
      if (pending.length === 1) return await alone(pending);
      const actions: TransactWriteItem[] = [];
      const starts: number[] = [];
      const solo: Plan[] = [];
      for (const plan of pending) {
        const expression = this.#expression(
          scope,
          path,
          plan,
          deltas[plan.index]!,
          undefined,
          path !== "add" && plan.number === undefined,
        );
        if (expression.update() === undefined) {
          solo.push(plan);
          continue;
        }
        starts.push(actions.length);
        actions.push(...this.#actions(plan, expression, claimTtl));
      }
      if (solo.length > 0) {
        await alone(solo);
        pending = pending.filter((plan) => !solo.includes(plan));
        continue;
      }
      try {
        await this.#transact(actions, signal);
        for (const plan of pending) done(plan, "apply");
        return;
      } catch (error) {
        if (errorName(error) !== "TransactionCanceledException") {
          // A refusal of the request as a whole (say, one number out of
          // range): the single-write path finds the delta at fault.
          if (permanentRefusal(error) !== undefined) {
            return await alone(pending);
          }
          throw error;
        }
        const reasons = cancellationReasons(error);
        const codes = reasons.map((r) => r.Code ?? "None");
        if (codes.length !== actions.length) return await alone(pending);
        const again: Plan[] = [];
        const refused: Plan[] = [];
        let conflict = false;
        pending.forEach((plan, i) => {
          const mine = codes.slice(starts[i]!, starts[i + 1] ?? codes.length);
          if (mine.every((c) => c === "None")) again.push(plan);
          else if (
            mine.every((c) => c === "None" || c === "TransactionConflict")
          ) {
            conflict = true;
            again.push(plan);
          } else refused.push(plan);
        });
        if (conflict) {
          // Lost to a concurrent transaction on one of the items: try again, then alone.
          this.#stats.conflictRetries++;
          if (attempt >= this.#maxCasAttempts) return await alone(pending);
          await sleep(this.#conflictBackoff(attempt), signal);
        }
        await forEachLimit(refused, 8, async (plan) => {
          // A replay (after a crash) is refused by its marks: the old item says so without another call.
          const old = reasons[starts[pending.indexOf(plan)]!]?.Item;
          if (
            old !== undefined && plan.claims.length === 0 &&
            this.#decideMarks(plan, old) === "skip"
          ) return done(plan, "skip");
          done(plan, await one(plan));
        }, signal);
        pending = again;
      }
    }
  }

  /** A delta's transaction actions: its state row's update, then one conditional put per claim. */
  /** Throws {@linkcode DynamoDBContentionError} once a key lost the race on its last allowed attempt. */
  #giveUpAfter(attempt: number, namespace: string, plan: Plan): void {
    if (attempt >= this.#maxCasAttempts) {
      throw new DynamoDBContentionError(
        this.table,
        namespace,
        plan.key,
        attempt,
      );
    }
  }

  /** Writes `items` in one transaction, with one token across retries: DynamoDB applies a repeated transaction once. */
  async #transact(
    items: TransactWriteItem[],
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const command = new TransactWriteItemsCommand({
      TransactItems: items,
      ClientRequestToken: crypto.randomUUID(),
    });
    await this.#send(
      "TransactWriteItems",
      (o) => this.#client.send(command, o),
      signal,
    );
  }

  #actions(
    plan: Plan,
    expression: Expression,
    claimTtl: string,
  ): TransactWriteItem[] {
    const { UpdateExpression = "", ...rest } = expression.request();
    const actions: TransactWriteItem[] = [{
      Update: {
        TableName: this.table,
        Key: plan.itemKey,
        UpdateExpression,
        ...rest,
        ...(rest.ConditionExpression === undefined
          ? {}
          : { ReturnValuesOnConditionCheckFailure: "ALL_OLD" }),
      },
    }];
    for (const claim of plan.claims) {
      actions.push({
        Put: {
          TableName: this.table,
          Item: {
            [PK]: plan.itemKey[PK]!,
            [SK]: { S: claimSortKey(plan.key.bucket, claim) },
            [TTL]: { N: claimTtl },
          },
          ConditionExpression: "attribute_not_exists(#pk)",
          ExpressionAttributeNames: { "#pk": PK },
        },
      });
    }
    return actions;
  }

  /** Sends one state write (a transaction when the delta claims ids); `undefined` when it landed. */
  async #write(
    plan: Plan,
    expression: Expression,
    claimTtl: string,
    signal: AbortSignal | undefined,
  ): Promise<Refusal | undefined> {
    const request = expression.request();
    if (plan.claims.length === 0) {
      try {
        const command = new UpdateItemCommand({
          TableName: this.table,
          Key: plan.itemKey,
          ...request,
          ...(request.ConditionExpression === undefined
            ? {}
            : { ReturnValuesOnConditionCheckFailure: "ALL_OLD" }),
        });
        await this.#send(
          "UpdateItem",
          (o) => this.#client.send(command, o),
          signal,
        );
        return undefined;
      } catch (error) {
        if (errorName(error) !== "ConditionalCheckFailedException") throw error;
        return {
          item: (error as { Item?: Item }).Item,
          stateFailed: true,
          claimsHeld: undefined,
          conflict: false,
        };
      }
    }
    if (expression.update() === undefined) {
      // A transaction's update needs an expression: create the version when nothing else changes.
      const ver = expression.name(VERSION);
      expression.set.push(
        `${ver} = if_not_exists(${ver}, ${expression.value({ N: "0" })})`,
      );
    }
    const items = this.#actions(plan, expression, claimTtl);
    try {
      await this.#transact(items, signal);
      return undefined;
    } catch (error) {
      if (errorName(error) !== "TransactionCanceledException") throw error;
      const reasons = cancellationReasons(error);
      const codes = reasons.map((r) => r.Code ?? "None");
      if (
        codes.some((c) => c !== "None" && c !== "ConditionalCheckFailed") ||
        reasons.length === 0
      ) {
        return {
          item: undefined,
          stateFailed: false,
          claimsHeld: undefined,
          conflict: true,
        };
      }
      return {
        item: reasons[0]?.Item,
        stateFailed: codes[0] === "ConditionalCheckFailed",
        claimsHeld: codes.slice(1).map((c) => c === "ConditionalCheckFailed"),
        conflict: false,
      };
    }
  }

  /**
   * The counters since the store was created.
   *
   * @returns A snapshot of the counters.
   *
   * @example Usage
   * ```ts
   * import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
   * import { DynamoDBStore } from "@murmur/core/state/dynamodb";
   * import assert from "node:assert/strict";
   * const client = new DynamoDBClient({ region: "local", endpoint: "http://localhost:1" });
   * const store = new DynamoDBStore(client, "murmur_state");
   * assert.equal(store.stats().writeRequests, 0);
   * client.destroy();
   * ```
   */
  stats(): DynamoDBStoreStats {
    return { ...this.#stats };
  }

  /**
   * Releases the client when the store owns it (`closeClient`).
   *
   * @returns A promise that resolves when closed.
   */
  close(): Promise<void> {
    if (this.#closeClient) this.#client.destroy();
    return Promise.resolve();
  }

  /**
   * Calls {@linkcode DynamoDBStore.close}, so `await using` releases the store.
   *
   * @returns A promise that resolves when closed.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** The sort key DynamoDB holds for all-time values. */
export const ALL_TIME_SORT_KEY: string = ALL_TIME;

/** Why each item of a cancelled transaction failed (`TransactionCanceledException`), in item order. */
function cancellationReasons(
  error: unknown,
): { Code?: string; Item?: Item }[] {
  return (error as {
    CancellationReasons?: { Code?: string; Item?: Item }[];
  }).CancellationReasons ?? [];
}
