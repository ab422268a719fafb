// A production-shaped worker: page views from Kafka, counted per page (and day) in DynamoDB through a Valkey cache.
//
//   deno run -A examples/worker.ts --config examples/worker.yaml
//   deno run -A examples/worker.ts --brokers kafka:9092 --topic page_views --table murmur_state --no-cache
//
// Start several with the same consumer group and they share the topic's
// partitions; SIGTERM (or Ctrl-C) makes one finish what it read, commit and
// leave, and the others take its partitions over where it stopped. Exactly
// once holds across crashes too (dedup is on by default).

import { parseArgs } from "node:util";
import {
  DynamoDBClient,
  type DynamoDBClientConfig,
} from "@aws-sdk/client-dynamodb";
import { parse as parseYaml } from "yaml";
import {
  daily,
  days,
  hourly,
  minutely,
  sum,
  type Window,
} from "../monoid/mod.ts";
import { pipeline } from "../pipeline/mod.ts";
import {
  type KafkaDeadLetter,
  kafkaDeadLetter,
  type KafkaPartition,
  kafkaSource,
} from "../source/kafka.ts";
import { DynamoDBStore, ensureTable } from "../state/dynamodb.ts";
import { ValkeyCache } from "../state/valkey.ts";
import { InMemoryMetrics, run, type RunSummary } from "../streaming/mod.ts";

/** One page view as it arrives on the topic. */
export interface PageView {
  /** The page viewed, e.g. `"/pricing"`. */
  readonly page: string;
  /** The visitor, when known. */
  readonly visitor?: string;
  /** When it happened: epoch ms or an ISO date; default the Kafka timestamp. */
  readonly at?: number | string;
}

/** Everything the worker needs, after YAML, environment and flags were merged. */
export interface WorkerConfig {
  readonly kafka: {
    readonly brokers: string[];
    readonly topic: string;
    readonly groupId: string;
    readonly deadLetterTopic: string | null;
    readonly fromBeginning: boolean;
  };
  readonly dynamodb: {
    readonly endpoint: string | null;
    readonly region: string;
    readonly table: string;
    readonly createTable: boolean;
  };
  readonly valkey: { readonly url: string | null };
  readonly pipeline: {
    readonly name: string;
    readonly window: "day" | "hour" | "minute" | "none";
    readonly retentionDays: number;
    readonly batchWindowMs: number;
    readonly batchMaxRecords: number;
    readonly dedup: boolean;
  };
  readonly health: { readonly port: number; readonly hostname: string };
  readonly log: { readonly intervalMs: number };
}

const HELP =
  `examples/worker.ts: count page views from Kafka into DynamoDB (+ Valkey cache)

  --config <file>            YAML configuration (see examples/worker.yaml)
  --brokers <a:9092,b:9092>  Kafka brokers            env MURMUR_KAFKA_BROKERS
  --topic <name>             topic to read            env MURMUR_TOPIC
  --group <id>               consumer group           env MURMUR_GROUP
  --dlq <topic>              dead-letter topic        env MURMUR_DLQ_TOPIC
  --table <name>             DynamoDB table           env MURMUR_DYNAMODB_TABLE
  --dynamodb-endpoint <url>  DynamoDB endpoint        env MURMUR_DYNAMODB_ENDPOINT
  --region <name>            AWS region               env AWS_REGION
  --create-table             create the table if missing (development)
  --valkey-url <url>         Valkey/Redis cache       env MURMUR_VALKEY_URL
  --no-cache                 run without the cache
  --pipeline <name>          pipeline (state namespace) env MURMUR_PIPELINE
  --window <day|hour|minute|none>
  --batch-window <ms>        fold for this long before writing
  --port <n>                 health port (0 = any)    env MURMUR_HEALTH_PORT
  --log-interval <ms>        progress log interval
  --help

Precedence: flags, then environment, then the YAML file, then defaults.`;

const DEFAULTS: WorkerConfig = {
  kafka: {
    brokers: ["localhost:9092"],
    topic: "page_views",
    groupId: "page-view-counter",
    deadLetterTopic: null,
    fromBeginning: true,
  },
  dynamodb: {
    endpoint: null,
    region: "us-east-1",
    table: "murmur_state",
    createTable: false,
  },
  valkey: { url: null },
  pipeline: {
    name: "page_views",
    window: "day",
    retentionDays: 90,
    batchWindowMs: 1000,
    batchMaxRecords: 200_000,
    dedup: true,
  },
  health: { port: 8080, hostname: "0.0.0.0" },
  log: { intervalMs: 5000 },
};

