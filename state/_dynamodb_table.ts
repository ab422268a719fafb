// ensureTable(): creates the state table for development and tests.

import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  UpdateTimeToLiveCommand,
} from "@aws-sdk/client-dynamodb";
import type { DynamoDBClientLike } from "./dynamodb.ts";
import { PK, SK, TTL } from "./_dynamodb_layout.ts";
import { errorName } from "./_dynamodb_retry.ts";
import { delay } from "../internal/async.ts";

/** Options for {@linkcode ensureTable}. */
export interface EnsureTableOptions {
  /** Enable DynamoDB's native TTL on the `ttl` attribute. Default: `true`. */
  readonly ttl?: boolean;
  /** How long to wait for the table to become active, in seconds. Default: 60. */
  readonly maxWaitSeconds?: number;
}

/**
 * Creates the state table if it does not exist (on-demand billing, `pk` S
 * hash key, `sk` S range key) and enables TTL on `ttl`, for development and
 * tests. Production tables belong in Terraform or CloudFormation (see
 * `docs/dynamodb.md`).
 *
 * @param client The DynamoDB client.
 * @param table The table name.
 * @param options TTL and waiting; see {@linkcode EnsureTableOptions}.
 * @returns A promise that resolves once the table is active.
 * @throws Whatever DynamoDB answers other than "already exists".
 *
 * @example Usage
 * ```ts ignore
 * import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
 * import { ensureTable } from "@murmur/core/state/dynamodb";
 * const client = new DynamoDBClient({ endpoint: "http://localhost:8000", region: "local" });
 * await ensureTable(client, "murmur_state");
 * ```
 */
export async function ensureTable(
  client: DynamoDBClientLike,
  table: string,
  options: EnsureTableOptions = {},
): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: table,
        AttributeDefinitions: [
          { AttributeName: PK, AttributeType: "S" },
          { AttributeName: SK, AttributeType: "S" },
        ],
        KeySchema: [
          { AttributeName: PK, KeyType: "HASH" },
          { AttributeName: SK, KeyType: "RANGE" },
        ],
        BillingMode: "PAY_PER_REQUEST",
      }),
    );
  } catch (error) {
    if (errorName(error) !== "ResourceInUseException") throw error;
  }
  const deadline = Date.now() + (options.maxWaitSeconds ?? 60) * 1000;
  for (;;) {
    const described = await client.send(
      new DescribeTableCommand({ TableName: table }),
    ) as { Table?: { TableStatus?: string } };
    if (described.Table?.TableStatus === "ACTIVE") break;
    if (Date.now() > deadline) {
      throw new Error(
        `dynamodb table "${table}" is still ${described.Table?.TableStatus} after ${
          options.maxWaitSeconds ?? 60
        } s; check it in the console and run again`,
      );
    }
    await delay(500);
  }
  if (options.ttl === false) return;
  const described = await client.send(
    new DescribeTimeToLiveCommand({ TableName: table }),
  ) as { TimeToLiveDescription?: { TimeToLiveStatus?: string } };
  const status = described.TimeToLiveDescription?.TimeToLiveStatus;
  if (status === "ENABLED" || status === "ENABLING") return;
  try {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: table,
        TimeToLiveSpecification: { AttributeName: TTL, Enabled: true },
      }),
    );
  } catch (error) {
    // A concurrent ensureTable may have enabled it first.
    if (!/already enabled/i.test(String(error))) throw error;
  }
}
