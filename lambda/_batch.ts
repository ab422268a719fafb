// One Lambda event batch run through the streaming runtime as a finite source, reporting what was not acked.

import type { Pipeline } from "../pipeline/mod.ts";
import type { Source, SourceRecord } from "../source/mod.ts";
import {
  DeadLetterFailedError,
  ExactlyOnceConflictError,
  run,
  type RunOptions,
  type RunSummary,
  StoreFailureError,
} from "../streaming/mod.ts";

/** One event of a batch, before it becomes a record. */
export interface BatchItem<E> {
  readonly value: E | undefined;
  readonly error?: Error;
  readonly id: string;
  readonly time: number;
  readonly stream?: string;
  readonly position?: bigint;
  readonly raw?: Uint8Array;
}

class BatchRecord<E> implements SourceRecord<E> {
  readonly value: E | undefined;
  readonly id: string;
  readonly time: number;
  readonly stream?: string;
  readonly position?: bigint;
  readonly raw?: Uint8Array;
  readonly error?: Error;
  acked = false;

  constructor(item: BatchItem<E>) {
    this.value = item.value;
    this.id = item.id;
    this.time = item.time;
    if (item.stream !== undefined) this.stream = item.stream;
    if (item.position !== undefined) this.position = item.position;
    if (item.raw !== undefined) this.raw = item.raw;
    if (item.error !== undefined) this.error = item.error;
  }

  ack(): void {
    this.acked = true;
  }
}

/** A finite source over one event batch, handed out in chunks. */
class BatchSource<E> implements Source<E> {
  readonly name: string;
  readonly #records: readonly BatchRecord<E>[];
  readonly #chunk: number;

  constructor(name: string, records: readonly BatchRecord<E>[], chunk: number) {
    this.name = name;
    this.#records = records;
    this.#chunk = chunk;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<readonly SourceRecord<E>[]> {
    for (let at = 0; at < this.#records.length; at += this.#chunk) {
      yield this.#records.slice(at, at + this.#chunk);
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** What a batch run did: which items are not durable, and the runtime's summary. */
export interface BatchOutcome {
  /** Indexes of the items whose effect is not durable. */
  readonly failed: number[];
  /** The run's summary, or `undefined` when it stopped on an error. */
  readonly summary: RunSummary | undefined;
  /** The error that stopped the run early, if any. */
  readonly error: Error | undefined;
}

/**
 * Runs `pipeline` over one batch. A store that keeps failing, an
 * exactly-once conflict or a dead-letter callback that throws stop the run;
 * the items not acked by then are reported, never thrown. Any other error
 * (a misconfigured pipeline) is thrown, so Lambda retries the whole batch.
 */
export async function runBatch<E>(
  pipeline: Pipeline<E, unknown>,
  name: string,
  items: readonly BatchItem<E>[],
  chunk: number,
  options: RunOptions,
): Promise<BatchOutcome> {
  const records = items.map((item) => new BatchRecord(item));
  const source = new BatchSource(name, records, Math.max(1, chunk));
  let summary: RunSummary | undefined;
  let error: Error | undefined;
  try {
    summary = await run(pipeline, { ...options, source, closeSource: true });
  } catch (thrown) {
    if (
      !(thrown instanceof StoreFailureError ||
        thrown instanceof ExactlyOnceConflictError ||
        thrown instanceof DeadLetterFailedError)
    ) {
      throw thrown;
    }
    error = thrown;
  }
  const failed: number[] = [];
  records.forEach((r, i) => {
    if (!r.acked) failed.push(i);
  });
  return { failed, summary, error };
}
