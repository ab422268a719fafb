// The query path end to end on the embedded store: a pipeline run into Deno KV, served, read with the typed client.

import assert from "node:assert/strict";
import { daily, days, max, sum } from "../monoid/mod.ts";
import { bloom, topK } from "../sketch/mod.ts";
import { MemorySource } from "../source/mod.ts";
import { KvStore } from "../state/kv.ts";
import { pipeline } from "../pipeline/mod.ts";
import { run } from "../streaming/mod.ts";
import { lambdaQuery } from "../query/mod.ts";
import { createQueryClient } from "../query/client.ts";
import { serve } from "../admin/mod.ts";
import { Code, ConnectError } from "@connectrpc/connect";

const DAY = 86_400_000;
const NOW = Date.now();
const MIDNIGHT = daily().bucketOf(NOW);

interface Sale {
  shop: string;
  sku: string;
  device: string;
  amount: number;
  at: number;
}

function sales(): Sale[] {
  const out: Sale[] = [];
  for (let day = 0; day < 10; day++) {
    for (let i = 0; i < 3; i++) {
      out.push({
        shop: "berlin",
        sku: ["sku-a", "sku-b", "sku-a"][i]!,
        device: `dev-${day}-${i}`,
        amount: 10 * (day + 1),
        at: MIDNIGHT - day * DAY + 1000 * i,
      });
    }
  }
  out.push({
    shop: "paris",
    sku: "sku-c",
    device: "dev-p",
    amount: 7,
    at: NOW,
  });
  return out;
}

async function setup() {
  const path = await Deno.makeTempFile({ suffix: ".kvdb" });
  const store = await KvStore.open(path);
  const source = () => MemorySource.of(sales(), { time: (e: Sale) => e.at });
  const revenue = pipeline<Sale>("revenue")
    .from(source())
    .key((e) => e.shop)
    .time((e) => e.at)
    .value((e) => e.amount)
    .aggregate(sum())
    .window(daily({ retention: days(365) }))
    .storeIn(store)
    .build();
  const biggest = pipeline<Sale>("biggest_sale")
    .from(source())
    .key((e) => e.shop)
    .value((e) => e.amount)
    .aggregate(max())
    .storeIn(store)
    .build();
  const skus = pipeline<Sale>("top_skus")
    .from(source())
    .key((e) => e.shop)
    .value((e) => topK({ k: 2 }).identity().add(e.sku))
    .aggregate(topK({ k: 2 }))
    .storeIn(store)
    .build();
  const devices = pipeline<Sale>("devices")
    .from(source())
    .key((e) => e.shop)
    .value((e) => {
      const filter = bloom({ capacity: 1000 }).identity();
      filter.add(e.device);
      return filter;
    })
    .aggregate(bloom({ capacity: 1000 }))
    .storeIn(store)
    .build();
  for (const p of [revenue, biggest, skus, devices]) {
    await run(p as Parameters<typeof run>[0], { batchWindow: { time: 10 } });
  }
  const server = await serve({
    pipelines: [revenue, biggest, skus, devices],
    port: 0,
    onListen: () => {},
  });
  const client = createQueryClient({ baseUrl: server.url });
  return {
    store,
    revenue,
    server,
    client,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      await store.close();
      await Deno.remove(path).catch(() => {});
    },
  };
}

