// Monoid benchmark: combineAll over 1 M numbers against a hand-written loop, and combine throughput.
//
//   deno run -A bench/monoid.ts          1 M numbers, 21 repetitions, 1 s per combine measurement
//   deno run -A bench/monoid.ts --quick  1 M numbers, 7 repetitions, 0.2 s per combine measurement (< 60 s)
//
// Prints markdown tables and writes bench/results/monoid.json.

import { writeResults } from "./_results.ts";
import {
  count,
  decayedSum,
  first,
  hours,
  last,
  mapMerge,
  max,
  min,
  type Monoid,
  set,
  sum,
  tuple,
} from "../monoid/mod.ts";
import { seededRandom } from "../internal/prng.ts";

const quick = Deno.args.includes("--quick");
const N = 1_000_000;
const repetitions = quick ? 7 : 21;
const budgetMs = quick ? 200 : 1000;

// Deterministic inputs, so runs compare.
const random = seededRandom(0x9e3779b9);
const integers = Array.from({ length: N }, () => Math.floor(random() * 1e6));
const doubles = Array.from({ length: N }, () => (random() - 0.5) * 1e9);

// Results feed this sink so the optimiser cannot drop the work.
let sink = 0;

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function time(run: () => number): { median: number; min: number } {
  for (let i = 0; i < 3; i++) sink += run();
  const samples: number[] = [];
  for (let i = 0; i < repetitions; i++) {
    const started = performance.now();
    sink += run();
    samples.push(performance.now() - started);
  }
  return { median: median(samples), min: Math.min(...samples) };
}

interface BulkCase {
  monoid: string;
  input: string;
  run(): number;
  baseline(): number;
}

const bulkCases: BulkCase[] = [
  {
    monoid: "sum",
    input: "1 M integers",
    run: () => sum().combineAll(integers),
    baseline: () => {
      let s = 0;
      for (let i = 0; i < integers.length; i++) s += integers[i]!;
      return s;
    },
  },
  {
    monoid: "sum",
    input: "1 M doubles",
    run: () => sum().combineAll(doubles),
    baseline: () => {
      let s = 0;
      for (let i = 0; i < doubles.length; i++) s += doubles[i]!;
      return s;
    },
  },
  {
    monoid: "count",
    input: "1 M integers",
    run: () => count().combineAll(integers),
    baseline: () => {
      let s = 0;
      for (let i = 0; i < integers.length; i++) s += integers[i]!;
      return s;
    },
  },
  {
    monoid: "max",
    input: "1 M doubles",
    run: () => max().combineAll(doubles) ?? 0,
    baseline: () => {
      let m = -Infinity;
      for (let i = 0; i < doubles.length; i++) {
        const v = doubles[i]!;
        if (v > m) m = v;
      }
      return m;
    },
  },
  {
    monoid: "min",
    input: "1 M doubles",
    run: () => min().combineAll(doubles) ?? 0,
    baseline: () => {
      let m = Infinity;
      for (let i = 0; i < doubles.length; i++) {
        const v = doubles[i]!;
        if (v < m) m = v;
      }
      return m;
    },
  },
];

interface BulkRow {
  monoid: string;
  input: string;
  medianMs: number;
  minMs: number;
  loopMedianMs: number;
  ratioToLoop: number;
  under10ms: boolean;
}

const bulk: BulkRow[] = [];
for (const c of bulkCases) {
  const ours = time(c.run);
  const loop = time(c.baseline);
  bulk.push({
    monoid: c.monoid,
    input: c.input,
    medianMs: ours.median,
    minMs: ours.min,
    loopMedianMs: loop.median,
    ratioToLoop: ours.median / loop.median,
    under10ms: ours.median < 10,
  });
}

// Combine throughput: pairs of pre-built operands, combined in a loop until the budget runs out.
interface CombineCase<T> {
  monoid: Monoid<T>;
  label: string;
  operands: readonly T[];
}

function combineCase<T>(
  monoid: Monoid<T>,
  label: string,
  make: (i: number) => T,
): CombineCase<unknown> {
  const operands = Array.from({ length: 1024 }, (_, i) => make(i));
  return { monoid, label, operands } as CombineCase<unknown>;
}

