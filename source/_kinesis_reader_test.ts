import assert from "node:assert/strict";
import type { KinesisClient } from "@aws-sdk/client-kinesis";
import { iteratorFor, type RawRecord, readShard } from "./_kinesis_reader.ts";

/** A Kinesis client answering from a script of responses (or errors to throw). */
function scripted(steps: (Record<string, unknown> | Error)[]) {
  const calls: string[] = [];
  const client = {
    send(command: { constructor: { name: string }; input: unknown }) {
      const name = command.constructor.name;
      calls.push(name);
      if (name === "GetShardIteratorCommand") {
        return Promise.resolve({ ShardIterator: "it-0" });
      }
      const step = steps.shift();
      if (step === undefined) return Promise.resolve({ Records: [] });
      if (step instanceof Error) return Promise.reject(step);
      return Promise.resolve(step);
    },
  };
  return { client: client as unknown as KinesisClient, calls };
}

function named(name: string): Error {
  const error = new Error(name);
  error.name = name;
  return error;
}

function record(seq: number) {
  return {
    SequenceNumber: String(seq),
    PartitionKey: "k",
    Data: new TextEncoder().encode("{}"),
    ApproximateArrivalTimestamp: new Date(0),
  };
}

function context(
  client: KinesisClient,
  delivered: RawRecord[],
  closed = false,
) {
  return {
    client,
    stream: "s",
    shard: "shardId-000000000000",
    start: "TRIM_HORIZON",
    batchSize: 10,
    pollInterval: 1,
    maxPollInterval: 5,
    signal: new AbortController().signal,
    closed: () => closed,
    deliver: (records: RawRecord[]) => {
      delivered.push(...records);
      return Promise.resolve();
    },
    warn: () => {},
  };
}

Deno.test("readShard() backs off on throttling and keeps its iterator", async () => {
  const { client, calls } = scripted([
    named("ProvisionedThroughputExceededException"),
    named("ProvisionedThroughputExceededException"),
    {
      Records: [record(1), record(2)],
      NextShardIterator: "it-1",
      MillisBehindLatest: 0,
    },
    { Records: [], MillisBehindLatest: 0 },
  ]);
  const delivered: RawRecord[] = [];
  assert.equal(await readShard(context(client, delivered)), "end");
  assert.deepEqual(delivered.map((r) => r.sequenceNumber), ["1", "2"]);
  assert.equal(calls.filter((c) => c === "GetShardIteratorCommand").length, 1);
});

Deno.test("readShard() renews an expired iterator after the last record read", async () => {
  const { client, calls } = scripted([
    { Records: [record(7)], NextShardIterator: "it-1", MillisBehindLatest: 5 },
    named("ExpiredIteratorException"),
    { Records: [record(8)] },
  ]);
  const delivered: RawRecord[] = [];
  assert.equal(await readShard(context(client, delivered)), "end");
  assert.deepEqual(delivered.map((r) => r.sequenceNumber), ["7", "8"]);
  assert.equal(calls.filter((c) => c === "GetShardIteratorCommand").length, 2);
});

Deno.test("readShard() ends a closed shard once it is read to the tip", async () => {
  const { client } = scripted([
    { Records: [record(1)], NextShardIterator: "it-1", MillisBehindLatest: 0 },
    { Records: [], NextShardIterator: "it-2", MillisBehindLatest: 0 },
  ]);
  assert.equal(await readShard(context(client, [], true)), "end");
});

Deno.test("iteratorFor() resumes after a checkpoint or from a start position", () => {
  assert.deepEqual(iteratorFor("4959"), {
    ShardIteratorType: "AFTER_SEQUENCE_NUMBER",
    StartingSequenceNumber: "4959",
  });
  assert.deepEqual(iteratorFor("LATEST"), { ShardIteratorType: "LATEST" });
  assert.deepEqual(iteratorFor("AT_TIMESTAMP:1000"), {
    ShardIteratorType: "AT_TIMESTAMP",
    Timestamp: new Date(1000),
  });
});
