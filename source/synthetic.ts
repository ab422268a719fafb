// A deterministic event generator: configurable rate, Zipf key skew over N entities, seeded randomness.

import { AckTracker } from "./ack_tracker.ts";
import type { Source, SourceRecord } from "./source.ts";
import { seededRandom as internalSeededRandom } from "../internal/prng.ts";

/**
 * A seeded pseudo-random generator (SFC32): the same seed gives the same
 * sequence on every machine.
 *
 * @param seed Any integer.
 * @returns A function returning floats in `[0, 1)`.
 *
 * @example Usage
 * ```ts
 * import { seededRandom } from "@murmur/core/source";
 * import assert from "node:assert/strict";
 *
 * const a = seededRandom(42);
 * const b = seededRandom(42);
 * assert.equal(a(), b());
 * ```
 */
export function seededRandom(seed: number): () => number {
  return internalSeededRandom(seed);
}

/**
 * Draws ranks `0 .. n-1` with Zipf probabilities `P(k) ∝ 1 / (k + 1)^s`:
 * rank 0 is the most popular. `s = 0` is uniform. Sampling is a binary search
 * over a precomputed cumulative table (O(log n) per draw, `n` floats of memory).
 *
 * @example Usage
 * ```ts
 * import { seededRandom, Zipf } from "@murmur/core/source";
 * import assert from "node:assert/strict";
 * const zipf = new Zipf(1000, 1.1, seededRandom(1));
 * const rank = zipf.next();
 * assert.equal(rank >= 0 && rank < 1000, true);
 * ```
 */
export class Zipf {
  readonly #cdf: Float64Array;
  readonly #random: () => number;

  /**
   * Precomputes the table.
   *
   * @param n How many ranks (entities).
   * @param s The exponent; 0 is uniform, about 1 is web-like popularity.
   * @param random A source of floats in `[0, 1)`, e.g. {@linkcode seededRandom}.
   * @throws {RangeError} When `n` is not a positive integer or `s` is negative.
   */
  constructor(n: number, s: number, random: () => number) {
    if (!Number.isInteger(n) || n < 1) {
      throw new RangeError(`Zipf: n must be a positive integer, got ${n}`);
    }
    if (!(s >= 0) || !Number.isFinite(s)) {
      throw new RangeError(`Zipf: s must be a finite number >= 0, got ${s}`);
    }
    const cdf = new Float64Array(n);
    let total = 0;
    for (let k = 0; k < n; k++) {
      total += 1 / Math.pow(k + 1, s);
      cdf[k] = total;
    }
    for (let k = 0; k < n; k++) cdf[k]! /= total;
    cdf[n - 1] = 1;
    this.#cdf = cdf;
    this.#random = random;
  }

