// Shared by the service tests: a plain DynamoDB table with one string hash key, as source tables are.

import {
  CreateTableCommand,
  type DynamoDBClient,
} from "@aws-sdk/client-dynamodb";

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
