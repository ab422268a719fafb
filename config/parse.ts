// The worker configuration: YAML → typed specs of the sources, the store and the pipelines (checked against schema.json).

import { ConfigError, parseAndValidate, type Segment } from "./_validate.ts";

import type {
  AggregateSpec,
  KeySpec,
  MurmurConfig,
  ParseConfigOptions,
  PipelineSpec,
  SourceSpec,
  StoreSpec,
  TimeSpec,
  WindowSpec,
} from "./types.ts";

export { ConfigError } from "./_validate.ts";

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * Converts a duration as the config writes it (`500`, `"30s"`, `"90d"`) to ms.
 *
 * @param value A number of ms, or a number with a unit (ms, s, m, min, h, d, w).
 * @returns The duration in ms.
 * @throws {RangeError} For anything else.
 *
 * @example Usage
 * ```ts
 * import { durationMs } from "@murmur/core/config";
 * import assert from "node:assert/strict";
 *
 * assert.equal(durationMs("90d"), 90 * 86_400_000);
 * assert.equal(durationMs(250), 250);
 * ```
 */
export function durationMs(value: number | string): number {
  if (typeof value === "number" && Number.isFinite(value) && value >= 0) {
    return value;
  }
  const match = /^([0-9]+(?:\.[0-9]+)?) ?(ms|s|m|min|h|d|w)$/.exec(
    String(value),
  );
  if (match === null) {
    throw new RangeError(
      `not a duration: ${
        JSON.stringify(value)
      }; write ms or a number with a unit (500ms, 30s, 5m, 6h, 90d)`,
    );
  }
  return Math.round(Number(match[1]) * UNITS[match[2]!]!);
}

type Raw = Record<string, unknown>;

const KAFKA_DURATIONS = [
  "sessionTimeout",
  "rebalanceTimeout",
  "heartbeatInterval",
  "handoverTimeout",
  "commitInterval",
  "maxWaitTime",
];

const FEED_DURATIONS = [
  "pollInterval",
  "maxPollInterval",
  "leaseDuration",
  "discoveryInterval",
  "checkpointInterval",
  "closeTimeout",
];

function sourceSpec(raw: Raw): SourceSpec {
  const settings: Record<string, number | string> = {};
  if (raw.kind === "kafka") {
    for (const [k, v] of Object.entries(raw)) {
      if (
        ["kind", "brokers", "topic", "groupId", "startFrom", "deadLetterTopic"]
          .includes(k)
      ) continue;
      settings[k] = KAFKA_DURATIONS.includes(k)
        ? durationMs(v as string | number)
        : v as string | number;
    }
    const brokers = typeof raw.brokers === "string"
      ? raw.brokers.split(",").map((b) => b.trim()).filter((b) => b !== "")
      : raw.brokers as string[];
    return {
      kind: "kafka",
      brokers,
      topic: raw.topic as string,
      groupId: raw.groupId as string,
      startFrom: (raw.startFrom as "earliest" | "latest" | undefined) ??
        "earliest",
      deadLetterTopic: (raw.deadLetterTopic as string | null | undefined) ||
        null,
      settings,
    };
  }
  if (
    raw.kind === "s3" || raw.kind === "parquet" || raw.kind === "mongo" ||
    raw.kind === "dynamodb" || raw.kind === "kinesis" ||
    raw.kind === "mongoChangeStream" || raw.kind === "dynamodbStreams"
  ) {
    const { kind: _, ...rest } = raw;
    if (
      raw.kind === "kinesis" || raw.kind === "mongoChangeStream" ||
      raw.kind === "dynamodbStreams"
    ) {
      for (const k of FEED_DURATIONS) {
        if (rest[k] !== undefined) {
          rest[k] = durationMs(rest[k] as string | number);
        }
      }
    }
    return { kind: raw.kind, settings: rest };
  }
  for (const [k, v] of Object.entries(raw)) {
    if (k !== "kind" && k !== "path") settings[k] = v as string | number;
  }
  return { kind: "jsonl", path: raw.path as string, settings };
}

