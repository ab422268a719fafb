// Kinesis helpers for tests and benches: create a stream and wait for it, put events in batches.

import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeStreamSummaryCommand,
  type KinesisClient,
  PutRecordsCommand,
} from "@aws-sdk/client-kinesis";
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
