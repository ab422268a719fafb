// Sketch benchmark: our HLL / Top-K / Bloom against npm peers, in one process on the same inputs.
//
//   deno run -A bench/sketch.ts          1e3..1e6 distinct items (a few minutes)
//   deno run -A bench/sketch.ts --quick  1e3..1e5, short budgets (< 60 s)
//
// Prints markdown tables and writes bench/results/sketch.json.

import bloomFiltersModule from "bloom-filters";
import type {
  BloomFilter as PeerBloomFilter,
  HyperLogLog as PeerHyperLogLog,
  TopK as PeerTopK,
} from "bloom-filters";
import hyperloglogLite from "hyperloglog-lite";
import {
  BloomFilter,
  HLL_STANDARD_ERROR,
  HyperLogLog,
  TopK,
} from "../sketch/mod.ts";
import { seededRandom } from "../internal/prng.ts";

const bloomFilters = bloomFiltersModule as unknown as {
  BloomFilter: typeof PeerBloomFilter;
  HyperLogLog: typeof PeerHyperLogLog;
  TopK: typeof PeerTopK;
};

interface LiteHll {
  add(hash: number[]): void;
  count(): number;
}
const lite = hyperloglogLite as unknown as {
  (bits: number): LiteHll;
  hash(value: string): number[];
};

const quick = Deno.args.includes("--quick");
const sizes = quick ? [1e3, 1e4, 1e5] : [1e3, 1e4, 1e5, 1e6];
// Time one measurement may take; slow peers stop early and report the rate over what they did.
const budgetMs = quick ? 700 : 4000;
const maxSize = sizes[sizes.length - 1]!;

// 16-byte ASCII items: "u" + 15 base-36 digits.
const items = Array.from(
  { length: maxSize },
  (_, i) => `u${i.toString(36).padStart(15, "0")}`,
);

interface HllSubject {
  name: string;
  /** Adds items[0..n) to a fresh sketch, stopping at the deadline; returns how many were added and the estimate. */
  run(n: number, deadline: number): { added: number; estimate: number };
}

const CHECK_EVERY = 1024;

const hllSubjects: HllSubject[] = [
  {
    name: "@murmur/core HyperLogLog (Redis HYLL)",
    run(n, deadline) {
      const sketch = new HyperLogLog();
      for (let i = 0; i < n; i++) {
        sketch.add(items[i]!);
        if ((i & (CHECK_EVERY - 1)) === 0 && performance.now() > deadline) {
          return { added: i + 1, estimate: Number.NaN };
        }
      }
      return { added: n, estimate: sketch.count() };
    },
  },
  {
    name: "hyperloglog-lite 1.0.2 (2^14 registers)",
    run(n, deadline) {
      const sketch = lite(14);
      for (let i = 0; i < n; i++) {
        sketch.add(lite.hash(items[i]!));
        if ((i & (CHECK_EVERY - 1)) === 0 && performance.now() > deadline) {
          return { added: i + 1, estimate: Number.NaN };
        }
      }
      return { added: n, estimate: sketch.count() };
    },
  },
  {
    name: "bloom-filters 3.0.4 HyperLogLog (16384 registers)",
    run(n, deadline) {
      const sketch = new bloomFilters.HyperLogLog(16384);
      for (let i = 0; i < n; i++) {
        sketch.update(items[i]!);
        if ((i & 63) === 0 && performance.now() > deadline) {
          return { added: i + 1, estimate: Number.NaN };
        }
      }
      return { added: n, estimate: sketch.count(true) };
    },
  },
];

interface HllRow {
  sketch: string;
  distinct: number;
  addsPerSecond: number;
  estimate: number | null;
  relativeError: number | null;
  withinThreeSigma: boolean | null;
  complete: boolean;
}

// Lets the JIT compile each subject's hot loop (on sparse and dense sizes) before anything is timed.
function warmUp(subject: HllSubject): void {
  const until = performance.now() + budgetMs / 2;
  while (performance.now() < until) {
    subject.run(1000, until);
    subject.run(Math.min(maxSize, 20_000), until);
  }
}

function measureHll(subject: HllSubject, n: number): HllRow {
  let added = 0;
  let elapsed = 0;
  let estimate = Number.NaN;
  let complete = true;
  // Repeat small sizes so each figure covers a useful stretch of time.
  const started = performance.now();
  do {
    const t0 = performance.now();
    const result = subject.run(n, started + budgetMs);
    elapsed += performance.now() - t0;
    added += result.added;
    if (result.added < n) {
      complete = false;
      break;
    }
    estimate = result.estimate;
  } while (performance.now() - started < budgetMs / 4);
  const relativeError = complete ? (estimate - n) / n : null;
  return {
    sketch: subject.name,
    distinct: n,
    addsPerSecond: added / (elapsed / 1000),
    estimate: complete ? estimate : null,
    relativeError,
    withinThreeSigma: relativeError === null
      ? null
      : Math.abs(relativeError) <= 3 * HLL_STANDARD_ERROR,
    complete,
  };
}

