/**
 * `deno task ci`: the whole check, as CI runs it.
 *
 * 1. brings the service stack up (tools/stack.ts; reuses running services),
 * 2. runs every test, unit and integration, with doc tests
 *    (`deno test -A --frozen --doc`) and shows the runner's summary,
 * 3. `deno fmt --check`, `deno lint`, `deno check`, `deno doc --lint` on every
 *    export, `deno publish --dry-run`,
 * 4. stops the services it started (also on failure or Ctrl-C),
 * 5. prints one line per step with pass/fail and duration, then
 *    `N passed, N failed` from the test summary, and exits non-zero when any
 *    step failed.
 *
 * `deno task verify` runs the same checks without touching the stack
 * (`--no-stack`): start it yourself first for the integration tests.
 *
 * @module
 */

import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import {
  down,
  ensureChromium,
  OPT_IN_SERVICES,
  SERVICES,
  type StackService,
  up,
  type UpResult,
} from "./stack.ts";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const deno = Deno.execPath();

/** The outcome of one CI step. */
export interface StepResult {
  /** Step name. */
  readonly name: string;
  /** True when the step passed. */
  readonly ok: boolean;
  /** Duration in ms. */
  readonly ms: number;
  /** Extra detail for the summary. */
  readonly note: string;
}

/** Counts read from a `deno test` summary line. */
export interface TestCounts {
  /** Tests that passed. */
  readonly passed: number;
  /** Tests that failed. */
  readonly failed: number;
  /** Tests that were ignored. */
  readonly ignored: number;
}

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

/**
 * Reads the counts from the output of `deno test` (its last summary line,
 * e.g. `ok | 120 passed | 0 failed (5s)` or
 * `FAILED | 3 passed (2 steps) | 1 failed | 2 ignored (1s)`).
 *
 * @param output Everything `deno test` printed.
 * @returns The counts, or `undefined` when there is no summary line.
 */
export function parseTestSummary(output: string): TestCounts | undefined {
  const lines = output.replace(ANSI, "").split("\n").reverse();
  for (const line of lines) {
    const m = line.match(
      /^(?:ok|FAILED) \| (\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed(?: \(\d+ steps?\))?(?: \| (\d+) ignored)?/,
    );
    if (m) {
      return {
        passed: Number(m[1]),
        failed: Number(m[2]),
        ignored: Number(m[3] ?? 0),
      };
    }
  }
  return undefined;
}

/** Runs a command with output shown live; also returns what it printed. */
async function sh(
  args: string[],
  options: { capture?: boolean } = {},
): Promise<{ ok: boolean; output: string }> {
  console.log(`\n$ deno ${args.join(" ")}`);
  const child = new Deno.Command(deno, {
    args,
    cwd: root,
    stdin: "null",
    stdout: options.capture ? "piped" : "inherit",
    stderr: options.capture ? "piped" : "inherit",
  }).spawn();
  let output = "";
  if (options.capture) {
    const decoder = new TextDecoder();
    const pump = async (
      stream: ReadableStream<Uint8Array>,
      sink: typeof Deno.stdout,
    ) => {
      for await (const chunk of stream) {
        output += decoder.decode(chunk, { stream: true });
        await sink.write(chunk);
      }
    };
    await Promise.all([
      pump(child.stdout, Deno.stdout),
      pump(child.stderr, Deno.stderr),
    ]);
  }
  const status = await child.status;
  return { ok: status.success, output };
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

async function main(args: string[]): Promise<number> {
  const withStack = !args.includes("--no-stack");
  const steps: StepResult[] = [];
  const started: StackService[] = [];
  let counts: TestCounts | undefined;
  let stopping: Promise<void> | undefined;

  const stopStack = (): Promise<void> => {
    stopping ??= (async () => {
      if (started.length === 0) return;
      const t0 = Date.now();
      const stopped = await down(started);
      steps.push({
        name: "stack down",
        ok: true,
        ms: Date.now() - t0,
        note: stopped.filter((s) => s.state === "stopped").map((s) => s.service)
          .join(", "),
      });
    })();
    return stopping;
  };
  const onSignal = () => {
    console.error("\nci: interrupted; stopping the services it started");
    stopStack().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);

  const step = async (
    name: string,
    work: () => Promise<{ ok: boolean; note?: string }>,
  ) => {
    console.log(`\n=== ${name} ===`);
    const t0 = Date.now();
    let result: { ok: boolean; note?: string };
    try {
      result = await work();
    } catch (error) {
      result = {
        ok: false,
        note: error instanceof Error ? error.message : String(error),
      };
    }
    steps.push({
      name,
      ok: result.ok,
      ms: Date.now() - t0,
      note: result.note ?? "",
    });
  };

  try {
    if (withStack) {
      await step("stack up", async () => {
        // The opt-in services too (Spark Connect): CI runs their tests.
        const results: UpResult[] = await up([
          ...SERVICES,
          ...OPT_IN_SERVICES,
        ]);
        for (const r of results) {
          if (r.state === "started") started.push(r.service);
        }
        for (const r of results) {
          console.log(
            `${r.service.padEnd(9)} ${r.state.padEnd(8)} port ${
              String(r.port).padEnd(6)
            } ${seconds(r.ms).padStart(6)}  ${r.detail}`,
          );
        }
        const failed = results.filter((r) => r.state === "failed");
        return {
          ok: failed.length === 0,
          note: failed.length > 0
            ? `did not come up: ${failed.map((r) => r.service).join(", ")}`
            : `started: ${started.join(", ") || "none (reused)"}`,
        };
      });
    }
    if (withStack) {
      await step("browser", async () => ({
        ok: true,
        note: await ensureChromium(),
      }));
    }
    await step("test", async () => {
      const res = await sh(["test", "-A", "--frozen", "--doc"], {
        capture: true,
      });
      counts = parseTestSummary(res.output);
      return {
        ok: res.ok,
        note: counts
          ? `${counts.passed} passed, ${counts.failed} failed, ${counts.ignored} ignored`
          : "no test summary (the run did not finish)",
      };
    });
    await step("fmt --check", async () => await sh(["fmt", "--check"]));
    await step("lint", async () => await sh(["lint"]));
    await step("check", async () => await sh(["check", "--frozen", "."]));
    await step("doc:lint", async () => await sh(["task", "doc:lint"]));
    await step(
      "publish:check",
      async () => await sh(["publish", "--dry-run", "--allow-dirty"]),
    );
  } finally {
    await stopStack();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }

  const allOk = steps.every((s) => s.ok);
  console.log("\n=== summary ===");
  for (const s of steps) {
    console.log(
      `${s.ok ? "pass" : "FAIL"}  ${s.name.padEnd(14)} ${
        seconds(s.ms).padStart(7)
      }  ${s.note}`,
    );
  }
  console.log(allOk ? "ci: all steps passed" : "ci: FAILED");
  const passed = counts?.passed ?? 0;
  // A run that died before its summary counts as one failure, never as zero.
  const failed = counts ? counts.failed : 1;
  console.log(`${passed} passed, ${failed} failed`);
  return allOk ? 0 : 1;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
