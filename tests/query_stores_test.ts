// The query layer over real backends: a pipeline run into DynamoDB Local with a Valkey cache, then read back.

import assert from "node:assert/strict";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { daily, days, sum } from "../monoid/mod.ts";
import { hll, topK } from "../sketch/mod.ts";
import { MemorySource } from "../source/mod.ts";
import { CachedStore, type Scope, type StateKey } from "../state/mod.ts";
import { DynamoDBStore, ensureTable } from "../state/dynamodb.ts";
import { ValkeyCache } from "../state/valkey.ts";
import { pipeline } from "../pipeline/mod.ts";
import { run } from "../streaming/mod.ts";
import { createQuerier, lambdaQuery } from "../query/mod.ts";
import { awsConfig, service, uniqueName } from "./_stack.ts";
import { serviceTest } from "./_service.ts";

const dynamo = await service("dynamodb");
const valkey = await service("valkey");
const TABLE = "murmur_h7_query";
const DAY = 86_400_000;
const NOW = Date.now();

const client = new DynamoDBClient({ ...awsConfig(dynamo), maxAttempts: 2 });
await ensureTable(client, TABLE);

interface View {
  page: string;
  user: string;
  at: number;
}

/** Thirty days of page views: page "home" gets `day + 1` views on day `day`. */
function events(prefix: string): View[] {
  const out: View[] = [];
  for (let day = 0; day < 30; day++) {
    for (let i = 0; i <= day; i++) {
      out.push({
        page: `${prefix}home`,
        user: `u${i % 7}`,
        at: NOW - (29 - day) * DAY,
      });
    }
  }
  out.push({ page: `${prefix}about`, user: "u1", at: NOW });
  return out;
}

async function setup() {
  const prefix = `${uniqueName("q")}:`;
  const store = new DynamoDBStore(client, TABLE);
  const cache = new ValkeyCache({ url: valkey.url, keyPrefix: `${prefix}` });
  const window = daily({ retention: days(400) });
  const views = pipeline<View>(`${prefix}views`)
    .from(MemorySource.of(events(prefix), { time: (e: View) => e.at }))
    .key((e) => e.page)
    .time((e) => e.at)
    .value(() => 1)
    .aggregate(sum())
    .window(window)
    .storeIn(store)
    .cache(cache)
    .build();
  const visitors = pipeline<View>(`${prefix}visitors`)
    .from(MemorySource.of(events(prefix), { time: (e: View) => e.at }))
    .key((e) => e.page)
    .time((e) => e.at)
    .value((e) => single(e.user))
    .aggregate(hll())
    .window(window)
    .storeIn(store)
    .cache(cache)
    .build();
  await run(views, { batchWindow: { time: 20 } });
  await run(visitors, { batchWindow: { time: 20 } });
  return { prefix, store, cache, views, visitors };
}

/** A test over a fresh setup(); the cache is closed afterwards. */
function storesTest(
  name: string,
  fn: (env: Awaited<ReturnType<typeof setup>>) => Promise<void>,
): void {
  serviceTest(name, async () => {
    const env = await setup();
    try {
      await fn(env);
    } finally {
      await env.cache.close();
    }
  });
}

function single(user: string) {
  const sketch = hll().identity();
  sketch.add(user);
  return sketch;
}

storesTest(
  "query over DynamoDB + Valkey: a cold window fills the cache, a warm one hits it, freshRead reads the store",
  async ({ prefix, cache, views, store }) => {
    const q = createQuerier([views]);
    const cold = await q.getWindow(views, `${prefix}home`, 30, { at: NOW });
    // 1 + 2 + … + 30 views over the last 30 daily buckets.
    assert.equal(cold.value, 465);
    assert.equal(cold.present, true);
    assert.equal(cold.coverage.buckets.length, 30);
    assert.equal(cold.coverage.presentBuckets.length, 30);
    assert.equal(cold.stats.storeReads, 30);

    const warm = await q.getWindow(views, `${prefix}home`, 30, { at: NOW });
    assert.equal(warm.value, 465);
    assert.equal(warm.stats.cacheHits, 30);

    const seven = await q.getWindow(views, `${prefix}home`, 7, { at: NOW });
    assert.equal(seven.value, 24 + 25 + 26 + 27 + 28 + 29 + 30);

    // A write through the cache's protocol is seen by the next cached read.
    const writer = new CachedStore(store, cache);
    const today: StateKey = {
      entity: `${prefix}home`,
      bucket: daily().bucketOf(NOW),
    };
    await writer.merge(views.scope, [{ key: today, value: 5 }]);
    const after = await q.getWindow(views, `${prefix}home`, 30, { at: NOW });
    assert.equal(after.value, 470);

    // A write that bypasses the cache is seen by a fresh read only.
    await store.merge(views.scope, [{ key: today, value: 1 }]);
    const stale = await q.getWindow(views, `${prefix}home`, 30, { at: NOW });
    assert.equal(stale.value, 470);
    const fresh = await q.getWindow(views, `${prefix}home`, 30, {
      at: NOW,
      freshRead: true,
    });
    assert.equal(fresh.value, 471);
    assert.equal(fresh.stats.cacheHits, 0);

    const midnight = daily().bucketOf(NOW);
    const range = await q.getRange(views, `${prefix}home`, {
      startMs: midnight - 2 * DAY,
      endMs: midnight,
    });
    assert.equal(range.value, 28 + 29);
    assert.equal(range.coverage.endMs, daily().bucketOf(NOW));

    const nobody = await q.getWindow(views, `${prefix}nobody`, 30, {
      at: NOW,
    });
    assert.equal(nobody.present, false);
    assert.equal(nobody.value, 0);
  },
);