interface RateRow {
  sketch: string;
  operation: string;
  items: number;
  perSecond: number;
  note: string;
}

function rate(
  sketch: string,
  operation: string,
  count: number,
  run: () => number,
  note: (result: number) => string,
): RateRow {
  run();
  const t0 = performance.now();
  const result = run();
  const seconds = (performance.now() - t0) / 1000;
  return {
    sketch,
    operation,
    items: count,
    perSecond: count / seconds,
    note: note(result),
  };
}

function bloomRows(): RateRow[] {
  const capacity = quick ? 50_000 : 200_000;
  const members = items.slice(0, capacity);
  const strangers = Array.from(
    { length: capacity },
    (_, i) => `s${i.toString(36).padStart(15, "0")}`,
  );
  const rows: RateRow[] = [];
  const ours = new BloomFilter({ capacity, falsePositiveRate: 0.01 });
  rows.push(rate("@murmur/core BloomFilter", "add", capacity, () => {
    const filter = new BloomFilter({ capacity, falsePositiveRate: 0.01 });
    for (const item of members) filter.add(item);
    ours.mergeInPlace(filter);
    return 0;
  }, () => `${ours.byteLength} bytes, ${ours.hashes} probes`));
  rows.push(rate(
    "@murmur/core BloomFilter",
    "has (absent)",
    capacity,
    () => {
      let positives = 0;
      for (const item of strangers) if (ours.has(item)) positives++;
      return positives;
    },
    (fp) => `false positives ${(100 * fp / capacity).toFixed(2)}% (target 1%)`,
  ));
  let peer = bloomFilters.BloomFilter.create(capacity, 0.01);
  rows.push(rate("bloom-filters 3.0.4 BloomFilter", "add", capacity, () => {
    peer = bloomFilters.BloomFilter.create(capacity, 0.01);
    for (const item of members) peer.add(item);
    return 0;
  }, () => `${Math.ceil(peer.size / 8)} bytes, ${peer._nbHashes} probes`));
  rows.push(
    rate(
      "bloom-filters 3.0.4 BloomFilter",
      "has (absent)",
      capacity,
      () => {
        let positives = 0;
        for (const item of strangers) if (peer.has(item)) positives++;
        return positives;
      },
      (fp) =>
        `false positives ${(100 * fp / capacity).toFixed(2)}% (target 1%)`,
    ),
  );
  return rows;
}

// A Zipf-like stream over 10 000 keys: key i appears about in proportion to 1 / (i + 1).
function zipfStream(length: number): string[] {
  const keys = 10_000;
  const weights = Array.from({ length: keys }, (_, i) => 1 / (i + 1));
  const cumulative: number[] = [];
  let sum = 0;
  for (const w of weights) cumulative.push(sum += w);
  const random = seededRandom(12345);
  return Array.from({ length }, () => {
    const target = random() * sum;
    let lo = 0;
    let hi = keys - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! < target) lo = mid + 1;
      else hi = mid;
    }
    return `key:${lo}`;
  });
}

function topKRows(): RateRow[] {
  const length = quick ? 50_000 : 300_000;
  const stream = zipfStream(length);
  const exact = new Map<string, number>();
  for (const key of stream) exact.set(key, (exact.get(key) ?? 0) + 1);
  const trueTop = [...exact].sort((a, b) => b[1] - a[1]).slice(0, 10).map((
    [key],
  ) => key);
  const recall = (found: string[]) =>
    `top-10 recall ${trueTop.filter((key) => found.includes(key)).length}/10`;
  let ours = new TopK({ k: 10 });
  let wide = new TopK({ k: 100 });
  let peer = new bloomFilters.TopK(10, 0.001, 0.99);
  return [
    rate("@murmur/core TopK (k=10)", "add", length, () => {
      ours = new TopK({ k: 10 });
      for (const key of stream) ours.add(key);
      return 0;
    }, () => recall(ours.top().map((item) => item.key))),
    rate(
      "@murmur/core TopK (k=100)",
      "add",
      length,
      () => {
        wide = new TopK({ k: 100 });
        for (const key of stream) wide.add(key);
        return 0;
      },
      () =>
        `${recall(wide.top(10).map((item) => item.key))} (top 10 of 100 kept)`,
    ),
    rate(
      "bloom-filters 3.0.4 TopK (k=10, ε=0.001, δ=0.99)",
      "add",
      length,
      () => {
        peer = new bloomFilters.TopK(10, 0.001, 0.99);
        for (const key of stream) peer.add(key);
        return 0;
      },
      () => recall(peer.values().map((item) => item.value)),
    ),
  ];
}

function format(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} K`;
  return n.toFixed(0);
}

console.log(`# Sketch benchmark${quick ? " (--quick)" : ""}\n`);
console.log(
  `Deno ${Deno.version.deno}, V8 ${Deno.version.v8}, ${Deno.build.target}; items are 16-byte ASCII strings; budget ${budgetMs} ms per measurement.\n`,
);

