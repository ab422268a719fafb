import assert from "node:assert/strict";
import {
  ConditionalCheckFailedException,
  DeleteTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { awsConfig, service, uniqueName } from "./_stack.ts";
import { createItemTable } from "./_dynamodb.ts";

Deno.test("stack: dynamodb UpdateItem ADD and a conditional put", async () => {
  const client = new DynamoDBClient(awsConfig(await service("dynamodb")));
  const TableName = uniqueName("stack-dynamo");
  try {
    await createItemTable(client, TableName, { key: "pk" });
    const Key = { pk: { S: "clicks" } };
    for (const n of [5, 7]) {
      await client.send(
        new UpdateItemCommand({
          TableName,
          Key,
          UpdateExpression: "ADD #c :n",
          ExpressionAttributeNames: { "#c": "count" },
          ExpressionAttributeValues: { ":n": { N: String(n) } },
        }),
      );
    }
    const got = await client.send(
      new GetItemCommand({ TableName, Key, ConsistentRead: true }),
    );
    assert.equal(got.Item?.count?.N, "12");

    await assert.rejects(
      client.send(
        new PutItemCommand({
          TableName,
          Item: { ...Key, count: { N: "0" } },
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      ),
      ConditionalCheckFailedException,
    );
    const after = await client.send(
      new GetItemCommand({ TableName, Key, ConsistentRead: true }),
    );
    assert.equal(after.Item?.count?.N, "12");
  } finally {
    await client.send(new DeleteTableCommand({ TableName })).catch(() =>
      undefined
    );
    client.destroy();
  }
});
