// The operator's command line: bootstrap, replay, swap and status over the worker's YAML config. Thin: it calls the library.

import { parseArgs } from "node:util";
import {
  buildPipelines,
  ConfigError,
  loadConfig,
  type MurmurConfig,
  openAlias,
  openSource,
  openState,
  type SourceSpec,
} from "../config/mod.ts";
import {
  AliasConflictError,
  AliasNotFoundError,
  type AliasRecord,
  prepareShadow,
  swap,
} from "../state/swap.ts";
import { replay, type ReplaySummary } from "../streaming/replay.ts";
import { clock, grouped, ProgressView } from "./_progress.ts";

/** Exit codes: 0 done, 1 failed, 2 bad usage or config, 3 lost a swap race. */
const EXIT = { ok: 0, failed: 1, usage: 2, conflict: 3 } as const;

/** Thrown for a command line that cannot be run; exits with 2. */
class UsageError extends Error {
  constructor(message: string) {
    super(`${message}; see \`murmur help\``);
    this.name = "UsageError";
  }
}

const HELP = `murmur: operate murmur pipelines from the worker's YAML config

usage: deno task murmur <command> --config <file> [options]

commands:
  status     the store, the swap alias (live table, version, shadow) and the pipelines
  bootstrap  run the pipelines over the config's bootstrap: source into the live store
  replay     run the pipelines over the config's replay: source into a shadow table,
             bucketing each event by its own time; prints what it rebuilt
               --into <table>     the shadow table (default: replay.into)
               --until <time>     skip buckets at or after this (ISO date or epoch ms;
                                  default: the alias's shadow cut when --into is the shadow)
               --trust-source-time  accept pipelines without time: (archive record time)
  swap       switch the store's alias (store.alias) to another table
               --to <table>       make <table> live (compare-and-set)
               --prepare <table> --from <time>
                                  name <table> as shadow: live workers copy buckets from
                                  <time> on into it, ready for a replay of the older ones;
                                  <time> must be in the future (--allow-past-cut to force)
               --expect-version <n>  fail unless the alias is still at version n
  codegen    typed Connect services, one per pipeline (--pipelines <config.yaml|module.ts>
             --out <dir> [--go]); see codegen/cli.ts --help
  help       this text

common options:
  --config <file>   the YAML config (config/schema.json); required
  --json            print the result as JSON

exit codes: 0 done, 1 failed, 2 bad usage or config, 3 lost a swap race`;

interface Flags {
  readonly config?: string;
  readonly json?: boolean;
  readonly into?: string;
  readonly until?: string;
  readonly to?: string;
  readonly prepare?: string;
  readonly from?: string;
  readonly "expect-version"?: string;
  readonly "trust-source-time"?: boolean;
  readonly "allow-past-cut"?: boolean;
}

type Command = (config: MurmurConfig, flags: Flags) => Promise<number>;

function say(flags: Flags, human: string, json: unknown): void {
  console.log(flags.json ? JSON.stringify(json, null, 2) : human);
}

function time(flag: string, value: string): number {
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms)) {
    throw new UsageError(
      `--${flag} must be an ISO date or epoch ms, got "${value}"`,
    );
  }
  return ms;
}

function iso(ms: number | null): string {
  return ms === null ? "-" : new Date(ms).toISOString();
}

function describeAlias(record: AliasRecord | undefined): string {
  if (record === undefined) return "alias: not created yet";
  return [
    `alias: ${record.alias} → ${record.target} (version ${record.version}, ${
      iso(record.updatedAt)
    })`,
    record.shadow === null
      ? "shadow: none"
      : `shadow: ${record.shadow.target}, copying buckets from ${
        iso(record.shadow.from)
      }`,
  ].join("\n");
}

