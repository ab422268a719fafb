// Store and cache write throughput against the stack: DynamoDB Local merge paths and Valkey write-through.
//
//   deno run -A bench/store.ts [--quick]
//
// Prints a markdown table and writes bench/results/store.json. Baselines,
// measured in the same run: one UpdateItem ADD at a time (how the Go original
// writes) and one un-pipelined INCRBY at a time.

import { markdownTable, writeResults } from "./_results.ts";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { Redis } from "iovalkey";
import { type Monoid, sum } from "../monoid/mod.ts";
import { hll, type HyperLogLog } from "../sketch/hll.ts";
import type { Delta, Scope, StateKey } from "../state/mod.ts";
import { DynamoDBStore, ensureTable } from "../state/dynamodb.ts";
import { ValkeyCache } from "../state/valkey.ts";
import { service } from "../tests/_stack.ts";

const quick = Deno.args.includes("--quick");
const TABLE = "murmur_bench_store";

interface Row {
  readonly target: string;
  readonly case: string;
  readonly ops: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly requestsPerDelta?: number;
  readonly vsBaseline: number;
}

const rows: Row[] = [];

async function measure(
  target: string,
  label: string,
  ops: number,
  run: () => Promise<number | void>,
  baseline?: string,
): Promise<number> {
  const started = performance.now();
  const requests = await run();
  const seconds = (performance.now() - started) / 1000;
  const perSecond = ops / seconds;
  const base = rows.find((r) => r.case === baseline)?.perSecond ?? perSecond;
  rows.push({
    target,
    case: label,
    ops,
    seconds: Number(seconds.toFixed(3)),
    perSecond: Math.round(perSecond),
    ...(typeof requests === "number"
      ? { requestsPerDelta: Number((requests / ops).toFixed(2)) }
      : {}),
    vsBaseline: Number((perSecond / base).toFixed(2)),
  });
  console.error(`${target} ${label}: ${Math.round(perSecond)} ops/s`);
  return perSecond;
}

const keysOf = (n: number, salt: string): StateKey[] =>
  Array.from({ length: n }, (_, i) => ({
    entity: `${salt}:page:${i}`,
    bucket: 1_700_000_000_000,
  }));

/** Requests the stores sent to DynamoDB, reads and writes. */
const requests = (...stores: DynamoDBStore[]): number =>
  stores.reduce(
    (n, s) => n + s.stats().writeRequests + s.stats().readRequests,
    0,
  );

async function dynamodb(url: string): Promise<void> {
  const client = new DynamoDBClient({
    endpoint: url,
    region: "us-east-1",
    credentials: { accessKeyId: "bench", secretAccessKey: "bench" },
  });
  await ensureTable(client, TABLE);
  const n = quick ? 400 : 3000;
  const run = crypto.randomUUID().slice(0, 8);
  const counter: Scope<number> = {
    namespace: `bench-${run}-add`,
    monoid: sum(),
  };

  const sequential = new DynamoDBStore(client, TABLE, { concurrency: 1 });
  const seqKeys = keysOf(quick ? 150 : 500, "seq");
  await measure(
    "DynamoDB Local",
    "ADD, one request at a time (baseline)",
    seqKeys.length,
    async () => {
      for (const key of seqKeys) {
        await sequential.merge(counter, [{
          key,
          value: 1,
        }]);
      }
      return sequential.stats().writeRequests;
    },
  );
  const baseline = "ADD, one request at a time (baseline)";

  const store = () => new DynamoDBStore(client, TABLE, { concurrency: 32 });
  /** One case: all `deltas` in one merge call on a fresh 32-in-flight store. */
  const mergeCase = <V>(label: string, scope: Scope<V>, deltas: Delta<V>[]) => {
    const target = store();
    return measure("DynamoDB Local", label, deltas.length, async () => {
      await target.merge(scope, deltas);
      return requests(target);
    }, baseline);
  };
  const addDeltas = keysOf(n, "add").map((key) => ({ key, value: 1 }));
  await mergeCase("ADD, 32 in flight", counter, addDeltas);

  let position = 0n;
  const markDeltas: Delta<number>[] = keysOf(n, "marks").map((key) => ({
    key,
    value: 1,
    marks: [{
      stream: "kafka:page_views:0",
      from: position,
      to: (position += 5n) - 1n,
    }],
  }));
  await mergeCase(
    "ADD + marks (exactly-once), 32 in flight",
    counter,
    markDeltas,
  );

  const claimDeltas = keysOf(quick ? 200 : 1000, "claims").map((key, i) => ({
    key,
    value: 1,
    claims: [`ev-${i}-a`, `ev-${i}-b`],
  }));
  await mergeCase(
    "ADD + 2 claims (transaction), 32 in flight",
    counter,
    claimDeltas,
  );

  const h: Monoid<HyperLogLog> = hll();
  const sketches: Scope<HyperLogLog> = {
    namespace: `bench-${run}-hll`,
    monoid: h,
  };
  const casKeys = keysOf(quick ? 300 : 2000, "cas");
  const casDeltas = casKeys.map((key, i) => {
    const sketch = h.identity();
    for (let j = 0; j < 20; j++) sketch.add(`visitor-${i * 7 + j}`);
    return { key, value: sketch };
  });
  await mergeCase(
    "CAS (HLL read-combine-write), new items, 32 in flight",
    sketches,
    casDeltas,
  );
  // The same deltas again, from another store: every item exists now.
  await mergeCase(
    "CAS (HLL read-combine-write), existing items, 32 in flight",
    sketches,
    casDeltas,
  );
  const hot = store();
  const hotDeltas = casDeltas.slice(0, quick ? 48 : 200).map((d) => ({
    ...d,
    key: { entity: "hot", bucket: null },
  }));
  await measure(
    "DynamoDB Local",
    "CAS, one hot key, parallel merges from one process (queued per item)",
    hotDeltas.length,
    async () => {
      await Promise.all(hotDeltas.map((d) => hot.merge(sketches, [d])));
      return requests(hot);
    },
    baseline,
  );
  const racers = Array.from({ length: 8 }, store);
  const raceDeltas = hotDeltas.map((d) => ({
    ...d,
    key: { entity: "contended", bucket: null },
  }));
  await measure(
    "DynamoDB Local",
    "CAS, one hot key, 8 processes racing (optimistic retries)",
    raceDeltas.length,
    async () => {
      await Promise.all(
        raceDeltas.map((d, i) =>
          racers[i % racers.length]!.merge(sketches, [d])
        ),
      );
      return requests(...racers);
    },
    baseline,
  );
  client.destroy();
}

