// Alias records (which state table is live) and where they are kept: Deno KV, DynamoDB, memory. Every write is a compare-and-set on the version.

import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DescribeTableCommand,
  GetItemCommand,
  PutItemCommand,
} from "@aws-sdk/client-dynamodb";
import type { DynamoDBClientLike } from "./dynamodb.ts";
import { delay } from "../internal/async.ts";

/** Writes of buckets at or after `from` also go to a shadow table, ahead of a swap. */
export interface ShadowTarget {
  /** The shadow table (a DynamoDB table, a Deno KV prefix). */
  readonly target: string;
  /** The first bucket (epoch ms) live writers copy into the shadow; older buckets come from a replay. */
  readonly from: number;
}

/** Names the live state table of a pipeline or store. */
export interface AliasRecord {
  /** The alias, e.g. `"orders"`. */
  readonly alias: string;
  /** The live table. */
  readonly target: string;
  /** Bumped by every change; 1 for a new alias. */
  readonly version: number;
  /** A table being filled ahead of a swap, or `null`. */
  readonly shadow: ShadowTarget | null;
  /** When the record was last written, epoch ms. */
  readonly updatedAt: number;
}

/** The fields of an alias record a write sets. */
export interface AliasUpdate {
  /** The live table. */
  readonly target: string;
  /** The shadow, or `null`. */
  readonly shadow: ShadowTarget | null;
}

/** Thrown when an alias changed since it was read: another operator won the race. */
export class AliasConflictError extends Error {
  /** The alias. */
  readonly alias: string;
  /** The version the write expected (0: none). */
  readonly expected: number;
  /** The version found, when known (0: none). */
  readonly actual: number | undefined;

  /**
   * Creates the error.
   *
   * @param alias The alias.
   * @param expected The version the write expected.
   * @param actual The version found, when known.
   */
  constructor(alias: string, expected: number, actual: number | undefined) {
    super(
      `alias "${alias}" is at version ${
        actual ?? "unknown"
      }, not ${expected}: another operator changed it first; run \`murmur status\` to see the new target, then decide again`,
    );
    this.name = "AliasConflictError";
    this.alias = alias;
    this.expected = expected;
    this.actual = actual;
  }
}

/** Where alias records live. Writes are compare-and-set on the version. */
export interface AliasRegistry {
  /** A short description, e.g. `"dynamodb:murmur_aliases"`. */
  readonly name: string;
  /** Reads an alias; `undefined` when it does not exist. */
  read(alias: string): Promise<AliasRecord | undefined>;
  /**
   * Writes an alias if its version is still `expectedVersion` (0: it must not
   * exist yet), as version `expectedVersion + 1`.
   *
   * @throws {AliasConflictError} When the version moved on.
   */
  write(
    alias: string,
    update: AliasUpdate,
    expectedVersion: number,
  ): Promise<AliasRecord>;
  /** Change notifications, when the backend can push them (Deno KV); otherwise readers poll. */
  changes?(alias: string, signal: AbortSignal): AsyncIterable<void>;
  /** Releases what the registry opened. */
  close(): Promise<void>;
  /** Calls {@linkcode AliasRegistry.close}. */
  [Symbol.asyncDispose](): Promise<void>;
}

function record(
  alias: string,
  update: AliasUpdate,
  version: number,
  now: number,
): AliasRecord {
  return {
    alias,
    target: update.target,
    version,
    shadow: update.shadow,
    updatedAt: now,
  };
}

/** Alias records in one process; for tests and single-process setups. */
export class MemoryAliasRegistry implements AliasRegistry {
  /** `"memory"`. */
  readonly name = "memory";
  readonly #records = new Map<string, AliasRecord>();
  readonly #waiters = new Set<() => void>();

