// Backfill from Spark: a JSON-Lines order history → the user's SQL on Spark Connect → DynamoDB, then batch ⊕ live through lambdaQuery.
//
//   deno task stack:up dynamodb spark
//   deno run -A examples/backfill_from_spark/main.ts [--orders 20000] [--days 30] [--json]
//
// Flags: --spark URL (default $MURMUR_SPARK_URL or http://127.0.0.1:15002),
// --dynamodb URL (default $MURMUR_DYNAMODB_ENDPOINT or http://127.0.0.1:8000),
// --table NAME (default murmur_examples), --data DIR (default: a fresh temp
// folder, removed at the end), --orders N, --days N, --json.

import { join } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { sparkBackfill, SparkConnectClient } from "../../batch/spark/mod.ts";
import { daily, sum } from "../../monoid/mod.ts";
import { pipeline } from "../../pipeline/mod.ts";
import { createQuerier, lambdaQuery } from "../../query/mod.ts";
import { MemorySource } from "../../source/memory.ts";
import { DynamoDBStore, ensureTable } from "../../state/dynamodb.ts";
import { run } from "../../streaming/mod.ts";
import { seededRandom } from "../../internal/prng.ts";

/** One order, as the shop's order log has it. */
export interface Order {
  /** The shop. */
  readonly shop: string;
  /** The amount in cents. */
  readonly amount_cents: number;
  /** `paid` or `refunded` (refunded orders earn nothing). */
  readonly status: "paid" | "refunded";
  /** When it was placed, ISO 8601 UTC. */
  readonly ts: string;
}

/** Settings of {@linkcode runExample}. */
export interface ExampleOptions {
  /** The Spark Connect server. */
  readonly spark: string;
  /** The DynamoDB endpoint. */
  readonly dynamodb: string;
  /** The state table. */
  readonly table: string;
  /** Where to write the dataset; a temp folder (removed after) when absent. */
  readonly data?: string;
  /** How many orders the history has. */
  readonly orders: number;
  /** How many days it spans; the last day is served live. */
  readonly days: number;
}

/** One shop's revenue as the example computed it. */
export interface ShopRow {
  /** The shop. */
  readonly shop: string;
  /** Revenue in the batch view (the days before the cutover), in cents. */
  readonly batch: number;
  /** Revenue the live pipeline folded after the cutover, in cents. */
  readonly live: number;
  /** What lambdaQuery answers over the whole period: batch ⊕ live. */
  readonly merged: number;
  /** The same total computed directly from the orders. */
  readonly expected: number;
}

/** What {@linkcode runExample} did. */
export interface ExampleResult {
  /** True when every merged answer equals the directly computed total. */
  readonly ok: boolean;
  /** Per-shop figures. */
  readonly shops: readonly ShopRow[];
  /** The backfill's counts and timings. */
  readonly backfill: {
    readonly events: number;
    readonly rows: number;
    readonly applied: number;
    readonly skipped: number;
    readonly ms: number;
  };
  /** Values a second run of the same job wrote (always 0: exactly once). */
  readonly rerunApplied: number;
  /** Orders the live pipeline folded. */
  readonly liveOrders: number;
}

const DAY = 86_400_000;
const SQL = await Deno.readTextFile(new URL("./revenue.sql", import.meta.url));

/** A seeded order history of `n` orders over `days` days ending at `end`. */
export function orderHistory(n: number, days: number, end: number): Order[] {
  const random = seededRandom(2024);
  const start = end - days * DAY;
  return Array.from({ length: n }, () => ({
    shop: `shop-${String(Math.floor(random() ** 2 * 8)).padStart(2, "0")}`,
    amount_cents: 100 + Math.floor(random() * 9_900),
    status: random() < 0.1 ? "refunded" : "paid",
    ts: new Date(start + Math.floor(random() * days * DAY)).toISOString(),
  }));
}

/**
 * Runs the example: writes the history, backfills everything before the
 * cutover (the start of the last day) from Spark, runs the last day live,
 * and answers every shop's revenue over the whole period with lambdaQuery.
 *
 * @param options Where the services are and how much data to make.
 * @returns The figures and whether they add up.
 */
