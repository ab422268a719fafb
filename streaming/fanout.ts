// runFanout(): one source feeding several pipelines, each with its own options; a record is acked once all acked.

import { type Pipeline, PipelineConfigError } from "../pipeline/mod.ts";
import type { Source, SourceRecord } from "../source/mod.ts";
import { drive, lane, type RunSummary, summarize } from "./_drive.ts";
import { Processor } from "./_processor.ts";
import { resolveOptions, type RunOptions } from "./options.ts";

/**
 * A pipeline with its own run options, ready for {@linkcode runFanout}.
 *
 * @typeParam E The event type shared by all pipelines of the fanout.
 */
export interface BoundPipeline<E> {
  /** The pipeline (its own source, if any, is ignored). */
  readonly pipeline: Pipeline<E, unknown>;
  /** Its options; `signal`, `shutdownTimeout` and `closeSource` come from the fanout instead. */
  readonly options: RunOptions;
}

/**
 * Binds a pipeline to its run options for {@linkcode runFanout}, erasing its
 * value type so pipelines of different value types share one list.
 *
 * @typeParam E The event type.
 * @typeParam V The pipeline's value type.
 * @param pipeline The pipeline.
 * @param options Its batching, retries, dedup, debounce, metrics, dead letters.
 * @returns The bound pipeline.
 *
 * @example Usage
 * ```ts
 * import { bind } from "@murmur/core/streaming";
 * import { pipeline } from "@murmur/core/pipeline";
 * import { sum } from "@murmur/core/monoid";
 * import { MemoryStore } from "@murmur/core/state";
 *
 * const p = pipeline<{ k: string }>("p").key((e) => e.k).value(() => 1).aggregate(sum()).storeIn(new MemoryStore()).build();
 * const bound = bind(p, { batchWindow: { time: 100 } });
 * console.log(bound.pipeline.name); // "p"
 * ```
 */
export function bind<E, V>(
  pipeline: Pipeline<E, V>,
  options: RunOptions = {},
): BoundPipeline<E> {
  return { pipeline: pipeline as Pipeline<E, unknown>, options };
}

/** Options of {@linkcode runFanout}. */
export interface FanoutOptions {
  /** Stops all pipelines gracefully (see {@linkcode RunOptions.signal}). Default: none. */
  readonly signal?: AbortSignal;
  /** How long, in ms, the final writes after `signal` may take. Default: 10,000. */
  readonly shutdownTimeout?: number;
  /** Close the source when the fanout ends. Default: `true`. */
  readonly closeSource?: boolean;
}

/** What a fanout did. */
export interface FanoutSummary {
  /** One summary per pipeline, in the order given. */
  readonly pipelines: readonly RunSummary[];
  /** Wall-clock duration in ms. */
  readonly durationMs: number;
  /** Why the fanout ended. */
  readonly stoppedBy: "end" | "signal";
}

/** Gives every pipeline its own copy of each record; the source's ack fires once all copies were acked. */
function copier<E>(pipelines: number) {
  const made = new WeakMap<readonly SourceRecord<E>[], SourceRecord<E>[][]>();
  return (
    batch: readonly SourceRecord<E>[],
    lane: number,
  ): readonly SourceRecord<E>[] => {
    let shared = made.get(batch);
    if (shared === undefined) {
      const copies: SourceRecord<E>[][] = Array.from(
        { length: pipelines },
        () => [],
      );
      for (const record of batch) {
        let remaining = pipelines;
        for (let p = 0; p < pipelines; p++) {
          let acked = false;
          copies[p]!.push(copyRecord(record, () => {
            if (acked) return;
            acked = true;
            if (--remaining === 0) record.ack();
          }));
        }
      }
      shared = copies;
      made.set(batch, copies);
    }
    return shared[lane]!;
  };
}

function copyRecord<E>(
  record: SourceRecord<E>,
  ack: () => void,
): SourceRecord<E> {
  return {
    value: record.value,
    id: record.id,
    time: record.time,
    ...(record.stream === undefined ? {} : { stream: record.stream }),
    ...(record.position === undefined ? {} : { position: record.position }),
    ...(record.raw === undefined ? {} : { raw: record.raw }),
    ...(record.error === undefined ? {} : { error: record.error }),
    ack,
  };
}

/**
 * Runs several pipelines over one source. Each pipeline has its own buffer
 * and honours all its own options (batching, concurrency, debounce, dedup,
 * retries, dead letters, metrics); a record is acked at the source only once
 * every pipeline acked its copy, and the slowest pipeline holds back the
 * source (backpressure).
 *
 * @typeParam E The event type.
 * @param source The shared source.
 * @param pipelines The pipelines, bound with {@linkcode bind}.
 * @param options Shutdown and source handling.
 * @returns One summary per pipeline.
 * @throws {PipelineConfigError} When no pipeline is given or two share a name.
 * @throws {StoreFailureError} (or an `AggregateError` of several) when a pipeline's store kept failing.
 *
 * @example Usage
 * ```ts
 * import { bind, runFanout } from "@murmur/core/streaming";
 * import { pipeline } from "@murmur/core/pipeline";
 * import { max, sum } from "@murmur/core/monoid";
 * import { MemorySource } from "@murmur/core/source";
 * import { MemoryStore } from "@murmur/core/state";
 * import assert from "node:assert/strict";
 *
 * interface Sale { shop: string; amount: number }
 * const store = new MemoryStore();
 * const total = pipeline<Sale>("total").key((s) => s.shop).value((s) => s.amount).aggregate(sum()).storeIn(store).build();
 * const biggest = pipeline<Sale>("biggest").key((s) => s.shop).value((s) => s.amount).aggregate(max()).storeIn(store).build();
 * const source = MemorySource.of<Sale>([{ shop: "a", amount: 5 }, { shop: "a", amount: 7 }]);
 * await runFanout(source, [bind(total), bind(biggest, { batchWindow: { time: 10 } })]);
 * assert.equal(await store.get(total.scope, { entity: "a", bucket: null }), 12);
 * assert.equal(await store.get(biggest.scope, { entity: "a", bucket: null }), 7);
 * assert.equal(source.acked, 2);
 * ```
 */
export async function runFanout<E>(
  source: Source<E>,
  pipelines: readonly BoundPipeline<E>[],
  options: FanoutOptions = {},
): Promise<FanoutSummary> {
  const started = performance.now();
  if (pipelines.length === 0) {
    throw new PipelineConfigError(
      "",
      "runFanout() needs at least one pipeline: pass [bind(pipeline, options), ...]",
    );
  }
  const names = new Set<string>();
  for (const { pipeline } of pipelines) {
    if (names.has(pipeline.name)) {
      throw new PipelineConfigError(
        pipeline.name,
        `runFanout(): two pipelines are named "${pipeline.name}"; names are state namespaces, so give each pipeline its own`,
      );
    }
    names.add(pipeline.name);
  }
  const processors = pipelines.map(({ pipeline, options }) =>
    new Processor(
      pipeline,
      resolveOptions(pipeline as Pipeline<unknown, unknown>, options),
    )
  );
  const stoppedBy = await drive(
    source,
    processors.map((processor) => lane(processor)),
    pipelines.length === 1 ? (batch) => batch : copier<E>(pipelines.length),
    {
      signal: options.signal,
      shutdownTimeout: options.shutdownTimeout ?? 10_000,
      closeSource: options.closeSource ?? true,
    },
  );
  return {
    pipelines: processors.map((processor) =>
      summarize(processor as Processor<unknown, unknown>, started, stoppedBy)
    ),
    durationMs: performance.now() - started,
    stoppedBy,
  };
}
