// Runs every bench/compare harness (each in its own process, one after another) and prints one table of ours / Go.
//
//   deno run -A bench/compare/run.ts              full size (several minutes; needs the stack, Go and h2load)
//   deno run -A bench/compare/run.ts --quick      the harnesses' quick sizes
//   deno run -A bench/compare/run.ts --only sketch,inproc
//   deno run -A bench/compare/run.ts --report     only summarise the JSON already in bench/results/
//
// Each harness writes bench/results/compare_<name>.json; this reads them back
// and writes bench/results/compare_summary.json. A harness that fails is
// reported and the others still run.

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeResults } from "./_go.ts";
import { benchFlags } from "../_flags.ts";

const flags = benchFlags({ strings: ["only"], booleans: ["report"] });
const here = dirname(fileURLToPath(import.meta.url));
const results = join(here, "..", "results");

/** The harnesses, with the arguments of their quick size. */
const HARNESSES: Record<string, string[]> = {
  sketch: ["--quick"],
  query: ["--quick"],
  e2e: ["--quick"],
  inproc: ["--quick"],
  memory: ["--events", "2000000", "--keys", "200000"],
};

const chosen = flags.only?.split(",") ?? Object.keys(HARNESSES);
const failed: string[] = [];
if (!flags.report) {
  for (const name of chosen) {
    console.error(`\n## bench/compare/${name}.ts`);
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--no-lock",
        join(here, `${name}.ts`),
        ...(flags.quick ? HARNESSES[name] ?? [] : []),
      ],
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (!out.success) failed.push(name);
  }
}

interface Line {
  readonly area: string;
  readonly path: string;
  readonly ours: string;
  readonly go: string;
  readonly ratio: number | null;
  readonly goal: string;
}

async function read(name: string): Promise<Record<string, unknown> | null> {
  try {
    return JSON.parse(
      await Deno.readTextFile(join(results, `compare_${name}.json`)),
    );
  } catch {
    return null;
  }
}

const rate = (x: number) =>
  x >= 1e6 ? `${(x / 1e6).toFixed(2)} M/s` : `${(x / 1e3).toFixed(1)} k/s`;
const lines: Line[] = [];

const sketch = await read("sketch") as
  | { rows: { path: string; ours: number; go: number }[] }
  | null;
for (const r of sketch?.rows ?? []) {
  lines.push({
    area: "sketch",
    path: r.path,
    ours: rate(r.ours),
    go: rate(r.go),
    ratio: r.ours / r.go,
    goal: "≥ 1.0",
  });
}

const query = await read("query") as
  | { rows: { case: string; server: string; perSecond: number }[] }
  | null;
for (const c of new Set((query?.rows ?? []).map((r) => r.case))) {
  const ours = query!.rows.find((r) => r.case === c && r.server === "ours");
  const go = query!.rows.find((r) => r.case === c && /go/i.test(r.server));
  if (ours === undefined || go === undefined) continue;
  lines.push({
    area: "query",
    path: c,
    ours: rate(ours.perSecond),
    go: rate(go.perSecond),
    ratio: ours.perSecond / go.perSecond,
    goal: "≥ 1.0",
  });
}

interface E2eRow {
  side: string;
  events: number;
  seconds: number;
  cpuSeconds: number;
}
const e2e = await read("e2e") as
  | { events: number; rows: E2eRow[]; ratio: number }
  | null;
if (e2e !== null) {
  const rows = e2e.rows;
  const mean = (side: string, f: (r: E2eRow) => number) => {
    const xs = rows.filter((r) => r.side === side).map(f);
    return xs.reduce((a, b) => a + b, 0) / xs.length;
  };
  const perSecond = (r: E2eRow) => r.events / r.seconds;
  const cpu = (r: E2eRow) => r.cpuSeconds / r.events * 1e6;
  lines.push({
    area: "end to end",
    path:
      `Kafka → sum → DynamoDB Local, ${e2e.events} events (ours dedup on; median of paired ratios)`,
    ours: rate(mean("ours", perSecond)),
    go: rate(mean("go", perSecond)),
    ratio: e2e.ratio,
    goal: "≥ 1.5",
  });
  lines.push({
    area: "end to end",
    path: "CPU-s per M events (lower is better; ratio Go / ours)",
    ours: mean("ours", cpu).toFixed(1),
    go: mean("go", cpu).toFixed(1),
    ratio: mean("go", cpu) / mean("ours", cpu),
    goal: "≥ 1.0",
  });
}

const inproc = await read("inproc") as
  | {
    events: number;
    rows: {
      scenario: string;
      oursEventsPerSecond: number;
      goEventsPerSecond: number;
      ratio: number;
      goal: number;
    }[];
  }
  | null;
for (const r of inproc?.rows ?? []) {
  lines.push({
    area: "in process",
    path: `run(), ${r.scenario}, ${inproc!.events} events`,
    ours: rate(r.oursEventsPerSecond),
    go: rate(r.goEventsPerSecond),
    ratio: r.ratio,
    goal: `≥ ${r.goal.toFixed(1)}`,
  });
}

const memory = await read("memory") as
  | {
    events: number;
    keys: number;
    rows: { store: string; peakRssMiB: number }[];
  }
  | null;
for (const r of memory?.rows ?? []) {
  lines.push({
    area: "memory",
    path: `${r.store}: ${memory!.events} events / ${
      memory!.keys
    } keys, peak RSS`,
    ours: `${r.peakRssMiB.toFixed(0)} MiB`,
    go: "—",
    ratio: null,
    goal: "< 512 MiB",
  });
}

console.log("\n# bench/compare summary\n");
console.log("| area | path | ours | Go | ratio | goal |");
console.log("|---|---|---:|---:|---:|---|");
for (const l of lines) {
  console.log(
    `| ${l.area} | ${l.path} | ${l.ours} | ${l.go} | ${
      l.ratio === null ? "—" : l.ratio.toFixed(2)
    } | ${l.goal} |`,
  );
}
if (failed.length > 0) console.log(`\nfailed: ${failed.join(", ")}`);
await writeResults("compare_summary", { lines, failed });
if (failed.length > 0) Deno.exit(1);