export async function runExample(
  options: ExampleOptions,
): Promise<ExampleResult> {
  const end = daily().bucketOf(Date.now());
  const cutover = end - DAY;
  const orders = orderHistory(options.orders, options.days, end);
  const history = orders.filter((o) => Date.parse(o.ts) < cutover);
  const today = orders.filter((o) => Date.parse(o.ts) >= cutover);

  const dir = options.data ??
    await Deno.makeTempDir({ prefix: "murmur-backfill-" });
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(
    join(dir, "orders.jsonl"),
    history.map((o) => JSON.stringify(o)).join("\n") + "\n",
  );

  const ddb = new DynamoDBClient({
    endpoint: options.dynamodb,
    region: "us-east-1",
    credentials: { accessKeyId: "murmur", secretAccessKey: "murmur-secret" },
    requestHandler: new NodeHttpHandler(),
  });
  await ensureTable(ddb, options.table);
  await using store = new DynamoDBStore(ddb, options.table);
  await using spark = new SparkConnectClient({ url: options.spark });

  // One run per invocation: a fresh namespace, so reruns of the example start clean.
  const name = `revenue_${Date.now().toString(36)}`;
  const revenue = pipeline<Order>(name)
    .key((o) => o.shop)
    .value((o) => (o.status === "paid" ? o.amount_cents : 0))
    .time((o) => Date.parse(o.ts))
    .aggregate(sum())
    .window(daily())
    .storeIn(store)
    .build();
  const batchNamespace = `${name}_batch`;
  const job = {
    client: spark,
    jobId: `${name}-until-${new Date(cutover).toISOString().slice(0, 10)}`,
    namespace: batchNamespace,
    sql: SQL.replaceAll("{{data}}", dir),
  };
  const backfill = await sparkBackfill(revenue, job);
  const rerun = await sparkBackfill(revenue, job);

  // The live layer: today's orders, as a Kafka topic would deliver them.
  const live = await run(revenue, {
    source: MemorySource.of(today, { time: (o) => Date.parse(o.ts) }),
  });

  const view = lambdaQuery(revenue, {
    batch: store,
    realtime: store,
    batchNamespace,
    cutover: () => cutover,
  });
  const querier = createQuerier([view]);
  const whole = { startMs: end - options.days * DAY, endMs: end };
  const batchPart = { startMs: whole.startMs, endMs: cutover };
  const livePart = { startMs: cutover, endMs: end };
  const shops = [...new Set(orders.map((o) => o.shop))].sort();
  const rows: ShopRow[] = [];
  for (const shop of shops) {
    const [merged, batch, current] = await Promise.all([
      querier.getRange(view, shop, whole),
      querier.getRange(view, shop, batchPart),
      querier.getRange(view, shop, livePart),
    ]);
    rows.push({
      shop,
      batch: batch.value,
      live: current.value,
      merged: merged.value,
      expected: orders.filter((o) => o.shop === shop && o.status === "paid")
        .reduce((n, o) => n + o.amount_cents, 0),
    });
  }
  if (options.data === undefined) await Deno.remove(dir, { recursive: true });
  ddb.destroy();
  return {
    ok: rows.every((r) => r.merged === r.expected),
    shops: rows,
    backfill: {
      events: backfill.events,
      rows: backfill.rows,
      applied: backfill.applied,
      skipped: backfill.skipped,
      ms: Math.round(backfill.timings.totalMs),
    },
    rerunApplied: rerun.applied,
    liveOrders: live.acked,
  };
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
}

function euros(cents: number): string {
  return (cents / 100).toFixed(2).padStart(12);
}

if (import.meta.main) {
  const args = Deno.args;
  const data = flag(args, "data");
  const result = await runExample({
    spark: flag(args, "spark") ?? Deno.env.get("MURMUR_SPARK_URL") ??
      "http://127.0.0.1:15002",
    dynamodb: flag(args, "dynamodb") ??
      Deno.env.get("MURMUR_DYNAMODB_ENDPOINT") ?? "http://127.0.0.1:8000",
    table: flag(args, "table") ?? "murmur_examples",
    orders: Number(flag(args, "orders") ?? 20_000),
    days: Number(flag(args, "days") ?? 30),
    ...(data === undefined ? {} : { data }),
  });
  if (args.includes("--json")) console.log(JSON.stringify(result));
  else {
    const b = result.backfill;
    console.log(
      `backfill: ${b.events} paid orders → ${b.rows} (shop, day) values, ${b.applied} written in ${b.ms} ms; rerun wrote ${result.rerunApplied}`,
    );
    console.log(`live: ${result.liveOrders} orders of the last day\n`);
    console.log(
      `${"shop".padEnd(8)} ${"batch €".padStart(12)} ${"live €".padStart(12)} ${
        "batch ⊕ live €".padStart(15)
      } ${"expected €".padStart(12)}`,
    );
    for (const r of result.shops) {
      console.log(
        `${r.shop.padEnd(8)} ${euros(r.batch)} ${euros(r.live)} ${
          euros(r.merged).padStart(15)
        } ${euros(r.expected)}`,
      );
    }
    console.log(result.ok ? "\nall totals match" : "\nMISMATCH");
  }
  Deno.exit(result.ok ? 0 : 1);
}
