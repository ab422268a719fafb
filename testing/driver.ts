// A test driver for pipelines: feed events, move a virtual clock, read state and dead letters.

import type { Pipeline } from "../pipeline/mod.ts";
import type { SourceRecord } from "../source/mod.ts";
import type { StateKey } from "../state/mod.ts";
import { Runner } from "../streaming/mod.ts";
import type { RecordError, RunOptions, RunSummary } from "../streaming/mod.ts";

/**
 * A clock that only moves when told to: pass `clock.now` to stores
 * (`new MemoryStore({ now: clock.now })`) and to the driver, so expiry,
 * windows and debouncers follow test time.
 *
 * @example Usage
 * ```ts
 * import { VirtualClock } from "@murmur/core/testing";
 * import assert from "node:assert/strict";
 * const clock = new VirtualClock(1_000);
 * clock.advance(500);
 * assert.equal(clock.now(), 1500);
 * ```
 */
export class VirtualClock {
  #time: number;

  /**
   * Creates a clock.
   *
   * @param start The start time in epoch ms. Default: 2025-01-01T00:00:00Z.
   */
  constructor(start: number = Date.UTC(2025, 0, 1)) {
    this.#time = start;
  }

  /** The current time in epoch ms (a bound function, safe to pass around). */
  readonly now = (): number => this.#time;

  /**
   * Moves the clock forward.
   *
   * @param ms How far, in ms (>= 0).
   * @throws {RangeError} For a negative or non-finite step.
   */
  advance(ms: number): void {
    if (!(ms >= 0) || !Number.isFinite(ms)) {
      throw new RangeError(
        `VirtualClock: advance by a finite ms >= 0, got ${ms}`,
      );
    }
    this.#time += ms;
  }
}

/** Options for {@linkcode TestDriver}: the run options without the source loop's. */
export interface TestDriverOptions
  extends
    Omit<RunOptions, "signal" | "shutdownTimeout" | "closeSource" | "now"> {
  /** The clock. Default: a new {@linkcode VirtualClock} at 2025-01-01. */
  readonly clock?: VirtualClock;
  /** The stream the fed records belong to; `null` for none (dedup then uses claims). Default: `"test:<pipeline>"`. */
  readonly stream?: string | null;
}

/** A record the driver dead-lettered, with the reason. */
export interface DeadLetter {
  /** The record as fed. */
  readonly record: SourceRecord<unknown>;
  /** Why it was refused. */
  readonly error: RecordError;
}

/**
 * Drives a pipeline in a test without a source, timers or services (the
 * idea of Kafka Streams' `TopologyTestDriver`): feed events, move a virtual
 * clock (which writes the batch window when it elapses), read state and the
 * dead letters. It runs the real runtime, so retries, dedup, debouncing and
 * windowing behave exactly as in production.
 *
 * @typeParam E The event type.
 * @typeParam V The value type.
 *
 * @example Usage
 * ```ts
 * import { TestDriver, VirtualClock } from "@murmur/core/testing";
 * import { pipeline } from "@murmur/core/pipeline";
 * import { hourly, sum } from "@murmur/core/monoid";
 * import { MemoryStore } from "@murmur/core/state";
 * import assert from "node:assert/strict";
 *
 * const clock = new VirtualClock(Date.UTC(2025, 0, 1, 9));
 * const p = pipeline<{ page: string }>("views")
 *   .key((e) => e.page).value(() => 1).aggregate(sum()).window(hourly())
 *   .storeIn(new MemoryStore({ now: clock.now })).build();
 * const driver = new TestDriver(p, { clock, batchWindow: { time: 1000 } });
 * await driver.send({ page: "home" }, { page: "home" });
 * assert.equal(await driver.get("home"), undefined); // still in the batch window
 * await driver.advance(1000);
 * assert.equal(await driver.get("home"), 2);
 * clock.advance(3_600_000);
 * assert.equal(await driver.get("home"), undefined); // a new hour
 * ```
 */
export class TestDriver<E, V> {
  /** The pipeline under test. */
  readonly pipeline: Pipeline<E, V>;
  /** The clock. */
  readonly clock: VirtualClock;
  readonly #runner: Runner<E, V>;
  readonly #dead: DeadLetter[] = [];
  readonly #stream: string | null;
  readonly #batchTime: number | null;
  #lastWrite: number;
  #seq = 0;
  #acked = 0;

