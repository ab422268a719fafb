// The Kinesis source's lease table in DynamoDB: one item per shard, every write conditional on owner and counter.

import {
  type AttributeValue,
  ConditionalCheckFailedException,
  CreateTableCommand,
  DescribeTableCommand,
  type DescribeTableCommandOutput,
  PutItemCommand,
  ScanCommand,
  type ScanCommandOutput,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { delay } from "../internal/async.ts";
import type { DynamoDBSendLike } from "./_handoff_dynamodb.ts";

/** What a lease table needs of a DynamoDB client: the SDK's `DynamoDBClient` fits. */
export type LeaseClient = DynamoDBSendLike;

/** The checkpoint of a shard read to its end. */
export const SHARD_END = "SHARD_END";

/**
 * One shard's lease as the table holds it. `checkpoint` is a sequence number,
 * a start sentinel (`TRIM_HORIZON`, `LATEST`, `AT_TIMESTAMP`) before the
 * first checkpoint, or `SHARD_END`.
 */
export interface Lease {
  readonly shard: string;
  readonly owner: string | undefined;
  readonly counter: number;
  readonly checkpoint: string;
  readonly parents: readonly string[];
  /** A worker that asked the owner to hand this lease over. */
  readonly wanted: string | undefined;
}

/** Thrown when a conditional lease write lost: someone else owns the lease or changed it. */
export class LeaseLostError extends Error {
  /** The shard whose lease was lost. */
  readonly shard: string;
  /** Creates the error. */
  constructor(shard: string, action: string) {
    super(
      `lease of ${shard}: ${action} refused, another worker owns or changed the lease`,
    );
    this.name = "LeaseLostError";
    this.shard = shard;
  }
}

function s(value: string): AttributeValue {
  return { S: value };
}

function n(value: number): AttributeValue {
  return { N: String(value) };
}

function fromItem(item: Record<string, AttributeValue>): Lease {
  return {
    shard: item.leaseKey?.S ?? "",
    owner: item.owner?.S,
    counter: Number(item.counter?.N ?? "0"),
    checkpoint: item.checkpoint?.S ?? "TRIM_HORIZON",
    parents: item.parents?.L?.map((p) => p.S ?? "") ?? [],
    wanted: item.wanted?.S,
  };
}

function lost(error: unknown): boolean {
  return error instanceof ConditionalCheckFailedException ||
    (error as { name?: string })?.name === "ConditionalCheckFailedException";
}

/** The lease table of one application: create, list and conditional updates. */
export class LeaseTable {
  readonly #client: LeaseClient;
  readonly table: string;

  constructor(client: LeaseClient, table: string) {
    this.#client = client;
    this.table = table;
  }

  /** Creates the table (on-demand, hash key `leaseKey`) unless it exists, and waits until it is active. */
  async ensure(signal?: AbortSignal): Promise<void> {
    try {
      await this.#client.send(
        new CreateTableCommand({
          TableName: this.table,
          AttributeDefinitions: [{
            AttributeName: "leaseKey",
            AttributeType: "S",
          }],
          KeySchema: [{ AttributeName: "leaseKey", KeyType: "HASH" }],
          BillingMode: "PAY_PER_REQUEST",
        }),
      );
    } catch (error) {
      if ((error as { name?: string })?.name !== "ResourceInUseException") {
        throw error;
      }
    }
    for (let i = 0; i < 600; i++) {
      const described = await this.#client.send(
        new DescribeTableCommand({ TableName: this.table }),
      ) as DescribeTableCommandOutput;
      if (described.Table?.TableStatus === "ACTIVE") return;
      await delay(100, signal);
    }
    throw new Error(
      `lease table "${this.table}" did not become ACTIVE within a minute; check it in DynamoDB`,
    );
  }

  /** Every lease, read with a consistent scan. */
  async list(signal?: AbortSignal): Promise<Lease[]> {
    const out: Lease[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.#client.send(
        new ScanCommand({
          TableName: this.table,
          ConsistentRead: true,
          ...(start === undefined ? {} : { ExclusiveStartKey: start }),
        }),
        signal === undefined ? undefined : { abortSignal: signal },
      ) as ScanCommandOutput;
      for (const item of page.Items ?? []) out.push(fromItem(item));
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return out;
  }

  /** Creates an unowned lease for a shard unless one exists; `true` when created. */
  async create(
    shard: string,
    checkpoint: string,
    parents: readonly string[],
  ): Promise<boolean> {
    try {
      await this.#client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: {
            leaseKey: s(shard),
            counter: n(0),
            checkpoint: s(checkpoint),
            parents: { L: parents.map(s) },
          },
          ConditionExpression: "attribute_not_exists(leaseKey)",
        }),
      );
      return true;
    } catch (error) {
      if (lost(error)) return false;
      throw error;
    }
  }

  /**
   * Writes `owner` (or frees the lease when `undefined`) and optionally a
   * checkpoint, if the lease still has `expectOwner` and `expectCounter`;
   * bumps the counter and clears a handover request when the owner changes.
   *
   * @returns The lease's new counter.
   * @throws {LeaseLostError} When the condition failed.
   */
  async write(
    lease: { shard: string; counter: number; owner: string | undefined },
    change: {
      owner: string | undefined;
      checkpoint?: string;
      keepWanted?: boolean;
    },
    action: string,
  ): Promise<number> {
    const names: Record<string, string> = { "#c": "counter" };
    const values: Record<string, AttributeValue> = {
      ":c": n(lease.counter),
      ":next": n(lease.counter + 1),
    };
    const sets = ["#c = :next"];
    const removes: string[] = [];
    let condition = "#c = :c";
    names["#o"] = "owner";
    if (lease.owner === undefined) condition += " AND attribute_not_exists(#o)";
    else {
      condition += " AND #o = :old";
      values[":old"] = s(lease.owner);
    }
    if (change.owner === undefined) removes.push("#o");
    else {
      sets.push("#o = :new");
      values[":new"] = s(change.owner);
    }
    if (change.checkpoint !== undefined) {
      names["#k"] = "checkpoint";
      sets.push("#k = :k");
      values[":k"] = s(change.checkpoint);
    }
    if (!change.keepWanted) {
      names["#w"] = "wanted";
      removes.push("#w");
    }
    try {
      await this.#client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: { leaseKey: s(lease.shard) },
          UpdateExpression: `SET ${sets.join(", ")}${
            removes.length > 0 ? ` REMOVE ${removes.join(", ")}` : ""
          }`,
          ConditionExpression: condition,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
    } catch (error) {
      if (lost(error)) throw new LeaseLostError(lease.shard, action);
      throw error;
    }
    return lease.counter + 1;
  }

  /**
   * Asks the owner of a lease to hand it over to `requester` (only when
   * nobody asked yet and the owner has not changed). `true` when recorded.
   */
  async request(
    shard: string,
    owner: string,
    requester: string,
  ): Promise<boolean> {
    try {
      await this.#client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: { leaseKey: s(shard) },
          UpdateExpression: "SET #w = :me",
          ConditionExpression: "#o = :owner AND attribute_not_exists(#w)",
          ExpressionAttributeNames: { "#w": "wanted", "#o": "owner" },
          ExpressionAttributeValues: {
            ":me": s(requester),
            ":owner": s(owner),
          },
        }),
      );
      return true;
    } catch (error) {
      if (lost(error)) return false;
      throw error;
    }
  }
}
