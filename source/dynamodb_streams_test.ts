// DynamoDB Local cannot reshard a stream on demand: a scripted stream checks that a child shard waits for its parent.

import assert from "node:assert/strict";
import { DynamoDBStreamSource } from "./dynamodb_streams.ts";
import { MemoryCheckpoint } from "./_handoff.ts";
import type { DynamoDBSendLike } from "./_handoff_dynamodb.ts";

interface Scripted {
  readonly id: string;
  readonly parent?: string;
  readonly closed: boolean;
  readonly seqs: string[];
}

/** A stream of fixed shards answering DescribeStream, GetShardIterator and GetRecords. */
function scripted(
  shards: Scripted[],
  reads: { shard: string; at: number }[],
): DynamoDBSendLike {
  return {
    send(command: unknown): Promise<unknown> {
      const kind = (command as { constructor: { name: string } }).constructor
        .name;
      const input = (command as { input: Record<string, string> }).input;
      if (kind === "DescribeStreamCommand") {
        return Promise.resolve({
          StreamDescription: {
            Shards: shards.map((s) => ({
              ShardId: s.id,
              ...(s.parent === undefined ? {} : { ParentShardId: s.parent }),
              SequenceNumberRange: {
                StartingSequenceNumber: s.seqs[0],
                ...(s.closed ? { EndingSequenceNumber: s.seqs.at(-1) } : {}),
              },
            })),
          },
        });
      }
      if (kind === "GetShardIteratorCommand") {
        const shard = shards.find((s) => s.id === input.ShardId)!;
        const from = input.ShardIteratorType === "TRIM_HORIZON"
          ? 0
          : shard.seqs.findIndex((x) => x === input.SequenceNumber) + 1;
        return Promise.resolve({ ShardIterator: `${shard.id}@${from}` });
      }
      const [id, at] = (input.ShardIterator as string).split("@");
      const shard = shards.find((s) => s.id === id)!;
      const from = Number(at);
      const page = shard.seqs.slice(from, from + 2);
      reads.push({ shard: id!, at: performance.now() });
      const next = from + page.length;
      const ended = shard.closed && next >= shard.seqs.length;
      return Promise.resolve({
        Records: page.map((s) => ({
          eventName: "INSERT",
          dynamodb: {
            SequenceNumber: s,
            Keys: { id: { S: `${id}-${Number(s)}` } },
            NewImage: { id: { S: `${id}-${Number(s)}` } },
          },
        })),
        ...(ended ? {} : { NextShardIterator: `${id}@${next}` }),
      });
    },
  };
}

const pad = (n: number) => String(n).padStart(21, "0");

Deno.test("DynamoDBStreamSource reads a child shard only after its parent's records are acked", async () => {
  const reads: { shard: string; at: number }[] = [];
  const streams = scripted([
    { id: "parent", closed: true, seqs: [1, 2, 3].map(pad) },
    { id: "child", parent: "parent", closed: false, seqs: [10, 11].map(pad) },
  ], reads);
  const checkpoint = new MemoryCheckpoint();
  const source = new DynamoDBStreamSource<{ id: string }>({
    streams,
    handoff: {
      table: "orders",
      streamArn: "arn:test",
      shards: { parent: null },
      closed: [],
    },
    checkpoint,
    pollInterval: 1,
    refreshInterval: 1,
    idleTimeout: 400,
  });
  const seen: string[] = [];
  let ackedAt = Infinity;
  const held: { ack(): void }[] = [];
  for await (const batch of source) {
    for (const r of batch) {
      seen.push(r.value!.id);
      if (r.value!.id.startsWith("child")) r.ack();
      else held.push(r);
    }
    if (held.length === 3) {
      // The parent's records are acked later, while the source keeps polling.
      setTimeout(() => {
        ackedAt = performance.now();
        for (const r of held.splice(0)) r.ack();
      }, 100);
    }
  }
  assert.ok(ackedAt < Infinity, "the parent's records were acked");
  const firstChildRead = reads.find((r) => r.shard === "child")?.at;
  assert.ok(
    firstChildRead !== undefined && firstChildRead >= ackedAt,
    "the child was read only after the parent's acks",
  );
  assert.deepEqual(seen, [
    "parent-1",
    "parent-2",
    "parent-3",
    "child-10",
    "child-11",
  ]);
  await source.close();
  const saved = await checkpoint.load() as { shards: Record<string, string> };
  assert.equal(saved.shards.parent, "done");
  assert.equal(saved.shards.child, pad(11));
});