/** Thrown for a configuration the worker cannot run with; the message says what to fix. */
export class WorkerConfigError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "WorkerConfigError";
  }
}

type Section = Record<string, unknown>;

function section(root: Section, name: string): Section {
  const value = root[name];
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new WorkerConfigError(`config: "${name}" must be a mapping`);
  }
  return value as Section;
}

function text(where: string, value: unknown, fallback: string): string {
  if (value === undefined || value === null || value === "") return fallback;
  if (typeof value !== "string") {
    throw new WorkerConfigError(
      `config: ${where} must be a string, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

function optionalText(
  where: string,
  value: unknown,
  fallback: string | null,
): string | null {
  if (value === undefined) return fallback;
  if (value === null || value === "") return null;
  return text(where, value, "");
}

function integer(
  where: string,
  value: unknown,
  fallback: number,
  min = 0,
): number {
  if (value === undefined || value === null || value === "") return fallback;
  const n = typeof value === "string" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isInteger(n) || n < min) {
    throw new WorkerConfigError(
      `config: ${where} must be an integer >= ${min}, got ${
        JSON.stringify(value)
      }`,
    );
  }
  return n;
}

function flag(where: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined || value === null || value === "") return fallback;
  if (typeof value === "boolean") return value;
  if (value === "true" || value === "1") return true;
  if (value === "false" || value === "0") return false;
  throw new WorkerConfigError(
    `config: ${where} must be true or false, got ${JSON.stringify(value)}`,
  );
}

function brokerList(
  where: string,
  value: unknown,
  fallback: string[],
): string[] {
  if (value === undefined || value === null || value === "") return fallback;
  const list = typeof value === "string" ? value.split(",") : value;
  if (
    !Array.isArray(list) ||
    list.some((b) => typeof b !== "string" || b.trim() === "")
  ) {
    throw new WorkerConfigError(
      `config: ${where} must be a list of host:port, got ${
        JSON.stringify(value)
      }`,
    );
  }
  return list.map((b: string) => b.trim());
}

/**
 * Builds the configuration from command-line arguments, the environment and
 * the YAML file named by `--config`.
 *
 * @param args The command-line arguments.
 * @param env Reads an environment variable.
 * @returns The configuration, or `"help"` when `--help` was asked.
 * @throws {WorkerConfigError} For an unknown flag or a bad value.
 */
export async function loadConfig(
  args: readonly string[],
  env: (name: string) => string | undefined,
): Promise<WorkerConfig | "help"> {
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
    throw new WorkerConfigError(`${(error as Error).message}; see --help`);
  }
  if (flags.help) return "help";
  let file: Section = {};
  if (flags.config !== undefined) {
    let raw: string;
    try {
      raw = await Deno.readTextFile(flags.config);
    } catch (error) {
      throw new WorkerConfigError(
        `cannot read --config ${flags.config}: ${(error as Error).message}`,
      );
    }
    const parsed = parseYaml(raw) as unknown;
    if (
      parsed !== null && (typeof parsed !== "object" || Array.isArray(parsed))
    ) {
      throw new WorkerConfigError(
        `${flags.config}: the top level must be a mapping`,
      );
    }
    file = (parsed ?? {}) as Section;
  }
  const kafka = section(file, "kafka");
  const dynamodb = section(file, "dynamodb");
  const valkey = section(file, "valkey");
  const pipe = section(file, "pipeline");
  const health = section(file, "health");
  const log = section(file, "log");
  const pick = (
    flagValue: unknown,
    envName: string | null,
    fileValue: unknown,
  ) => flagValue ?? (envName === null ? undefined : env(envName)) ?? fileValue;

  const window = text(
    "pipeline.window",
    pick(flags.window, "MURMUR_WINDOW", pipe.window),
    DEFAULTS.pipeline.window,
  );
  if (!["day", "hour", "minute", "none"].includes(window)) {
    throw new WorkerConfigError(
      `config: pipeline.window must be day, hour, minute or none, got "${window}"`,
    );
  }
  const cacheUrl = optionalText(
    "valkey.url",
    pick(flags["valkey-url"], "MURMUR_VALKEY_URL", valkey.url),
    DEFAULTS.valkey.url,
  );
  return {
    kafka: {
      brokers: brokerList(
        "kafka.brokers",
        pick(flags.brokers, "MURMUR_KAFKA_BROKERS", kafka.brokers),
        DEFAULTS.kafka.brokers,
      ),
      topic: text(
        "kafka.topic",
        pick(flags.topic, "MURMUR_TOPIC", kafka.topic),
        DEFAULTS.kafka.topic,
      ),
      groupId: text(
        "kafka.groupId",
        pick(flags.group, "MURMUR_GROUP", kafka.groupId),
        DEFAULTS.kafka.groupId,
      ),
      deadLetterTopic: optionalText(
        "kafka.deadLetterTopic",
        pick(flags.dlq, "MURMUR_DLQ_TOPIC", kafka.deadLetterTopic),
        DEFAULTS.kafka.deadLetterTopic,
      ),
      fromBeginning: flag(
        "kafka.fromBeginning",
        kafka.fromBeginning,
        DEFAULTS.kafka.fromBeginning,
      ),
    },
    dynamodb: {
      endpoint: optionalText(
        "dynamodb.endpoint",
        pick(
          flags["dynamodb-endpoint"],
          "MURMUR_DYNAMODB_ENDPOINT",
          dynamodb.endpoint,
        ),
        DEFAULTS.dynamodb.endpoint,
      ),
      region: text(
        "dynamodb.region",
        pick(flags.region, "AWS_REGION", dynamodb.region),
        DEFAULTS.dynamodb.region,
      ),
      table: text(
        "dynamodb.table",
        pick(flags.table, "MURMUR_DYNAMODB_TABLE", dynamodb.table),
        DEFAULTS.dynamodb.table,
      ),
      createTable: flag(
        "dynamodb.createTable",
        pick(flags["create-table"], null, dynamodb.createTable),
        DEFAULTS.dynamodb.createTable,
      ),
    },
    valkey: { url: flags["no-cache"] ? null : cacheUrl },
    pipeline: {
      name: text(
        "pipeline.name",
        pick(flags.pipeline, "MURMUR_PIPELINE", pipe.name),
        DEFAULTS.pipeline.name,
      ),
      window: window as WorkerConfig["pipeline"]["window"],
      retentionDays: integer(
        "pipeline.retentionDays",
        pipe.retentionDays,
        DEFAULTS.pipeline.retentionDays,
        1,
      ),
      batchWindowMs: integer(
        "pipeline.batchWindowMs",
        pick(flags["batch-window"], null, pipe.batchWindowMs),
        DEFAULTS.pipeline.batchWindowMs,
      ),
      batchMaxRecords: integer(
        "pipeline.batchMaxRecords",
        pipe.batchMaxRecords,
        DEFAULTS.pipeline.batchMaxRecords,
        1,
      ),
      dedup: flag("pipeline.dedup", pipe.dedup, DEFAULTS.pipeline.dedup),
    },
    health: {
      port: integer(
        "health.port",
        pick(flags.port, "MURMUR_HEALTH_PORT", health.port),
        DEFAULTS.health.port,
      ),
      hostname: text(
        "health.hostname",
        health.hostname,
        DEFAULTS.health.hostname,
      ),
    },
    log: {
      intervalMs: integer(
        "log.intervalMs",
        pick(flags["log-interval"], null, log.intervalMs),
        DEFAULTS.log.intervalMs,
        100,
      ),
    },
  };
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

function windowOf(config: WorkerConfig["pipeline"]): Window | null {
  const retention = days(config.retentionDays);
  switch (config.window) {
    case "day":
      return daily({ retention });
    case "hour":
      return hourly({ retention });
    case "minute":
      return minutely({ retention });
    case "none":
      return null;
  }
}

/** Event time: the event's own `at` when it has one, else the Kafka timestamp. */
function eventTime(event: PageView, recordTime: number): number {
  if (event.at === undefined) return recordTime;
  const ms = typeof event.at === "number" ? event.at : Date.parse(event.at);
  if (!Number.isFinite(ms)) {
    throw new TypeError(`"at" is not a time: ${JSON.stringify(event.at)}`);
  }
  return ms;
}

/**
 * Runs the worker until SIGTERM/SIGINT (or `signal`).
 *
 * @param config The configuration.
 * @param signal Stops the worker like SIGTERM does.
 * @returns What the run did.
 */
export async function runWorker(
  config: WorkerConfig,
  signal: AbortSignal,
): Promise<RunSummary> {
  const dynamoConfig: DynamoDBClientConfig = { region: config.dynamodb.region };
  if (config.dynamodb.endpoint !== null) {
    dynamoConfig.endpoint = config.dynamodb.endpoint;
    // DynamoDB Local accepts any credentials; real AWS finds them itself.
    dynamoConfig.credentials = {
      accessKeyId: "local",
      secretAccessKey: "local",
    };
  }
  const dynamoClient = new DynamoDBClient(dynamoConfig);
  if (config.dynamodb.createTable) {
    await ensureTable(dynamoClient, config.dynamodb.table);
  }
  const dynamo = new DynamoDBStore(dynamoClient, config.dynamodb.table, {
    closeClient: true,
  });
  const cache = config.valkey.url === null ? null : new ValkeyCache({
    url: config.valkey.url,
    onError: (error, operation) =>
      log("warn", "cache unavailable, reading and writing the store only", {
        operation,
        error: String(error),
      }),
  });

  const window = windowOf(config.pipeline);
  let builder = pipeline<PageView>(config.pipeline.name)
    .key((event) => {
      if (typeof event.page !== "string" || event.page === "") {
        throw new TypeError('the event has no "page"');
      }
      return event.page;
    })
    .value(() => 1)
    .time(eventTime)
    .aggregate(sum())
    .storeIn(dynamo);
  if (window !== null) builder = builder.window(window);
  if (cache !== null) builder = builder.cache(cache);
  const views = builder.build();

  let assigned: readonly KafkaPartition[] = [];
  let lastCommitAt: number | null = null;
  const source = kafkaSource<PageView>({
    brokers: config.kafka.brokers,
    topic: config.kafka.topic,
    groupId: config.kafka.groupId,
    fromBeginning: config.kafka.fromBeginning,
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
  const deadLetter: KafkaDeadLetter | null =
    config.kafka.deadLetterTopic === null ? null : kafkaDeadLetter({
      brokers: config.kafka.brokers,
      topic: config.kafka.deadLetterTopic,
      pipeline: config.pipeline.name,
    });

  const metrics = new InMemoryMetrics();
  let state: "starting" | "running" | "stopping" | "failed" = "starting";
  const startedAt = Date.now();
  const status = () => {
    const snapshot = metrics.snapshot(config.pipeline.name);
    return {
      status: state,
      pipeline: config.pipeline.name,
      topic: config.kafka.topic,
      group: config.kafka.groupId,
      store: dynamo.name,
      cache: cache?.name ?? null,
      partitions: assigned.map((p) => p.partition),
      events: snapshot.eventsIn,
      eventsPerSecond: Math.round(snapshot.eventsPerSecond),
      merges: snapshot.merges,
      dedupSkips: snapshot.dedupSkips,
      deadLetters: snapshot.deadLetters,
      errors: snapshot.errors,
      lagMs: snapshot.lag,
      lastError: snapshot.lastError,
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
      const body = status();
      return Response.json(body, {
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
    topic: config.kafka.topic,
    group: config.kafka.groupId,
    table: config.dynamodb.table,
    cache: config.valkey.url === null ? null : "valkey",
    window: config.pipeline.window,
    batchWindowMs: config.pipeline.batchWindowMs,
    dedup: config.pipeline.dedup,
  });
  state = "running";
  try {
    return await run(views, {
      source,
      batchWindow: {
        time: config.pipeline.batchWindowMs,
        maxRecords: config.pipeline.batchMaxRecords,
      },
      dedup: config.pipeline.dedup,
      metrics,
      signal,
      ...(deadLetter === null ? {} : { deadLetter }),
    });
  } catch (error) {
    state = "failed";
    throw error;
  } finally {
    clearInterval(progress);
    await deadLetter?.close().catch((error) =>
      log("warn", "dead-letter close failed", { error: String(error) })
    );
    await dynamo.close().catch((error) =>
      log("warn", "store close failed", { error: String(error) })
    );
    await cache?.close().catch((error) =>
      log("warn", "cache close failed", { error: String(error) })
    );
    await server.shutdown();
  }
}

if (import.meta.main) {
  let config: WorkerConfig | "help";
  try {
    config = await loadConfig(Deno.args, (name) => Deno.env.get(name));
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
    log("info", "stopped", { ...summary });
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
