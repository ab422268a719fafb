/**
 * The worker configuration: one YAML file names the live source (and the
 * bootstrap and replay sources), the state store (Deno KV, DynamoDB or
 * memory, optionally behind a swap alias and a Valkey cache) and one or more
 * pipelines fed by that source. Each pipeline says its key(s) (field paths,
 * several for roll-ups), its value field, its monoid (sum, count, min, max,
 * latest, uniqueCount, topN, decayedSum), its window and retention, and its
 * event-time field. The file is checked against `config/schema.json`;
 * every error names the file, line and column of the bad value.
 *
 * `examples/worker.ts` and the `murmur` CLI both read it.
 *
 * @example Sum the amount of each order per customer and per country, per day
 * ```ts
 * import { buildPipelines, parseConfig } from "@murmur/core/config";
 * import { MemorySource } from "@murmur/core/source";
 * import { MemoryStore } from "@murmur/core/state";
 * import { runFanout } from "@murmur/core/streaming";
 * import assert from "node:assert/strict";
 *
 * const config = parseConfig(`
 * pipelines:
 *   - name: revenue
 *     keys: [{ field: customer, prefix: "customer:" }, { field: country, prefix: "country:" }]
 *     value: amount
 *     aggregate: sum
 *     window: { every: day, retention: 90d }
 *     time: at
 *   - name: biggest_order
 *     key: customer
 *     value: amount
 *     aggregate: max
 * `);
 * const store = new MemoryStore();
 * const orders = [
 *   { customer: "c1", country: "fr", amount: 30, at: "2026-12-01T10:00:00Z" },
 *   { customer: "c1", country: "fr", amount: 12, at: "2026-12-01T11:00:00Z" },
 * ];
 * await runFanout(MemorySource.of(orders), buildPipelines(config, { store }));
 * const [revenue] = buildPipelines(config, { store });
 * const day = Date.UTC(2026, 11, 1);
 * assert.equal(await store.get(revenue!.pipeline.scope, { entity: "country:fr", bucket: day }), 42);
 * ```
 *
 * @module
 */

export { ConfigError, durationMs, loadConfig, parseConfig } from "./parse.ts";
export type {
  AggregateSpec,
  ArchiveSourceSpec,
  JsonlSourceSpec,
  KafkaSourceSpec,
  KeySpec,
  MurmurConfig,
  ParseConfigOptions,
  PipelineSpec,
  RunSpec,
  SourceSpec,
  StoreSpec,
  TimeSpec,
  WindowSpec,
} from "./types.ts";
export {
  buildPipeline,
  type BuildPipelineOptions,
  buildPipelines,
  type ConfigEvent,
  fieldReader,
  runOptionsOf,
  windowOf,
} from "./build.ts";
export { openSource, type SourceHooks } from "./sources.ts";
export { MissingHandoffError } from "./_feeds.ts";
export {
  openAlias,
  openCache,
  type OpenedAlias,
  type OpenedState,
  type OpenedStore,
  openState,
  type OpenStateOptions,
  openStore,
  type OpenStoreOptions,
} from "./stores.ts";
