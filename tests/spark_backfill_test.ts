// sparkBackfill() against a real Spark Connect server and DynamoDB Local: totals, sketch bytes, reruns, errors, cancellation, batch ⊕ live.

import assert from "node:assert/strict";
import { join } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  BackfillPlanError,
  sparkBackfill,
  SparkConnectClient,
  SparkSqlError,
} from "../batch/spark/mod.ts";
import { count, daily, max, min, sum } from "../monoid/mod.ts";
import { topK } from "../sketch/topk.ts";
import { pipeline, uniqueCount } from "../pipeline/mod.ts";
import { createQuerier, lambdaQuery } from "../query/mod.ts";
import { MemorySource } from "../source/memory.ts";
import type { Scope } from "../state/mod.ts";
import { DynamoDBStore, ensureTable } from "../state/dynamodb.ts";
import { run } from "../streaming/mod.ts";
import { seededRandom } from "../internal/prng.ts";
import { awsConfig, eventually, service, uniqueName } from "./_stack.ts";
import { sparkService } from "./_spark.ts";
import { serviceTest } from "./_service.ts";

const spark = await sparkService();
const dynamo = await service("dynamodb");
const TABLE = "murmur_spark_tests";
const ddb = new DynamoDBClient(awsConfig(dynamo));
await ensureTable(ddb, TABLE);
const store = new DynamoDBStore(ddb, TABLE);
const client = new SparkConnectClient({ url: spark.url });

interface Order {
  readonly shop: string;
  readonly visitor: string;
  readonly amount: number;
  readonly ts: string;
}

const DAY = 86_400_000;
const START = Date.UTC(2024, 2, 1);

/** Seeded orders over `days` days, `shops` shops and 300 visitors. */
function orders(n: number, seed: number, from = START, days = 3): Order[] {
  const random = seededRandom(seed);
  return Array.from({ length: n }, () => ({
    shop: `shop-${Math.floor(random() * 12)}`,
    visitor: `v-${Math.floor(random() * 300)}`,
    amount: 1 + Math.floor(random() * 100),
    ts: new Date(from + Math.floor(random() * days * DAY)).toISOString(),
  }));
}

/** Writes events as JSON Lines into a fresh folder (Spark reads it as `json.\`dir\``). */
async function dataset(events: readonly Order[]): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "murmur-spark-" });
  await Deno.writeTextFile(
    join(dir, "part-0.jsonl"),
    events.map((e) => JSON.stringify(e)).join("\n") + "\n",
  );
  return dir;
}

function revenue(name: string) {
  return pipeline<Order>(name)
    .key((e) => e.shop)
    .value((e) => e.amount)
    .time((e) => Date.parse(e.ts))
    .aggregate(sum())
    .window(daily())
    .storeIn(store)
    .build();
}

/** The plain computation: total per shop and day. */
function totals(events: readonly Order[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of events) {
    const k = `${e.shop}|${daily().bucketOf(Date.parse(e.ts))}`;
    out.set(k, (out.get(k) ?? 0) + e.amount);
  }
  return out;
}

async function stored<V>(
  scope: Scope<V>,
  keys: Iterable<string>,
): Promise<Map<string, V | undefined>> {
  const list = [...keys];
  const values = await store.getMany(
    scope,
    list.map((k) => {
      const [entity, bucket] = k.split("|");
      return { entity: entity!, bucket: Number(bucket) };
    }),
  );
  return new Map(list.map((k, i) => [k, values[i]]));
}

const ordersSql = (dir: string) =>
  `SELECT shop AS key, ts AS time, amount AS value, visitor FROM json.\`${dir}\``;

serviceTest(
  "sparkBackfill() SUM into DynamoDB equals the plain totals, and a rerun changes nothing",
  async () => {
    const events = orders(3000, 7);
    const dir = await dataset(events);
    const p = revenue(uniqueName("revenue"));
    const jobId = uniqueName("job");
    const first = await sparkBackfill(p, {
      client,
      jobId,
      sql: ordersSql(dir),
    });
    const want = totals(events);
    assert.equal(first.events, events.length);
    assert.equal(first.rows, want.size);
    assert.equal(first.applied, want.size);
    assert.equal(first.skipped, 0);
    assert.deepEqual(first.rejected, []);
    assert.deepEqual(await stored(p.scope, want.keys()), want);

    const again = await sparkBackfill(p, {
      client,
      jobId,
      sql: ordersSql(dir),
    });
    assert.equal(again.applied, 0);
    assert.equal(again.skipped, want.size);
    assert.deepEqual(await stored(p.scope, want.keys()), want);
    await Deno.remove(dir, { recursive: true });
  },
);

