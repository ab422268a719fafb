// Runtime throughput: run() folding Zipf-keyed events into a windowed sum, against a hand-written Map loop.
//
//   deno run -A bench/runtime.ts           1 M events over 100 k entities (+ 200 k into Deno KV)
//   deno run -A bench/runtime.ts --quick   200 k events over 20 k entities (+ 50 k into Deno KV), < 60 s
//
// Prints a markdown table and writes bench/results/runtime.json. Every run's
// totals are checked against the loop's before its time counts.

import { daily, days, sum } from "../monoid/mod.ts";
import { pipeline } from "../pipeline/mod.ts";
import { MemorySource, seededRandom, Zipf } from "../source/mod.ts";
import { MemoryStore, type Store } from "../state/mod.ts";
import { KvStore } from "../state/kv.ts";
import { run, type RunOptions } from "../streaming/mod.ts";

const quick = Deno.args.includes("--quick");
const EVENTS = quick ? 200_000 : 1_000_000;
const ENTITIES = quick ? 20_000 : 100_000;
const KV_EVENTS = quick ? 50_000 : 200_000;
const SKEW = 1.1;
const REPEATS = 3;
const DAY = 86_400_000;

interface PageView {
  readonly entity: string;
  readonly time: number;
}

function generate(n: number): PageView[] {
  const zipf = new Zipf(ENTITIES, SKEW, seededRandom(2025));
  const now = Date.now();
  // Spread over the last two hours: one or two daily buckets, as a live worker sees.
  return Array.from(
    { length: n },
    (_, i) => ({
      entity: `e${zipf.next()}`,
      time: now - 7_200_000 + Math.floor((i * 7_200_000) / n),
    }),
  );
}

function loop(
  events: readonly PageView[],
): { ms: number; totals: Map<string, number> } {
  const started = performance.now();
  const totals = new Map<string, number>();
  for (const e of events) {
    const key = `${e.entity}|${Math.floor(e.time / DAY) * DAY}`;
    totals.set(key, (totals.get(key) ?? 0) + 1);
  }
  return { ms: performance.now() - started, totals };
}

function views(store: Store) {
  return pipeline<PageView>("views")
    .key((e) => e.entity)
    .value(() => 1)
    .aggregate(sum())
    .window(daily({ retention: days(7) }))
    .storeIn(store)
    .build();
}

