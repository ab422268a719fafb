// Query latency and throughput over loopback: Get and GetWindow (30 daily buckets) against DynamoDB Local + Valkey, warm cache.
//
//   deno run -A bench/query.ts [--quick]
//
// Prints a markdown table and writes bench/results/query.json. The baseline,
// measured in the same run against the same Valkey: one raw iovalkey GET per
// request at the same concurrency, i.e. the floor a cached read can reach
// without HTTP, Connect, decoding or merging.

import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { Redis } from "iovalkey";
import { daily, days, sum } from "../monoid/mod.ts";
import { DynamoDBStore, ensureTable } from "../state/dynamodb.ts";
import { ValkeyCache } from "../state/valkey.ts";
import { createQuerier } from "../query/mod.ts";
import { QueryService } from "../proto/gen/murmur/v1/query_pb.ts";
import { serve } from "../admin/mod.ts";
import { service } from "../tests/_stack.ts";

const quick = Deno.args.includes("--quick");
const TABLE = "murmur_bench_query";
const ENTITIES = quick ? 64 : 256;
const BUCKETS = 30;
const CONCURRENCY = 16;
const SECONDS = quick ? 3 : 10;
const DAY = 86_400_000;

interface Row {
  readonly case: string;
  readonly path: string;
  readonly requests: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly keysPerRequest: number;
  readonly p50VsGet: number;
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  const index = Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1);
  return sorted[Math.max(0, index)]!;
}

/** Runs `call` from `CONCURRENCY` loops for `SECONDS`, recording each latency. */
async function load(
  label: string,
  path: string,
  keysPerRequest: number,
  call: (i: number) => Promise<unknown>,
  baseline?: Row,
): Promise<Row> {
  // Warm up (and fill the cache) first: one pass over every entity.
  for (let i = 0; i < ENTITIES; i++) await call(i);
  const latencies: number[] = [];
  const deadline = performance.now() + SECONDS * 1000;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < deadline) {
        const i = next++;
        const t0 = performance.now();
        await call(i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  const p50 = percentile(sorted, 0.5);
  const row: Row = {
    case: label,
    path,
    requests: latencies.length,
    perSecond: Math.round(latencies.length / seconds),
    p50Ms: Number(p50.toFixed(3)),
    p99Ms: Number(percentile(sorted, 0.99).toFixed(3)),
    keysPerRequest,
    p50VsGet: baseline === undefined
      ? 1
      : Number((p50 / baseline.p50Ms).toFixed(1)),
  };
  console.error(
    `${label}: ${row.perSecond} req/s, p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms`,
  );
  return row;
}

const urls = {
  dynamodb: (await service("dynamodb")).url,
  valkey: (await service("valkey")).url,
};
const dynamo = new DynamoDBClient({
  endpoint: urls.dynamodb,
  region: "us-east-1",
  credentials: { accessKeyId: "local", secretAccessKey: "local" },
});
await ensureTable(dynamo, TABLE);
const prefix = `bench${Date.now().toString(36)}`;
const store = new DynamoDBStore(dynamo, TABLE);
const cache = new ValkeyCache({ url: urls.valkey, keyPrefix: `${prefix}:` });
const now = Date.now();
const window = daily({ retention: days(400) });
const totals = {
  name: "totals",
  monoid: sum(),
  window: null,
  store,
  cache,
  scope: { namespace: `${prefix}:totals`, monoid: sum() },
};
const views = {
  name: "views",
  monoid: sum(),
  window,
  store,
  cache,
  scope: { namespace: `${prefix}:views`, monoid: sum() },
};
const entity = (i: number) => `post:${i % ENTITIES}`;

console.error(
  `seeding ${ENTITIES} entities × ${BUCKETS} daily buckets into DynamoDB Local…`,
);
const today = window.bucketOf(now);
for (let start = 0; start < ENTITIES; start += 16) {
  const ids = Array.from(
    { length: Math.min(16, ENTITIES - start) },
    (_, k) => start + k,
  );
  await store.merge(
    totals.scope,
    ids.map((i) => ({ key: { entity: entity(i), bucket: null }, value: i })),
  );
  await store.merge(
    views.scope,
    ids.flatMap((i) =>
      Array.from({ length: BUCKETS }, (_, d) => ({
        key: { entity: entity(i), bucket: today - d * DAY },
        value: i + d,
      }))
    ),
  );
}

const server = await serve({
  pipelines: [totals, views],
  port: 0,
  onListen: () => {},
});
const client = createClient(
  QueryService,
  createConnectTransport({ baseUrl: server.url, useBinaryFormat: true }),
);
const querier = createQuerier([totals, views]);
const redis = new Redis(urls.valkey, { lazyConnect: true });
await redis.connect();
await redis.set(`${prefix}:raw`, "12345");

// Warm the JIT, the HTTP connections and the cache on every path before timing any.
{
  const until = performance.now() + (quick ? 1500 : 3000);
  let i = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < until) {
        const n = i++;
        await client.get({ pipeline: "totals", entity: entity(n) });
        await client.getWindow({
          pipeline: "views",
          entity: entity(n),
          last: BUCKETS,
          atMs: BigInt(now),
        });
        await redis.get(`${prefix}:raw`);
      }
    }),
  );
}

