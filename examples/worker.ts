// A production-shaped worker: the pipelines of a YAML config (config/schema.json) fed by one Kafka source, into Deno KV or DynamoDB through a Valkey cache.
//
//   deno run -A examples/worker.ts --config examples/worker.yaml
//   deno run -A examples/worker.ts --brokers kafka:9092 --topic page_views --table murmur_state --no-cache
//
// Without --config it counts page views per page and day (the 0.1 worker).
// Start several with the same consumer group and they share the topic's
// partitions; SIGTERM (or Ctrl-C) makes one finish what it read, commit and
// leave, and the others take its partitions over where it stopped. Exactly
// once holds across crashes too (dedup is on by default). When the store
// names a swap alias, the worker follows `murmur swap` without a restart.

import { parseArgs } from "node:util";
import {
  buildPipelines,
  ConfigError,
  loadConfig,
  type MurmurConfig,
  openSource,
  openState,
  parseConfig,
  type PipelineSpec,
} from "../config/mod.ts";
import {
  type KafkaDeadLetter,
  kafkaDeadLetter,
  type KafkaPartition,
} from "../source/kafka.ts";
import {
  type DeadLetterHandler,
  type FanoutSummary,
  InMemoryMetrics,
  runFanout,
} from "../streaming/mod.ts";

const HELP =
  `examples/worker.ts: run the pipelines of a YAML config from Kafka (see examples/worker.yaml)

  --config <file>            YAML configuration (schema: config/schema.json)
  --brokers <a:9092,b:9092>  Kafka brokers
  --topic <name>             topic to read
  --group <id>               consumer group
  --dlq <topic>              dead-letter topic
  --table <name>             state table (DynamoDB table, Deno KV prefix)
  --dynamodb-endpoint <url>  DynamoDB endpoint
  --region <name>            AWS region
  --create-table             create the table if missing (development)
  --valkey-url <url>         Valkey/Redis cache
  --no-cache                 run without the cache
  --pipeline <name>          rename the (first) pipeline
  --window <day|hour|minute|none>  window of every pipeline
  --batch-window <ms>        fold for this long before writing
  --port <n>                 health port (0 = any)
  --log-interval <ms>        progress log interval
  --help

Without --config: count page views per page and day, from the environment
(MURMUR_KAFKA_BROKERS, MURMUR_TOPIC, MURMUR_GROUP, MURMUR_DLQ_TOPIC,
MURMUR_DYNAMODB_TABLE, MURMUR_DYNAMODB_ENDPOINT, AWS_REGION, MURMUR_VALKEY_URL,
MURMUR_PIPELINE, MURMUR_HEALTH_PORT). Flags override the file.`;

/** The configuration used without --config: the 0.1 page-view counter. */
export const DEFAULT_CONFIG = `
source:
  kind: kafka
  brokers: "\${MURMUR_KAFKA_BROKERS:-localhost:9092}"
  topic: "\${MURMUR_TOPIC:-page_views}"
  groupId: "\${MURMUR_GROUP:-page-view-counter}"
  deadLetterTopic: "\${MURMUR_DLQ_TOPIC:-}"
store:
  kind: dynamodb
  table: "\${MURMUR_DYNAMODB_TABLE:-murmur_state}"
  endpoint: "\${MURMUR_DYNAMODB_ENDPOINT:-}"
  region: "\${AWS_REGION:-us-east-1}"
defaults: { batchWindow: 1s, dedup: true }
pipelines:
  - name: "\${MURMUR_PIPELINE:-page_views}"
    key: page
    aggregate: count
    window: { every: day, retention: 90d }
    time: { field: at, whenMissing: recordTime }
health: { port: "\${MURMUR_HEALTH_PORT:-8080}" }
`;

/**
 * Builds the configuration from the YAML file named by `--config` (or the
 * default), then applies the flags.
 *
 * @param args The command-line arguments.
 * @param env Reads an environment variable.
 * @returns The configuration, or `"help"` when `--help` was asked.
 * @throws {ConfigError} For an unknown flag or a bad value, naming the line.
 */
