// Kafka end to end: raw kafkajs consumption against our worker (Kafka → sum → DynamoDB Local, ± Valkey), one run.
//
//   deno run -A bench/kafka_e2e.ts               1,000,000 page views, Zipf over 100,000 pages (several minutes)
//   deno run -A bench/kafka_e2e.ts --events 200000
//   deno run -A bench/kafka_e2e.ts --quick       50,000 views over 5,000 pages (< 60 s)
//
// Needs the stack (`deno task stack:up`). Prints a markdown table and writes bench/results/kafka_e2e.json.
//
// Rows, all over the same topic (4 partitions), each with its own consumer group:
//   a  raw kafkajs: eachBatch, count messages, nothing else (the baseline)
//   a2 raw kafkajs + JSON.parse of every value: what decoding alone costs
//   a' our kafkaSource alone: decode JSON, hand records out, ack, commit
//   b  the worker: kafkaSource → run() → sum per page → DynamoDB Local, batch window, exactly-once on
//   c  b with the Valkey cache written through
//   d  b with an in-memory store: the runtime's own ceiling, without DynamoDB Local's write rate

import { markdownTable, writeResults } from "./_results.ts";
import { parseArgs } from "node:util";
import { DynamoDBClient, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { Kafka, logLevel } from "../internal/kafkajs.ts";
import { sum } from "../monoid/mod.ts";
import { pipeline } from "../pipeline/mod.ts";
import { kafkaSource } from "../source/kafka.ts";
import { seededRandom, Zipf } from "../source/mod.ts";
import { MemoryStore, type Store } from "../state/mod.ts";
import { DynamoDBStore, ensureTable } from "../state/dynamodb.ts";
import { ValkeyCache } from "../state/valkey.ts";
import { run, type RunSummary } from "../streaming/mod.ts";
import { awsConfig, service, uniqueName } from "../tests/_stack.ts";
import { createTopic, highWatermarks, produce } from "../tests/_kafka.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    quick: { type: "boolean" },
    events: { type: "string" },
    pages: { type: "string" },
  },
});
const quick = flags.quick === true;
const EVENTS = Number(flags.events ?? (quick ? 50_000 : 1_000_000));
const PAGES = Number(flags.pages ?? (quick ? 5_000 : 100_000));
const PARTITIONS = 4;
const ZIPF_S = 1.0;
// Fetch sizes shared by the raw consumer and our source, so (a) and (b) read alike.
const MAX_BYTES_PER_PARTITION = 12 * 1024 * 1024;
const MAX_BYTES = 48 * 1024 * 1024;
const BATCH_WINDOW = { time: 1_000, maxRecords: 2_000_000 };

if (!(EVENTS > 0) || !(PAGES > 0)) {
  console.error("--events and --pages must be positive numbers");
  Deno.exit(2);
}

const kafka = await service("kafka");
const dynamo = await service("dynamodb");
const valkey = await service("valkey");

interface PageView {
  page: string;
  user: string;
  at: number;
}

const topic = uniqueName("bench-pv");
console.error(
  `producing ${EVENTS} page views (Zipf s=${ZIPF_S} over ${PAGES} pages) to ${topic} (${PARTITIONS} partitions)`,
);
await createTopic(kafka.brokers, topic, PARTITIONS);
const random = seededRandom(42);
const pages = new Zipf(PAGES, ZIPF_S, random);
const distinct = new Set<number>();
const produceStarted = performance.now();
const CHUNK = 50_000;
for (let at = 0; at < EVENTS; at += CHUNK) {
  const size = Math.min(CHUNK, EVENTS - at);
  const base = Date.now();
  const messages = Array.from({ length: size }, (_, i) => {
    const rank = pages.next();
    distinct.add(rank);
    const view: PageView = {
      page: `/p/${rank}`,
      user: `u${Math.floor(random() * 1_000_000)}`,
      at: base + i,
    };
    return { key: view.user, value: JSON.stringify(view) };
  });
  await produce(kafka.brokers, topic, messages, 10_000);
}
const produceSeconds = (performance.now() - produceStarted) / 1000;
const high = await highWatermarks(kafka.brokers, topic);
console.error(
  `produced in ${produceSeconds.toFixed(1)} s (${
    Math.round(EVENTS / produceSeconds)
  } events/s); ${distinct.size} distinct pages`,
);

interface Row {
  id: string;
  case: string;
  events: number;
  seconds: number;
  eventsPerSecond: number;
  storeWrites: number | null;
  writesPerEvent: number | null;
  flushes: number | null;
  vsRaw: number | null;
  /** The process's peak RSS while the row ran, in MiB (rows run one after another). */
  peakRssMiB: number;
}
const rows: Row[] = [];

// Peak RSS since the last row was recorded.
let peakRss = 0;
const rssSampler = setInterval(() => {
  peakRss = Math.max(peakRss, Deno.memoryUsage().rss);
}, 50);
Deno.unrefTimer(rssSampler);