  /**
   * Creates a driver.
   *
   * @param pipeline The pipeline under test (its source is ignored).
   * @param options Run options, the clock and the stream name.
   */
  constructor(pipeline: Pipeline<E, V>, options: TestDriverOptions = {}) {
    this.pipeline = pipeline;
    this.clock = options.clock ?? new VirtualClock();
    this.#stream = options.stream === undefined
      ? `test:${pipeline.name}`
      : options.stream;
    this.#batchTime = options.batchWindow === undefined
      ? null
      : options.batchWindow.time ?? 1000;
    this.#lastWrite = this.clock.now();
    const userDeadLetter = options.deadLetter;
    this.#runner = new Runner(pipeline, {
      ...options,
      // Backoff waits are real time; keep them short unless the test asks otherwise.
      retryBackoff: options.retryBackoff ?? { base: 0, max: 0 },
      now: this.clock.now,
      deadLetter: async (record, error) => {
        this.#dead.push({ record, error });
        if (userDeadLetter !== undefined) await userDeadLetter(record, error);
      },
    });
  }

  #record(
    value: E | undefined,
    time: number,
    error?: Error,
    raw?: Uint8Array,
  ): SourceRecord<E> {
    const seq = this.#seq++;
    let done = false;
    const ack = () => {
      if (done) return;
      done = true;
      this.#acked++;
    };
    const base = { value, id: `test:${seq}`, time, ack };
    const failed = error === undefined
      ? base
      : { ...base, error, ...(raw === undefined ? {} : { raw }) };
    return this.#stream === null
      ? failed
      : { ...failed, stream: this.#stream, position: BigInt(seq) };
  }

  async #feed(records: SourceRecord<E>[]): Promise<void> {
    await this.#runner.push(records);
    if (this.#batchTime === null) await this.#runner.flush();
  }

  /**
   * Feeds events stamped with the clock's time, in one batch. Without a
   * batch window they are written before this resolves.
   *
   * @param events The events.
   * @throws {StoreFailureError} (or another run-stopping error) when a write failed for good.
   */
  async send(...events: E[]): Promise<void> {
    const now = this.clock.now();
    await this.#feed(events.map((e) => this.#record(e, now)));
  }

  /**
   * Feeds events stamped with a given record time (event time).
   *
   * @param time The record time in epoch ms.
   * @param events The events.
   */
  async sendAt(time: number, ...events: E[]): Promise<void> {
    await this.#feed(events.map((e) => this.#record(e, time)));
  }

  /**
   * Feeds a record the source "could not decode".
   *
   * @param raw Its raw text or bytes.
   * @param error Why it could not be decoded.
   */
  async sendUndecodable(
    raw: string | Uint8Array,
    error: Error = new SyntaxError("undecodable"),
  ): Promise<void> {
    const bytes = typeof raw === "string" ? new TextEncoder().encode(raw) : raw;
    await this.#feed([this.#record(undefined, this.clock.now(), error, bytes)]);
  }

  /**
   * Moves the clock; when the batch window's time has elapsed since the last
   * write, writes what is folded.
   *
   * @param ms How far, in ms.
   */
  async advance(ms: number): Promise<void> {
    this.clock.advance(ms);
    if (
      this.#batchTime !== null &&
      this.clock.now() - this.#lastWrite >= this.#batchTime
    ) {
      await this.flush();
    }
  }

  /** Writes everything folded and waits until it is durable and acked. */
  async flush(): Promise<void> {
    await this.#runner.flush();
    this.#lastWrite = this.clock.now();
  }

  /**
   * Reads a value from the pipeline's store.
   *
   * @param entity The key.
   * @param at For a windowed pipeline, a time in the bucket to read (epoch ms). Default: the clock's time.
   * @returns The value, or `undefined`.
   */
  get(entity: string, at: number = this.clock.now()): Promise<V | undefined> {
    return this.pipeline.store.get(this.pipeline.scope, this.keyOf(entity, at));
  }

  /**
   * The state key a read of `entity` at `at` uses.
   *
   * @param entity The key.
   * @param at A time in the bucket (epoch ms). Default: the clock's time.
   * @returns The key (bucket `null` for an unwindowed pipeline).
   */
  keyOf(entity: string, at: number = this.clock.now()): StateKey {
    const window = this.pipeline.window;
    return { entity, bucket: window === null ? null : window.bucketOf(at) };
  }

  /** The records dead-lettered so far, with their reasons. */
  get deadLetters(): readonly DeadLetter[] {
    return this.#dead;
  }

  /** Records acked so far. */
  get acked(): number {
    return this.#acked;
  }

  /** Records folded and not yet written. */
  get buffered(): number {
    return this.#runner.buffered;
  }

  /**
   * What the driver's runtime did so far.
   *
   * @returns The summary.
   */
  summary(): RunSummary {
    return this.#runner.summary();
  }
}