  /** Reads an alias. */
  read(alias: string): Promise<AliasRecord | undefined> {
    return Promise.resolve(this.#records.get(alias));
  }

  /** Writes an alias if its version is still `expectedVersion`. */
  write(
    alias: string,
    update: AliasUpdate,
    expectedVersion: number,
  ): Promise<AliasRecord> {
    const current = this.#records.get(alias)?.version ?? 0;
    if (current !== expectedVersion) {
      return Promise.reject(
        new AliasConflictError(alias, expectedVersion, current),
      );
    }
    const next = record(alias, update, current + 1, Date.now());
    this.#records.set(alias, next);
    for (const wake of this.#waiters) wake();
    return Promise.resolve(next);
  }

  /** Yields after every write until `signal` aborts. */
  async *changes(_alias: string, signal: AbortSignal): AsyncIterable<void> {
    while (!signal.aborted) {
      const { promise, resolve } = Promise.withResolvers<void>();
      this.#waiters.add(resolve);
      signal.addEventListener("abort", () => resolve(), { once: true });
      await promise;
      this.#waiters.delete(resolve);
      if (!signal.aborted) yield;
    }
  }

  /** Nothing to release. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Calls close(). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Options of {@linkcode KvAliasRegistry}. */
export interface KvAliasRegistryOptions {
  /** Key prefix of alias records. Default: `["murmur", "alias"]`. */
  readonly prefix?: Deno.KvKey;
  /** Whether close() closes the database. Default: `false`. */
  readonly closeKv?: boolean;
}

interface KvAlias {
  readonly target: string;
  readonly version: number;
  readonly shadow: ShadowTarget | null;
  readonly updatedAt: number;
}

/** Alias records in Deno KV (the embedded default), pushed to readers with `kv.watch`. */
export class KvAliasRegistry implements AliasRegistry {
  /** `"deno-kv"`. */
  readonly name = "deno-kv";
  readonly #kv: Deno.Kv;
  readonly #prefix: Deno.KvKey;
  readonly #closeKv: boolean;

  /**
   * Keeps alias records in `kv`.
   *
   * @param kv The database.
   * @param options Key prefix and ownership.
   */
  constructor(kv: Deno.Kv, options: KvAliasRegistryOptions = {}) {
    this.#kv = kv;
    this.#prefix = options.prefix ?? ["murmur", "alias"];
    this.#closeKv = options.closeKv ?? false;
  }

  #key(alias: string): Deno.KvKey {
    return [...this.#prefix, alias];
  }

  /** Reads an alias (strongly consistent). */
  async read(alias: string): Promise<AliasRecord | undefined> {
    const entry = await this.#kv.get<KvAlias>(this.#key(alias));
    return entry.value === null ? undefined : { alias, ...entry.value };
  }

  /** Writes an alias if its version is still `expectedVersion`. */
  async write(
    alias: string,
    update: AliasUpdate,
    expectedVersion: number,
  ): Promise<AliasRecord> {
    const key = this.#key(alias);
    const entry = await this.#kv.get<KvAlias>(key);
    const current = entry.value?.version ?? 0;
    if (current !== expectedVersion) {
      throw new AliasConflictError(alias, expectedVersion, current);
    }
    const next = record(alias, update, current + 1, Date.now());
    const { alias: _, ...stored } = next;
    const result = await this.#kv.atomic().check(entry).set(key, stored)
      .commit();
    if (!result.ok) {
      throw new AliasConflictError(
        alias,
        expectedVersion,
        (await this.read(alias))?.version,
      );
    }
    return next;
  }

  /** Yields whenever the alias record changes, until `signal` aborts. */
  async *changes(alias: string, signal: AbortSignal): AsyncIterable<void> {
    const stream = this.#kv.watch([this.#key(alias)]);
    const reader = stream.getReader();
    const stop = () => reader.cancel().catch(() => {});
    signal.addEventListener("abort", stop, { once: true });
    try {
      for (;;) {
        const { done } = await reader.read();
        if (done || signal.aborted) return;
        yield;
      }
    } finally {
      signal.removeEventListener("abort", stop);
      await reader.cancel().catch(() => {});
    }
  }

  /** Closes the database when the registry owns it. */
  close(): Promise<void> {
    if (this.#closeKv) this.#kv.close();
    return Promise.resolve();
  }

  /** Calls close(). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Alias records in a DynamoDB table (`alias` S hash key); readers poll it. */
export class DynamoDBAliasRegistry implements AliasRegistry {
  /** `"dynamodb:<table>"`. */
  readonly name: string;
  /** The table of alias records. */
  readonly table: string;
  readonly #client: DynamoDBClientLike;

  /**
   * Keeps alias records in `table` (see {@linkcode ensureAliasTable}).
   *
   * @param client A DynamoDB client; the caller closes it.
   * @param table The alias table.
   */
  constructor(client: DynamoDBClientLike, table: string) {
    this.#client = client;
    this.table = table;
    this.name = `dynamodb:${table}`;
  }

  /** Reads an alias with a strongly consistent read. */
  async read(alias: string): Promise<AliasRecord | undefined> {
    const out = await this.#client.send(
      new GetItemCommand({
        TableName: this.table,
        Key: { alias: { S: alias } },
        ConsistentRead: true,
      }),
    ) as { Item?: Record<string, { S?: string; N?: string }> };
    const item = out.Item;
    if (item === undefined) return undefined;
    const shadowTarget = item.shadow?.S;
    return {
      alias,
      target: item.target?.S ?? "",
      version: Number(item.ver?.N ?? 0),
      shadow: shadowTarget === undefined
        ? null
        : { target: shadowTarget, from: Number(item.shadowFrom?.N ?? 0) },
      updatedAt: Number(item.at?.N ?? 0),
    };
  }

  /** Writes an alias with a conditional put on its version. */
  async write(
    alias: string,
    update: AliasUpdate,
    expectedVersion: number,
  ): Promise<AliasRecord> {
    const next = record(alias, update, expectedVersion + 1, Date.now());
    const item: Record<string, { S: string } | { N: string }> = {
      alias: { S: alias },
      target: { S: next.target },
      ver: { N: String(next.version) },
      at: { N: String(next.updatedAt) },
    };
    if (next.shadow !== null) {
      item.shadow = { S: next.shadow.target };
      item.shadowFrom = { N: String(next.shadow.from) };
    }
    try {
      await this.#client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: item,
          ...(expectedVersion === 0
            ? { ConditionExpression: "attribute_not_exists(alias)" }
            : {
              ConditionExpression: "ver = :expected",
              ExpressionAttributeValues: {
                ":expected": { N: String(expectedVersion) },
              },
            }),
        }),
      );
    } catch (error) {
      if (
        error instanceof ConditionalCheckFailedException ||
        (error as { name?: string }).name === "ConditionalCheckFailedException"
      ) {
        throw new AliasConflictError(
          alias,
          expectedVersion,
          (await this.read(alias))?.version ?? 0,
        );
      }
      throw error;
    }
    return next;
  }

  /** The client belongs to the caller: nothing to release. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Calls close(). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Creates the alias table if it does not exist (on demand, `alias` S hash
 * key) and waits until it is active. For development and tests; production
 * tables belong in Terraform.
 *
 * @param client The DynamoDB client.
 * @param table The table name.
 * @returns A promise that resolves once the table is active.
 */
export async function ensureAliasTable(
  client: DynamoDBClientLike,
  table: string,
): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: table,
        AttributeDefinitions: [{ AttributeName: "alias", AttributeType: "S" }],
        KeySchema: [{ AttributeName: "alias", KeyType: "HASH" }],
        BillingMode: "PAY_PER_REQUEST",
      }),
    );
  } catch (error) {
    if ((error as { name?: string }).name !== "ResourceInUseException") {
      throw error;
    }
  }
  for (let i = 0; i < 120; i++) {
    const out = await client.send(
      new DescribeTableCommand({ TableName: table }),
    ) as { Table?: { TableStatus?: string } };
    if (out.Table?.TableStatus === "ACTIVE") return;
    await delay(500);
  }
  throw new Error(
    `dynamodb alias table "${table}" did not become active within 60 s; check it and run again`,
  );
}
