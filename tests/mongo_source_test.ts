// Mongo snapshot + change stream against mongo-java-server: writes during the scan counted once, SIGKILL resume exact.

import {
  ackedIds,
  assertKilledScanResumesExact,
  interleaved,
  pageCounter,
} from "./_bootstrap.ts";
import assert from "node:assert/strict";
import { MongoClient, type ObjectId } from "mongodb";
import {
  MemoryCheckpoint,
  MongoChangeStreamSource,
  MongoSnapshotSource,
} from "../source/mongo.ts";
import { MemoryStore } from "../state/mod.ts";
import { run } from "../streaming/mod.ts";
import { service, uniqueName } from "./_stack.ts";
import { serviceTest } from "./_service.ts";
import { pageTotals, wrongTotals } from "./_totals.ts";

const mongo = await service("mongo");

interface View {
  page: string;
}

function page(i: number): string {
  return `/p${i % 23}`;
}

/**
 * A test with a client and a fresh database named from `prefix`, dropped
 * (and the client closed) afterwards whatever happened.
 */
function dbTest(
  name: string,
  prefix: string,
  body: (client: MongoClient, db: string) => Promise<void>,
): void {
  serviceTest(name, async () => {
    const client = new MongoClient(mongo.url, {
      serverSelectionTimeoutMS: 5000,
    });
    const db = uniqueName(prefix);
    try {
      await body(client, db);
    } finally {
      await client.db(db).dropDatabase().catch(() => {});
      await client.close();
    }
  });
}

dbTest(
  "mongo snapshot + change stream count every write made during the scan exactly once",
  "msrc",
  async (client, db) => {
    const coll = client.db(db).collection<View & { _id?: ObjectId }>("views");
    const pages: string[] = [];
    const initial = Array.from(
      { length: 2000 },
      (_, i) => ({ page: page(i) }),
    );
    await coll.insertMany(initial);
    pages.push(...initial.map((d) => d.page));
    // No pause: documents written in the handoff's own second still belong to the scan.
    const store = new MemoryStore();
    const p = pageCounter<View>(store, "mviews");
    const checkpoint = new MemoryCheckpoint();
    const snapshot = new MongoSnapshotSource<View>({
      client,
      db,
      collection: "views",
      batchSize: 100,
      checkpoint,
    });
    // Documents written after the handoff but before the scan reads: the scan sees them.
    await snapshot.handoff();
    const early = Array.from(
      { length: 100 },
      (_, i) => ({ page: page(i * 5) }),
    );
    await coll.insertMany(early);
    pages.push(...early.map((d) => d.page));
    let written = 0;
    // While the scan runs: new documents land ahead of the cursor (the scan sees them) and some are deleted again.
    const summary = await run(p, {
      dedup: true,
      source: interleaved(snapshot, async (i) => {
        if (i >= 12) return;
        const docs = Array.from(
          { length: 25 },
          (_, k) => ({ page: page(7 * i + k) }),
        );
        await coll.insertMany(docs);
        pages.push(...docs.map((d) => d.page));
        written += docs.length;
      }),
    });
    assert.equal(written, 300);
    const progress = snapshot.progress();
    assert.ok(
      progress.handedOver >= 100,
      "the scan saw documents inserted after the handoff",
    );
    assert.equal(summary.acked, progress.scanned - progress.handedOver);
    assert.ok(
      summary.acked >= 2000,
      "documents written just before the handoff belong to the scan",
    );
    // After the scan: more writes, then the live source from the handoff.
    const after = Array.from(
      { length: 50 },
      (_, i) => ({ page: page(i * 3) }),
    );
    await coll.insertMany(after);
    pages.push(...after.map((d) => d.page));
    const live = new MongoChangeStreamSource<View>({
      client,
      db,
      collection: "views",
      handoff: await snapshot.handoff(),
      idleTimeout: 1500,
    });
    await run(p, { dedup: true, source: live });
    const want = pageTotals(pages, (pg) => pg);
    assert.deepEqual(await wrongTotals(store, p.scope, want), []);
  },
);

dbTest(
  "mongo change stream resumes from its checkpoint without counting twice",
  "msrc",
  async (client, db) => {
    const coll = client.db(db).collection<View>("views");
    const snapshot = new MongoSnapshotSource<View>({
      client,
      db,
      collection: "views",
    });
    const handoff = await snapshot.handoff();
    await coll.insertMany(
      Array.from({ length: 300 }, (_, i) => ({ page: page(i) })),
    );
    const checkpoint = new MemoryCheckpoint();
    const first = new MongoChangeStreamSource<View>({
      client,
      db,
      collection: "views",
      handoff,
      checkpoint,
      batchSize: 100,
    });
    const ids = await ackedIds(first, 100);
    const second = new MongoChangeStreamSource<View>({
      client,
      db,
      collection: "views",
      handoff,
      checkpoint,
      idleTimeout: 1000,
    });
    ids.push(...await ackedIds(second));
    assert.equal(ids.length, 300);
    assert.equal(new Set(ids).size, 300);
  },
);

dbTest(
  "mongo snapshot killed with SIGKILL mid-scan resumes by _id and ends exact",
  "mkill",
  async (client, db) => {
    const docs = Array.from({ length: 6000 }, (_, i) => ({ page: page(i) }));
    await client.db(db).collection<View>("views").insertMany(docs);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await assertKilledScanResumesExact(
      "mongo",
      [mongo.url, db, "views"],
      docs.map((d) => d.page),
    );
  },
);

dbTest(
  "mongo change stream delivers updates as new events when asked",
  "msrc",
  async (client, db) => {
    const coll = client.db(db).collection<View & { n?: number }>("views");
    const snapshot = new MongoSnapshotSource<View>({
      client,
      db,
      collection: "views",
    });
    const handoff = await snapshot.handoff();
    await coll.insertOne({ page: "/a" });
    await coll.updateOne({ page: "/a" }, { $set: { n: 2 } });
    const live = new MongoChangeStreamSource<View & { n?: number }>({
      client,
      db,
      collection: "views",
      handoff,
      operations: ["insert", "update"],
      idleTimeout: 1000,
    });
    const seen: { id: string; n: number | undefined }[] = [];
    for await (const batch of live) {
      for (const r of batch) {
        assert.equal(r.error, undefined, r.error?.message);
        seen.push({ id: r.id, n: r.value!.n });
        r.ack();
      }
    }
    assert.equal(seen.length, 2);
    assert.equal(seen[0]!.n, undefined);
    assert.equal(seen[1]!.n, 2);
    assert.match(seen[1]!.id, /@\d+\.\d+$/, "an update has its own event id");
  },
);