  /**
   * Draws one rank.
   *
   * @returns A rank from 0 (most popular) to `n - 1`.
   */
  next(): number {
    const u = this.#random();
    const cdf = this.#cdf;
    let lo = 0;
    let hi = cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** What a generator's `make` function gets for each event. */
export interface SyntheticDraw {
  /** The event's sequence number, from 0. */
  readonly seq: number;
  /** The entity's Zipf rank (0 = most popular). */
  readonly rank: number;
  /** The event time in epoch ms. */
  readonly time: number;
  /** The generator's seeded random source, for extra fields. */
  readonly random: () => number;
}

/** The event {@linkcode SyntheticSource} yields when no `make` is given. */
export interface SyntheticEvent {
  /** The sequence number. */
  readonly seq: number;
  /** The entity, `"e<rank>"`. */
  readonly entity: string;
  /** The event time in epoch ms. */
  readonly time: number;
}

/**
 * Options for {@linkcode SyntheticSource}.
 *
 * @typeParam T The event type.
 */
export interface SyntheticOptions<T> {
  /** The source's name. Default: `"synthetic"`. */
  readonly name?: string;
  /** How many distinct entities. Default: 1,000. */
  readonly entities?: number;
  /** The Zipf exponent of entity popularity; 0 is uniform. Default: 1.1. */
  readonly skew?: number;
  /** The random seed; the same seed gives the same events. Default: 1. */
  readonly seed?: number;
  /** Events per second; 0 means as fast as the consumer takes them. Default: 0. */
  readonly rate?: number;
  /** Stop after this many events. Default: no limit (runs until closed). */
  readonly total?: number;
  /** Events per batch. Default: 500. */
  readonly batchSize?: number;
  /**
   * Event times: `"clock"` stamps each event with the clock when generated;
   * a number starts a synthetic timeline there, advancing `timeStep` ms per
   * event (deterministic). Default: `"clock"`.
   */
  readonly startTime?: "clock" | number;
  /** Ms between synthetic event times. Default: `1000 / rate`, or 1 when `rate` is 0. */
  readonly timeStep?: number;
  /** Builds an event from a draw. Default: a {@linkcode SyntheticEvent}. */
  readonly make?: (draw: SyntheticDraw) => T;
  /** The clock, in epoch ms. Default: `Date.now`. */
  readonly now?: () => number;
}

/**
 * A {@linkcode Source} that generates events: entities drawn with Zipf skew
 * from a seeded generator, at a given rate, for a given total or until
 * closed. Records carry a stream and position, so exactly-once marks work.
 *
 * @typeParam T The event type.
 *
 * @example Usage
 * ```ts
 * import { SyntheticSource } from "@murmur/core/source";
 * import assert from "node:assert/strict";
 *
 * const source = new SyntheticSource({ entities: 100, skew: 1.1, seed: 7, total: 1000 });
 * let n = 0;
 * for await (const batch of source) {
 *   n += batch.length;
 *   for (const r of batch) r.ack();
 * }
 * assert.equal(n, 1000);
 * assert.equal(source.acked, 1000);
 * ```
 */
export class SyntheticSource<T = SyntheticEvent> implements Source<T> {
  /** The source's name. */
  readonly name: string;
  readonly #stream: string;
  readonly #zipf: Zipf;
  readonly #random: () => number;
  readonly #rate: number;
  readonly #total: number;
  readonly #batchSize: number;
  readonly #start: "clock" | number;
  readonly #step: number;
  readonly #make: (draw: SyntheticDraw) => T;
  readonly #now: () => number;
  readonly #tracker = new AckTracker();
  #seq = 0;
  #acked = 0;
  #closed = false;
  #wake: (() => void) | null = null;

  /**
   * Creates a generator.
   *
   * @param options Entities, skew, seed, rate, total, timing and event shape.
   * @throws {RangeError} For a negative rate, a bad batch size or bad Zipf parameters.
   */
  constructor(options: SyntheticOptions<T> = {}) {
    this.name = options.name ?? "synthetic";
    this.#stream = `synthetic:${this.name}`;
    this.#random = seededRandom(options.seed ?? 1);
    this.#zipf = new Zipf(
      options.entities ?? 1000,
      options.skew ?? 1.1,
      this.#random,
    );
    this.#rate = options.rate ?? 0;
    if (!(this.#rate >= 0)) {
      throw new RangeError(
        `SyntheticSource: rate must be >= 0 events/s, got ${this.#rate}`,
      );
    }
    this.#total = options.total ?? Infinity;
    this.#batchSize = options.batchSize ?? 500;
    if (!Number.isInteger(this.#batchSize) || this.#batchSize < 1) {
      throw new RangeError(
        `SyntheticSource: batchSize must be a positive integer, got ${this.#batchSize}`,
      );
    }
    this.#start = options.startTime ?? "clock";
    this.#step = options.timeStep ?? (this.#rate > 0 ? 1000 / this.#rate : 1);
    this.#make = options.make ??
      ((d: SyntheticDraw) =>
        ({ seq: d.seq, entity: `e${d.rank}`, time: d.time }) as T);
    this.#now = options.now ?? Date.now;
  }

  /** Events generated so far. */
  get generated(): number {
    return this.#seq;
  }

  /** Records acked so far. */
  get acked(): number {
    return this.#acked;
  }

  /**
   * The highest position at or below which every generated record was acked.
   *
   * @returns The position, or `undefined`.
   */
  committable(): bigint | undefined {
    return this.#tracker.committable(this.#stream);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = null;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /**
   * Yields batches until `total` events were generated or the source was closed.
   *
   * @returns The batch iterator.
   */
  async *[Symbol.asyncIterator](): AsyncIterator<readonly SourceRecord<T>[]> {
    const began = this.#now();
    const stream = this.#stream;
    const tracker = this.#tracker;
    const onAck = (position: bigint) => {
      this.#acked++;
      tracker.ack(stream, position);
    };
    while (!this.#closed && this.#seq < this.#total) {
      if (this.#rate > 0) {
        const due = began + (this.#seq / this.#rate) * 1000;
        const wait = due - this.#now();
        if (wait > 1) await this.#sleep(wait);
        if (this.#closed) return;
      }
      const n = Math.min(this.#batchSize, this.#total - this.#seq);
      const batch: SourceRecord<T>[] = new Array(n);
      const clock = this.#start === "clock" ? this.#now() : 0;
      for (let i = 0; i < n; i++) {
        const seq = this.#seq++;
        const time = this.#start === "clock"
          ? clock
          : this.#start + seq * this.#step;
        const value = this.#make({
          seq,
          rank: this.#zipf.next(),
          time,
          random: this.#random,
        });
        const position = BigInt(seq);
        tracker.delivered(stream, position);
        let done = false;
        batch[i] = {
          value,
          id: `${this.name}:${seq}`,
          time,
          stream,
          position,
          ack: () => {
            if (done) return;
            done = true;
            onAck(position);
          },
        };
      }
      yield batch;
    }
  }

  /**
   * Stops generating at the next batch. Safe to call more than once.
   *
   * @returns A promise that resolves at once.
   */
  close(): Promise<void> {
    this.#closed = true;
    this.#wake?.();
    return Promise.resolve();
  }

  /**
   * Calls {@linkcode SyntheticSource.close}, so `await using` releases the source.
   *
   * @returns A promise that resolves when closed.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
