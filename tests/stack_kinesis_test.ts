import assert from "node:assert/strict";
import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  PutRecordsCommand,
} from "@aws-sdk/client-kinesis";
import { awsConfig, eventually, service, uniqueName } from "./_stack.ts";

Deno.test("stack: kinesis create a stream, put and get records", async () => {
  const client = new KinesisClient(awsConfig(await service("kinesis")));
  const StreamName = uniqueName("stack-kinesis");
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  try {
    await client.send(new CreateStreamCommand({ StreamName, ShardCount: 1 }));
    const shardId = await eventually("an ACTIVE Kinesis stream", async () => {
      const { StreamDescription } = await client.send(
        new DescribeStreamCommand({ StreamName }),
      );
      return StreamDescription?.StreamStatus === "ACTIVE"
        ? StreamDescription.Shards?.[0]?.ShardId
        : undefined;
    });
    const put = await client.send(
      new PutRecordsCommand({
        StreamName,
        Records: ["one", "two"].map((v) => ({
          PartitionKey: v,
          Data: encoder.encode(v),
        })),
      }),
    );
    assert.equal(put.FailedRecordCount ?? 0, 0);
    const { ShardIterator } = await client.send(
      new GetShardIteratorCommand({
        StreamName,
        ShardId: shardId,
        ShardIteratorType: "TRIM_HORIZON",
      }),
    );
    const { Records } = await client.send(
      new GetRecordsCommand({ ShardIterator }),
    );
    assert.deepEqual(
      Records?.map((r) => decoder.decode(r.Data)),
      ["one", "two"],
    );
  } finally {
    await client.send(new DeleteStreamCommand({ StreamName })).catch(() =>
      undefined
    );
    client.destroy();
  }
});