function record(
  id: string,
  label: string,
  events: number,
  seconds: number,
  extra: { storeWrites?: number; flushes?: number } = {},
): Row {
  const eventsPerSecond = Math.round(events / seconds);
  const raw = rows.find((r) => r.id === "a");
  const row: Row = {
    id,
    case: label,
    events,
    seconds: Number(seconds.toFixed(2)),
    eventsPerSecond,
    storeWrites: extra.storeWrites ?? null,
    writesPerEvent: extra.storeWrites === undefined
      ? null
      : Number((extra.storeWrites / events).toFixed(4)),
    flushes: extra.flushes ?? null,
    vsRaw: raw === undefined
      ? null
      : Number((eventsPerSecond / raw.eventsPerSecond).toFixed(3)),
    peakRssMiB: Math.round(
      Math.max(peakRss, Deno.memoryUsage().rss) / 2 ** 20,
    ),
  };
  peakRss = 0;
  rows.push(row);
  console.error(
    `${id}: ${label}: ${eventsPerSecond} events/s over ${row.seconds} s`,
  );
  return row;
}

/** Resolves when the committed offsets reported by a source reach the topic's end. */
function committedToEnd() {
  const committed = new Map<number, bigint>();
  let resolve!: () => void;
  const done = new Promise<void>((r) => resolve = r);
  return {
    done,
    onCommit(offsets: readonly { partition: number; offset: bigint }[]) {
      for (const o of offsets) committed.set(o.partition, o.offset);
      if ([...high].every(([p, end]) => committed.get(p) === end)) resolve();
    },
  };
}

function sourceOptions(
  onCommit: (o: readonly { partition: number; offset: bigint }[]) => void,
) {
  return {
    brokers: kafka.brokers,
    topic,
    groupId: uniqueName("bench-group"),
    maxBytesPerPartition: MAX_BYTES_PER_PARTITION,
    maxBytes: MAX_BYTES,
    commitInterval: 200,
    onCommit,
  };
}

/** Consumes the topic with kafkajs alone, optionally parsing every value, and records the rate. */
async function raw(id: string, label: string, parse: boolean): Promise<void> {
  const consumer = new Kafka({
    clientId: "bench-raw",
    brokers: kafka.brokers,
    logLevel: logLevel.NOTHING,
  }).consumer({
    groupId: uniqueName("bench-raw"),
    maxBytesPerPartition: MAX_BYTES_PER_PARTITION,
    maxBytes: MAX_BYTES,
    maxWaitTimeInMs: 500,
  });
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  let seen = 0;
  let parsed = 0;
  let resolve!: () => void;
  const done = new Promise<void>((r) => resolve = r);
  const started = performance.now();
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    partitionsConsumedConcurrently: PARTITIONS,
    eachBatch: ({ batch }) => {
      if (parse) {
        for (const message of batch.messages) {
          if (JSON.parse(utf8.decode(message.value!)) !== null) parsed++;
        }
      }
      seen += batch.messages.length;
      if (seen >= EVENTS) resolve();
      return Promise.resolve();
    },
  });
  await done;
  const seconds = (performance.now() - started) / 1000;
  await consumer.disconnect();
  if (parse && parsed !== seen) throw new Error(`parsed ${parsed} of ${seen}`);
  record(id, label, seen, seconds);
}

await raw("a", "raw kafkajs eachBatch, consume only", false);
await raw("a2", "raw kafkajs eachBatch + JSON.parse", true);

// (a') our source alone.
{
  const progress = committedToEnd();
  const source = kafkaSource<PageView>(sourceOptions(progress.onCommit));
  let seen = 0;
  const started = performance.now();
  const reading = (async () => {
    for await (const batch of source) {
      seen += batch.length;
      for (const r of batch) r.ack();
    }
  })();
  await progress.done;
  const seconds = (performance.now() - started) / 1000;
  await source.close();
  await reading;
  record("a'", "kafkaSource alone: decode JSON, ack, commit", seen, seconds);
}

/** Runs the worker's pipeline over a fresh group until everything is committed. */
async function worker(
  id: string,
  label: string,
  store: Store,
  writes: () => number | undefined,
  cache: ValkeyCache | null,
): Promise<RunSummary> {
  let builder = pipeline<PageView>(uniqueName("bench_views"))
    .key((e) => e.page)
    .value(() => 1)
    .aggregate(sum())
    .storeIn(store);
  if (cache !== null) builder = builder.cache(cache);
  const views = builder.build();
  const progress = committedToEnd();
  const stop = new AbortController();
  const started = performance.now();
  const running = run(views, {
    source: kafkaSource<PageView>(sourceOptions(progress.onCommit)),
    batchWindow: BATCH_WINDOW,
    dedup: true,
    signal: stop.signal,
  });
  await Promise.race([progress.done, running]);
  const seconds = (performance.now() - started) / 1000;
  stop.abort();
  const summary = await running;
  const storeWrites = writes();
  record(id, label, summary.events, seconds, {
    ...(storeWrites === undefined ? {} : { storeWrites }),
    flushes: summary.flushes,
  });
  return summary;
}

