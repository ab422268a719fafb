// run(): one pipeline over its source, live or finite, until the source ends or the signal stops it.

import { type Pipeline, PipelineConfigError } from "../pipeline/mod.ts";
import type { Source } from "../source/mod.ts";
import { drive, lane, type RunSummary, summarize } from "./_drive.ts";
import { Processor } from "./_processor.ts";
import { resolveOptions, type RunOptions } from "./options.ts";

/**
 * Options of {@linkcode run}: every {@linkcode RunOptions} field plus a source override.
 *
 * @typeParam E The event type.
 */
export interface RunPipelineOptions<E> extends RunOptions {
  /** Reads this source instead of the pipeline's own (`.from()`). */
  readonly source?: Source<E>;
}

/**
 * Runs a pipeline: reads record batches from its source through Web Streams
 * (`ReadableStream.from(source)` → extract → fold and write), folds values
 * per (key, bucket), merges them into the store, writes the cache through,
 * and acks each record once its effect is durable. A finite source simply
 * ends; a live one runs until `options.signal` aborts.
 *
 * Bad records (undecodable, an extractor that throws, a value of the wrong
 * type) go to `deadLetter` and the run goes on; a store that keeps failing
 * after `maxAttempts` stops the run with `StoreFailureError`. With
 * `dedup: true` every record is applied exactly once, even across a crash
 * and redelivery.
 *
 * @typeParam E The event type.
 * @typeParam V The value type.
 * @param pipeline The pipeline to run.
 * @param options Batching, retries, dedup, metrics, shutdown; see {@linkcode RunOptions}.
 * @returns What the run did.
 * @throws {PipelineConfigError} When there is no source, or an option conflicts with the monoid.
 * @throws {RangeError} For an option out of range.
 * @throws {StoreFailureError} When the store kept failing.
 * @throws {ExactlyOnceConflictError} When marks show two writers on one stream.
 * @throws {DeadLetterFailedError} When the `deadLetter` callback threw.
 *
 * @example Count page views from a finite source
 * ```ts
 * import { pipeline } from "@murmur/core/pipeline";
 * import { sum } from "@murmur/core/monoid";
 * import { MemorySource } from "@murmur/core/source";
 * import { MemoryStore } from "@murmur/core/state";
 * import { run } from "@murmur/core/streaming";
 * import assert from "node:assert/strict";
 *
 * const store = new MemoryStore();
 * const views = pipeline<{ page: string }>("views")
 *   .from(MemorySource.of([{ page: "a" }, { page: "b" }, { page: "a" }]))
 *   .key((e) => e.page)
 *   .value(() => 1)
 *   .aggregate(sum())
 *   .storeIn(store)
 *   .build();
 * const summary = await run(views, { batchWindow: { time: 50 } });
 * assert.equal(summary.acked, 3);
 * assert.equal(await store.get(views.scope, { entity: "a", bucket: null }), 2);
 * ```
 */
export async function run<E, V>(
  pipeline: Pipeline<E, V>,
  options: RunPipelineOptions<E> = {},
): Promise<RunSummary> {
  const started = performance.now();
  const source = options.source ?? pipeline.source;
  if (source === null) {
    throw new PipelineConfigError(
      pipeline.name,
      `pipeline "${pipeline.name}" has no source: call .from(source) before .build(), or pass run(pipeline, { source })`,
    );
  }
  const resolved = resolveOptions(
    pipeline as Pipeline<unknown, unknown>,
    options,
  );
  const processor = new Processor(pipeline as Pipeline<E, unknown>, resolved);
  const stoppedBy = await drive(source, [lane(processor)], (batch) => batch, {
    signal: options.signal,
    shutdownTimeout: resolved.shutdownTimeout,
    closeSource: resolved.closeSource,
  });
  return summarize(
    processor as Processor<unknown, unknown>,
    started,
    stoppedBy,
  );
}