async function valkey(url: string): Promise<void> {
  const n = quick ? 20_000 : 100_000;
  const raw = new Redis(url);
  const prefix = `bench:${crypto.randomUUID().slice(0, 8)}:`;
  const seqN = quick ? 3000 : 10_000;
  const baseline = "INCRBY, one at a time (baseline)";
  await measure("Valkey", baseline, seqN, async () => {
    for (let i = 0; i < seqN; i++) {
      await raw.incrby(`${prefix}seq:${i % 1000}`, 1);
    }
  });
  await measure(
    "Valkey",
    "INCRBY, pipelined (raw client, no protocol)",
    n,
    async () => {
      const pipeline = raw.pipeline();
      for (let i = 0; i < n; i++) {
        pipeline.incrby(
          `${prefix}pipe:${i % 10_000}`,
          1,
        );
      }
      await pipeline.exec();
    },
    baseline,
  );

  const cache = new ValkeyCache({ url, keyPrefix: prefix });
  const scope: Scope<number> = { namespace: "pv", monoid: sum() };
  const keys = keysOf(quick ? 2000 : 10_000, "wt");
  const leases = await cache.lease(scope, keys);
  await cache.fill(scope, leases.map((lease) => ({ lease, value: 0 })));
  const rounds = Math.ceil(n / keys.length);
  await measure(
    "Valkey",
    "write-through INCRBY (intent + merge scripts), pipelined",
    rounds * keys.length,
    async () => {
      for (let r = 0; r < rounds; r++) {
        const intent = await cache.beginWrite(scope, keys);
        await cache.merge(scope, keys.map((key) => ({ key, value: 1 })), {
          intent,
        });
      }
    },
    baseline,
  );
  await measure(
    "Valkey",
    "cached reads (GET), pipelined",
    rounds * keys.length,
    async () => {
      for (let r = 0; r < rounds; r++) await cache.getMany(scope, keys);
    },
    baseline,
  );

  const h = hll();
  const sketches: Scope<HyperLogLog> = { namespace: "uv", monoid: h };
  const hllKeys = keys.slice(0, quick ? 500 : 2000);
  const hllLeases = await cache.lease(sketches, hllKeys);
  await cache.fill(
    sketches,
    hllLeases.map((lease) => ({ lease, value: h.identity() })),
  );
  const deltas = hllKeys.map((key, i) => {
    const sketch = h.identity();
    for (let j = 0; j < 10; j++) sketch.add(`v${i * 10 + j}`);
    return { key, value: sketch };
  });
  const hllRounds = quick ? 2 : 5;
  await measure(
    "Valkey",
    "write-through PFMERGE of HYLL bytes, pipelined",
    hllRounds * hllKeys.length,
    async () => {
      for (let r = 0; r < hllRounds; r++) {
        const intent = await cache.beginWrite(sketches, hllKeys);
        await cache.merge(sketches, deltas, { intent });
      }
    },
    baseline,
  );
  await cache.close();
  raw.disconnect();
}

const where = {
  dynamodb: (await service("dynamodb")).url,
  valkey: (await service("valkey")).url,
};
await dynamodb(where.dynamodb);
await valkey(where.valkey);

const num = (head: string) => ({ head, right: true });
console.log(markdownTable(
  [
    { head: "target" },
    { head: "case" },
    num("ops"),
    num("seconds"),
    num("ops/s"),
    num("requests per delta"),
    num("vs baseline"),
  ],
  rows.map((r) => [
    r.target,
    r.case,
    r.ops,
    r.seconds,
    r.perSecond,
    r.requestsPerDelta ?? "",
    `${r.vsBaseline}×`,
  ]),
));
await writeResults("store", {
  quick,
  measuredAt: new Date().toISOString(),
  rows,
});
