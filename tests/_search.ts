// Shared setup of the search example tests: a fresh counter table with its stream, in DynamoDB Local.

import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBStreamsClient } from "@aws-sdk/client-dynamodb-streams";
import { DynamoDBStore } from "../state/dynamodb.ts";
import { ensureCounterTable } from "../examples/search_projector/follow.ts";
import { awsConfig, service, uniqueName } from "./_stack.ts";

/**
 * Creates a uniquely named counter table (stream on, new and old images)
 * and returns its clients and a store on it.
 */
export async function counterTable(prefix: string) {
  const config = awsConfig(await service("dynamodb"));
  const client = new DynamoDBClient(config);
  const streams = new DynamoDBStreamsClient(config);
  const table = uniqueName(prefix);
  await ensureCounterTable(client, table);
  return { client, streams, table, store: new DynamoDBStore(client, table) };
}