storesTest(
  "query over DynamoDB + Valkey: GetWindowMany answers permuted, coalesced requests in each caller's order",
  async ({ prefix, views }) => {
    const q = createQuerier([views]);
    const a = `${prefix}home`;
    const b = `${prefix}about`;
    const c = `${prefix}missing`;
    const [x, y, z] = await Promise.all([
      q.getWindowMany(views, [a, b, c], 30, { at: NOW }),
      q.getWindowMany(views, [c, b, a], 30, { at: NOW }),
      q.getWindowMany(views, [b, a, b], 30, { at: NOW }),
    ]);
    assert.deepEqual(x.map((v) => v.value), [465, 1, 0]);
    assert.deepEqual(y.map((v) => v.value), [0, 1, 465]);
    assert.deepEqual(z.map((v) => v.value), [1, 465, 1]);
    assert.ok([...y, ...z].some((answer) => answer.stats.coalesced));
  },
);

storesTest(
  "query over DynamoDB + Valkey: HLL windows merge sketches read from both tiers",
  async ({ prefix, visitors }) => {
    const q = createQuerier([visitors]);
    const cold = await q.getWindow(visitors, `${prefix}home`, 30, {
      at: NOW,
    });
    const warm = await q.getWindow(visitors, `${prefix}home`, 30, {
      at: NOW,
    });
    assert.equal(warm.stats.cacheHits, 30);
    assert.equal(cold.value.count(), 7);
    assert.equal(warm.value.count(), 7);
    const two = await q.getWindow(visitors, `${prefix}home`, 2, { at: NOW });
    assert.equal(two.value.count(), 7);
    const firstDay = daily().bucketOf(NOW) - 29 * DAY;
    const first = await q.getRange(visitors, `${prefix}home`, {
      startMs: firstDay,
      endMs: firstDay + DAY,
    });
    assert.equal(first.value.count(), 1);
  },
);

serviceTest(
  "lambdaQuery over two DynamoDB namespaces: batch view ⊕ realtime, cut over at a bucket boundary",
  async () => {
    const prefix = uniqueName("lambda");
    const store = new DynamoDBStore(client, TABLE);
    const monoid = topK({ k: 5 });
    const realtime: Scope<ReturnType<typeof monoid.identity>> = {
      namespace: `${prefix}:rt`,
      monoid,
    };
    const batch = { namespace: `${prefix}:batch`, monoid };
    const sketch = (entries: [string, number][]) => {
      const t = monoid.identity();
      for (const [key, n] of entries) t.add(key, n);
      return t;
    };
    const cut = daily().bucketOf(NOW);
    await store.merge(batch, [
      {
        key: { entity: "global", bucket: cut - DAY },
        value: sketch([["a", 10], ["b", 3]]),
      },
    ]);
    await store.merge(realtime, [
      // Overlaps the batch view's last day: must not be counted twice.
      {
        key: { entity: "global", bucket: cut - DAY },
        value: sketch([["a", 10]]),
      },
      {
        key: { entity: "global", bucket: cut },
        value: sketch([["b", 9], ["c", 1]]),
      },
    ]);
    const target = {
      name: "top",
      monoid,
      window: daily(),
      store,
      scope: realtime,
    };
    const merged = lambdaQuery(target, {
      batch: store,
      realtime: store,
      batchNamespace: batch.namespace,
      cutover: () => cut,
    });
    const q = createQuerier([merged]);
    const answer = await q.getWindow(merged, "global", 2, { at: NOW });
    assert.deepEqual(
      answer.value.top().map(({ key, count }) => [key, count]),
      [["b", 12], ["a", 10], ["c", 1]],
    );
  },
);
