// The child side of the multi-process tests: arguments, one JSON line per step reached (read back by `Worker` in _process.ts), SIGTERM to stop.

import type { MetricsRecorder } from "../streaming/mod.ts";

/** Prints one step as a JSON line on stdout. */
export function say(line: Record<string, unknown>): void {
  console.log(JSON.stringify(line));
}

/**
 * The script's positional arguments by name; prints the usage and exits
 * with code 2 when one is missing or empty.
 */
export function workerArgs<const K extends string>(
  script: string,
  names: readonly K[],
): Record<K, string> {
  const out = {} as Record<K, string>;
  for (const [i, name] of names.entries()) {
    const value = Deno.args[i];
    if (!value) {
      console.error(`usage: ${script} ${names.map((n) => `<${n}>`).join(" ")}`);
      Deno.exit(2);
    }
    out[name] = value;
  }
  return out;
}

/**
 * A metrics recorder that says the steps the tests wait for: `read`,
 * `merged`, `flushed`, `error` and `skipped` (dedup), with their counts.
 */
export function stepMetrics(): MetricsRecorder {
  return {
    eventsIn: (_pipeline, count) => say({ step: "read", count }),
    merged: (_pipeline, deltas) => say({ step: "merged", deltas }),
    flushed: (_pipeline, records, keys) =>
      say({ step: "flushed", records, keys }),
    error: (_pipeline, error) => say({ step: "error", error: String(error) }),
    retried: () => {},
    deadLettered: () => {},
    dedupSkipped: (_pipeline, count) => say({ step: "skipped", count }),
    debounced: () => {},
    lag: () => {},
  };
}

/** A signal that aborts when the process gets SIGTERM (how `Worker.stop()` asks a child to stop). */
export function stopOnSigterm(): AbortSignal {
  const stop = new AbortController();
  Deno.addSignalListener("SIGTERM", () => stop.abort());
  return stop.signal;
}
