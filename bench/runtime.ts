// Runtime throughput: run() folding Zipf-keyed events into a windowed sum, against a hand-written Map loop;
// then the same events into uniqueCount (HyperLogLog) and topN (Top-K) pipelines, each against its own loop.
//
//   deno run -A bench/runtime.ts           1 M events over 100 k entities (+ 200 k into Deno KV)
//   deno run -A bench/runtime.ts --quick   200 k events over 20 k entities (+ 50 k into Deno KV), < 60 s
//
// Prints a markdown table and writes bench/results/runtime.json. Every run's
// totals are checked against the loop's before its time counts (sketches:
// HyperLogLog registers equal the loop's; Top-K totals equal and the true
// top 10 of each key recalled, reported per scenario).

import { daily, days, sum, type Window } from "../monoid/mod.ts";
import { type Pipeline, pipeline, topN, uniqueCount } from "../pipeline/mod.ts";
import { HyperLogLog } from "../sketch/hll.ts";
import { TopK } from "../sketch/topk.ts";
import { MemorySource, seededRandom, Zipf } from "../source/mod.ts";
import { MemoryStore, type Store } from "../state/mod.ts";
import { KvStore } from "../state/kv.ts";
import { run, type RunOptions } from "../streaming/mod.ts";

const quick = Deno.args.includes("--quick");
const EVENTS = quick ? 200_000 : 1_000_000;
const ENTITIES = quick ? 20_000 : 100_000;
const KV_EVENTS = quick ? 50_000 : 200_000;
const VISITORS = quick ? 200_000 : 1_000_000;
const COUNTRIES = 16;
const TOP_N = 10;
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

/** A page view with who viewed it, for the sketch scenarios. */
interface Visit extends PageView {
  /** Zipf over VISITORS. */
  readonly visitor: string;
  /** The visitor's country. */
  readonly country: string;
}