serviceTest(
  "sparkBackfill() of an HLL pipeline writes the bytes the live pipeline writes for the same events",
  async () => {
    // Plus one key with enough distinct visitors to switch to the dense encoding.
    const hot = Array.from({ length: 4000 }, (_, i): Order => ({
      shop: "shop-hot",
      visitor: `hot-${i}`,
      amount: 1,
      ts: new Date(START + i * 1000).toISOString(),
    }));
    const events = [...orders(2000, 11), ...hot];
    const dir = await dataset(events);
    const name = uniqueName("visitors");
    const visitors = uniqueCount<Order>(name, (e) => e.visitor)
      .key((e) => e.shop)
      .time((e) => Date.parse(e.ts))
      .window(daily())
      .storeIn(store)
      .build();
    await run(visitors, {
      source: MemorySource.of(events, { time: (e) => Date.parse(e.ts) }),
    });
    const batchNamespace = `${name}_batch`;
    const result = await sparkBackfill(visitors, {
      client,
      jobId: uniqueName("job"),
      namespace: batchNamespace,
      sql:
        `SELECT shop AS key, ts AS time, visitor AS value FROM json.\`${dir}\``,
    });
    const keys = [...totals(events).keys()];
    assert.equal(result.applied, keys.length);
    const live = await stored(visitors.scope, keys);
    const batch = await stored(
      { namespace: batchNamespace, monoid: visitors.monoid },
      keys,
    );
    const codec = visitors.monoid.codec;
    for (const k of keys) {
      const a = live.get(k);
      const b = batch.get(k);
      assert.ok(a && b, `both layers hold ${k}`);
      assert.deepEqual(codec.encode(b), codec.encode(a), `bytes of ${k}`);
    }
    const dense = batch.get(`shop-hot|${START}`);
    assert.equal(dense?.encoding, "dense");
    await Deno.remove(dir, { recursive: true });
  },
);

serviceTest(
  "sparkBackfill() of count, min, max and topk pipelines matches folding the events here",
  async () => {
    const events = orders(1500, 5);
    const dir = await dataset(events);
    const shops = [...new Set(events.map((e) => e.shop))];
    const by = (shop: string) => events.filter((e) => e.shop === shop);
    const kinds = [
      { monoid: count(), want: (es: Order[]) => es.length },
      {
        monoid: min(),
        want: (es: Order[]) => Math.min(...es.map((e) => e.amount)),
      },
      {
        monoid: max(),
        want: (es: Order[]) => Math.max(...es.map((e) => e.amount)),
      },
    ];
    for (const { monoid, want } of kinds) {
      const p = pipeline<Order>(uniqueName(monoid.kind)).key((e) => e.shop)
        .value((e) => e.amount).aggregate(monoid).storeIn(store).build();
      await sparkBackfill(p, { client, jobId: "j", sql: ordersSql(dir) });
      for (const shop of shops) {
        const got = await store.get(p.scope, { entity: shop, bucket: null });
        assert.equal(got, want(by(shop)), `${monoid.kind} of ${shop}`);
      }
    }
    // Top-K under capacity is exact: the heaviest visitors by amount per shop.
    const top = topK({ k: 400 });
    const p = pipeline<Order>(uniqueName("topk")).key((e) => e.shop)
      .value((e) => top.identity().add(e.visitor, e.amount)).aggregate(top)
      .storeIn(store).build();
    await sparkBackfill(p, {
      client,
      jobId: "j",
      sql:
        `SELECT shop AS key, visitor AS value, amount AS weight FROM json.\`${dir}\``,
      columns: { weight: "weight" },
    });
    for (const shop of shops) {
      const weights = new Map<string, number>();
      for (const e of by(shop)) {
        weights.set(e.visitor, (weights.get(e.visitor) ?? 0) + e.amount);
      }
      const got = await store.get(p.scope, { entity: shop, bucket: null });
      const counts = got!.top(5).map((item) => item.count);
      const want = [...weights.values()].sort((a, b) => b - a).slice(0, 5);
      assert.deepEqual(counts, want, shop);
    }
    await Deno.remove(dir, { recursive: true });
  },
);

