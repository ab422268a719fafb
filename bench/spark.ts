// The Spark backfill executor against the bare Spark Connect client on the same SQL: rows/s and where the time goes.
//
//   deno task stack:up dynamodb spark
//   deno run -A bench/spark.ts [--quick]
//
// Spark generates the events itself (`range()`), so no file reading is
// measured. For each case, the baseline collects the very SQL the executor
// runs (the user's SQL wrapped in the monoid's aggregation) with the bare
// client: Arrow batches decoded, nothing folded, nothing stored. The
// executor then runs the whole backfill into DynamoDB Local. Prints a
// markdown table and writes bench/results/spark.json.

import { writeResults } from "./_results.ts";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  backfillSql,
  executeStats,
  sparkBackfill,
  SparkConnectClient,
} from "../batch/spark/mod.ts";
import { daily, type Monoid, sum } from "../monoid/mod.ts";
import { hll } from "../sketch/hll.ts";
import { DynamoDBStore, ensureTable } from "../state/dynamodb.ts";
import { MemoryStore } from "../state/memory.ts";
import { awsConfig, service, uniqueName } from "../tests/_stack.ts";

const quick = Deno.args.includes("--quick");
const TABLE = "murmur_bench_spark";

interface Row {
  readonly case: string;
  readonly runner: "bare client" | "executor → memory" | "executor → DynamoDB";
  readonly events: number;
  readonly rows: number;
  readonly seconds: number;
  readonly rowsPerSecond: number;
  readonly eventsPerSecond: number;
  readonly sparkShare: number;
  readonly decodeShare: number;
  readonly foldShare: number;
  readonly storeShare: number;
  readonly vsBare: number;
}

interface Case {
  readonly name: string;
  readonly monoid: Monoid<unknown>;
  readonly events: number;
  readonly sql: string;
}

const spark = await service("spark");
const dynamo = await service("dynamodb");
const ddb = new DynamoDBClient(awsConfig(dynamo));
await ensureTable(ddb, TABLE);
const store = new DynamoDBStore(ddb, TABLE);
const client = new SparkConnectClient({ url: spark.url });
await client.setConf({ "spark.sql.session.timeZone": "UTC" });

const DAY = 86_400_000;
const START = Date.UTC(2024, 2, 1);
const n = quick ? 200_000 : 2_000_000;
const sumKeys = quick ? 1_000 : 5_000;
const hllKeys = quick ? 200 : 1_000;
const cases: Case[] = [
  {
    name: `sum, daily, ${sumKeys} keys × 2 days`,
    monoid: sum() as Monoid<unknown>,
    events: n,
    sql: `SELECT concat('k-', CAST(id % ${sumKeys} AS STRING)) AS key, ` +
      `${START} + ((id div ${sumKeys}) % 2) * ${DAY} AS time, id % 100 AS value FROM range(0, ${n})`,
  },
  {
    name: `hll, daily, ${hllKeys} keys × 2 days`,
    monoid: hll() as Monoid<unknown>,
    events: n / 2,
    sql: `SELECT concat('k-', CAST(id % ${hllKeys} AS STRING)) AS key, ` +
      `${START} + ((id div ${hllKeys}) % 2) * ${DAY} AS time, ` +
      `concat('u-', CAST(id % ${n / 20} AS STRING)) AS value FROM range(0, ${
        n / 2
      })`,
  },
];

const rows: Row[] = [];
const share = (part: number, total: number) =>
  Number((part / total).toFixed(3));

// Warm the JVM (code paths of range, aggregation and Arrow) so the first case is not penalised.
await client.rows(
  "SELECT id % 10 AS k, SUM(id) FROM range(0, 100000) GROUP BY 1",
);

for (const c of cases) {
  const target = {
    name: uniqueName("bench"),
    monoid: c.monoid,
    window: daily(),
  };
  const columns = await client.columns(c.sql);
  const wrapped = backfillSql(target, c.sql, columns);

  // One unmeasured run, so both runners meet a warm JVM for this query.
  for await (const _ of client.sql(wrapped)) { /* drain */ }
  const stats = executeStats();
  const t0 = performance.now();
  let bareRows = 0;
  for await (const batch of client.sql(wrapped, { stats })) {
    bareRows += batch.numRows;
  }
  const bareSeconds = (performance.now() - t0) / 1000;
  const bareMs = bareSeconds * 1000;
  rows.push({
    case: c.name,
    runner: "bare client",
    events: c.events,
    rows: bareRows,
    seconds: Number(bareSeconds.toFixed(3)),
    rowsPerSecond: Math.round(bareRows / bareSeconds),
    eventsPerSecond: Math.round(c.events / bareSeconds),
    sparkShare: share(stats.waitMs, bareMs),
    decodeShare: share(stats.decodeMs, bareMs),
    foldShare: 0,
    storeShare: 0,
    vsBare: 1,
  });

  for (
    const [runner, into] of [
      ["executor → memory", new MemoryStore()],
      ["executor → DynamoDB", store],
    ] as const
  ) {
    const result = await sparkBackfill({ ...target, store: into }, {
      client,
      jobId: uniqueName("job"),
      sql: c.sql,
    });
    const t = result.timings;
    const seconds = t.totalMs / 1000;
    rows.push({
      case: c.name,
      runner,
      events: result.events,
      rows: result.rows,
      seconds: Number(seconds.toFixed(3)),
      rowsPerSecond: Math.round(result.rows / seconds),
      eventsPerSecond: Math.round(result.events / seconds),
      sparkShare: share(t.sparkMs, t.totalMs),
      decodeShare: share(t.decodeMs, t.totalMs),
      foldShare: share(t.foldMs, t.totalMs),
      storeShare: share(t.storeMs, t.totalMs),
      vsBare: Number((bareSeconds / seconds).toFixed(2)),
    });
    console.error(
      `${c.name}: bare ${bareSeconds.toFixed(2)} s, ${runner} ${
        seconds.toFixed(2)
      } s`,
    );
  }
}

await client.close();
await store.close();
ddb.destroy();

const pct = (x: number) => `${(x * 100).toFixed(0)} %`;
console.log(
  "| case | runner | events | result rows | s | rows/s | events/s | Spark | Arrow decode | fold | store | speed vs bare |",
);
console.log("|---|---|---|---|---|---|---|---|---|---|---|---|");
for (const r of rows) {
  console.log(
    `| ${r.case} | ${r.runner} | ${r.events} | ${r.rows} | ${r.seconds} | ${r.rowsPerSecond} | ${r.eventsPerSecond} | ${
      pct(r.sparkShare)
    } | ${pct(r.decodeShare)} | ${pct(r.foldShare)} | ${
      pct(r.storeShare)
    } | ${r.vsBare} |`,
  );
}
await writeResults("spark", {
  harness: "spark",
  quick,
  at: new Date().toISOString(),
  spark: "4.0.1 local[2], -Xmx1g, Spark Connect on loopback",
  store: "DynamoDB Local",
  rows,
});
