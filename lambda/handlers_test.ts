import assert from "node:assert/strict";
import { count } from "../monoid/mod.ts";
import { pipeline } from "../pipeline/mod.ts";
import { MemoryStore } from "../state/mod.ts";
import { FaultyStore } from "../testing/mod.ts";
import {
  type BatchResponse,
  type DynamoDBChange,
  type DynamoDBStreamEventRecord,
  dynamoDBStreamsHandler,
  type KinesisEventRecord,
  kinesisHandler,
  sqsHandler,
} from "./mod.ts";

function counter<E>(store: FaultyStore, key: (e: E) => string) {
  return pipeline<E>(`views_${crypto.randomUUID().slice(0, 8)}`)
    .key(key)
    .value(() => 1)
    .aggregate(count())
    .storeIn(store)
    .build();
}

const fast = { maxAttempts: 2, retryBackoff: { base: 1, max: 2 } };

/** Runs one invocation while the store is down; returns the failed item identifiers. */
async function failuresWhileDown<B>(
  store: FaultyStore,
  handler: (batch: B) => Promise<BatchResponse>,
  batch: B,
): Promise<string[]> {
  store.down = true;
  try {
    const failed = await handler(batch);
    return failed.batchItemFailures.map((f) => f.itemIdentifier);
  } finally {
    store.down = false;
  }
}

function kinesisRecord(seq: number, page: string): KinesisEventRecord {
  return {
    eventID: `shardId-000000000001:${seq}`,
    eventSourceARN: "arn:aws:kinesis:us-east-1:123456789012:stream/views",
    kinesis: {
      partitionKey: page,
      sequenceNumber: String(seq),
      data: btoa(JSON.stringify({ page })),
      approximateArrivalTimestamp: 1_700_000_000.5,
    },
  };
}

Deno.test("kinesisHandler() reports by sequence number only the records after a failed write", async () => {
  const store = new FaultyStore(new MemoryStore());
  const views = counter<{ page: string }>(store, (e) => e.page);
  const handler = kinesisHandler(views, { ...fast, flushEvery: 2 });
  const records = [1, 2, 3, 4, 5, 6].map((s) => kinesisRecord(s, `p${s % 2}`));
  await handler({ Records: records.slice(0, 2) }); // the stream's progress is known
  assert.deepEqual(
    await failuresWhileDown(store, handler, { Records: records.slice(2) }),
    ["3", "4", "5", "6"],
  );
  assert.deepEqual(await handler({ Records: records }), {
    batchItemFailures: [],
  });
  const p0 = await store.get(views.scope, { entity: "p0", bucket: null });
  const p1 = await store.get(views.scope, { entity: "p1", bucket: null });
  assert.deepEqual([p0, p1], [3, 3]);
});

Deno.test("kinesisHandler() dead-letters an undecodable record instead of retrying it", async () => {
  const store = new FaultyStore(new MemoryStore());
  const views = counter<{ page: string }>(store, (e) => e.page);
  const dead: string[] = [];
  const handler = kinesisHandler(views, {
    deadLetter: (record) => {
      dead.push(record.id);
    },
  });
  const bad = {
    ...kinesisRecord(9, "x"),
    kinesis: { ...kinesisRecord(9, "x").kinesis, data: btoa("{") },
  };
  const answer = await handler({ Records: [kinesisRecord(8, "a"), bad] });
  assert.deepEqual(answer, { batchItemFailures: [] });
  assert.deepEqual(dead, ["views/shardId-000000000001/9"]);
});

Deno.test("dynamoDBStreamsHandler() reports the sequence number, dedups by eventID", async () => {
  const store = new FaultyStore(new MemoryStore());
  const changes = counter<DynamoDBChange>(
    store,
    (c) => String(c.newImage?.page),
  );
  const handler = dynamoDBStreamsHandler(changes, fast);
  const change = (id: string, seq: string): DynamoDBStreamEventRecord => ({
    eventID: id,
    eventName: "INSERT",
    dynamodb: {
      Keys: { id: { S: id } },
      NewImage: { id: { S: id }, page: { S: "home" } },
      SequenceNumber: seq,
      ApproximateCreationDateTime: 1_700_000_000,
    },
  });
  const batch = { Records: [change("e1", "100"), change("e2", "200")] };
  assert.deepEqual(await failuresWhileDown(store, handler, batch), [
    "100",
    "200",
  ]);
  await handler(batch);
  await handler(batch);
  assert.equal(
    await store.get(changes.scope, { entity: "home", bucket: null }),
    2,
  );
});

