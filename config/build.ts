// From config specs to running parts: extractors from field paths, monoids, windows, pipelines, sources and stores.

import {
  count,
  daily,
  decayedSum,
  hourly,
  last,
  max,
  min,
  minutely,
  type Monoid,
  sum,
  type Window,
} from "../monoid/mod.ts";
import { hll, HyperLogLog } from "../sketch/hll.ts";
import { topK } from "../sketch/topk.ts";
import { type Pipeline, pipeline } from "../pipeline/mod.ts";
import type { Store } from "../state/mod.ts";
import type { ValkeyCache } from "../state/valkey.ts";
import { bind, type BoundPipeline, type RunOptions } from "../streaming/mod.ts";
import type {
  AggregateSpec,
  KeySpec,
  MurmurConfig,
  PipelineSpec,
  TimeSpec,
  WindowSpec,
} from "./types.ts";

/** An event as the config sees it: a JSON object. */
export type ConfigEvent = Readonly<Record<string, unknown>>;

/**
 * Compiles a dotted field path (`customer.id`, `items.0.sku`) to a reader.
 *
 * @param path The path.
 * @returns Reads the field of an event; `undefined` when any step is missing.
 *
 * @example Usage
 * ```ts
 * import { fieldReader } from "@murmur/core/config";
 * import assert from "node:assert/strict";
 *
 * const read = fieldReader("customer.id");
 * assert.equal(read({ customer: { id: "c1" } }), "c1");
 * assert.equal(read({}), undefined);
 * ```
 */
export function fieldReader(path: string): (event: unknown) => unknown {
  const steps = path.split(".");
  return (event) => {
    let at: unknown = event;
    for (const step of steps) {
      if (at === null || typeof at !== "object") return undefined;
      at = (at as Record<string, unknown>)[step];
    }
    return at;
  };
}

function entityOf(path: string, value: unknown): string {
  if (typeof value === "string" && value !== "") return value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (typeof value === "bigint") return String(value);
  if (typeof value === "boolean") return String(value);
  throw new TypeError(
    value === undefined
      ? `the event has no "${path}"`
      : `"${path}" must be a non-empty string or a number, got ${
        JSON.stringify(value)
      }`,
  );
}

function keyFn(spec: KeySpec): (event: unknown) => string {
  if ("const" in spec) {
    const entity = spec.const;
    return () => entity;
  }
  if ("field" in spec) {
    const read = fieldReader(spec.field);
    const { field, prefix } = spec;
    return (event) => prefix + entityOf(field, read(event));
  }
  const parts = spec.template.split(/(\{[^{}]+\})/).filter((p) => p !== "")
    .map((part) => {
      if (!part.startsWith("{")) return () => part;
      const path = part.slice(1, -1);
      const read = fieldReader(path);
      return (event: unknown) => entityOf(path, read(event));
    });
  return (event) => parts.map((part) => part(event)).join("");
}

function number(path: string, value: unknown): number {
  const n = (typeof value === "string" && value.trim() !== "") ||
      typeof value === "bigint"
    ? Number(value)
    : value;
  if (typeof n !== "number" || !Number.isFinite(n)) {
    throw new TypeError(
      value === undefined
        ? `the event has no "${path}"`
        : `"${path}" must be a number, got ${JSON.stringify(value)}`,
    );
  }
  return n;
}

function timeFn(
  spec: TimeSpec,
): (event: unknown, recordTime: number) => number {
  const read = fieldReader(spec.field);
  const scale = spec.unit === "s" ? 1000 : 1;
  return (event, recordTime) => {
    const value = read(event);
    if (value === undefined || value === null || value === "") {
      if (spec.whenMissing === "recordTime") return recordTime;
      throw new TypeError(
        `the event has no time field "${spec.field}" (set whenMissing: recordTime to fall back to the record's time)`,
      );
    }
    const ms = value instanceof Date
      ? value.getTime()
      : typeof value === "number" || typeof value === "bigint"
      ? Number(value) * scale
      : typeof value === "string" && /^\d+(\.\d+)?$/.test(value)
      ? Number(value) * scale
      : typeof value === "string"
      ? Date.parse(value)
      : NaN;
    if (!Number.isFinite(ms)) {
      throw new TypeError(
        `"${spec.field}" is not a time (epoch ${spec.unit} or ISO-8601): ${
          JSON.stringify(value)
        }`,
      );
    }
    return ms;
  };
}

/**
 * The window of a spec.
 *
 * @param spec The window spec, or `null`.
 * @returns The window, or `null` for all-time values.
 */
export function windowOf(spec: WindowSpec | null): Window | null {
  if (spec === null) return null;
  const options = spec.retention === null ? {} : { retention: spec.retention };
  switch (spec.every) {
    case "minute":
      return minutely(options);
    case "hour":
      return hourly(options);
    case "day":
      return daily(options);
  }
}

interface Folding {
  readonly monoid: Monoid<unknown>;
  readonly value: (event: unknown, time: number) => unknown;
  readonly top: number | null;
}

