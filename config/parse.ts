// The worker configuration: YAML → typed specs of the sources, the store and the pipelines (checked against schema.json).

import { ConfigError, parseAndValidate, type Segment } from "./_validate.ts";

export { ConfigError } from "./_validate.ts";

/** Where an entity comes from: a field (with a prefix), a constant, or a template of fields. */
export type KeySpec =
  | { readonly field: string; readonly prefix: string }
  | { readonly const: string }
  | { readonly template: string };

/** The monoid of a pipeline, as the config names it. */
export type AggregateSpec =
  | { readonly kind: "sum" | "count" | "min" | "max" | "latest" }
  | { readonly kind: "uniqueCount"; readonly of: string }
  | {
    readonly kind: "topN";
    readonly of: string;
    readonly n: number;
    readonly k: number | null;
    readonly weight: string | null;
  }
  | { readonly kind: "decayedSum"; readonly halfLife: number };

/** A window: bucket size and how long buckets are kept (`null`: forever). */
export interface WindowSpec {
  /** The bucket size. */
  readonly every: "minute" | "hour" | "day";
  /** Retention in ms after the bucket's end, or `null` to keep buckets forever. */
  readonly retention: number | null;
}

/** Where the event time comes from. */
export interface TimeSpec {
  /** The field path holding it: epoch ms (or s), or an ISO-8601 date. */
  readonly field: string;
  /** The unit of a numeric time. */
  readonly unit: "ms" | "s";
  /** An event without the field: dead-letter it (default) or use the record's time. */
  readonly whenMissing: "deadLetter" | "recordTime";
}

/** Run options of one pipeline, after `defaults:` were applied. */
export interface RunSpec {
  /** Batch window in ms, or `null` for the runtime's default (write as fast as the store takes it). */
  readonly batchWindow: number | null;
  /** Most records folded before a write. */
  readonly batchMaxRecords: number | null;
  /** Exactly once across crashes. */
  readonly dedup: boolean;
  /** Store calls of one write in parallel. */
  readonly concurrency: number | null;
  /** Attempts per store call before the run stops. */
  readonly maxAttempts: number | null;
}

/** One pipeline of the config. */
export interface PipelineSpec {
  /** The pipeline's name (its state namespace). */
  readonly name: string;
  /** The keys of each event (one, or several for roll-ups). */
  readonly keys: readonly KeySpec[];
  /** Whether the config used `keys:` (a list) rather than `key:`. */
  readonly multi: boolean;
  /** The field holding the value, or `null` (count, uniqueCount, topN). */
  readonly value: string | null;
  /** The monoid. */
  readonly aggregate: AggregateSpec;
  /** The window, or `null` for all-time values. */
  readonly window: WindowSpec | null;
  /** The event time, or `null` for the record's (source's) time. */
  readonly time: TimeSpec | null;
  /** Run options. */
  readonly run: RunSpec;
  /** The 1-based line where the pipeline starts in the file. */
  readonly line: number;
}

/** A Kafka source: a consumer group on a topic. */
export interface KafkaSourceSpec {
  /** The kind. */
  readonly kind: "kafka";
  /** Bootstrap brokers. */
  readonly brokers: readonly string[];
  /** The topic. */
  readonly topic: string;
  /** The consumer group. */
  readonly groupId: string;
  /** Where a new group starts. Default: `earliest`. */
  readonly startFrom: "earliest" | "latest";
  /** The dead-letter topic, or `null` to only count (and log) dead letters. */
  readonly deadLetterTopic: string | null;
  /** Further client and group settings (ms and bytes), passed to `kafkaSource`. */
  readonly settings: Readonly<Record<string, number | string>>;
}

/** A JSON-Lines file (or `-` for stdin). */
export interface JsonlSourceSpec {
  /** The kind. */
  readonly kind: "jsonl";
  /** The file path, or `-` for stdin. */
  readonly path: string;
  /** Further settings (name, batchSize, maxLineBytes, fromLine). */
  readonly settings: Readonly<Record<string, number | string>>;
}

/** Any source the config can name. */
export type SourceSpec = KafkaSourceSpec | JsonlSourceSpec;

/** The state store. */
export type StoreSpec =
  | { readonly kind: "memory" }
  | {
    readonly kind: "kv";
    /** The database file, or `null` for Deno's default location (`:memory:` for a throwaway one). */
    readonly path: string | null;
    /** The key prefix the state lives under (the KV "table"). */
    readonly table: string;
    /** A swap alias to follow instead of `table`, or `null`. */
    readonly alias: string | null;
    /** How often the alias is checked, in ms. */
    readonly pollInterval: number;
  }
  | {
    readonly kind: "dynamodb";
    /** The state table. */
    readonly table: string;
    /** The endpoint (DynamoDB Local), or `null` for AWS. */
    readonly endpoint: string | null;
    /** The region. */
    readonly region: string;
    /** Create the table when missing (development). */
    readonly createTable: boolean;
    /** Writes in flight. */
    readonly concurrency: number | null;
    /** A swap alias to follow instead of `table`, or `null`. */
    readonly alias: string | null;
    /** The table holding alias records. */
    readonly aliasTable: string;
    /** How often the alias is polled, in ms. */
    readonly pollInterval: number;
  };

/** A whole configuration file. */
export interface MurmurConfig {
  /** The file it came from (for messages). */
  readonly file: string;
  /** The live source, or `null`. */
  readonly source: SourceSpec | null;
  /** The bootstrap (snapshot) source, or `null`. */
  readonly bootstrap: SourceSpec | null;
  /** The replay archive and its shadow table, or `null`. */
  readonly replay: {
    readonly source: SourceSpec;
    readonly into: string | null;
  } | null;
  /** The store. Default: Deno KV at Deno's default location. */
  readonly store: StoreSpec;
  /** The Valkey cache, or `null`. */
  readonly cache: { readonly url: string; readonly keyPrefix: string } | null;
  /** The pipelines, all fed by the same source. */
  readonly pipelines: readonly PipelineSpec[];
  /** The worker's health endpoint. */
  readonly health: { readonly port: number; readonly hostname: string };
  /** How often the worker logs progress, in ms. */
  readonly log: { readonly intervalMs: number };
}

/** Options of {@linkcode parseConfig}. */
export interface ParseConfigOptions {
  /** The file name used in messages. Default: `"config"`. */
  readonly file?: string;
  /** Reads environment variables for `${NAME}`. Default: none set (only `${NAME:-default}` works). */
  readonly env?: (name: string) => string | undefined;
}

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
