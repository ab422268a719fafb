/**
 * The streaming runtime: {@linkcode run} drives one pipeline over its source
 * with Web Streams, folding deltas per key in a batch window, writing them
 * with retries, exactly-once marks and claims, a write-through cache, and
 * acking each record only once its effect is durable;
 * {@linkcode runFanout} feeds several pipelines from one source.
 *
 * @example Usage
 * ```ts
 * import { InMemoryMetrics, run } from "@murmur/core/streaming";
 * import { pipeline } from "@murmur/core/pipeline";
 * import { count } from "@murmur/core/monoid";
 * import { MemorySource } from "@murmur/core/source";
 * import { MemoryStore } from "@murmur/core/state";
 * import assert from "node:assert/strict";
 *
 * const metrics = new InMemoryMetrics();
 * const clicks = pipeline<{ button: string }>("clicks")
 *   .from(MemorySource.of([{ button: "buy" }, { button: "buy" }]))
 *   .key((e) => e.button)
 *   .value(() => 1)
 *   .aggregate(count())
 *   .storeIn(new MemoryStore())
 *   .build();
 * const summary = await run(clicks, { metrics, dedup: true });
 * assert.equal(summary.acked, 2);
 * assert.equal(metrics.snapshot("clicks").eventsIn, 2);
 * ```
 *
 * @module
 */

export { run, type RunPipelineOptions } from "./run.ts";
export { Runner } from "./runner.ts";
export {
  bind,
  type BoundPipeline,
  type FanoutOptions,
  type FanoutSummary,
  runFanout,
} from "./fanout.ts";
export type { RunSummary } from "./_drive.ts";
export type {
  BatchWindow,
  DeadLetterHandler,
  RetryBackoff,
  RunOptions,
} from "./options.ts";
export {
  DeadLetterFailedError,
  ExactlyOnceConflictError,
  RecordError,
  type RecordStage,
  StoreFailureError,
} from "./errors.ts";
export {
  InMemoryMetrics,
  type InMemoryMetricsOptions,
  type MetricsRecorder,
  type MetricsSnapshot,
  noopMetrics,
  type Percentiles,
} from "./metrics.ts";