function storeSpec(raw: Raw | undefined): StoreSpec {
  if (raw === undefined) {
    return {
      kind: "kv",
      path: null,
      table: "murmur",
      alias: null,
      pollInterval: 1000,
    };
  }
  const poll = raw.pollInterval === undefined
    ? 1000
    : durationMs(raw.pollInterval as string | number);
  if (raw.kind === "memory") return { kind: "memory" };
  if (raw.kind === "kv") {
    return {
      kind: "kv",
      path: (raw.path as string | undefined) ?? null,
      table: (raw.table as string | undefined) ?? "murmur",
      alias: (raw.alias as string | undefined) ?? null,
      pollInterval: poll,
    };
  }
  return {
    kind: "dynamodb",
    table: (raw.table as string | undefined) ?? "murmur_state",
    endpoint: (raw.endpoint as string | null | undefined) || null,
    region: (raw.region as string | undefined) ?? "us-east-1",
    createTable: (raw.createTable as boolean | undefined) ?? false,
    concurrency: (raw.concurrency as number | undefined) ?? null,
    alias: (raw.alias as string | undefined) ?? null,
    aliasTable: (raw.aliasTable as string | undefined) ?? "murmur_aliases",
    pollInterval: poll,
  };
}

function keySpec(raw: unknown): KeySpec {
  if (typeof raw === "string") return { field: raw, prefix: "" };
  const r = raw as Raw;
  if (typeof r.field === "string") {
    return { field: r.field, prefix: (r.prefix as string | undefined) ?? "" };
  }
  if (typeof r.const === "string") return { const: r.const };
  return { template: r.template as string };
}

function timeSpec(raw: unknown): TimeSpec | null {
  if (raw === undefined || raw === null) return null;
  if (typeof raw === "string") {
    return { field: raw, unit: "ms", whenMissing: "deadLetter" };
  }
  const r = raw as Raw;
  return {
    field: r.field as string,
    unit: (r.unit as "ms" | "s" | undefined) ?? "ms",
    whenMissing: (r.whenMissing as TimeSpec["whenMissing"] | undefined) ??
      "deadLetter",
  };
}

function aggregateSpec(raw: unknown): AggregateSpec {
  const r: Raw = typeof raw === "string" ? { kind: raw } : raw as Raw;
  switch (r.kind) {
    case "uniqueCount":
      return { kind: "uniqueCount", of: r.of as string };
    case "topN":
      return {
        kind: "topN",
        of: r.of as string,
        n: (r.n as number | undefined) ?? 10,
        k: (r.k as number | undefined) ?? null,
        weight: (r.weight as string | undefined) ?? null,
      };
    case "decayedSum":
      return {
        kind: "decayedSum",
        halfLife: durationMs(r.halfLife as string | number),
      };
    default:
      return { kind: r.kind as "sum" | "count" | "min" | "max" | "latest" };
  }
}

function windowSpec(raw: unknown): WindowSpec | null {
  if (raw === undefined || raw === "none") return null;
  if (typeof raw === "string") {
    return { every: raw as WindowSpec["every"], retention: null };
  }
  const r = raw as Raw;
  return {
    every: r.every as WindowSpec["every"],
    retention: r.retention === undefined
      ? null
      : durationMs(r.retention as string | number),
  };
}

const NEEDS_VALUE = new Set(["sum", "min", "max", "latest"]);

/**
 * Parses and checks a configuration. Every problem is a
 * {@linkcode ConfigError} whose message starts with `file:line:column` and
 * the dotted path of the bad value; nothing is opened or connected.
 *
 * @param text The YAML text.
 * @param options The file name for messages and the environment for `${NAME}`.
 * @returns The typed configuration.
 * @throws {ConfigError} For invalid YAML, a value the schema refuses, or an inconsistent pipeline.
 *
 * @example Sum the amount of each order per customer per day
 * ```ts
 * import { parseConfig } from "@murmur/core/config";
 * import assert from "node:assert/strict";
 *
 * const config = parseConfig(`
 * store: { kind: memory }
 * pipelines:
 *   - name: revenue
 *     key: customer.id
 *     value: amount
 *     aggregate: sum
 *     window: { every: day, retention: 90d }
 *     time: at
 * `);
 * const [revenue] = config.pipelines;
 * assert.equal(revenue?.aggregate.kind, "sum");
 * assert.equal(revenue?.window?.retention, 90 * 86_400_000);
 * ```
 */
