// The runtime's orchestrator: extract → buffer/fold → write → ack, one flush at a time while the next buffer fills.

import type { Pipeline } from "../pipeline/mod.ts";
import type { SourceRecord } from "../source/mod.ts";
import { ExactlyOnceConflictError } from "./errors.ts";
import type { ResolvedOptions } from "./options.ts";
import { Buffer, Folder } from "./_buffer.ts";
import { DeadLetters } from "./_dead_letter.ts";
import { Extractor, type Prepared } from "./_extract.ts";
import { Progress } from "./_progress.ts";
import { Writer } from "./_writer.ts";

export type { Prepared } from "./_extract.ts";
export { PROGRESS_PREFIX, progressScope } from "./_progress.ts";

/** Counters of one run, for its summary. */
export interface Counts {
  events: number;
  acked: number;
  deadLetters: number;
  dedupSkips: number;
  debounced: number;
  late: number;
  merges: number;
  flushes: number;
}

/**
 * Extracts, folds and writes one pipeline's records. `prepare` and `accept`
 * are called in order, one batch at a time; flushes run one at a time while
 * the next buffer fills.
 */
export class Processor<E, V> {
  readonly pipeline: Pipeline<E, V>;
  readonly options: ResolvedOptions;
  readonly counts: Counts = {
    events: 0,
    acked: 0,
    deadLetters: 0,
    dedupSkips: 0,
    debounced: 0,
    late: 0,
    merges: 0,
    flushes: 0,
  };
  /** Set when a write failed for good; every later call throws it. */
  failure: Error | null = null;
  /** Called once when {@linkcode failure} is set. */
  onFailure: (error: Error) => void = () => {};

  readonly #name: string;
  readonly #extractor: Extractor<E, V>;
  readonly #folder: Folder<V>;
  readonly #writer: Writer<V>;
  readonly #deadLetters: DeadLetters;
  /** Exactly-once horizons and intents; `null` without dedup. */
  readonly #progress: Progress | null;
  #buffer = new Buffer<V>();
  #flushing: Promise<void> | null = null;
  #again = false;
  /** Set when a stream's horizon was (re)loaded: the next accept starts a write. */
  #flushSoon = false;
  /** Aborted by a failure or by the shutdown deadline: stops retries and waits. */
  readonly #stop = new AbortController();

