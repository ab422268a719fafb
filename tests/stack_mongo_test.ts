import assert from "node:assert/strict";
import { type ChangeStreamInsertDocument, MongoClient } from "mongodb";
import { service, uniqueName } from "./_stack.ts";

interface Click {
  page: string;
  n: number;
}

Deno.test("stack: mongo insert, find and a change-stream event", async () => {
  const endpoint = await service("mongo");
  const client = new MongoClient(endpoint.url, {
    serverSelectionTimeoutMS: 5000,
  });
  const db = client.db(uniqueName("stack-mongo"));
  try {
    await client.connect();
    const clicks = db.collection<Click>("clicks");
    const stream = clicks.watch<Click, ChangeStreamInsertDocument<Click>>([
      { $match: { operationType: "insert" } },
    ]);
    try {
      const next = stream.next();
      // The change stream is opened by the first getMore; insert after it is live.
      await new Promise((resolve) => setTimeout(resolve, 300));
      await clicks.insertOne({ page: "/home", n: 1 });
      const found = await clicks.findOne({ page: "/home" });
      assert.equal(found?.n, 1);
      const event = await next;
      assert.equal(event.operationType, "insert");
      assert.deepEqual(
        { page: event.fullDocument.page, n: event.fullDocument.n },
        { page: "/home", n: 1 },
      );
    } finally {
      await stream.close();
    }
    await db.dropDatabase();
  } finally {
    await client.close();
  }
});
