// Runner: the runtime driven by hand, one batch at a time (Lambda handlers, test drivers, embedding).

import type { Pipeline } from "../pipeline/mod.ts";
import type { SourceRecord } from "../source/mod.ts";
import { type RunSummary, summarize } from "./_drive.ts";
import { Processor } from "./_processor.ts";
import { resolveOptions, type RunOptions } from "./options.ts";

/**
 * The runtime without a source loop: push record batches yourself and call
 * {@linkcode Runner.flush} to make everything durable and acked. This is what
 * an AWS Lambda handler (one event batch per invocation) or a test driver
 * needs. It has the same extraction, folding, retries, dead letters,
 * exactly-once marks and claims as {@linkcode run}; it starts no timers, so
 * `batchWindow.time` is up to the caller (call `flush()`).
 *
 * @typeParam E The event type.
 * @typeParam V The value type.
 *
 * @example Usage
 * ```ts
 * import { Runner } from "@murmur/core/streaming";
 * import { pipeline } from "@murmur/core/pipeline";
 * import { count } from "@murmur/core/monoid";
 * import { MemoryStore } from "@murmur/core/state";
 * import assert from "node:assert/strict";
 *
 * const store = new MemoryStore();
 * const p = pipeline<string>("hits").key((s) => s).value(() => 1).aggregate(count()).storeIn(store).build();
 * const runner = new Runner(p, { batchWindow: { time: 60_000 } });
 * let acked = 0;
 * await runner.push([{ value: "a", id: "1", time: 0, ack: () => acked++ }]);
 * await runner.flush();
 * assert.equal(acked, 1);
 * assert.equal(await store.get(p.scope, { entity: "a", bucket: null }), 1);
 * ```
 */
export class Runner<E, V> {
  /** The pipeline. */
  readonly pipeline: Pipeline<E, V>;
  readonly #processor: Processor<E, unknown>;
  readonly #started = performance.now();

  /**
   * Creates a runner.
   *
   * @param pipeline The pipeline (its source is ignored).
   * @param options The same options as {@linkcode run}; `signal`, `shutdownTimeout` and `closeSource` are not used.
   * @throws {RangeError} For an option out of range.
   * @throws {PipelineConfigError} For a debouncer on a monoid where it under-counts.
   */
  constructor(pipeline: Pipeline<E, V>, options: RunOptions = {}) {
    this.pipeline = pipeline;
    this.#processor = new Processor(
      pipeline as Pipeline<E, unknown>,
      resolveOptions(pipeline as Pipeline<unknown, unknown>, options),
    );
  }

  /**
   * Extracts and folds a batch. Without a batch window a write starts at
   * once; with one, a write starts when `maxRecords` are folded (waiting for
   * the write in flight first). Bad records go to `deadLetter` here.
   *
   * @param records The batch.
   * @throws {StoreFailureError} (or another run-stopping error) from an earlier write.
   */
  async push(records: readonly SourceRecord<E>[]): Promise<void> {
    await this.#processor.accept(await this.#processor.prepare(records));
  }

  /**
   * Writes everything folded and waits until it is durable and its records acked.
   *
   * @param signal Stops retries and waits, e.g. a deadline before a Lambda timeout.
   * @throws {StoreFailureError} When the store kept failing (nothing unwritten was acked).
   * @throws {ExactlyOnceConflictError} When marks show two writers on one stream.
   */
  async flush(signal?: AbortSignal): Promise<void> {
    await this.#processor.drain(signal);
  }

  /** Records folded and not yet written. */
  get buffered(): number {
    return this.#processor.buffered;
  }

  /**
   * What the runner did so far.
   *
   * @returns The summary (`stoppedBy` is `"end"`).
   */
  summary(): RunSummary {
    return summarize(
      this.#processor as Processor<unknown, unknown>,
      this.#started,
      "end",
    );
  }
}