const t0 = 1.7e12;
const combineCases: CombineCase<unknown>[] = [
  combineCase(sum(), "two integers", (i) => i),
  combineCase(max(), "two doubles", () => random()),
  combineCase(first(), "{ value, time } (JSON values)", (i) => ({
    value: `v${i}`,
    time: t0 + (i % 100) * 1000,
  })),
  combineCase(last(), "{ value, time }, all times equal (tie-break)", (i) => ({
    value: `v${i}`,
    time: t0,
  })),
  combineCase(
    decayedSum({ halfLife: hours(1) }),
    "{ value, time }",
    (i) => ({ value: i, time: t0 + i * 1000 }),
  ),
  combineCase(
    set(),
    "sets of 4 strings",
    (i) => new Set([`a${i % 7}`, `b${i % 11}`, `c${i % 13}`, `d${i}`]),
  ),
  combineCase(
    set({ maxSize: 4 }),
    "sets of 4 strings, maxSize 4",
    (i) => new Set([`a${i % 7}`, `b${i % 11}`, `c${i % 13}`, `d${i}`]),
  ),
  combineCase(
    mapMerge(count()),
    "maps of 4 keys",
    (i) =>
      new Map([[`k${i % 5}`, 1], [`k${i % 7}`, 2], [`x${i}`, 3], ["y", 4]]),
  ),
  combineCase(tuple(count(), max()), "[count, max]", (i) => [1, i] as const),
];

function rate(run: (deadline: number) => number): number {
  run(performance.now() + budgetMs / 4);
  const started = performance.now();
  const done = run(started + budgetMs);
  return done / ((performance.now() - started) / 1000);
}

interface CombineRow {
  monoid: string;
  operands: string;
  combinesPerSecond: number;
}

const combines: CombineRow[] = [];
for (const c of combineCases) {
  const { monoid, operands } = c;
  const n = operands.length;
  combines.push({
    monoid: monoid.name,
    operands: c.label,
    combinesPerSecond: rate((deadline) => {
      let done = 0;
      while (performance.now() < deadline) {
        for (let i = 0; i < n; i++) {
          const out = monoid.combine(operands[i], operands[(i + 1) % n]);
          if (out === undefined) sink++;
        }
        done += n;
      }
      return done;
    }),
  });
}
const addends = integers.slice(0, 1024);
const inlineAdd = rate((deadline) => {
  const n = addends.length;
  let done = 0;
  while (performance.now() < deadline) {
    for (let i = 0; i < n; i++) {
      const out = addends[i]! + addends[(i + 1) % n]!;
      if (out === undefined) sink++;
    }
    done += n;
  }
  return done;
});
combines.push({
  monoid: "baseline: inline a + b",
  operands: "two integers",
  combinesPerSecond: inlineAdd,
});

const fmt = (x: number, digits = 2) => x.toFixed(digits);
const millions = (x: number) => `${(x / 1e6).toFixed(1)} M`;

console.log(
  `\n### combineAll over 1 M numbers (median of ${repetitions}; goal < 10 ms)\n`,
);
console.log(
  "| monoid | input | median ms | min ms | hand loop ms | ratio | < 10 ms |",
);
console.log("|---|---|---|---|---|---|---|");
for (const r of bulk) {
  console.log(
    `| ${r.monoid} | ${r.input} | ${fmt(r.medianMs)} | ${fmt(r.minMs)} | ${
      fmt(r.loopMedianMs)
    } | ${fmt(r.ratioToLoop)}× | ${r.under10ms ? "yes" : "NO"} |`,
  );
}
console.log(`\n### combine throughput (${budgetMs} ms per row)\n`);
console.log("| monoid | operands | combines/s |");
console.log("|---|---|---|");
for (const r of combines) {
  console.log(
    `| ${r.monoid} | ${r.operands} | ${millions(r.combinesPerSecond)} |`,
  );
}

const result = {
  harness: "monoid",
  quick,
  date: new Date().toISOString(),
  deno: Deno.version.deno,
  v8: Deno.version.v8,
  target: Deno.build.target,
  n: N,
  repetitions,
  budgetMs,
  combineAll: bulk,
  combine: combines,
  sink: Number.isFinite(sink),
};
await writeResults("monoid", result);
