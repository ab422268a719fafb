// Shared by the service tests: the state table on the stack's DynamoDB, and a plain table with one string hash key, as source tables are.

import {
  type AttributeValue,
  BatchWriteItemCommand,
  CreateTableCommand,
  DynamoDBClient,
} from "@aws-sdk/client-dynamodb";
import { ensureTable } from "../state/dynamodb.ts";
import { awsConfig, type Endpoint, service } from "./_stack.ts";

/** The stack's DynamoDB endpoint and a client, with the state table `table` made sure to exist. */
export interface StateTable {
  /** The DynamoDB endpoint. */
  readonly endpoint: Endpoint;
  /** A client of it. */
  readonly client: DynamoDBClient;
}

/**
 * Connects to the stack's DynamoDB and creates the state table `table` if
 * it does not exist yet (`ensureTable`), failing loudly when the service
 * is down.
 */
export async function stateTable(table: string): Promise<StateTable> {
  const endpoint = await service("dynamodb");
  const client = new DynamoDBClient(awsConfig(endpoint));
  await ensureTable(client, table);
  return { endpoint, client };
}

/** Options of {@linkcode createItemTable}. */
export interface ItemTableOptions {
  /** The hash key's attribute name (a string). Default `"id"`. */
  readonly key?: string;
  /** Turn the table's stream on with new and old images. Default `false`. */
  readonly stream?: boolean;
}

/** Creates an on-demand table keyed by one string attribute. */
export async function createItemTable(
  client: DynamoDBClient,
  table: string,
  options: ItemTableOptions = {},
): Promise<void> {
  const key = options.key ?? "id";
  await client.send(
    new CreateTableCommand({
      TableName: table,
      AttributeDefinitions: [{ AttributeName: key, AttributeType: "S" }],
      KeySchema: [{ AttributeName: key, KeyType: "HASH" }],
      BillingMode: "PAY_PER_REQUEST",
      StreamSpecification: options.stream
        ? { StreamEnabled: true, StreamViewType: "NEW_AND_OLD_IMAGES" }
        : undefined,
    }),
  );
}

/** Writes `items` to `table` in BatchWriteItem requests of 25, the most one request takes. */
export async function putItems(
  client: DynamoDBClient,
  table: string,
  items: readonly Record<string, AttributeValue>[],
): Promise<void> {
  for (let i = 0; i < items.length; i += 25) {
    await client.send(
      new BatchWriteItemCommand({
        RequestItems: {
          [table]: items.slice(i, i + 25).map((Item) => ({
            PutRequest: { Item },
          })),
        },
      }),
    );
  }
}