export function parseConfig(
  text: string,
  options: ParseConfigOptions = {},
): MurmurConfig {
  const file = options.file ?? "config";
  const located = parseAndValidate(
    text,
    file,
    options.env ?? (() => undefined),
  );
  const root = located.value as Raw;
  const fail = (path: Segment[], detail: string, atKey?: string) =>
    located.fail(path, detail, atKey);
  const defaults = (root.defaults as Raw | undefined) ?? {};
  const seen = new Map<string, number>();
  const pipelines = (root.pipelines as Raw[]).map((p, i): PipelineSpec => {
    const at: Segment[] = ["pipelines", i];
    const name = p.name as string;
    if (seen.has(name)) {
      throw fail(
        [...at, "name"],
        `two pipelines are named "${name}" (also pipelines[${
          seen.get(name)
        }]); a name is a state namespace, give each its own`,
      );
    }
    seen.set(name, i);
    if (p.key === undefined && p.keys === undefined) {
      throw fail(
        at,
        `pipeline "${name}" has no key: add key: <field path> (or keys: [...] for roll-ups)`,
      );
    }
    if (p.key !== undefined && p.keys !== undefined) {
      throw fail(
        [...at, "keys"],
        `pipeline "${name}" has both key and keys: keep one`,
        "keys",
      );
    }
    const aggregate = aggregateSpec(p.aggregate);
    if (NEEDS_VALUE.has(aggregate.kind) && p.value === undefined) {
      throw fail(
        at,
        `pipeline "${name}" aggregates with ${aggregate.kind} but has no value: add value: <field path>, e.g. value: amount`,
      );
    }
    if (
      aggregate.kind === "topN" && aggregate.k !== null &&
      aggregate.k < aggregate.n
    ) {
      throw fail(
        [...at, "aggregate", "k"],
        `topN capacity k (${aggregate.k}) must be at least n (${aggregate.n})`,
      );
    }
    const batchWindow = p.batchWindow ?? defaults.batchWindow;
    const line = located.fail(at, "").line;
    return {
      name,
      keys: p.keys !== undefined
        ? (p.keys as unknown[]).map(keySpec)
        : [keySpec(p.key)],
      multi: p.keys !== undefined,
      value: (p.value as string | undefined) ?? null,
      aggregate,
      window: windowSpec(p.window),
      time: timeSpec(p.time ?? defaults.time),
      run: {
        batchWindow: batchWindow === undefined
          ? null
          : durationMs(batchWindow as string | number),
        batchMaxRecords: (p.batchMaxRecords ?? defaults.batchMaxRecords) as
          | number
          | undefined ??
          null,
        dedup: (p.dedup ?? defaults.dedup) as boolean | undefined ?? false,
        concurrency: (p.concurrency ?? defaults.concurrency) as
          | number
          | undefined ?? null,
        lateData: (p.lateData ?? defaults.lateData) as
          | "drop"
          | "deadLetter"
          | undefined ?? "drop",
        maxAttempts: (p.maxAttempts ?? defaults.maxAttempts) as
          | number
          | undefined ?? null,
      },
      line,
    };
  });
  const replay = root.replay as Raw | undefined;
  const cache = root.cache as Raw | undefined;
  const health = (root.health as Raw | undefined) ?? {};
  const log = (root.log as Raw | undefined) ?? {};
  return {
    file,
    source: root.source === undefined ? null : sourceSpec(root.source as Raw),
    bootstrap: root.bootstrap === undefined
      ? null
      : sourceSpec((root.bootstrap as Raw).source as Raw),
    replay: replay === undefined ? null : {
      source: sourceSpec(replay.source as Raw),
      into: (replay.into as string | undefined) ?? null,
    },
    store: storeSpec(root.store as Raw | undefined),
    cache: cache === undefined ? null : {
      url: cache.url as string,
      keyPrefix: (cache.keyPrefix as string | undefined) ?? "murmur:",
    },
    pipelines,
    health: {
      port: (health.port as number | undefined) ?? 8080,
      hostname: (health.hostname as string | undefined) ?? "0.0.0.0",
    },
    log: { intervalMs: (log.intervalMs as number | undefined) ?? 5000 },
  };
}

/**
 * Reads and parses a configuration file.
 *
 * @param path The YAML file.
 * @param env Reads environment variables for `${NAME}`. Default: `Deno.env.get`.
 * @returns The typed configuration.
 * @throws {ConfigError} When the file cannot be read or is invalid.
 */
export async function loadConfig(
  path: string,
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
): Promise<MurmurConfig> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new ConfigError(
      path,
      0,
      0,
      "",
      `cannot read the configuration: ${(error as Error).message}`,
    );
  }
  return parseConfig(text, { file: path, env });
}