function printRun(flags: Flags, what: string, summary: ReplaySummary): void {
  const lines = [
    `${what}: ${grouped(summary.events)} events, ${
      grouped(summary.deadLetters)
    } dead letters, ${clock(summary.durationMs / 1000)}`,
  ];
  for (const p of summary.pipelines) {
    const buckets = p.buckets.length === 0
      ? "all-time"
      : `${p.buckets.length} buckets ${iso(p.buckets[0]!)} … ${
        iso(p.buckets.at(-1)!)
      }`;
    lines.push(
      `  ${p.pipeline}: ${grouped(p.acked)} acked, ${
        grouped(p.deadLetters)
      } dead letters, ${p.keysExact ? "" : "~"}${
        grouped(p.keys)
      } keys, ${buckets}, events ${iso(p.from)} … ${iso(p.to)}${
        p.afterCut > 0 ? `, ${grouped(p.afterCut)} deltas after the cut` : ""
      }${p.late > 0 ? `, ${grouped(p.late)} late (past retention)` : ""}`,
    );
  }
  say(flags, lines.join("\n"), summary);
}

async function runOver(
  config: MurmurConfig,
  flags: Flags,
  spec: SourceSpec,
  what: "bootstrap" | "replay",
  into: string | undefined,
  until: number | undefined,
): Promise<ReplaySummary> {
  await using opened = await openState(config, {
    ...(into === undefined ? {} : { table: into }),
  });
  // A bootstrap writes the live table, so it writes its cache through; a
  // replay's shadow has no readers yet.
  const cache = what === "bootstrap" ? opened.cache : null;
  const view = new ProgressView({ unit: "events" });
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  try {
    return await replay(
      openSource(spec),
      buildPipelines(config, { store: opened.store, cache }),
      {
        signal: stop.signal,
        trustSourceTime: what === "bootstrap" ||
          flags["trust-source-time"] === true,
        ...(until === undefined ? {} : { until }),
        ...(flags.json ? {} : { onProgress: (p) => view.update(p) }),
        progressInterval: 200,
      },
    );
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    view.finish();
  }
}

/** The error for a command whose section the config file lacks. */
function missingSection(
  config: { readonly file: string },
  section: string,
  example: string,
): ConfigError {
  return new ConfigError(
    config.file,
    0,
    0,
    section,
    `no ${section}: section: add ${example}`,
  );
}