const rows: Row[] = [];
const base = await load(
  "raw iovalkey GET (baseline)",
  "iovalkey → Valkey",
  1,
  () => redis.get(`${prefix}:raw`),
);
rows.push(base);
rows.push(
  await load(
    "Get",
    "Connect binary over HTTP → querier → Valkey",
    1,
    (i) => client.get({ pipeline: "totals", entity: entity(i) }),
    base,
  ),
);
rows.push(
  await load(
    `GetWindow (${BUCKETS} daily buckets)`,
    "Connect binary over HTTP → querier → Valkey",
    BUCKETS,
    (i) =>
      client.getWindow({
        pipeline: "views",
        entity: entity(i),
        last: BUCKETS,
        atMs: BigInt(now),
      }),
    base,
  ),
);
rows.push(
  await load(
    "Get (in process)",
    "querier → Valkey",
    1,
    (i) => querier.get(totals, entity(i)),
    base,
  ),
);
rows.push(
  await load(
    `GetWindow (${BUCKETS} daily buckets, in process)`,
    "querier → Valkey",
    BUCKETS,
    (i) => querier.getWindow(views, entity(i), BUCKETS, { at: now }),
    base,
  ),
);
rows.push(
  await load(
    `GetWindow (${BUCKETS} daily buckets, freshRead)`,
    "Connect binary over HTTP → querier → DynamoDB Local",
    BUCKETS,
    (i) =>
      client.getWindow({
        pipeline: "views",
        entity: entity(i),
        last: BUCKETS,
        atMs: BigInt(now),
        freshRead: true,
      }),
    base,
  ),
);
const stats = cache.stats();

redis.disconnect();
await server.shutdown();
await cache.close();
dynamo.destroy();

console.log(
  `\nQuery over loopback, warm Valkey cache, ${CONCURRENCY} requests in flight, ${SECONDS} s per case${
    quick ? " (--quick)" : ""
  }\n`,
);
console.log(
  "| case | path | requests | req/s | p50 ms | p99 ms | keys/request | p50 vs raw GET |",
);
console.log("|---|---|---:|---:|---:|---:|---:|---:|");
for (const r of rows) {
  console.log(
    `| ${r.case} | ${r.path} | ${r.requests} | ${r.perSecond} | ${r.p50Ms} | ${r.p99Ms} | ${r.keysPerRequest} | ${r.p50VsGet}× |`,
  );
}
console.log(
  `\ncache: ${stats.hits} hits, ${stats.misses} misses, ${stats.fills} fills`,
);

await Deno.mkdir(new URL("./results/", import.meta.url), { recursive: true });
await Deno.writeTextFile(
  new URL("./results/query.json", import.meta.url),
  JSON.stringify(
    {
      harness: "bench/query.ts",
      quick,
      at: new Date().toISOString(),
      deno: Deno.version.deno,
      cpus: navigator.hardwareConcurrency,
      concurrency: CONCURRENCY,
      secondsPerCase: SECONDS,
      entities: ENTITIES,
      buckets: BUCKETS,
      baseline: "raw iovalkey GET of one key at the same concurrency",
      rows,
      cache: stats,
    },
    null,
    2,
  ) + "\n",
);