async function runtime(
  events: readonly PageView[],
  store: Store,
  options: RunOptions,
  expected: Map<string, number>,
): Promise<number> {
  const p = views(store);
  const source = MemorySource.of(events, {
    batchSize: 1000,
    time: (e) => e.time,
  });
  const started = performance.now();
  const summary = await run(p, { ...options, source });
  const ms = performance.now() - started;
  if (summary.acked !== events.length) {
    throw new Error(`acked ${summary.acked} of ${events.length}`);
  }
  const keys = [...expected.keys()].map((k) => {
    const [entity, bucket] = k.split("|");
    return { entity: entity!, bucket: Number(bucket) };
  });
  const got = await store.getMany(p.scope, keys);
  keys.forEach((k, i) => {
    const want = expected.get(`${k.entity}|${k.bucket}`);
    if (got[i] !== want) {
      throw new Error(
        `wrong total for ${k.entity}@${k.bucket}: ${got[i]} != ${want}`,
      );
    }
  });
  return ms;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

interface Row {
  readonly name: string;
  readonly store: string;
  readonly events: number;
  readonly ms: number;
  readonly eventsPerSecond: number;
  readonly ratioToLoop: number | null;
}

const events = generate(EVENTS);
const batch: RunOptions = { batchWindow: { time: 1000, maxRecords: 100_000 } };
const scenarios: { name: string; options: RunOptions }[] = [
  { name: "run() with batchWindow", options: batch },
  { name: "run() without batchWindow", options: {} },
  {
    name: "run() with batchWindow + dedup",
    options: { ...batch, dedup: true },
  },
];

const loopTimes: number[] = [];
const runTimes = scenarios.map(() => [] as number[]);
let expected = new Map<string, number>();
for (let r = 0; r < REPEATS; r++) {
  const base = loop(events);
  loopTimes.push(base.ms);
  expected = base.totals;
  for (let s = 0; s < scenarios.length; s++) {
    runTimes[s]!.push(
      await runtime(events, new MemoryStore(), scenarios[s]!.options, expected),
    );
  }
}
const loopMs = median(loopTimes);
const rows: Row[] = [{
  name: "hand-written loop into a Map (baseline)",
  store: "Map",
  events: EVENTS,
  ms: loopMs,
  eventsPerSecond: EVENTS / loopMs * 1000,
  ratioToLoop: 1,
}];
scenarios.forEach((s, i) => {
  const ms = median(runTimes[i]!);
  rows.push({
    name: s.name,
    store: "memory",
    events: EVENTS,
    ms,
    eventsPerSecond: EVENTS / ms * 1000,
    ratioToLoop: loopMs / ms,
  });
});

const kvEvents = events.slice(0, KV_EVENTS);
const kvExpected = loop(kvEvents).totals;
const dir = await Deno.makeTempDir({ prefix: "murmur-bench-kv-" });
try {
  const kvTimes: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    const store = await KvStore.open(`${dir}/${r}.kv`);
    try {
      kvTimes.push(await runtime(kvEvents, store, batch, kvExpected));
    } finally {
      await store.close();
    }
  }
  const ms = median(kvTimes);
  rows.push({
    name: "run() with batchWindow",
    store: "deno-kv (file)",
    events: KV_EVENTS,
    ms,
    eventsPerSecond: KV_EVENTS / ms * 1000,
    ratioToLoop: null,
  });
} finally {
  await Deno.remove(dir, { recursive: true });
}

const withWindow = rows[1]!;
const goals = {
  eventsPerSecondAtLeast1M: withWindow.eventsPerSecond >= 1_000_000,
  ratioAtLeastHalf: (withWindow.ratioToLoop ?? 0) >= 0.5,
};

console.log(
  `\nRuntime: ${EVENTS.toLocaleString("en")} events, Zipf(${SKEW}) keys over ${
    ENTITIES.toLocaleString("en")
  } entities, daily windowed sum; median of ${REPEATS}.\n`,
);
console.log(
  "| scenario | store | events | ms | events/s | vs loop |\n|---|---|---|---|---|---|",
);
for (const r of rows) {
  console.log(
    `| ${r.name} | ${r.store} | ${r.events.toLocaleString("en")} | ${
      r.ms.toFixed(0)
    } | ${Math.round(r.eventsPerSecond).toLocaleString("en")} | ${
      r.ratioToLoop === null ? "–" : r.ratioToLoop.toFixed(2)
    } |`,
  );
}
console.log(
  `\ngoals (batchWindow, memory): >= 1 M events/s: ${
    goals.eventsPerSecondAtLeast1M ? "met" : "NOT met"
  }; >= 0.5 of the loop: ${goals.ratioAtLeastHalf ? "met" : "NOT met"}`,
);

const out = new URL("./results/runtime.json", import.meta.url);
await Deno.mkdir(new URL("./results/", import.meta.url), { recursive: true });
await Deno.writeTextFile(
  out,
  JSON.stringify(
    {
      benchmark: "runtime",
      quick,
      at: new Date().toISOString(),
      deno: Deno.version.deno,
      os: Deno.build.os,
      arch: Deno.build.arch,
      loadAverage: Deno.loadavg(),
      workload: {
        events: EVENTS,
        entities: ENTITIES,
        skew: SKEW,
        window: "daily",
        monoid: "sum",
        repeats: REPEATS,
      },
      rows,
      goals,
    },
    null,
    2,
  ) + "\n",
);
console.log(`\nwrote ${out.pathname}`);