const COMMANDS: Record<string, Command> = {
  async status(config, flags) {
    await using opened = await openAlias(config.store);
    const record = opened.aliases === null || opened.alias === null
      ? undefined
      : await opened.aliases.read(opened.alias);
    const store = config.store;
    const table = store.kind === "memory" ? "memory" : store.table;
    const lines = [
      `config: ${config.file}`,
      `source: ${config.source?.kind ?? "none"}${
        config.bootstrap ? `, bootstrap: ${config.bootstrap.kind}` : ""
      }${config.replay ? `, replay: ${config.replay.source.kind}` : ""}`,
      `store: ${store.kind}${opened.alias === null ? ` table ${table}` : ""}${
        config.cache ? ", cache: valkey" : ""
      }`,
      ...(opened.alias === null ? [] : [describeAlias(record)]),
      "pipelines:",
      ...config.pipelines.map((p) =>
        `  ${p.name}: ${p.aggregate.kind} of ${p.value ?? "1"} by ${
          p.keys.map((k) =>
            "field" in k
              ? k.prefix + k.field
              : "const" in k
              ? k.const
              : k.template
          ).join(", ")
        }, ${p.window === null ? "all-time" : `per ${p.window.every}`}, time ${
          p.time?.field ?? "of the record"
        }`
      ),
    ];
    say(flags, lines.join("\n"), {
      config: config.file,
      store: config.store,
      alias: record ?? null,
      pipelines: config.pipelines.map((p) => p.name),
    });
    return EXIT.ok;
  },

  async bootstrap(config, flags) {
    if (config.bootstrap === null) {
      throw missingSection(config, "bootstrap", "bootstrap: { source: {...} }");
    }
    const summary = await runOver(
      config,
      flags,
      config.bootstrap,
      "bootstrap",
      undefined,
      undefined,
    );
    printRun(flags, "bootstrap", summary);
    return summary.deadLetters > 0 && summary.events === summary.deadLetters
      ? EXIT.failed
      : EXIT.ok;
  },

  async replay(config, flags) {
    if (config.replay === null) {
      throw missingSection(
        config,
        "replay",
        "replay: { source: {...}, into: <shadow table> }",
      );
    }
    const into = flags.into ?? config.replay.into ?? undefined;
    if (into === undefined && config.store.kind !== "memory") {
      throw new UsageError(
        "replay needs a shadow table: pass --into <table> or set replay.into",
      );
    }
    let until = flags.until === undefined
      ? undefined
      : time("until", flags.until);
    if (until === undefined && into !== undefined) {
      await using opened = await openAlias(config.store);
      const record = opened.alias === null
        ? undefined
        : await opened.aliases?.read(opened.alias);
      if (record?.shadow?.target === into) until = record.shadow.from;
    }
    const summary = await runOver(
      config,
      flags,
      config.replay.source,
      "replay",
      into,
      until,
    );
    printRun(flags, `replay into ${into ?? "memory"}`, summary);
    return EXIT.ok;
  },

  async swap(config, flags) {
    await using opened = await openAlias(config.store);
    if (opened.aliases === null || opened.alias === null) {
      throw new ConfigError(
        config.file,
        0,
        0,
        "store.alias",
        "the store names no alias: add alias: <name> under store: (kv or dynamodb)",
      );
    }
    const expect = flags["expect-version"] === undefined
      ? {}
      : { expectVersion: Number(flags["expect-version"]) };
    let record: AliasRecord;
    if (flags.prepare !== undefined) {
      if (flags.from === undefined) {
        throw new UsageError("swap --prepare needs --from <time> (the cut)");
      }
      record = await prepareShadow(opened.aliases, opened.alias, {
        target: flags.prepare,
        from: time("from", flags.from),
      }, { ...expect, allowPastCut: flags["allow-past-cut"] === true });
    } else if (flags.to !== undefined) {
      record = await swap(opened.aliases, opened.alias, flags.to, expect);
    } else {
      throw new UsageError("swap needs --to <table> or --prepare <table>");
    }
    say(flags, describeAlias(record), record);
    return EXIT.ok;
  },
};

/**
 * Runs the CLI.
 *
 * @param args The command line, e.g. `["status", "--config", "worker.yaml"]`.
 * @returns The exit code.
 */
export async function main(args: readonly string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === "help" || name === "--help") {
    console.log(HELP);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === "codegen") {
    return await (await import("../codegen/cli.ts")).main(rest);
  }
  const command = COMMANDS[name];
  try {
    if (command === undefined) {
      throw new UsageError(
        `unknown command "${name}"; commands: ${
          Object.keys(COMMANDS).join(", ")
        }`,
      );
    }
    let flags: Flags;
    try {
      flags = parseArgs({
        args: rest,
        options: {
          config: { type: "string", short: "c" },
          json: { type: "boolean" },
          into: { type: "string" },
          until: { type: "string" },
          to: { type: "string" },
          prepare: { type: "string" },
          from: { type: "string" },
          "expect-version": { type: "string" },
          "trust-source-time": { type: "boolean" },
          "allow-past-cut": { type: "boolean" },
        },
        strict: true,
        allowPositionals: false,
      }).values;
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    if (flags.config === undefined) {
      throw new UsageError(`${name} needs --config <file>`);
    }
    return await command(await loadConfig(flags.config), flags);
  } catch (error) {
    console.error(`murmur ${name}: ${(error as Error).message}`);
    if (error instanceof AliasConflictError) return EXIT.conflict;
    if (
      error instanceof UsageError || error instanceof ConfigError ||
      error instanceof AliasNotFoundError || error instanceof RangeError
    ) return EXIT.usage;
    return EXIT.failed;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
