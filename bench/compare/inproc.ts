// In process: our run() over a memory source into MemoryStore against a minimal Go loop of the same shape, same events.
//
//   deno run -A bench/compare/inproc.ts            1 M Zipf(1.1) events over 100 k pages, daily sum, 3 rounds
//   deno run -A bench/compare/inproc.ts --quick    200 k events, 1 round
//
// Both sides fold a sum per (page, daily bucket) of the same events, read
// from memory before the clock starts. Go (bench/compare/go/inproc, standard
// library only) has the shape of Go Murmur's Run(): a source goroutine and a
// 1024-slot channel, per record a store merge and an ack; with a window, a
// per-key map flushed by a ticker and at 1024 acks per key. Ours:
// `MemorySource` (batches of 1000) → `run()` → `MemoryStore`. After one
// unmeasured warm-up round per side, rounds alternate Go and ours; the table
// shows medians. Not like for like: our
// source hands over batches of 1000 where Go's channel carries one record.
// Prints one table and writes bench/results/compare_inproc.json.

import { daily, days, sum } from "../../monoid/mod.ts";
import { pipeline } from "../../pipeline/mod.ts";
import { MemorySource, seededRandom, Zipf } from "../../source/mod.ts";
import { MemoryStore } from "../../state/mod.ts";
import { run, type RunOptions } from "../../streaming/mod.ts";
import { buildGo, writeResults } from "./_go.ts";
import { benchFlags } from "../_flags.ts";

const flags = benchFlags({
  numbers: { events: [200_000, 1_000_000], rounds: [1, 3] },
});
const EVENTS = flags.events;
const PAGES = flags.quick ? 20_000 : 100_000;
const ROUNDS = flags.rounds;
const DAY = 86_400_000;

interface View {
  readonly page: string;
  readonly time: number;
}

const zipf = new Zipf(PAGES, 1.1, seededRandom(2025));
const now = Date.now();
const events: View[] = Array.from({ length: EVENTS }, (_, i) => ({
  page: `p${zipf.next()}`,
  time: now - 7_200_000 + Math.floor((i * 7_200_000) / EVENTS),
}));
// Every (page, bucket) the events touch, to read the totals back.
const distinct = new Map<string, { entity: string; bucket: number }>();
for (const e of events) {
  const bucket = Math.floor(e.time / DAY) * DAY;
  distinct.set(`${e.page}|${bucket}`, { entity: e.page, bucket });
}
const expectedKeys = distinct.size;
const file = await Deno.makeTempFile({ suffix: ".tsv" });
await Deno.writeTextFile(
  file,
  events.map((e) => `${e.page}\t${e.time}\n`).join(""),
);
const binary = await buildGo("inproc");

interface Sample {
  readonly seconds: number;
  readonly keys: number;
  readonly total: number;
}

async function goRun(window: boolean): Promise<Sample> {
  const out = await new Deno.Command(binary, {
    args: ["-events", file, "-window", window ? "1s" : "0"],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error("the Go loop failed");
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

async function oursRun(options: RunOptions): Promise<Sample> {
  const store = new MemoryStore();
  const views = pipeline<View>("views")
    .key((e) => e.page)
    .value(() => 1)
    .aggregate(sum())
    .window(daily({ retention: days(7) }))
    .storeIn(store)
    .build();
  const source = MemorySource.of(events, {
    batchSize: 1000,
    time: (e) => e.time,
  });
  const started = performance.now();
  const summary = await run(views, { ...options, source });
  const seconds = (performance.now() - started) / 1000;
  if (summary.acked !== EVENTS) {
    throw new Error(`acked ${summary.acked} of ${EVENTS}`);
  }
  const keys = [...distinct.values()];
  let total = 0;
  let found = 0;
  for (const v of await store.getMany(views.scope, keys)) {
    if (v !== undefined) {
      total += v;
      found++;
    }
  }
  return { seconds, keys: found, total };
}

const scenarios: {
  readonly name: string;
  readonly window: boolean;
  readonly options: RunOptions;
  readonly goal: number;
}[] = [
  { name: "no batch window", window: false, options: {}, goal: 1 },
  {
    name: "batch window 1 s",
    window: true,
    options: { batchWindow: { time: 1000, maxRecords: 10_000_000 } },
    goal: 2,
  },
];

const median = (xs: number[]) =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const rows = [];
for (const s of scenarios) {
  const go: number[] = [];
  const ours: number[] = [];
  // One unmeasured round per side first: a worker runs for hours, so the
  // table compares warm code (V8's JIT, Go's page faults), not start-up.
  await goRun(s.window);
  await oursRun(s.options);
  for (let r = 0; r < ROUNDS; r++) {
    for (
      const [side, sample] of [
        ["go", await goRun(s.window)],
        ["ours", await oursRun(s.options)],
      ] as const
    ) {
      if (sample.total !== EVENTS || sample.keys !== expectedKeys) {
        throw new Error(
          `${side} (${s.name}) folded ${sample.total} events into ${sample.keys} keys, expected ${EVENTS} into ${expectedKeys}`,
        );
      }
      (side === "go" ? go : ours).push(EVENTS / sample.seconds);
    }
  }
  rows.push({
    scenario: s.name,
    oursEventsPerSecond: median(ours),
    goEventsPerSecond: median(go),
    ratio: median(ours) / median(go),
    goal: s.goal,
  });
}
await Deno.remove(file);

const m = (x: number) => `${(x / 1e6).toFixed(2)} M`;
console.log(
  `# In process: ${EVENTS} Zipf events over ${PAGES} pages, daily sum, median of ${ROUNDS}\n`,
);
console.log("| scenario | ours ev/s | Go ev/s | ours / Go | goal |");
console.log("|---|---:|---:|---:|---:|");
for (const r of rows) {
  console.log(
    `| ${r.scenario} | ${m(r.oursEventsPerSecond)} | ${
      m(r.goEventsPerSecond)
    } | ${r.ratio.toFixed(2)} | ≥ ${r.goal} |`,
  );
}
await writeResults("compare_inproc", { events: EVENTS, pages: PAGES, rows });
