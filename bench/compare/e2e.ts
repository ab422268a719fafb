// Kafka → sum per page → DynamoDB Local: our worker (dedup on) against a minimal Go worker, paired runs on one topic.
//
//   deno run -A bench/compare/e2e.ts                 200,000 page views, Zipf over 20,000 pages, 2 pairs
//   deno run -A bench/compare/e2e.ts --events 1000000 --pairs 1
//   deno run -A bench/compare/e2e.ts --quick         30,000 views, 1 pair
//
// Needs the stack (`deno task stack:up`) and Go. The Go side
// (bench/compare/go/kafka_sum) is franz-go — the client Go Murmur uses — with a
// one-second batch window and one `UpdateItem ADD` per distinct key, without
// dedup; ours is `kafkaSource` → `run()` → `DynamoDBStore` with exactly-once
// marks (`dedup: true`) and the same one-second window. Not like for like in
// our disfavour: ours writes conditional updates with marks, Go's plain ADDs.
// Each run reads the whole topic with a fresh consumer group into its own
// table; runs alternate Go, ours, Go, ours so DynamoDB Local's drift hits both.
// CPU-seconds: ours from `process.cpuUsage()` around the run (the harness's
// own process), Go's from getrusage in the child.
// Prints one table and writes bench/results/compare_e2e.json.

