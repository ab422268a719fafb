// Memory: peak RSS of run() folding 10 M events over 1 M keys into MemoryStore and Deno KV (goal: under 512 MiB).
//
//   deno run -A bench/compare/memory.ts                 10 M events, 1 M keys (uniform): memory, memory with a 384 MiB V8 heap, kv
//   deno run -A bench/compare/memory.ts --stores memory@300,kv --events 2000000
//   deno run -A bench/compare/memory.ts --events 2000000 --keys 200000 --stores memory
//
// Each store runs in its own child process (so one run's heap never counts
// for the next), fed by a `SyntheticSource` (events are generated as read,
// so the input does not sit in memory) with the default batch window
// bounds (1 s, maxKeys 100 k, maxBytes 64 MiB). The child samples its RSS
// every 50 ms; MemoryStore's RSS includes the 1 M stored values themselves.
// Prints one table and writes bench/results/compare_memory.json.

import { sum } from "../../monoid/mod.ts";
import { pipeline } from "../../pipeline/mod.ts";
import { SyntheticSource } from "../../source/mod.ts";
import { MemoryStore, type Store } from "../../state/mod.ts";
import { KvStore } from "../../state/kv.ts";
import { run } from "../../streaming/mod.ts";
import { writeResults } from "./_go.ts";
import { benchFlags } from "../_flags.ts";

const flags = benchFlags({
  numbers: { events: 10_000_000, keys: 1_000_000 },
  strings: ["stores", "child", "max-heap"],
});
const EVENTS = flags.events;
const KEYS = flags.keys;
const LIMIT_MIB = 512;

interface Row {
  readonly store: string;
  readonly events: number;
  readonly keys: number;
  readonly seconds: number;
  readonly peakRssMiB: number;
  readonly flushes: number;
}

async function child(kind: string): Promise<Row> {
  let peak = Deno.memoryUsage().rss;
  const sampler = setInterval(() => {
    peak = Math.max(peak, Deno.memoryUsage().rss);
  }, 50);
  let store: Store;
  let dir: string | undefined;
  if (kind === "kv") {
    dir = await Deno.makeTempDir();
    store = new KvStore(await Deno.openKv(`${dir}/state.sqlite3`), {}, true);
  } else store = new MemoryStore();
  const p = pipeline<{ entity: string }>("memory")
    .key((e) => e.entity)
    .value(() => 1)
    .aggregate(sum())
    .storeIn(store)
    .build();
  const started = performance.now();
  const summary = await run(p, {
    source: new SyntheticSource({
      entities: KEYS,
      skew: 0,
      total: EVENTS,
      batchSize: 1000,
      startTime: 1_700_000_000_000,
    }),
    batchWindow: { time: 1000 },
  });
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  peak = Math.max(peak, Deno.memoryUsage().rss);
  if (summary.acked !== EVENTS) {
    throw new Error(`acked ${summary.acked} of ${EVENTS}`);
  }
  await store.close();
  if (dir !== undefined) await Deno.remove(dir, { recursive: true });
  return {
    store: kind,
    events: EVENTS,
    keys: KEYS,
    seconds,
    peakRssMiB: peak / 2 ** 20,
    flushes: summary.flushes,
  };
}

if (flags.child !== undefined) {
  console.log(JSON.stringify(await child(flags.child)));
  Deno.exit(0);
}

const rows: Row[] = [];
// A store may carry its own V8 old-space cap in MiB: "memory@300" (else --max-heap applies).
for (const spec of (flags.stores ?? "memory,memory@384,kv").split(",")) {
  const [kind = "memory", own] = spec.split("@");
  const heap = own ?? flags["max-heap"];
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--no-lock",
      // Capping V8's old space shows whether the live set fits or V8 is only lazy to collect.
      ...(heap === undefined
        ? []
        : [`--v8-flags=--max-old-space-size=${heap}`]),
      new URL(import.meta.url).pathname,
      "--child",
      kind,
      "--events",
      String(EVENTS),
      "--keys",
      String(KEYS),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`the ${spec} run failed`);
  const row: Row = JSON.parse(new TextDecoder().decode(out.stdout));
  rows.push({
    ...row,
    store: heap === undefined ? kind : `${kind} (V8 old space ${heap} MiB)`,
  });
}

console.log(
  `# Memory: ${EVENTS} events over ${KEYS} keys (uniform), default batch bounds\n`,
);
console.log("| store | events/s | flushes | peak RSS | under 512 MiB |");
console.log("|---|---:|---:|---:|---|");
for (const r of rows) {
  console.log(
    `| ${r.store} | ${
      (r.events / r.seconds / 1000).toFixed(0)
    } k | ${r.flushes} | ${r.peakRssMiB.toFixed(0)} MiB | ${
      r.peakRssMiB < LIMIT_MIB ? "yes" : "no"
    } |`,
  );
}
await writeResults("compare_memory", { events: EVENTS, keys: KEYS, rows });
