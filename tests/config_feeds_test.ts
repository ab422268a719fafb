// The YAML config carries a snapshot's handoff to the live feed: mongo → mongoChangeStream and dynamodb (streams: true) → dynamodbStreams, exact across a restart.

import assert from "node:assert/strict";
import { DeleteTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { MongoClient } from "mongodb";
import {
  buildPipelines,
  type MurmurConfig,
  openSource,
  parseConfig,
} from "../config/mod.ts";
import { MemoryStore } from "../state/mod.ts";
import { runFanout } from "../streaming/mod.ts";
import { awsConfig, eventually, service, uniqueName } from "./_stack.ts";
import { serviceTest } from "./_service.ts";
import { createItemTable, putItems } from "./_dynamodb.ts";

const PIPELINES = `defaults: { dedup: true, batchWindow: 50ms }
pipelines:
  - { name: revenue, key: shop, value: amount, aggregate: sum }
  - { name: orders, key: { const: all }, aggregate: count }
`;

/** Runs the config's bootstrap to its end into `store`. */
async function bootstrap(config: MurmurConfig, store: MemoryStore) {
  const summary = await runFanout(
    openSource(config.bootstrap!),
    buildPipelines(config, { store }),
  );
  assert.ok(summary.pipelines.every((p) => p.unacked === 0));
}

/** Runs the config's live source until the store counts `orders` in all, then stops it. */
async function follow(
  config: MurmurConfig,
  store: MemoryStore,
  orders: number,
): Promise<void> {
  const bound = buildPipelines(config, { store });
  const stop = new AbortController();
  const running = runFanout(openSource(config.source!), bound, {
    signal: stop.signal,
  });
  const count = bound[1]!.pipeline.scope;
  try {
    await eventually(
      `${orders} orders counted`,
      async () =>
        (await store.get(count, { entity: "all", bucket: null })) === orders ||
        undefined,
      30_000,
    );
  } finally {
    stop.abort();
    await running;
  }
}

/** The live feed refuses to start without a handoff, and says how to get one. */
async function assertNeedsBootstrap(config: MurmurConfig): Promise<void> {
  await assert.rejects(
    runFanout(
      openSource(config.source!),
      buildPipelines(config, { store: new MemoryStore() }),
    ),
    (e: Error) =>
      e.name === "MissingHandoffError" && /murmur bootstrap/.test(e.message),
  );
}

async function assertTotals(
  config: MurmurConfig,
  store: MemoryStore,
  orders: number,
): Promise<void> {
  const [revenue, count] = buildPipelines(config, { store });
  assert.equal(
    await store.get(count!.pipeline.scope, { entity: "all", bucket: null }),
    orders,
  );
  let total = 0;
  for (const shop of ["s0", "s1", "s2"]) {
    total += (await store.get(revenue!.pipeline.scope, {
      entity: shop,
      bucket: null,
    }) ?? 0) as number;
  }
  assert.equal(total, orders * 2, "each order's amount summed once");
}

serviceTest(
  "config: a mongo bootstrap hands over to mongoChangeStream, exactly once across a restart",
  async () => {
    const mongo = await service("mongo");
    const client = new MongoClient(mongo.url, {
      serverSelectionTimeoutMS: 5000,
    });
    const db = uniqueName("cfgfeed");
    const dir = await Deno.makeTempDir();
    try {
      const orders = client.db(db).collection("orders");
      const order = (i: number) => ({ shop: `s${i % 3}`, amount: 2 });
      await orders.insertMany(Array.from({ length: 300 }, (_, i) => order(i)));
      const config = parseConfig(`
bootstrap:
  source: { kind: mongo, url: "${mongo.url}", db: ${db}, collection: orders, checkpoint: ${dir}/snapshot.json }
source:
  kind: mongoChangeStream
  url: "${mongo.url}"
  db: ${db}
  collection: orders
  handoffFrom: ${dir}/snapshot.json
  checkpoint: ${dir}/live.json
  checkpointInterval: 50ms
${PIPELINES}`);
      await assertNeedsBootstrap(config);

      const store = new MemoryStore();
      await bootstrap(config, store);
      // Written after the snapshot: only the change stream can count these.
      await orders.insertMany(
        Array.from({ length: 120 }, (_, i) => order(300 + i)),
      );
      await follow(config, store, 420);
      // A restart resumes from the feed's own checkpoint: nothing counted twice.
      await orders.insertMany(
        Array.from({ length: 30 }, (_, i) => order(420 + i)),
      );
      await follow(config, store, 450);
      await assertTotals(config, store, 450);
    } finally {
      await client.db(db).dropDatabase().catch(() => {});
      await client.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

serviceTest(
  "config: a dynamodb bootstrap with streams hands over to dynamodbStreams, exactly once across a restart",
  async () => {
    const endpoint = await service("dynamodb");
    const client = new DynamoDBClient(awsConfig(endpoint));
    const table = uniqueName("cfgfeed");
    const dir = await Deno.makeTempDir();
    await createItemTable(client, table, { stream: true });
    const put = (from: number, n: number) =>
      putItems(
        client,
        table,
        Array.from({ length: n }, (_, i) => ({
          id: { S: `o${from + i}` },
          shop: { S: `s${(from + i) % 3}` },
          amount: { N: "2" },
        })),
      );
    try {
      await put(0, 200);
      const config = parseConfig(`
bootstrap:
  source: { kind: dynamodb, table: ${table}, endpoint: "${endpoint.url}", streams: true, segments: 2, checkpoint: ${dir}/snapshot.json }
source:
  kind: dynamodbStreams
  table: ${table}
  endpoint: "${endpoint.url}"
  handoffFrom: ${dir}/snapshot.json
  checkpoint: ${dir}/live.json
  pollInterval: 100ms
  checkpointInterval: 50ms
${PIPELINES}`);
      await assertNeedsBootstrap(config);

      const store = new MemoryStore();
      await bootstrap(config, store);
      await put(200, 80);
      await follow(config, store, 280);
      await put(280, 20);
      await follow(config, store, 300);
      await assertTotals(config, store, 300);
    } finally {
      await client.send(new DeleteTableCommand({ TableName: table })).catch(
        () => {},
      );
      client.destroy();
      await Deno.remove(dir, { recursive: true });
    }
  },
);