import process from "node:process";
import { DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import { sum } from "../../monoid/mod.ts";
import { pipeline } from "../../pipeline/mod.ts";
import { kafkaSource } from "../../source/kafka.ts";
import { seededRandom, Zipf } from "../../source/mod.ts";
import { DynamoDBStore, ensureTable } from "../../state/dynamodb.ts";
import { type MetricsRecorder, noopMetrics, run } from "../../streaming/mod.ts";
import { createTopic, highWatermarks, produce } from "../../tests/_kafka.ts";
import { awsConfig, service, uniqueName } from "../../tests/_stack.ts";
import { buildGo, writeResults } from "./_go.ts";
import { benchFlags } from "../_flags.ts";

const flags = benchFlags({
  numbers: {
    events: [30_000, 200_000],
    pages: [3_000, 20_000],
    pairs: [1, 2],
  },
  strings: ["topic", "only", "max-bytes"],
  booleans: ["trace"],
});
const EVENTS = flags.events;
const PAGES = flags.pages;
const PAIRS = flags.pairs;
const PARTITIONS = 4;

const kafka = await service("kafka");
const dynamo = await service("dynamodb");
const db = new DynamoDBClient(awsConfig(dynamo));

// Zipf(1) page ranks.
const pages = new Zipf(PAGES, 1, seededRandom(7));
function page(): string {
  return `/p/${pages.next()}`;
}

// --topic reuses a topic an earlier run produced (same --events), e.g. to profile one side.
const topic = flags.topic ?? uniqueName("cmp-e2e");
if (flags.topic === undefined) {
  await createTopic(kafka.brokers, topic, PARTITIONS);
  const base = Date.now();
  await produce(
    kafka.brokers,
    topic,
    Array.from({ length: EVENTS }, (_, i) => ({
      key: `u${i % 9973}`,
      value: JSON.stringify({
        page: page(),
        user: `u${i % 9973}`,
        at: base + i,
      }),
    })),
  );
  console.error(`produced ${EVENTS} events to ${topic}`);
}
const high = await highWatermarks(kafka.brokers, topic);

interface Row {
  readonly side: "ours" | "go";
  readonly events: number;
  readonly seconds: number;
  readonly cpuSeconds: number;
  /** Write requests sent to DynamoDB (ours: UpdateItem + TransactWriteItems, intents included). */
  readonly writes: number;
  readonly flushes: number;
  readonly total: number;
}

async function sumOf(table: string, field: string): Promise<number> {
  let sumAll = 0;
  let start:
    | Record<string, import("@aws-sdk/client-dynamodb").AttributeValue>
    | undefined;
  do {
    const page = await db.send(
      new ScanCommand({ TableName: table, ExclusiveStartKey: start }),
    );
    for (const item of page.Items ?? []) {
      const n = item[field]?.N;
      if (n !== undefined) sumAll += Number(n);
    }
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return sumAll;
}

const binary = await buildGo("kafka_sum");

async function goRun(): Promise<Row> {
  const table = uniqueName("cmp_go_sum");
  const out = await new Deno.Command(binary, {
    args: [
      "-brokers",
      kafka.brokers[0]!,
      "-topic",
      topic,
      "-group",
      uniqueName("cmp-go"),
      "-endpoint",
      dynamo.url!,
      "-table",
      table,
      "-events",
      String(EVENTS),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error("the Go worker failed");
  const r = JSON.parse(new TextDecoder().decode(out.stdout));
  return { side: "go", ...r, total: await sumOf(table, "v") };
}

async function oursRun(): Promise<Row> {
  const table = uniqueName("cmp_ours_sum");
  await ensureTable(db, table);
  const store = new DynamoDBStore(db, table);
  const views = pipeline<{ page: string }>("views")
    .key((e) => e.page)
    .value(() => 1)
    .aggregate(sum())
    .storeIn(store)
    .build();
  const committed = new Map<number, bigint>();
  let resolve!: () => void;
  const done = new Promise<void>((r) => resolve = r);
  const stop = new AbortController();
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  const running = run(views, {
    source: kafkaSource<{ page: string }>({
      brokers: kafka.brokers,
      topic,
      groupId: uniqueName("cmp-ours"),
      maxBytesPerPartition: 12 * 1024 * 1024,
      maxBytes: 48 * 1024 * 1024,
      commitInterval: 200,
      onCommit(offsets) {
        for (const o of offsets) committed.set(o.partition, o.offset);
        if ([...high].every(([p, end]) => committed.get(p) === end)) resolve();
      },
    }),
    // --max-bytes N: the window's memory bound in MiB (default 64 MiB cuts a 1 M-event burst into ~4 flushes).
    batchWindow: {
      time: 1_000,
      maxRecords: 2_000_000,
      ...(flags["max-bytes"] === undefined
        ? {}
        : { maxBytes: Number(flags["max-bytes"]) * 2 ** 20 }),
    },
    dedup: true,
    signal: stop.signal,
    ...(flags.trace ? { metrics: tracer(started) } : {}),
  });
  await Promise.race([done, running]);
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  stop.abort();
  const summary = await running;
  const result: Row = {
    side: "ours",
    events: summary.events,
    seconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    writes: store.stats().writeRequests,
    flushes: summary.flushes,
    total: 0,
  };
  // Read the totals back through the store, the way a query would.
  const scanned = await sumOf(table, "v").catch(() => 0);
  await store.close();
  return { ...result, total: scanned };
}

/** --trace: a timeline of reads, store calls and flushes on stderr. */
function tracer(started: number): MetricsRecorder {
  let events = 0;
  let logged = 0;
  const at = () => `${((performance.now() - started) / 1000).toFixed(2)} s`;
  return {
    ...noopMetrics,
    eventsIn(_, count) {
      events += count;
      if (events - logged >= EVENTS / 10) {
        logged = events;
        console.error(`${at()} read ${events}`);
      }
    },
    merged(_, deltas, ms) {
      console.error(
        `${at()} merge of ${deltas} deltas took ${ms.toFixed(0)} ms`,
      );
    },
    flushed(_, records, keys) {
      console.error(`${at()} flushed ${records} records as ${keys} keys`);
    },
  };
}

const rows: Row[] = [];
for (let p = 0; p < PAIRS; p++) {
  if (flags.only !== "ours") rows.push(await goRun());
  if (flags.only !== "go") rows.push(await oursRun());
}

const fmt = (x: number) =>
  x >= 1000 ? `${(x / 1000).toFixed(1)} k` : x.toFixed(0);
console.log(
  `# Kafka → sum → DynamoDB Local, ${EVENTS} events over ${PAGES} pages, ${PAIRS} pair(s)\n`,
);
console.log(
  "| run | side | events/s | CPU-s per M events | writes | flushes | events | stored total |",
);
console.log("|---|---|---:|---:|---:|---:|---:|---:|");
const perRun = flags.only === undefined ? 2 : 1;
rows.forEach((r, i) => {
  console.log(
    `| ${Math.floor(i / perRun) + 1} | ${r.side} | ${
      fmt(r.events / r.seconds)
    } | ${
      (r.cpuSeconds / r.events * 1e6).toFixed(1)
    } | ${r.writes} | ${r.flushes} | ${r.events} | ${r.total || "—"} |`,
  );
});
const mean = (side: Row["side"], f: (r: Row) => number) => {
  const xs = rows.filter((r) => r.side === side).map(f);
  return xs.reduce((a, b) => a + b, 0) / xs.length;
};
const rate = (r: Row) => r.events / r.seconds;
// Paired design: the ratio of each pair, then their median, so one disturbed run (a noisy neighbour) counts once.
const pairs: number[] = [];
for (let p = 0; p < rows.length; p += 2) {
  const [go, ours] = [rows[p], rows[p + 1]];
  if (go?.side === "go" && ours?.side === "ours") {
    pairs.push(rate(ours) / rate(go));
  }
}
const sorted = [...pairs].sort((a, b) => a - b);
const ratio = sorted.length === 0
  ? mean("ours", rate) / mean("go", rate)
  : sorted.length % 2 === 1
  ? sorted[(sorted.length - 1) / 2]!
  : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
console.log(
  `\nours / Go throughput: ${ratio.toFixed(2)} (median of pairs: ${
    pairs.map((x) => x.toFixed(2)).join(", ")
  }; goal ≥ 1.5 with dedup on against Go without)`,
);
await writeResults("compare_e2e", {
  events: EVENTS,
  pages: PAGES,
  rows,
  pairRatios: pairs,
  ratio,
});
db.destroy();