const dynamoClient = new DynamoDBClient(awsConfig(dynamo));
const TABLE = "murmur_bench_kafka_e2e";
await ensureTable(dynamoClient, TABLE);

/** DynamoDB Local's own ceiling: plain `UpdateItem ADD`s, 64 in flight, no condition. */
async function dynamoWriteRate(ms: number): Promise<number> {
  const probe = uniqueName("probe");
  let writes = 0;
  const end = Date.now() + ms;
  const started = performance.now();
  await Promise.all(Array.from({ length: 64 }, async (_, lane) => {
    for (let i = 0; Date.now() < end; i++) {
      await dynamoClient.send(
        new UpdateItemCommand({
          TableName: TABLE,
          Key: { pk: { S: `${probe}#${lane}:${i % 500}` }, sk: { S: "all" } },
          UpdateExpression: "ADD v :one",
          ExpressionAttributeValues: { ":one": { N: "1" } },
        }),
      );
      writes++;
    }
  }));
  return Math.round(writes / ((performance.now() - started) / 1000));
}
const dynamoWritesPerSecond = await dynamoWriteRate(quick ? 2_000 : 5_000);
console.error(`DynamoDB Local: ${dynamoWritesPerSecond} plain UpdateItem/s`);

{
  const store = new DynamoDBStore(dynamoClient, TABLE);
  await worker(
    "b",
    "worker → sum → DynamoDB Local (batch window 1 s, exactly once)",
    store,
    () => store.stats().writeRequests,
    null,
  );
}
{
  const store = new DynamoDBStore(dynamoClient, TABLE);
  const cache = new ValkeyCache({
    url: valkey.url,
    keyPrefix: `${uniqueName("bench")}:`,
  });
  await worker(
    "c",
    "b + Valkey cache write-through",
    store,
    () => store.stats().writeRequests,
    cache,
  );
  await cache.close();
}
{
  const store = new MemoryStore();
  await worker(
    "d",
    "b with an in-memory store (the runtime's ceiling)",
    store,
    () => undefined,
    null,
  );
}

const b = rows.find((r) => r.id === "b")!;
const a = rows.find((r) => r.id === "a")!;
const a2 = rows.find((r) => r.id === "a2")!;
const ratio = b.eventsPerSecond / a.eventsPerSecond;
const goals = {
  bVsRaw: { goal: 0.8, measured: Number(ratio.toFixed(3)), met: ratio >= 0.8 },
  bVsRawWithJson: Number((b.eventsPerSecond / a2.eventsPerSecond).toFixed(3)),
  bEventsPerSecond: {
    goal: 60_000,
    measured: b.eventsPerSecond,
    met: b.eventsPerSecond >= 60_000,
  },
};

const num = (head: string) => ({ head, right: true });
const table = markdownTable(
  [
    { head: "row" },
    { head: "case" },
    num("events"),
    num("seconds"),
    num("events/s"),
    num("store writes"),
    num("writes/event"),
    num("flushes"),
    num("peak RSS MiB"),
    num("vs (a)"),
  ],
  rows.map((r) => [
    r.id,
    r.case,
    r.events,
    r.seconds,
    r.eventsPerSecond,
    r.storeWrites,
    r.writesPerEvent,
    r.flushes,
    r.peakRssMiB,
    r.vsRaw === null ? "baseline" : `${r.vsRaw}×`,
  ]),
);
const bound = b.writesPerEvent === null || b.writesPerEvent === 0
  ? null
  : Math.round(dynamoWritesPerSecond / b.writesPerEvent);
console.log(table);
console.log(
  `\n(b)/(a) = ${goals.bVsRaw.measured} (goal ≥ 0.8: ${
    goals.bVsRaw.met ? "met" : "not met"
  }); (b)/(a2) = ${goals.bVsRawWithJson}; (b) = ${b.eventsPerSecond} events/s (goal ≥ 60,000: ${
    goals.bEventsPerSecond.met ? "met" : "not met"
  }).\nDynamoDB Local takes ${dynamoWritesPerSecond} plain UpdateItem/s here; at ${b.writesPerEvent} writes/event that bounds (b) near ${bound} events/s. (d) shows the source + runtime without it.`,
);

await writeResults("kafka_e2e", {
  quick,
  measuredAt: new Date().toISOString(),
  workload: {
    events: EVENTS,
    pages: PAGES,
    distinctPages: distinct.size,
    zipfS: ZIPF_S,
    partitions: PARTITIONS,
    produceEventsPerSecond: Math.round(EVENTS / produceSeconds),
    batchWindow: BATCH_WINDOW,
    maxBytesPerPartition: MAX_BYTES_PER_PARTITION,
  },
  dynamodbLocalWritesPerSecond: dynamoWritesPerSecond,
  rows,
  goals,
});
Deno.exit(0);