function folding(spec: AggregateSpec, valuePath: string | null): Folding {
  const read = valuePath === null ? () => 1 : fieldReader(valuePath);
  const numeric = (event: unknown) =>
    valuePath === null ? 1 : number(valuePath, read(event));
  switch (spec.kind) {
    case "sum":
      return { monoid: sum() as Monoid<unknown>, value: numeric, top: null };
    case "count":
      return { monoid: count() as Monoid<unknown>, value: () => 1, top: null };
    case "min":
      return { monoid: min() as Monoid<unknown>, value: numeric, top: null };
    case "max":
      return { monoid: max() as Monoid<unknown>, value: numeric, top: null };
    case "latest":
      return {
        monoid: last() as Monoid<unknown>,
        value: (event, time) => {
          const value = read(event);
          if (value === undefined) {
            throw new TypeError(`the event has no "${valuePath}"`);
          }
          return { value, time };
        },
        top: null,
      };
    case "decayedSum":
      return {
        monoid: decayedSum({ halfLife: spec.halfLife }) as Monoid<unknown>,
        value: (event, time) => ({ value: numeric(event), time }),
        top: null,
      };
    case "uniqueCount": {
      const of = fieldReader(spec.of);
      return {
        monoid: hll() as Monoid<unknown>,
        value: (event) => HyperLogLog.of(entityOf(spec.of, of(event))),
        top: null,
      };
    }
    case "topN": {
      const monoid = topK({ k: spec.k ?? Math.max(10 * spec.n, 100) });
      const of = fieldReader(spec.of);
      const weight = spec.weight === null ? null : fieldReader(spec.weight);
      const weightPath = spec.weight ?? "";
      return {
        monoid: monoid as Monoid<unknown>,
        value: (event) =>
          monoid.identity().add(
            entityOf(spec.of, of(event)),
            weight === null ? 1 : number(weightPath, weight(event)),
          ),
        top: spec.n,
      };
    }
  }
}

/** What a built pipeline may be given besides its spec. */
export interface BuildPipelineOptions {
  /** The store. */
  readonly store: Store;
  /** The write-through cache, or none. */
  readonly cache?: ValkeyCache | null;
}

/**
 * Builds a pipeline from its spec: keys, value, monoid, window and event
 * time read from the event's fields.
 *
 * @param spec The pipeline spec (from {@linkcode parseConfig}).
 * @param options The store and cache.
 * @returns The pipeline.
 *
 * @example Usage
 * ```ts
 * import { buildPipeline, parseConfig } from "@murmur/core/config";
 * import { MemoryStore } from "@murmur/core/state";
 * import assert from "node:assert/strict";
 *
 * const { pipelines } = parseConfig("pipelines: [{ name: views, key: page, aggregate: count, window: day }]");
 * const views = buildPipeline(pipelines[0]!, { store: new MemoryStore() });
 * assert.equal(views.monoid.kind, "count");
 * assert.equal(views.window?.granularity, "day");
 * ```
 */
export function buildPipeline(
  spec: PipelineSpec,
  options: BuildPipelineOptions,
): Pipeline<ConfigEvent, unknown> {
  const { monoid, value, top } = folding(spec.aggregate, spec.value);
  const keys = spec.keys.map(keyFn);
  let builder = spec.multi
    ? pipeline<ConfigEvent>(spec.name).keyMany((event) =>
      keys.map((key) => key(event))
    )
    : pipeline<ConfigEvent>(spec.name).key(keys[0]!);
  builder = builder.value(value).aggregate(monoid).storeIn(options.store)
    .lateData(spec.run.lateData);
  if (top !== null) builder = builder.top(top);
  const window = windowOf(spec.window);
  if (window !== null) builder = builder.window(window);
  if (spec.time !== null) builder = builder.time(timeFn(spec.time));
  if (options.cache !== undefined && options.cache !== null) {
    builder = builder.cache(options.cache);
  }
  return builder.build() as Pipeline<ConfigEvent, unknown>;
}

/**
 * The run options a pipeline spec asks for.
 *
 * @param spec The pipeline spec.
 * @returns Options for `run()` / `bind()`.
 */
export function runOptionsOf(spec: PipelineSpec): RunOptions {
  const r = spec.run;
  return {
    dedup: r.dedup,
    ...(r.batchWindow === null && r.batchMaxRecords === null ? {} : {
      batchWindow: {
        ...(r.batchWindow === null ? {} : { time: r.batchWindow }),
        ...(r.batchMaxRecords === null
          ? {}
          : { maxRecords: r.batchMaxRecords }),
      },
    }),
    ...(r.concurrency === null ? {} : { concurrency: r.concurrency }),
    ...(r.maxAttempts === null ? {} : { maxAttempts: r.maxAttempts }),
  };
}

/**
 * Builds every pipeline of a config, bound to its run options, for
 * `runFanout` (one source, several pipelines).
 *
 * @param config The config.
 * @param options The store, cache, and options added to every pipeline (metrics, dead letters, signal).
 * @returns The bound pipelines, in config order.
 */
export function buildPipelines(
  config: MurmurConfig,
  options: BuildPipelineOptions & { readonly run?: RunOptions },
): BoundPipeline<ConfigEvent>[] {
  return config.pipelines.map((spec) =>
    bind(buildPipeline(spec, options), {
      ...runOptionsOf(spec),
      ...options.run,
    })
  );
}
