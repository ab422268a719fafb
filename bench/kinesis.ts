// Kinesis: a raw GetRecords loop against our kinesisSource (leases, acks, checkpoints) on the same stream, one run.
//
//   deno run -A bench/kinesis.ts            40,000 records over 4 shards
//   deno run -A bench/kinesis.ts --quick    8,000 records
//   deno run -A bench/kinesis.ts --records 100000 --shards 8 --rounds 5
//
// Needs the stack (`deno task stack:up`): moto serves Kinesis, DynamoDB Local
// holds the lease table. Prints a markdown table and writes bench/results/kinesis.json.
//
// Rows, each reading the whole stream from TRIM_HORIZON:
//   raw     one GetRecords loop per shard (Limit 1000, no wait while behind), JSON.parse of every record
//   source  kinesisSource: lease table, leases, JSON decode, records handed out and acked, checkpoints
//   run     the source through run(): count per page into an in-memory store, exactly-once on

import { writeResults } from "./_results.ts";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
} from "@aws-sdk/client-kinesis";
import { count } from "../monoid/mod.ts";
import { pipeline } from "../pipeline/mod.ts";
import { kinesisSource } from "../source/kinesis.ts";
import { MemoryStore } from "../state/mod.ts";
import { run } from "../streaming/mod.ts";
import { awsConfig, service, uniqueName } from "../tests/_stack.ts";
import { createStream, deleteStream, putEvents } from "../tests/_kinesis.ts";
import { benchFlags } from "./_flags.ts";

const flags = benchFlags({
  numbers: { records: [8_000, 40_000], shards: 4, rounds: [1, 3] },
});
const RECORDS = flags.records;
const SHARDS = flags.shards;

const kinesis = new KinesisClient(awsConfig(await service("kinesis")));
const dynamodb = new DynamoDBClient(awsConfig(await service("dynamodb")));
const stream = uniqueName("bench-kinesis");
await createStream(kinesis, stream, SHARDS);

interface View {
  page: string;
  user: number;
}

console.error(`putting ${RECORDS} records into ${SHARDS} shards…`);
const views: View[] = Array.from(
  { length: RECORDS },
  (_, i) => ({ page: `/p${(i * 7919) % 500}`, user: i }),
);
await putEvents(kinesis, stream, views, (v) => `u${v.user}`);

interface Row {
  name: string;
  records: number;
  seconds: number;
  firstRecordMs: number;
  perSecond: number;
  /** Records per second after the first record arrived (startup and lease taking left out). */
  steadyPerSecond: number;
}

const decoder = new TextDecoder();

async function raw(): Promise<Row> {
  const started = performance.now();
  let first = 0;
  const shards =
    (await kinesis.send(new ListShardsCommand({ StreamName: stream })))
      .Shards!;
  let total = 0;
  await Promise.all(shards.map(async (shard) => {
    let { ShardIterator: iterator } = await kinesis.send(
      new GetShardIteratorCommand({
        StreamName: stream,
        ShardId: shard.ShardId!,
        ShardIteratorType: "TRIM_HORIZON",
      }),
    );
    while (iterator !== undefined) {
      const page = await kinesis.send(
        new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }),
      );
      const records = page.Records ?? [];
      if (records.length === 0) break;
      if (first === 0) first = performance.now() - started;
      for (const r of records) JSON.parse(decoder.decode(r.Data));
      total += records.length;
      iterator = page.NextShardIterator;
    }
  }));
  return row("raw GetRecords loop", total, started, first);
}

function row(
  name: string,
  records: number,
  started: number,
  first: number,
): Row {
  const seconds = (performance.now() - started) / 1000;
  return {
    name,
    records,
    seconds,
    firstRecordMs: first,
    perSecond: records / seconds,
    steadyPerSecond: records / (seconds - first / 1000),
  };
}

function source(leaseTable: string) {
  return kinesisSource<View>({
    stream,
    leaseTable,
    kinesis,
    dynamodb,
    pollInterval: 200,
    discoveryInterval: 60_000,
  });
}

async function sourceAlone(): Promise<Row> {
  const started = performance.now();
  let first = 0;
  let total = 0;
  const src = source(uniqueName("bench_leases"));
  for await (const batch of src) {
    if (first === 0) first = performance.now() - started;
    for (const r of batch) r.ack();
    total += batch.length;
    if (total >= RECORDS) break;
  }
  const result = row(
    "kinesisSource (leases, acks, checkpoints)",
    total,
    started,
    first,
  );
  await src.close();
  return result;
}

async function throughRun(): Promise<Row> {
  const started = performance.now();
  let first = 0;
  let total = 0;
  const stop = new AbortController();
  const views = pipeline<View>(uniqueName("bench_views"))
    .key((e) => e.page)
    .value(() => 1)
    .aggregate(count())
    .storeIn(new MemoryStore())
    .build();
  await run(views, {
    source: source(uniqueName("bench_leases")),
    dedup: true,
    signal: stop.signal,
    metrics: {
      eventsIn: (_p, n) => {
        if (first === 0) first = performance.now() - started;
        total += n;
        if (total >= RECORDS) stop.abort();
      },
      merged: () => {},
      flushed: () => {},
      error: () => {},
      retried: () => {},
      deadLettered: () => {},
      dedupSkipped: () => {},
      debounced: () => {},
      lag: () => {},
    },
  });
  return row(
    "run(): count per page, memory store, dedup",
    total,
    started,
    first,
  );
}

// Readers alternate over several rounds (the machine is shared); each keeps its best round.
const ROUNDS = flags.rounds;
const best: Row[] = [];
try {
  for (let round = 0; round < ROUNDS; round++) {
    const results = [await raw(), await sourceAlone(), await throughRun()];
    results.forEach((r, i) => {
      if (best[i] === undefined || r.perSecond > best[i]!.perSecond) {
        best[i] = r;
      }
    });
  }
} finally {
  await deleteStream(kinesis, stream);
}
const rows = best;

const base = rows[0]!.perSecond;
const steadyBase = rows[0]!.steadyPerSecond;
console.log(`\nKinesis (moto), ${RECORDS} records, ${SHARDS} shards\n`);
console.log(
  "| reader | records | seconds | first record (ms) | records/s | vs raw | steady records/s | steady vs raw |",
);
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const r of rows) {
  console.log(
    `| ${r.name} | ${r.records} | ${r.seconds.toFixed(2)} | ${
      r.firstRecordMs.toFixed(0)
    } | ${Math.round(r.perSecond)} | ${(r.perSecond / base).toFixed(2)}× | ${
      Math.round(r.steadyPerSecond)
    } | ${(r.steadyPerSecond / steadyBase).toFixed(2)}× |`,
  );
}
await writeResults("kinesis", {
  harness: "kinesis",
  date: new Date().toISOString(),
  records: RECORDS,
  shards: SHARDS,
  rounds: ROUNDS,
  rows: rows.map((r) => ({
    ...r,
    ratio: r.perSecond / base,
    steadyRatio: r.steadyPerSecond / steadyBase,
  })),
});
kinesis.destroy();
dynamodb.destroy();