export async function workerConfig(
  args: readonly string[],
  env: (name: string) => string | undefined,
): Promise<MurmurConfig | "help"> {
  let flags;
  try {
    flags = parseArgs({
      args: [...args],
      options: {
        config: { type: "string" },
        brokers: { type: "string" },
        topic: { type: "string" },
        group: { type: "string" },
        dlq: { type: "string" },
        table: { type: "string" },
        "dynamodb-endpoint": { type: "string" },
        region: { type: "string" },
        "create-table": { type: "boolean" },
        "valkey-url": { type: "string" },
        "no-cache": { type: "boolean" },
        pipeline: { type: "string" },
        window: { type: "string" },
        "batch-window": { type: "string" },
        port: { type: "string" },
        "log-interval": { type: "string" },
        help: { type: "boolean" },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new ConfigError(
      "flags",
      0,
      0,
      "",
      `${(error as Error).message}; see --help`,
    );
  }
  if (flags.help) return "help";
  let config = flags.config === undefined
    ? parseConfig(DEFAULT_CONFIG, { file: "(default config)", env })
    : await loadConfig(flags.config, env);
  const bad = (flag: string, detail: string) =>
    new ConfigError("flags", 0, 0, `--${flag}`, detail);
  const integer = (flag: string, value: string, min: number) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) {
      throw bad(flag, `must be an integer >= ${min}, got "${value}"`);
    }
    return n;
  };
  const source = config.source;
  if (source?.kind === "kafka") {
    config = {
      ...config,
      source: {
        ...source,
        ...(flags.brokers === undefined ? {} : {
          brokers: flags.brokers.split(",").map((b) => b.trim()).filter((b) =>
            b !== ""
          ),
        }),
        ...(flags.topic === undefined ? {} : { topic: flags.topic }),
        ...(flags.group === undefined ? {} : { groupId: flags.group }),
        ...(flags.dlq === undefined ? {} : { deadLetterTopic: flags.dlq }),
      },
    };
  }
  const store = config.store;
  if (store.kind === "dynamodb") {
    config = {
      ...config,
      store: {
        ...store,
        ...(flags.table === undefined ? {} : { table: flags.table }),
        ...(flags["dynamodb-endpoint"] === undefined
          ? {}
          : { endpoint: flags["dynamodb-endpoint"] }),
        ...(flags.region === undefined ? {} : { region: flags.region }),
        ...(flags["create-table"] ? { createTable: true } : {}),
      },
    };
  } else if (store.kind === "kv" && flags.table !== undefined) {
    config = { ...config, store: { ...store, table: flags.table } };
  }
  const cacheUrl = flags["valkey-url"] ??
    (flags.config === undefined ? env("MURMUR_VALKEY_URL") : undefined);
  if (cacheUrl !== undefined && cacheUrl !== "") {
    config = {
      ...config,
      cache: { url: cacheUrl, keyPrefix: config.cache?.keyPrefix ?? "murmur:" },
    };
  }
  if (flags["no-cache"]) config = { ...config, cache: null };
  const window = flags.window;
  if (
    window !== undefined && !["day", "hour", "minute", "none"].includes(window)
  ) {
    throw bad("window", `must be day, hour, minute or none, got "${window}"`);
  }
  const batchWindow = flags["batch-window"] === undefined
    ? undefined
    : integer("batch-window", flags["batch-window"], 0);
  config = {
    ...config,
    pipelines: config.pipelines.map((p, i): PipelineSpec => ({
      ...p,
      ...(i === 0 && flags.pipeline !== undefined
        ? { name: flags.pipeline }
        : {}),
      ...(window === undefined ? {} : {
        window: window === "none" ? null : {
          every: window as "day" | "hour" | "minute",
          retention: p.window?.retention ?? null,
        },
      }),
      ...(batchWindow === undefined ? {} : { run: { ...p.run, batchWindow } }),
    })),
    health: {
      ...config.health,
      ...(flags.port === undefined
        ? {}
        : { port: integer("port", flags.port, 0) }),
    },
    log: flags["log-interval"] === undefined
      ? config.log
      : { intervalMs: integer("log-interval", flags["log-interval"], 100) },
  };
  return config;
}

/** Writes one JSON log line to stdout. */
function log(
  level: "info" | "warn" | "error",
  msg: string,
  fields: Record<string, unknown> = {},
): void {
  console.log(
    JSON.stringify({ at: new Date().toISOString(), level, msg, ...fields }),
  );
}

/** Logs dead letters, at most one line per second (with how many were not logged). */
function loggedDeadLetters(): DeadLetterHandler {
  let last = 0;
  let quiet = 0;
  return (record, error) => {
    const now = Date.now();
    if (now - last < 1000) {
      quiet++;
      return;
    }
    log("warn", "dead letter", {
      record: record.id,
      stage: error.stage,
      reason: error.message,
      notLogged: quiet,
    });
    last = now;
    quiet = 0;
  };
}

/**
 * Runs the config's pipelines over its Kafka source until SIGTERM/SIGINT (or `signal`).
 *
 * @param config The configuration.
 * @param signal Stops the worker like SIGTERM does.
 * @returns What each pipeline did.
 */
export async function runWorker(
  config: MurmurConfig,
  signal: AbortSignal,
): Promise<FanoutSummary> {
  if (config.source === null) {
    throw new ConfigError(
      config.file,
      0,
      0,
      "source",
      "the worker needs a live source: add a source: section (kind: kafka)",
    );
  }
  const opened = await openState(config, {
    onCacheError: (error, operation) =>
      log("warn", "cache unavailable, reading and writing the store only", {
        operation,
        error: String(error),
      }),
    swap: {
      onSwap: (from, to) =>
        log("info", "state table swapped", {
          from: from.target,
          to: to.target,
          version: to.version,
        }),
      onError: (error) =>
        log("warn", "alias read failed", { error: String(error) }),
    },
  });
  const cache = opened.cache;
  const names = config.pipelines.map((p) => p.name);
  const kafka = config.source.kind === "kafka" ? config.source : null;
  const deadLetter: KafkaDeadLetter | null =
    kafka === null || kafka.deadLetterTopic === null ? null : kafkaDeadLetter({
      brokers: kafka.brokers,
      topic: kafka.deadLetterTopic,
      pipeline: names[0] ?? "",
    });
  const metrics = new InMemoryMetrics();
  const bound = buildPipelines(config, {
    store: opened.store,
    cache,
    run: { metrics, deadLetter: deadLetter ?? loggedDeadLetters() },
  });

  let assigned: readonly KafkaPartition[] = [];
  let lastCommitAt: number | null = null;
  const source = openSource(config.source, {
    logLevel: "warn",
    onAssignment: (partitions) => {
      assigned = partitions;
      log("info", "partitions assigned", {
        partitions: partitions.map((p) => `${p.topic}:${p.partition}`),
      });
    },
    onCommit: () => {
      lastCommitAt = Date.now();
    },
  });

  let state: "starting" | "running" | "stopping" | "failed" = "starting";
  const startedAt = Date.now();
  const status = () => {
    const snapshots = names.map((name) => metrics.snapshot(name));
    const first = snapshots[0]!;
    return {
      status: state,
      pipeline: names[0],
      pipelines: names,
      source: source.name,
      store: opened.store.name,
      cache: config.cache === null ? null : cache?.name ?? "valkey, per table",
      partitions: assigned.map((p) => p.partition),
      events: first.eventsIn,
      eventsPerSecond: Math.round(first.eventsPerSecond),
      merges: snapshots.reduce((n, s) => n + s.merges, 0),
      dedupSkips: snapshots.reduce((n, s) => n + s.dedupSkips, 0),
      deadLetters: snapshots.reduce((n, s) => n + s.deadLetters, 0),
      errors: snapshots.reduce((n, s) => n + s.errors, 0),
      lagMs: Math.max(...snapshots.map((s) => s.lag ?? 0)),
      lastError: snapshots.find((s) => s.lastError !== null)?.lastError ??
        null,
      lastCommitAt: lastCommitAt === null
        ? null
        : new Date(lastCommitAt).toISOString(),
      uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
    };
  };

  const server = Deno.serve({
    port: config.health.port,
    hostname: config.health.hostname,
    onListen: ({ hostname, port }) =>
      log("info", "health endpoint listening", { hostname, port }),
  }, (request) => {
    const { pathname } = new URL(request.url);
    if (pathname === "/healthz") {
      return Response.json(status(), {
        status: state === "running" || state === "starting" ? 200 : 503,
      });
    }
    if (pathname === "/metrics") return Response.json(metrics.snapshots());
    return new Response("not found: try /healthz or /metrics\n", {
      status: 404,
    });
  });

  const progress = setInterval(() => {
    const { status: _status, ...fields } = status();
    log("info", "progress", fields);
  }, config.log.intervalMs);

  signal.addEventListener("abort", () => {
    state = "stopping";
    log(
      "info",
      "stopping: finishing what was read, committing, leaving the group",
    );
  }, { once: true });

  log("info", "worker starting", {
    config: config.file,
    source: source.name,
    store: opened.store.name,
    cache: cache?.name ?? null,
    pipelines: config.pipelines.map((p) => ({
      name: p.name,
      aggregate: p.aggregate.kind,
      window: p.window?.every ?? "none",
      dedup: p.run.dedup,
    })),
  });
  state = "running";
  try {
    return await runFanout(source, bound, { signal });
  } catch (error) {
    state = "failed";
    throw error;
  } finally {
    clearInterval(progress);
    await deadLetter?.close().catch((error) =>
      log("warn", "dead-letter close failed", { error: String(error) })
    );
    await opened.close().catch((error) =>
      log("warn", "store or cache close failed", { error: String(error) })
    );
    await server.shutdown();
  }
}

if (import.meta.main) {
  let config: MurmurConfig | "help";
  try {
    config = await workerConfig(Deno.args, (name) => Deno.env.get(name));
  } catch (error) {
    console.error((error as Error).message);
    Deno.exit(2);
  }
  if (config === "help") {
    console.log(HELP);
    Deno.exit(0);
  }
  const stop = new AbortController();
  for (const name of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(name, () => stop.abort(new Error(name)));
  }
  try {
    const summary = await runWorker(config, stop.signal);
    const first = summary.pipelines[0]!;
    log("info", "stopped", {
      events: first.events,
      acked: Math.min(...summary.pipelines.map((p) => p.acked)),
      unacked: Math.max(...summary.pipelines.map((p) => p.unacked)),
      deadLetters: summary.pipelines.reduce((n, p) => n + p.deadLetters, 0),
      durationMs: Math.round(summary.durationMs),
      stoppedBy: summary.stoppedBy,
      pipelines: summary.pipelines,
    });
    Deno.exit(0);
  } catch (error) {
    log("error", "worker failed", {
      error: error instanceof Error
        ? `${error.name}: ${error.message}`
        : String(error),
    });
    Deno.exit(1);
  }
}