// The same events, each given a visitor (and the visitor's country).
function withVisitors(views: readonly PageView[]): Visit[] {
  const visitors = new Zipf(VISITORS, SKEW, seededRandom(7));
  return views.map((view) => {
    const visitor = visitors.next();
    return {
      ...view,
      visitor: `v${visitor}`,
      country: `c${visitor % COUNTRIES}`,
    };
  });
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

// Sketch pipelines: uniqueCount (distinct visitors per page) and topN (top pages per country).
const WINDOW: Window = daily({ retention: days(7) });

function keyOf(key: string, time: number): string {
  return `${key}|${WINDOW.bucketOf(time)}`;
}

function stateKeys(keys: Iterable<string>) {
  return [...keys].map((k) => {
    const [entity, bucket] = k.split("|");
    return { entity: entity!, bucket: Number(bucket) };
  });
}

function loopHll(
  events: readonly Visit[],
): { ms: number; sketches: Map<string, HyperLogLog> } {
  const started = performance.now();
  const sketches = new Map<string, HyperLogLog>();
  for (const e of events) {
    const key = keyOf(e.entity, e.time);
    let sketch = sketches.get(key);
    if (sketch === undefined) sketches.set(key, sketch = new HyperLogLog());
    sketch.add(e.visitor);
  }
  return { ms: performance.now() - started, sketches };
}

function loopTopK(
  events: readonly Visit[],
  k: number,
): { ms: number; sketches: Map<string, TopK> } {
  const started = performance.now();
  const sketches = new Map<string, TopK>();
  for (const e of events) {
    const key = keyOf(e.country, e.time);
    let sketch = sketches.get(key);
    if (sketch === undefined) sketches.set(key, sketch = new TopK({ k }));
    sketch.add(e.entity);
  }
  return { ms: performance.now() - started, sketches };
}

// Runs `p` over the events with the batch window; returns the elapsed ms.
async function timedRun<V>(
  p: Pipeline<Visit, V>,
  events: readonly Visit[],
): Promise<number> {
  const source = MemorySource.of(events, {
    batchSize: 1000,
    time: (e) => e.time,
  });
  const started = performance.now();
  const summary = await run(p, { ...batch, source });
  const ms = performance.now() - started;
  if (summary.acked !== events.length) {
    throw new Error(`acked ${summary.acked} of ${events.length}`);
  }
  return ms;
}

async function hllRuntime(
  events: readonly Visit[],
  expected: Map<string, HyperLogLog>,
): Promise<number> {
  const p = uniqueCount<Visit>("visitors", (e) => e.visitor)
    .key((e) => e.entity).window(WINDOW).storeIn(new MemoryStore()).build();
  const ms = await timedRun(p, events);
  const keys = stateKeys(expected.keys());
  const got = await p.store.getMany(p.scope, keys);
  keys.forEach((k, i) => {
    if (got[i]?.equals(expected.get(`${k.entity}|${k.bucket}`)!) !== true) {
      throw new Error(
        `wrong distinct-count sketch for ${k.entity}@${k.bucket}`,
      );
    }
  });
  return ms;
}

// The share of each key's true top TOP_N that a sketch reports in its own top TOP_N.
function recall(
  sketches: (key: string) => TopK | undefined,
  exact: Map<string, Map<string, number>>,
): number {
  let found = 0;
  let wanted = 0;
  for (const [key, counts] of exact) {
    const truth = [...counts].sort((a, b) => b[1] - a[1]).slice(0, TOP_N)
      .map(([page]) => page);
    const reported = new Set(
      sketches(key)?.top(TOP_N).map((item) => item.key) ?? [],
    );
    wanted += truth.length;
    found += truth.filter((page) => reported.has(page)).length;
  }
  return found / wanted;
}

async function topKRuntime(
  events: readonly Visit[],
  exact: Map<string, Map<string, number>>,
): Promise<{ ms: number; recall: number; k: number }> {
  const p = topN<Visit>("top_pages", { n: TOP_N, item: (e) => e.entity })
    .key((e) => e.country).window(WINDOW).storeIn(new MemoryStore()).build();
  const ms = await timedRun(p, events);
  const keys = stateKeys(exact.keys());
  const got = await p.store.getMany(p.scope, keys);
  const byKey = new Map<string, TopK>();
  keys.forEach((k, i) => {
    const key = `${k.entity}|${k.bucket}`;
    const sketch = got[i];
    const total = [...exact.get(key)!.values()].reduce((a, b) => a + b, 0);
    if (sketch === undefined || sketch.total !== total) {
      throw new Error(
        `wrong top-K total for ${key}: ${sketch?.total} != ${total}`,
      );
    }
    byKey.set(key, sketch);
  });
  return { ms, recall: recall((key) => byKey.get(key), exact), k: got[0]!.k };
}

const visits = withVisitors(events);
const exactPages = new Map<string, Map<string, number>>();
for (const e of visits) {
  const key = keyOf(e.country, e.time);
  let counts = exactPages.get(key);
  if (counts === undefined) exactPages.set(key, counts = new Map());
  counts.set(e.entity, (counts.get(e.entity) ?? 0) + 1);
}
const hllLoopTimes: number[] = [];
const hllRunTimes: number[] = [];
const topLoopTimes: number[] = [];
const topRunTimes: number[] = [];
let topRecall = 0;
let topLoopRecall = 0;
let topCapacity = 0;
for (let r = 0; r < REPEATS; r++) {
  const hllBase = loopHll(visits);
  hllLoopTimes.push(hllBase.ms);
  hllRunTimes.push(await hllRuntime(visits, hllBase.sketches));
  const top = await topKRuntime(visits, exactPages);
  topRunTimes.push(top.ms);
  topRecall = top.recall;
  topCapacity = top.k;
  const topBase = loopTopK(visits, top.k);
  topLoopTimes.push(topBase.ms);
  topLoopRecall = recall((key) => topBase.sketches.get(key), exactPages);
}
const sketchScenarios = [
  {
    name: "hand-written loop: one HyperLogLog per key in a Map (baseline)",
    store: "Map",
    times: hllLoopTimes,
    loop: hllLoopTimes,
  },
  {
    name: "uniqueCount (HLL) with batchWindow",
    store: "memory",
    times: hllRunTimes,
    loop: hllLoopTimes,
  },
  {
    name:
      `hand-written loop: one TopK (k=${topCapacity}) per key in a Map (baseline)`,
    store: "Map",
    times: topLoopTimes,
    loop: topLoopTimes,
  },
  {
    name: `topN (n=${TOP_N}, k=${topCapacity}) with batchWindow`,
    store: "memory",
    times: topRunTimes,
    loop: topLoopTimes,
  },
];
for (const scenario of sketchScenarios) {
  const ms = median(scenario.times);
  rows.push({
    name: scenario.name,
    store: scenario.store,
    events: EVENTS,
    ms,
    eventsPerSecond: EVENTS / ms * 1000,
    ratioToLoop: median(scenario.loop) / ms,
  });
}

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
const distinct = rows.find((r) => r.name.startsWith("uniqueCount"))!;
const goals = {
  eventsPerSecondAtLeast1M: withWindow.eventsPerSecond >= 1_000_000,
  ratioAtLeastHalf: (withWindow.ratioToLoop ?? 0) >= 0.5,
  uniqueCountAtLeast500k: distinct.eventsPerSecond >= 500_000,
};

console.log(
  `\nRuntime: ${EVENTS.toLocaleString("en")} events, Zipf(${SKEW}) keys over ${
    ENTITIES.toLocaleString("en")
  } entities, daily windowed sum; median of ${REPEATS}. Sketch scenarios: distinct visitors (Zipf over ${
    VISITORS.toLocaleString("en")
  }) per page, top ${TOP_N} pages per country (${COUNTRIES} countries).\n`,
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
  }; >= 0.5 of the loop: ${
    goals.ratioAtLeastHalf ? "met" : "NOT met"
  }; uniqueCount >= 500 k events/s: ${
    goals.uniqueCountAtLeast500k ? "met" : "NOT met"
  }`,
);
console.log(
  `topN recall of each key's true top ${TOP_N}: pipeline ${
    (topRecall * 100).toFixed(1)
  } %, loop ${(topLoopRecall * 100).toFixed(1)} % (k = ${topCapacity})`,
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
        sketches: {
          visitors: VISITORS,
          countries: COUNTRIES,
          uniqueCount: "hll, key = page, element = visitor",
          topN: { n: TOP_N, k: topCapacity, key: "country", item: "page" },
        },
      },
      topNRecall: { pipeline: topRecall, loop: topLoopRecall },
      rows,
      goals,
    },
    null,
    2,
  ) + "\n",
);
console.log(`\nwrote ${out.pathname}`);