serviceTest(
  "sparkBackfill() hands Spark's SQL error to the caller with its position",
  async () => {
    const p = revenue(uniqueName("revenue"));
    const sql = "SELECT id AS key, nope AS value, id AS time FROM range(10)";
    const error = await sparkBackfill(p, { client, jobId: "bad", sql }).then(
      () => undefined,
      (e) => e,
    );
    assert.ok(error instanceof SparkSqlError, String(error));
    assert.match(error.message, /UNRESOLVED_COLUMN/);
    assert.equal(error.info.sqlState, "42703");
    assert.equal(error.position?.fragment, "nope");
    assert.equal(
      sql.slice(error.position!.start, error.position!.stop + 1),
      "nope",
    );

    const parse = await client.rows("SELEC 1").then(() => undefined, (e) => e);
    assert.ok(parse instanceof SparkSqlError);
    assert.match(parse.message, /PARSE_SYNTAX_ERROR/);
    assert.equal(parse.position?.fragment, "SELEC");

    const missing = await sparkBackfill(p, {
      client,
      jobId: "bad",
      sql: "SELECT id AS key, id AS time FROM range(3)",
    }).then(() => undefined, (e) => e);
    assert.ok(missing instanceof BackfillPlanError);
    assert.match(missing.message, /no column `value`/);
  },
);

serviceTest(
  "sparkBackfill() sets aside rows with a null or oversized key, with the reason, and writes the rest",
  async () => {
    const p = pipeline<unknown>(uniqueName("keys")).key(() => "x")
      .value(() => 1).aggregate(sum()).storeIn(store).build();
    const result = await sparkBackfill(p, {
      client,
      jobId: "j",
      sql: "SELECT * FROM VALUES ('a', 1), ('a', 2), (NULL, 5), " +
        "(repeat('k', 5000), 7), ('b', 3) AS t(key, value)",
    });
    assert.equal(result.applied, 2);
    assert.deepEqual(
      result.rejected.map((r) =>
        r.reason.replace(/ is \d+ bytes.*/, " is long")
      ).sort(),
      ["the entity is long", "the key is null"],
    );
    assert.equal(await store.get(p.scope, { entity: "a", bucket: null }), 3);
    assert.equal(await store.get(p.scope, { entity: "b", bucket: null }), 3);
  },
);

serviceTest(
  "sparkBackfill() stops on abort: Spark interrupts the query and the session stays usable",
  async () => {
    const total = pipeline<unknown>(uniqueName("total"))
      .key(() => "all")
      .value(() => 1)
      .aggregate(sum())
      .storeIn(store)
      .build();
    const controller = new AbortController();
    const reason = new Error("the operator cancelled the backfill");
    setTimeout(() => controller.abort(reason), 1500);
    const error = await sparkBackfill(total, {
      client,
      jobId: uniqueName("job"),
      signal: controller.signal,
      sql:
        "SELECT CAST(id % 7 AS STRING) AS key, id AS value FROM range(0, 100000000000)",
    }).then(() => undefined, (e) => e);
    assert.equal(error, reason);
    // Nothing of ours still runs on the server, and the session answers.
    await eventually(
      "no operation of the session left to interrupt",
      async () => (await client.interrupt()).length === 0 ? true : undefined,
    );
    assert.deepEqual(await client.rows("SELECT 41 + 1 AS answer"), [{
      answer: 42,
    }]);
  },
);

serviceTest(
  "lambdaQuery() over a Spark batch view and a live layer answers the totals of all events",
  async () => {
    const cutover = START + 2 * DAY;
    const before = orders(1500, 21, START, 2);
    const after = orders(500, 22, cutover, 1);
    const dir = await dataset(before);
    const p = revenue(uniqueName("revenue"));
    const batchNamespace = `${p.name}_batch`;
    await sparkBackfill(p, {
      client,
      jobId: uniqueName("job"),
      namespace: batchNamespace,
      sql: ordersSql(dir),
    });
    await run(p, {
      source: MemorySource.of(after, { time: (e) => Date.parse(e.ts) }),
    });
    const view = lambdaQuery(p, {
      batch: store,
      realtime: store,
      batchNamespace,
      cutover: () => cutover,
    });
    const querier = createQuerier([view]);
    const all = [...before, ...after];
    const range = { startMs: START, endMs: START + 3 * DAY };
    for (const shop of new Set(all.map((e) => e.shop))) {
      const want = all.filter((e) => e.shop === shop)
        .reduce((n, e) => n + e.amount, 0);
      const answer = await querier.getRange(view, shop, range);
      assert.equal(answer.value, want, shop);
    }
    await Deno.remove(dir, { recursive: true });
  },
);

serviceTest("SparkConnectClient.close() releases the session", async () => {
  await client.close();
  await store.close();
  ddb.destroy();
});
