// Kinesis helpers for tests and benches: create a stream and wait for it, put events in batches.

import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
  PutRecordsCommand,
} from "@aws-sdk/client-kinesis";
import type { KinesisEventRecord } from "../lambda/mod.ts";
import { eventually } from "./_stack.ts";

/** Creates a stream with `shards` shards and waits until it is ACTIVE. */
export async function createStream(
  client: KinesisClient,
  name: string,
  shards: number,
): Promise<void> {
  await client.send(
    new CreateStreamCommand({ StreamName: name, ShardCount: shards }),
  );
  await eventually("an ACTIVE Kinesis stream", async () => {
    const { StreamDescriptionSummary } = await client.send(
      new DescribeStreamSummaryCommand({ StreamName: name }),
    );
    return StreamDescriptionSummary?.StreamStatus === "ACTIVE"
      ? true
      : undefined;
  });
}

/** Deletes a stream, ignoring errors. */
export async function deleteStream(
  client: KinesisClient,
  name: string,
): Promise<void> {
  await client.send(new DeleteStreamCommand({ StreamName: name })).catch(
    () => undefined,
  );
}

const encoder = new TextEncoder();

/**
 * Puts JSON events, 500 per PutRecords call, retrying records the call
 * reports failed; the partition key is `key(event, index)`.
 *
 * @returns Each event's shard id and sequence number, in order.
 */
export async function putEvents<T>(
  client: KinesisClient,
  stream: string,
  events: readonly T[],
  key: (event: T, index: number) => string,
): Promise<{ shard: string; seq: string }[]> {
  const out: { shard: string; seq: string }[] = [];
  for (let at = 0; at < events.length; at += 500) {
    let part = events.slice(at, at + 500).map((event, i) => ({
      PartitionKey: key(event, at + i),
      Data: encoder.encode(JSON.stringify(event)),
    }));
    const placed: { shard: string; seq: string }[] = new Array(part.length);
    let index = part.map((_, i) => i);
    while (part.length > 0) {
      const result = await client.send(
        new PutRecordsCommand({ StreamName: stream, Records: part }),
      );
      const retry: typeof part = [];
      const retryIndex: number[] = [];
      (result.Records ?? []).forEach((r, i) => {
        if (r.ErrorCode) {
          retry.push(part[i]!);
          retryIndex.push(index[i]!);
        } else {
          placed[index[i]!] = { shard: r.ShardId!, seq: r.SequenceNumber! };
        }
      });
      part = retry;
      index = retryIndex;
    }
    out.push(...placed);
  }
  return out;
}

function toBase64(bytes: Uint8Array): string {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text);
}

/** Reads a one-shard stream back and shapes its records as Lambda's Kinesis event does. */
export async function kinesisLambdaEvent(
  kinesis: KinesisClient,
  stream: string,
): Promise<KinesisEventRecord[]> {
  const shards = await kinesis.send(
    new ListShardsCommand({ StreamName: stream }),
  );
  const shard = shards.Shards![0]!.ShardId!;
  const { ShardIterator } = await kinesis.send(
    new GetShardIteratorCommand({
      StreamName: stream,
      ShardId: shard,
      ShardIteratorType: "TRIM_HORIZON",
    }),
  );
  const page = await kinesis.send(
    new GetRecordsCommand({ ShardIterator, Limit: 1000 }),
  );
  return (page.Records ?? []).map((r) => ({
    eventSource: "aws:kinesis",
    eventVersion: "1.0",
    eventID: `${shard}:${r.SequenceNumber}`,
    eventName: "aws:kinesis:record",
    invokeIdentityArn: "arn:aws:iam::123456789012:role/murmur-test",
    awsRegion: "us-east-1",
    eventSourceARN: `arn:aws:kinesis:us-east-1:123456789012:stream/${stream}`,
    kinesis: {
      kinesisSchemaVersion: "1.0",
      partitionKey: r.PartitionKey!,
      sequenceNumber: r.SequenceNumber!,
      data: toBase64(r.Data!),
      approximateArrivalTimestamp: r.ApproximateArrivalTimestamp!.getTime() /
        1000,
    },
  }));
}