for (const subject of hllSubjects) warmUp(subject);
const hllResults: HllRow[] = [];
for (const n of sizes) {
  for (const subject of hllSubjects) hllResults.push(measureHll(subject, n));
}
console.log("## HyperLogLog: adds/s and relative error\n");
console.log(
  "| sketch | distinct | adds/s | estimate | error | within 3σ (±2.44%) |",
);
console.log("|---|---:|---:|---:|---:|:---:|");
for (const row of hllResults) {
  console.log(
    `| ${row.sketch} | ${format(row.distinct)} | ${
      format(row.addsPerSecond)
    } | ${row.estimate ?? "— (budget)"} | ${
      row.relativeError === null
        ? "—"
        : `${(100 * row.relativeError).toFixed(2)}%`
    } | ${
      row.withinThreeSigma === null ? "—" : row.withinThreeSigma ? "yes" : "no"
    } |`,
  );
}

const otherRows = [...bloomRows(), ...topKRows()];
console.log("\n## Bloom filter and Top-K\n");
console.log("| sketch | operation | items | ops/s | note |");
console.log("|---|---|---:|---:|---|");
for (const row of otherRows) {
  console.log(
    `| ${row.sketch} | ${row.operation} | ${format(row.items)} | ${
      format(row.perSecond)
    } | ${row.note} |`,
  );
}

// Goals.
const ours = (prefix: string) => (row: { sketch: string }) =>
  row.sketch.startsWith(prefix);
const ourHll = hllResults.filter(ours("@murmur/core"));
const peerHll = hllResults.filter((row) =>
  !row.sketch.startsWith("@murmur/core")
);
const hllFastEnough = ourHll.filter((row) => row.distinct >= 1e5).every((row) =>
  row.addsPerSecond >= 3e6
);
const hllAccurate = ourHll.every((row) => row.withinThreeSigma === true);
const hllBeatsPeers = sizes.every((n) => {
  const mine = ourHll.find((row) => row.distinct === n)!.addsPerSecond;
  return peerHll.filter((row) => row.distinct === n).every((row) =>
    mine >= row.addsPerSecond
  );
});
const opRate = (sketch: string, operation: string) =>
  otherRows.find((row) =>
    row.sketch.startsWith(sketch) && row.operation === operation
  )!.perSecond;
const bloomBeatsPeer =
  opRate("@murmur/core BloomFilter", "add") >= opRate("bloom-filters", "add") &&
  opRate("@murmur/core BloomFilter", "has (absent)") >=
    opRate("bloom-filters 3.0.4 BloomFilter", "has (absent)");
const topKBeatsPeer = opRate("@murmur/core TopK (k=10)", "add") >=
  opRate("bloom-filters 3.0.4 TopK", "add");
const goals = {
  hllAtLeast3MAddsPerSecondOnDenseSketches: hllFastEnough,
  hllMinAddsPerSecond: Math.min(...ourHll.map((row) => row.addsPerSecond)),
  hllErrorWithin3SigmaAtEverySize: hllAccurate,
  hllFasterThanEveryPeerAtEverySize: hllBeatsPeers,
  bloomFasterThanPeer: bloomBeatsPeer,
  topKFasterThanPeer: topKBeatsPeer,
};
console.log("\n## Goals\n");
console.log(
  `- HLL ≥ 3 M adds/s once dense (≥ 1e5 distinct): ${
    hllFastEnough ? "met" : "NOT met"
  } (slowest size: ${
    format(goals.hllMinAddsPerSecond)
  }/s, at 1e3 where the sketch is sparse)`,
);
console.log(
  `- HLL error within 3σ at every size: ${hllAccurate ? "met" : "NOT met"}`,
);
console.log(
  `- HLL at least as fast as every npm peer at every size: ${
    hllBeatsPeers ? "met" : "NOT met"
  }`,
);
console.log(
  `- Bloom at least as fast as bloom-filters (add and has): ${
    bloomBeatsPeer ? "met" : "NOT met"
  }`,
);
console.log(
  `- Top-K at least as fast as bloom-filters: ${
    topKBeatsPeer ? "met" : "NOT met"
  }`,
);

const resultsDir = new URL("./results/", import.meta.url);
await Deno.mkdir(resultsDir, { recursive: true });
await Deno.writeTextFile(
  new URL("sketch.json", resultsDir),
  JSON.stringify(
    {
      harness: "sketch",
      quick,
      date: new Date().toISOString(),
      deno: Deno.version.deno,
      v8: Deno.version.v8,
      target: Deno.build.target,
      budgetMs,
      hll: hllResults,
      others: otherRows,
      goals,
    },
    null,
    2,
  ) + "\n",
);
console.log(`\nwrote ${new URL("sketch.json", resultsDir).pathname}`);