  constructor(pipeline: Pipeline<E, V>, options: ResolvedOptions) {
    this.pipeline = pipeline;
    this.options = options;
    this.#name = pipeline.name;
    this.#extractor = new Extractor(pipeline, options);
    this.#folder = new Folder(
      pipeline as Pipeline<unknown, V>,
      options.dedup,
      options.metrics,
    );
    this.#deadLetters = new DeadLetters(pipeline.name, options, this.counts);
    this.#writer = new Writer(
      pipeline as Pipeline<unknown, V>,
      options,
      this.counts,
      this.#deadLetters,
      this.#stop.signal,
    );
    this.#progress = options.dedup ? new Progress(pipeline.name) : null;
  }

  /** Records folded and not yet written. */
  get buffered(): number {
    return this.#buffer.records;
  }

  /** Whether a write is in flight. */
  get writing(): boolean {
    return this.#flushing !== null;
  }

  #fail(error: unknown): never {
    this.#setFailure(error);
    throw this.failure;
  }

  #setFailure(error: unknown): void {
    if (this.failure !== null) return;
    this.failure = error instanceof Error ? error : new Error(String(error));
    this.#stop.abort(this.failure);
    this.onFailure(this.failure);
  }

  /**
   * Forgets what is known of a stream's exactly-once progress: call it when
   * the stream moves to another owner (a revoked partition), so the horizon
   * is read again if it comes back.
   */
  forgetStream(stream: string): void {
    this.#progress?.forget(stream);
  }

  /** Extracts keys, value, time and bucket of every record; sets aside bad, late and duplicate ones. */
  async prepare(records: readonly SourceRecord<E>[]): Promise<Prepared<V>> {
    if (this.failure !== null) throw this.failure;
    this.counts.events += records.length;
    this.options.metrics.eventsIn(this.#name, records.length);
    const progress = this.#progress;
    if (progress !== null) {
      const stale = progress.stale(records);
      if (stale !== undefined) {
        try {
          const stored = await this.#writer.call(
            () =>
              this.pipeline.store.getMany(
                progress.scope,
                stale.map((entity) => ({ entity, bucket: null })),
                { fresh: true, signal: this.#stop.signal },
              ),
            "read",
          );
          progress.loaded(stale, stored);
          // A stream taken over from an owner that wrote to it: write its
          // first records at once, so the source can commit soon even if the
          // worker dies again. A stream never written has nothing to protect.
          if (stored.some((at) => at !== undefined)) this.#flushSoon = true;
        } catch (error) {
          for (const stream of stale) progress.forget(stream);
          this.#fail(error);
        }
      }
    }
    return this.#extractor.prepare(records, progress);
  }

  /** Folds a prepared batch into the buffer; waits for a write when the buffer is full. */
  async accept(prepared: Prepared<V>): Promise<void> {
    if (this.failure !== null) throw this.failure;
    const buffer = this.#buffer;
    let raw = 0;
    for (const record of prepared.records) raw += record.raw?.byteLength ?? 0;
    buffer.add(prepared.records, raw);
    if (prepared.maxTime > buffer.maxTime) buffer.maxTime = prepared.maxTime;
    if (prepared.debounced > 0) {
      this.counts.debounced += prepared.debounced;
      this.options.metrics.debounced(this.#name, prepared.debounced);
    }
    if (prepared.late > 0) this.counts.late += prepared.late;
    for (const c of prepared.exact) buffer.exact.push(c);
    const dead = prepared.entities.length > 0
      ? this.#folder.fold(prepared, buffer)
      : prepared.dead;
    if (dead.length > 0) {
      for (const { record } of dead) buffer.rejected.add(record);
      try {
        await this.#deadLetters.send(dead);
      } catch (error) {
        this.#fail(error);
      }
    }
    const { batchMax, batchMaxBytes, batchMaxKeys } = this.options;
    if (
      buffer.records >= batchMax || buffer.bytes >= batchMaxBytes ||
      buffer.slots + buffer.exact.length >= batchMaxKeys
    ) {
      await this.#makeRoom();
    } else if (
      (this.options.batchTime === 0 || this.#flushSoon) &&
      this.#flushing === null
    ) {
      this.#flushSoon = false;
      this.#start();
    }
  }

  /** Starts writing the buffer; the caller checked that no write is in flight and the buffer is not empty. */
  #start(): void {
    const buffer = this.#buffer;
    this.#buffer = new Buffer<V>();
    this.#folder.begin();
    this.#flushing = this.#write(buffer).finally(() =>
      this.#folder.release(buffer)
    ).then(
      () => {
        this.#flushing = null;
        const again = this.#again || this.options.batchTime === 0;
        this.#again = false;
        if (again && !this.#buffer.empty && this.failure === null) {
          this.#start();
        }
      },
      (error) => {
        this.#flushing = null;
        this.#setFailure(error);
      },
    );
  }

  /**
   * Asks for a write of what is buffered: starts it now, or right after the
   * write in flight. Returns at once; failures surface on the next call.
   */
  requestFlush(): void {
    if (this.failure !== null) return;
    if (this.#flushing !== null) this.#again = true;
    else if (!this.#buffer.empty) this.#start();
  }

  /** Waits for the write in flight, then starts writing the buffer. */
  async #makeRoom(): Promise<void> {
    while (this.#flushing !== null) await this.#flushing;
    if (this.failure !== null) throw this.failure;
    if (!this.#buffer.empty) this.#start();
  }

  /**
   * Writes everything buffered and waits until it is durable and acked.
   *
   * @param signal Aborts retries and waits: the shutdown deadline. Once it
   * fires, the processor stops for good (the unwritten records stay unacked).
   */
  async drain(signal?: AbortSignal): Promise<void> {
    const onAbort = () => this.#stop.abort(signal!.reason);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
    try {
      for (;;) {
        if (this.failure !== null) throw this.failure;
        if (this.#flushing !== null) await this.#flushing;
        else if (this.#buffer.empty) return;
        else this.#start();
      }
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  async #write(buffer: Buffer<V>): Promise<void> {
    const started = this.options.now();
    const deltas = this.#folder.deltas(buffer);
    if (this.#progress !== null && buffer.streamMax.size > 0) {
      const intents = this.#progress.intentDeltas(buffer.streamMax);
      if (intents.length > 0) {
        await this.#writer.writeScope(this.#progress.scope, intents);
        this.#progress.wrote(intents);
      }
    }
    try {
      await this.#writer.write(
        buffer.exact,
        deltas,
        buffer as Buffer<unknown>,
      );
    } catch (error) {
      if (!(error instanceof ExactlyOnceConflictError)) throw error;
      await this.#replan(buffer, error);
    }
    this.counts.flushes++;
    this.options.metrics.flushed(
      this.#name,
      buffer.records,
      deltas.length + buffer.exact.length,
    );
    this.#ack(buffer);
    const now = this.options.now();
    this.options.metrics.lag(
      this.#name,
      Number.isFinite(buffer.maxTime)
        ? Math.max(0, now - buffer.maxTime)
        : now - started,
    );
  }

  /**
   * Another writer applied part of this flush's folded records: a peer that
   * held the stream before (its intent came after this process read the
   * horizon) or one still writing a stream it gave up. Each record is
   * written again alone (as ranges per key, split where partly applied), so
   * marks decide it: nothing is lost or counted twice, and the run goes on.
   */
  async #replan(
    buffer: Buffer<V>,
    conflict: ExactlyOnceConflictError,
  ): Promise<void> {
    const progress = this.#progress;
    if (progress === null) throw conflict;
    this.options.metrics.error(this.#name, conflict);
    for (const stream of buffer.streamMax.keys()) progress.forget(stream);
    const done = new Set<unknown>(buffer.rejected);
    for (const e of buffer.exact) done.add(e.record);
    const exact = [];
    for (const batch of buffer.batches) {
      const again = this.#extractor.prepare(
        batch.filter((record) => !done.has(record)) as SourceRecord<E>[],
        progress,
        true,
      );
      for (const e of again.exact) exact.push(e);
    }
    await this.#writer.write(exact, [], buffer as Buffer<unknown>);
  }

  #ack(buffer: Buffer<V>): void {
    let acked = 0;
    for (const batch of buffer.batches) {
      for (const record of batch) {
        try {
          record.ack();
          acked++;
        } catch (error) {
          this.options.metrics.error(this.#name, error);
        }
      }
    }
    this.counts.acked += acked;
  }
}