Deno.test("sqsHandler() reports failed messages by messageId and counts a redelivery once", async () => {
  const store = new FaultyStore(new MemoryStore());
  const views = counter<{ page: string }>(store, (e) => e.page);
  const handler = sqsHandler(views, fast);
  const batch = {
    Records: ["m1", "m2"].map((messageId) => ({
      messageId,
      body: '{"page":"home"}',
      attributes: { SentTimestamp: "1700000000000" },
    })),
  };
  assert.deepEqual(await failuresWhileDown(store, handler, batch), [
    "m1",
    "m2",
  ]);
  assert.deepEqual(await handler(batch), { batchItemFailures: [] });
  assert.deepEqual(await handler(batch), { batchItemFailures: [] });
  assert.equal(
    await store.get(views.scope, { entity: "home", bucket: null }),
    2,
  );
});

Deno.test("kinesisHandler() with exactlyOnceBy id counts concurrent interleaved batches of one shard once", async () => {
  const store = new FaultyStore(new MemoryStore());
  const views = counter<{ page: string }>(store, (e) => e.page);
  const handler = kinesisHandler(views, { exactlyOnceBy: "id" });
  const odd = [1, 3, 5, 7].map((s) => kinesisRecord(s, "home"));
  const even = [2, 4, 6, 8].map((s) => kinesisRecord(s, "home"));
  await Promise.all([handler({ Records: odd }), handler({ Records: even })]);
  await Promise.all([handler({ Records: even }), handler({ Records: odd })]);
  assert.equal(
    await store.get(views.scope, { entity: "home", bucket: null }),
    8,
  );
});

Deno.test("kinesisHandler() stops before the invocation deadline and reports what it did not write", async () => {
  const inner = new MemoryStore();
  const slow = new FaultyStore(inner);
  const merge = slow.merge.bind(slow);
  slow.merge = async (scope, deltas, options) => {
    await new Promise((resolve) => setTimeout(resolve, 60));
    return merge(scope, deltas, options);
  };
  const views = counter<{ page: string }>(slow, (e) => e.page);
  const handler = kinesisHandler(views, { flushEvery: 1, deadlineMargin: 100 });
  const records = Array.from(
    { length: 30 },
    (_, i) => kinesisRecord(i + 1, "home"),
  );
  const started = Date.now();
  const context = {
    getRemainingTimeInMillis: () => 400 - (Date.now() - started),
  };
  const answer = await handler({ Records: records }, context);
  const failed = answer.batchItemFailures.map((f) => f.itemIdentifier);
  assert.ok(failed.length > 0 && failed.length < 30, `${failed.length} failed`);
  assert.deepEqual(
    failed,
    records.slice(30 - failed.length).map((r) => r.kinesis.sequenceNumber),
  );
  assert.equal(
    await inner.get(views.scope, { entity: "home", bucket: null }),
    30 - failed.length,
  );
  const retry = kinesisHandler(views);
  assert.deepEqual(await retry({ Records: records }), {
    batchItemFailures: [],
  });
  assert.equal(
    await inner.get(views.scope, { entity: "home", bucket: null }),
    30,
  );
});

Deno.test("kinesisHandler() keeps exactly-once with real 56-digit sequence numbers", async () => {
  const store = new FaultyStore(new MemoryStore());
  const views = counter<{ page: string }>(store, (e) => e.page);
  const handler = kinesisHandler(views);
  const base = 49590338271490256608559692538361571095921575989136588898n;
  const record = (offset: bigint) => {
    const r = kinesisRecord(1, "home");
    const seq = String(base + offset);
    return {
      ...r,
      eventID: `shardId-000000000001:${seq}`,
      kinesis: { ...r.kinesis, sequenceNumber: seq },
    };
  };
  const first = { Records: [record(0n), record(1n)] };
  await handler(first);
  await handler(first);
  await handler({ Records: [record(1n), record(2n)] });
  assert.equal(
    await store.get(views.scope, { entity: "home", bucket: null }),
    3,
  );
});
