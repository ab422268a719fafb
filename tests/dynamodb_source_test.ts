// DynamoDB snapshot + Streams against DynamoDB Local: writes during the scan counted once after the handoff, resume exact.

import {
  ackedIds,
  assertKilledScanResumesExact,
  interleaved,
  LaggingCheckpoint,
  pageCounter,
} from "./_bootstrap.ts";
import assert from "node:assert/strict";
import {
  DeleteItemCommand,
  DeleteTableCommand,
  DynamoDBClient,
  PutItemCommand,
} from "@aws-sdk/client-dynamodb";
import { DynamoDBStreamsClient } from "@aws-sdk/client-dynamodb-streams";
import {
  DynamoDBSnapshotSource,
  DynamoDBStreamSource,
  MemoryCheckpoint,
} from "../source/dynamodb.ts";
import { MemoryStore } from "../state/mod.ts";
import { run } from "../streaming/mod.ts";
import { awsConfig, service, uniqueName } from "./_stack.ts";
import { serviceTest } from "./_service.ts";
import { createItemTable, putItems } from "./_dynamodb.ts";
import { pageTotals, wrongTotals } from "./_totals.ts";

const endpoint = await service("dynamodb");
const client = new DynamoDBClient(awsConfig(endpoint));
const streams = new DynamoDBStreamsClient(awsConfig(endpoint));

interface Order {
  id: string;
  page: string;
}

/** A test with a fresh table (streams on, new and old images), deleted afterwards whatever happened. */
function tableTest(name: string, body: (table: string) => Promise<void>) {
  serviceTest(name, async () => {
    const table = uniqueName("ddbsrc");
    await createItemTable(client, table, { stream: true });
    try {
      await body(table);
    } finally {
      await client.send(new DeleteTableCommand({ TableName: table })).catch(
        () => {},
      );
    }
  });
}

function put(table: string, orders: Order[]): Promise<void> {
  return putItems(
    client,
    table,
    orders.map((o) => ({ id: { S: o.id }, page: { S: o.page } })),
  );
}

function orders(prefix: string, n: number): Order[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}-${i}`,
    page: `/p${(i * 7 + prefix.length) % 19}`,
  }));
}

/** Puts `n` orders into `table`, and counts pages into a fresh memory store. */
async function seeded(table: string, prefix: string, n: number) {
  const all = orders(prefix, n);
  await put(table, all);
  const store = new MemoryStore();
  return { all, store, p: pageCounter<Order>(store, "ddbviews") };
}

async function assertCounts(
  store: MemoryStore,
  p: ReturnType<typeof pageCounter<Order>>,
  all: Order[],
): Promise<void> {
  const want = pageTotals(all, (o) => o.page);
  assert.deepEqual(await wrongTotals(store, p.scope, want), []);
}

tableTest(
  "dynamodb snapshot + stream count every write made during the scan exactly once",
  async (table) => {
    const { all, store, p } = await seeded(table, "a", 600);
    const snapshot = new DynamoDBSnapshotSource<Order>({
      client,
      streams,
      table,
      segments: 2,
      totalSegments: 8,
      batchSize: 100,
      checkpoint: new MemoryCheckpoint(),
    });
    const handoff = await snapshot.handoff();
    assert.ok(handoff !== null);
    // Written after the handoff, before the scan: the scan sees them and must hand them over.
    const early = orders("early", 60);
    await put(table, early);
    all.push(...early);
    await run(p, {
      dedup: true,
      source: interleaved(snapshot, async (i) => {
        if (i >= 6) return;
        const more = orders(`during${i}`, 20);
        await put(table, more);
        all.push(...more);
      }),
    });
    const progress = snapshot.progress();
    assert.ok(
      progress.handedOver >= 60,
      `handed over ${progress.handedOver}`,
    );
    assert.equal(progress.segmentsDone, 8);
    const after = orders("after", 40);
    await put(table, after);
    all.push(...after);
    // An update is not a new order: with the default events it is not counted.
    await client.send(
      new PutItemCommand({
        TableName: table,
        Item: { id: { S: "a-1" }, page: { S: "/p-updated" } },
      }),
    );
    const live = new DynamoDBStreamSource<Order>({
      streams,
      handoff,
      idleTimeout: 1500,
      pollInterval: 50,
    });
    await run(p, { dedup: true, source: live });
    await assertCounts(store, p, all);
    assert.equal(
      await store.get(p.scope, { entity: "/p-updated", bucket: null }),
      undefined,
    );
  },
);

tableTest(
  "dynamodb snapshot killed with SIGKILL mid-scan resumes by segment position and ends exact",
  async (table) => {
    const all = orders("k", 3000);
    await put(table, all);
    await assertKilledScanResumesExact(
      "dynamodb",
      [table],
      all.map((o) => o.page),
    );
  },
);

tableTest(
  "dynamodb snapshot resumes from a lagging checkpoint and ends exact with dedup",
  async (table) => {
    const { all, store, p } = await seeded(table, "r", 500);
    const checkpoint = new LaggingCheckpoint(3);
    const first = new DynamoDBSnapshotSource<Order>({
      client,
      table,
      segments: 3,
      totalSegments: 6,
      batchSize: 50,
      checkpoint,
      checkpointInterval: 0,
    });
    await run(p, { dedup: true, source: first });
    // Deletes between the runs must not shift the positions of other items.
    for (const o of all.slice(100, 130)) {
      await client.send(
        new DeleteItemCommand({ TableName: table, Key: { id: { S: o.id } } }),
      );
    }
    const second = new DynamoDBSnapshotSource<Order>({
      client,
      table,
      checkpoint,
    });
    const summary = await run(p, { dedup: true, source: second });
    assert.ok(
      summary.acked > 0,
      "the second run read again what the checkpoint had not seen",
    );
    assert.ok(
      summary.dedupSkips > 0,
      "and skipped what the first run had applied",
    );
    await assertCounts(store, p, all);
  },
);

tableTest(
  "dynamodb stream source resumes from its checkpoint without counting twice",
  async (table) => {
    const snapshot = new DynamoDBSnapshotSource<Order>({
      client,
      streams,
      table,
    });
    const handoff = await snapshot.handoff();
    assert.ok(handoff !== null);
    await put(table, orders("s", 300));
    const checkpoint = new MemoryCheckpoint();
    const first = new DynamoDBStreamSource<Order>({
      streams,
      handoff,
      checkpoint,
      batchSize: 100,
      pollInterval: 20,
    });
    const ids = await ackedIds(first, 100);
    const second = new DynamoDBStreamSource<Order>({
      streams,
      handoff,
      checkpoint,
      idleTimeout: 1000,
      pollInterval: 20,
    });
    ids.push(...await ackedIds(second));
    assert.equal(ids.length, 300);
    assert.equal(new Set(ids).size, 300);
  },
);
