// Runtime memory: peak RSS of run() folding N events over K uniform keys into a memory or Deno KV store, dedup off and on.
//
//   deno run -A bench/runtime_memory.ts                 10 M events / 1 M keys, memory store, dedup off and on
//   deno run -A bench/runtime_memory.ts --quick         1 M events / 100 k keys, memory and Deno KV
//   deno run -A bench/runtime_memory.ts --events 2000000 --keys 1000000 --stores kv --dedup on
//   deno run -A bench/runtime_memory.ts --max-old-space 384   (children run with --max-old-space-size=384)
//
// Each scenario runs in its own process (so one scenario's heap never counts
// for the next), sampling RSS every 50 ms; the table shows the peak, the
// goal (512 MiB) and the throughput, and bench/results/runtime_memory.json
// keeps them. Events come from a generator (never an array of N events), with
// a stream and a position per record, as a Kafka partition delivers them.

import { sum } from "../monoid/mod.ts";
import { pipeline } from "../pipeline/mod.ts";
import type { Source, SourceRecord } from "../source/mod.ts";
import { MemoryStore, type Store } from "../state/mod.ts";
import { run } from "../streaming/mod.ts";

const GOAL_MIB = 512;
const args = Deno.args;
const flag = (name: string) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1] : undefined;
};

interface Scenario {
  readonly store: "memory" | "kv";
  readonly dedup: boolean;
  readonly events: number;
  readonly keys: number;
  /** The child's V8 old-space cap (`--max-old-space-size`), or `null` for V8's default. */
  readonly maxOldSpaceMiB: number | null;
}

interface Outcome extends Scenario {
  readonly peakRssMiB: number;
  /** The heap still reachable once the run ended (store contents included), after a full GC. */
  readonly liveHeapMiB: number;
  readonly eventsPerSecond: number;
  readonly seconds: number;
}

/** Batches of 1 000 records over `keys` uniform keys, positions per stream (4 streams). */
function generated(events: number, keys: number): Source<number> {
  let state = 2025;
  const random = () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state;
  };
  const ack = () => {};
  return {
    name: "generated",
    async *[Symbol.asyncIterator]() {
      const positions = [0n, 0n, 0n, 0n];
      for (let i = 0; i < events; i += 1000) {
        const stream = (i / 1000) % 4;
        const batch: SourceRecord<number>[] = [];
        for (let j = 0; j < 1000 && i + j < events; j++) {
          batch.push({
            value: random() % keys,
            id: String(i + j),
            time: 0,
            stream: `gen:${stream}`,
            position: positions[stream]!++,
            ack,
          });
        }
        yield batch;
      }
    },
    close: () => Promise.resolve(),
  };
}

/** Runs one scenario in this process and prints its outcome as JSON. */
async function child(scenario: Scenario): Promise<void> {
  let peak = 0;
  const sample = () => {
    const rss = Deno.memoryUsage().rss;
    if (rss > peak) peak = rss;
  };
  const timer = setInterval(sample, 50);
  let store: Store;
  let path: string | undefined;
  if (scenario.store === "kv") {
    const { KvStore } = await import("../state/kv.ts");
    path = await Deno.makeTempFile({ suffix: ".kv" });
    store = await KvStore.open(path);
  } else {
    store = new MemoryStore();
  }
  const p = pipeline<number>("memory_bench").key((k) => `key:${k}`)
    .value(() => 1).aggregate(sum()).storeIn(store).build();
  const started = performance.now();
  const summary = await run(p, {
    source: generated(scenario.events, scenario.keys),
    batchWindow: { time: 500, maxRecords: 10_000 },
    dedup: scenario.dedup,
  });
  const seconds = (performance.now() - started) / 1000;
  sample();
  clearInterval(timer);
  (globalThis as { gc?: () => void }).gc?.();
  const live = Deno.memoryUsage().heapUsed;
  await store.close();
  if (path !== undefined) await Deno.remove(path).catch(() => {});
  if (summary.acked !== scenario.events) {
    throw new Error(`acked ${summary.acked} of ${scenario.events}`);
  }
  const outcome: Outcome = {
    ...scenario,
    peakRssMiB: Math.round(peak / 2 ** 20),
    liveHeapMiB: Math.round(live / 2 ** 20),
    eventsPerSecond: Math.round(scenario.events / seconds),
    seconds: Math.round(seconds * 10) / 10,
  };
  console.log(JSON.stringify(outcome));
}

async function main(): Promise<void> {
  const quick = args.includes("--quick");
  const events = Number(flag("events") ?? (quick ? 1_000_000 : 10_000_000));
  const keys = Number(flag("keys") ?? (quick ? 100_000 : 1_000_000));
  const stores = (flag("stores") ?? (quick ? "memory,kv" : "memory"))
    .split(",") as Scenario["store"][];
  const outcomes: Outcome[] = [];
  for (const store of stores) {
    const dedups = flag("dedup") === undefined
      ? [false, true]
      : [flag("dedup") === "on"];
    for (const dedup of dedups) {
      const cap = flag("max-old-space");
      const scenario: Scenario = {
        store,
        dedup,
        events,
        keys,
        maxOldSpaceMiB: cap === undefined ? null : Number(cap),
      };
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "--unstable-kv",
          `--v8-flags=--expose-gc${
            flag("max-old-space") === undefined
              ? ""
              : `,--max-old-space-size=${flag("max-old-space")}`
          }`,
          import.meta.filename!,
          "--child",
          JSON.stringify(scenario),
        ],
        stdout: "piped",
        stderr: "inherit",
      }).output();
      const line = new TextDecoder().decode(out.stdout).trim().split("\n")
        .at(-1)!;
      if (!out.success) throw new Error(`scenario failed: ${line}`);
      outcomes.push(JSON.parse(line) as Outcome);
    }
  }
  console.log(
    `\n| store | dedup | events | keys | peak RSS (MiB) | live heap at end (MiB) | goal ${GOAL_MIB} MiB | events/s |`,
  );
  console.log("|---|---|---|---|---|---|---|---|");
  for (const o of outcomes) {
    console.log(
      `| ${o.store} | ${o.dedup ? "on" : "off"} | ${
        o.events.toLocaleString("en")
      } | ${
        o.keys.toLocaleString("en")
      } | ${o.peakRssMiB} | ${o.liveHeapMiB} | ${
        o.peakRssMiB <= GOAL_MIB ? "met" : "missed"
      } | ${o.eventsPerSecond.toLocaleString("en")} |`,
    );
  }
  // Keep the outcomes of other scenarios measured before (one run per scenario is long).
  const file = new URL("./results/runtime_memory.json", import.meta.url);
  const same = (a: Outcome, b: Outcome) =>
    a.store === b.store && a.dedup === b.dedup && a.events === b.events &&
    a.keys === b.keys && a.maxOldSpaceMiB === b.maxOldSpaceMiB;
  let kept: Outcome[] = [];
  try {
    kept = (JSON.parse(await Deno.readTextFile(file)) as {
      outcomes: Outcome[];
    }).outcomes.filter((o) => !outcomes.some((n) => same(n, o)));
  } catch {
    kept = [];
  }
  await Deno.writeTextFile(
    file,
    JSON.stringify(
      { date: new Date().toISOString(), outcomes: [...kept, ...outcomes] },
      null,
      2,
    ) + "\n",
  );
}

if (args[0] === "--child") await child(JSON.parse(args[1]!) as Scenario);
else await main();