Deno.test("typed client over HTTP reads a Deno KV pipeline: windows, ranges, many, no data", async () => {
  await using f = await setup();
  const revenue = f.client.number("revenue");
  // Berlin sells 3 × 10·(day+1) per day: the last 7 days, the current one included.
  assert.equal(
    await revenue.window("berlin", 7, { at: NOW }),
    3 * 10 * (1 + 2 + 3 + 4 + 5 + 6 + 7),
  );
  assert.deepEqual(
    await revenue.windowMany(["paris", "berlin", "tokyo"], 1, { at: NOW }),
    [7, 30, 0],
  );
  assert.equal(
    await revenue.range("berlin", {
      startMs: MIDNIGHT - 2 * DAY,
      endMs: MIDNIGHT,
    }),
    3 * (20 + 30),
  );
  assert.deepEqual(
    await revenue.rangeMany(["berlin", "berlin"], {
      startMs: MIDNIGHT - 9 * DAY,
      endMs: MIDNIGHT - 8 * DAY,
    }),
    [300, 300],
  );
  const reading = await revenue.read({ entity: "tokyo", last: 30, at: NOW });
  assert.equal(reading.present, false);
  assert.equal(reading.value, 0);
  assert.equal(reading.bytes.length, 0);
  assert.equal(reading.coverage.buckets.length, 30);
  assert.equal(reading.coverage.endMs, MIDNIGHT + DAY);

  assert.equal(await f.client.number("biggest_sale").get("berlin"), 100);
  const biggest = await f.client.optionalNumber("biggest_sale").read({
    entity: "nowhere",
  });
  assert.equal(biggest.present, false);
  assert.equal(biggest.value, null);
  assert.deepEqual(
    await f.client.optionalNumber("biggest_sale").getMany([
      "paris",
      "nowhere",
      "berlin",
    ]),
    [7, null, 100],
  );
  await assert.rejects(
    () => f.client.number("biggest_sale").get("nowhere"),
    /has no value here .* optionalNumber\(\)/,
  );

  assert.deepEqual(await f.client.topK("top_skus").get("berlin"), [
    { key: "sku-a", count: 20 },
    { key: "sku-b", count: 10 },
  ]);
  const devices = f.client.bloom("devices");
  assert.equal(await devices.mightContain("berlin", "dev-3-1"), true);
  assert.equal(await devices.mightContain("berlin", "dev-p"), false);
  assert.equal(await devices.mightContain("paris", "dev-p"), true);
});

Deno.test("typed client surfaces the server's refusals as Connect codes", async () => {
  await using f = await setup();
  const codeOf = async (call: Promise<unknown>) =>
    ConnectError.from(await call.then(() => undefined, (e) => e)).code;
  assert.equal(
    await codeOf(f.client.number("nope").get("x")),
    Code.NotFound,
  );
  assert.equal(
    await codeOf(f.client.number("revenue").get("berlin")),
    Code.FailedPrecondition,
  );
  assert.equal(
    await codeOf(f.client.number("revenue").window("", 3)),
    Code.InvalidArgument,
  );
  assert.equal(
    await codeOf(
      f.client.number("revenue").range("berlin", { startMs: 0, endMs: 8e15 }),
    ),
    Code.InvalidArgument,
  );
  const many = Array.from({ length: 1001 }, (_, i) => `shop-${i}`);
  const error = await f.client.number("revenue").windowMany(many, 1).catch((
    e,
  ) => e);
  assert.equal(ConnectError.from(error).code, Code.InvalidArgument);
  assert.match(String(error), /at most 1000 per request/);
});

Deno.test("lambdaQuery over two Deno KV stores: batch view ⊕ realtime per day", async () => {
  await using f = await setup();
  const realtime = await KvStore.open(":memory:");
  try {
    // The realtime layer saw today's Berlin sales again, plus a late one.
    await realtime.merge(f.revenue.scope, [
      { key: { entity: "berlin", bucket: MIDNIGHT }, value: 30 + 5 },
    ]);
    const cut = lambdaQuery(f.revenue, {
      batch: f.store,
      realtime,
      cutover: () => MIDNIGHT,
    });
    const plain = lambdaQuery(f.revenue, { batch: f.store, realtime });
    await using server = await serve({
      pipelines: [cut],
      port: 0,
      onListen: () => {},
    });
    const client = createQueryClient({ baseUrl: server.url });
    // Today comes from the realtime layer alone (35), yesterday from the batch view (60).
    assert.equal(
      await client.number("revenue").window("berlin", 2, { at: NOW }),
      35 + 60,
    );
    const { createQuerier } = await import("../query/mod.ts");
    const merged = await createQuerier([plain]).getWindow(plain, "berlin", 2, {
      at: NOW,
    });
    assert.equal(merged.value, 30 + 35 + 60);
  } finally {
    await realtime.close();
  }
});
