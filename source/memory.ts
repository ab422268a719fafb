// An in-process source: a fixed list or events pushed by a test, with stream positions and ack tracking.

import type { Source, SourceRecord } from "./source.ts";

/**
 * Options for {@linkcode MemorySource}.
 *
 * @typeParam T The event type.
 */
export interface MemorySourceOptions<T> {
  /** The source's name. Default: `"memory"`. */
  readonly name?: string;
  /**
   * The stream records belong to, so exactly-once marks work; `null` gives
   * records no stream and no position (dedup then uses claims). Default:
   * `"memory:<name>"`.
   */
  readonly stream?: string | null;
  /** Records per batch. Default: 100. */
  readonly batchSize?: number;
  /** The event time of an event at a position. Default: the clock when it was pushed. */
  readonly time?: (event: T, position: number) => number;
  /** The id of an event at a position. Default: `"<name>:<position>"`. */
  readonly id?: (event: T, position: number) => string;
  /** The position of the first event, e.g. to replay after a committed one. Default: 0. */
  readonly startAt?: number;
  /** The clock for default event times, in epoch ms. Default: `Date.now`. */
  readonly now?: () => number;
}

interface Entry<T> {
  readonly value: T | undefined;
  readonly time: number;
  readonly raw?: Uint8Array;
  readonly error?: Error;
}

/**
 * A {@linkcode Source} over events held in memory: a fixed list
 * ({@linkcode MemorySource.of}) or events pushed while it runs
 * ({@linkcode MemorySource.push}, then {@linkcode MemorySource.end}). Each
 * event gets a position (its index, from `startAt`) in one stream, and acks
 * are tracked, so tests can check what was acked and replay the rest.
 *
 * @typeParam T The event type.
 *
 * @example Push events while a run consumes them
 * ```ts
 * import { MemorySource } from "@murmur/core/source";
 * import assert from "node:assert/strict";
 *
 * const source = new MemorySource<string>({ batchSize: 2 });
 * source.push("a", "b", "c");
 * source.end();
 * const batches: string[][] = [];
 * for await (const batch of source) {
 *   batches.push(batch.map((r) => r.value!));
 *   for (const r of batch) r.ack();
 * }
 * assert.deepEqual(batches, [["a", "b"], ["c"]]);
 * assert.equal(source.acked, 3);
 * assert.equal(source.committable(), 2n);
 * ```
 */
export class MemorySource<T> implements Source<T> {
  /** The source's name. */
  readonly name: string;
  readonly #stream: string | null;
  readonly #batchSize: number;
  readonly #time: ((event: T, position: number) => number) | undefined;
  readonly #id: (event: T | undefined, position: number) => string;
  readonly #customId: ((event: T, position: number) => string) | null;
  readonly #now: () => number;
  readonly #queue: Entry<T>[] = [];
  #head = 0;
  #delivered = 0;
  #next: number;
  #ended = false;
  #closed = false;
  #wake: (() => void) | null = null;
  #acked = 0;
  readonly #startAt: number;
  /** Ack flags by index from `startAt`; `#low` is the first unacked index. */
  #flags = new Uint8Array(1024);
  #low = 0;

  /**
   * Creates an open source; push events, then call {@linkcode MemorySource.end}.
   *
   * @param options Name, stream, batch size, time and id functions.
   */
  constructor(options: MemorySourceOptions<T> = {}) {
    this.name = options.name ?? "memory";
    this.#stream = options.stream === undefined
      ? `memory:${this.name}`
      : options.stream;
    this.#batchSize = options.batchSize ?? 100;
    if (!Number.isInteger(this.#batchSize) || this.#batchSize < 1) {
      throw new RangeError(
        `MemorySource: batchSize must be a positive integer, got ${this.#batchSize}`,
      );
    }
    this.#time = options.time;
    const id = options.id;
    this.#customId = id ?? null;
    this.#id = id === undefined
      ? (_, position) => `${this.name}:${position}`
      : (event, position) =>
        event === undefined ? `${this.name}:${position}` : id(event, position);
    this.#now = options.now ?? Date.now;
    this.#next = this.#startAt = options.startAt ?? 0;
  }

  /**
   * Creates a finite source over `events`.
   *
   * @typeParam T The event type.
   * @param events The events, in order.
   * @param options Name, stream, batch size, time and id functions.
   * @returns A source that ends after the last event.
   */
  static of<T>(
    events: Iterable<T>,
    options: MemorySourceOptions<T> = {},
  ): MemorySource<T> {
    const source = new MemorySource<T>(options);
    source.#append(events);
    source.end();
    return source;
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  /**
   * Appends events.
   *
   * @param events The events.
   * @throws {TypeError} After {@linkcode MemorySource.end}.
   */
  push(...events: T[]): void {
    if (this.#ended) {
      throw new TypeError(
        `memory source "${this.name}" has ended: create a new one to push more`,
      );
    }
    this.#append(events);
  }

  #append(events: Iterable<T>): void {
    const now = this.#now();
    for (const value of events) this.#queue.push({ value, time: now });
    this.#wakeUp();
  }

  /**
   * Appends a record the source "could not decode", for testing dead letters.
   *
   * @param raw The raw bytes or text.
   * @param error Why it could not be decoded.
   * @throws {TypeError} After {@linkcode MemorySource.end}.
   */
  pushUndecodable(
    raw: Uint8Array | string,
    error: Error = new SyntaxError("undecodable"),
  ): void {
    if (this.#ended) {
      throw new TypeError(
        `memory source "${this.name}" has ended: create a new one to push more`,
      );
    }
    const bytes = typeof raw === "string" ? new TextEncoder().encode(raw) : raw;
    this.#queue.push({
      value: undefined,
      time: this.#now(),
      raw: bytes,
      error,
    });
    this.#wakeUp();
  }

  /** Marks the end: iteration stops once everything pushed was delivered. */
  end(): void {
    this.#ended = true;
    this.#wakeUp();
  }

  /** Records acked so far. */
  get acked(): number {
    return this.#acked;
  }

  /** Records delivered so far. */
  get delivered(): number {
    return this.#delivered;
  }

  /**
   * The highest position at or below which every delivered record was acked.
   *
   * @returns The position, or `undefined` when nothing is committable (or records have no stream).
   */
  committable(): bigint | undefined {
    return this.#stream === null || this.#low === 0
      ? undefined
      : BigInt(this.#startAt + this.#low - 1);
  }

  /** Marks the record at `index` (from `startAt`) acked. */
  ackIndex(index: number): void {
    const flags = this.#flags;
    if (index < this.#low || flags[index] === 1) return;
    flags[index] = 1;
    this.#acked++;
    let low = this.#low;
    while (flags[low] === 1) low++;
    this.#low = low;
  }

  #record(entry: Entry<T>, position: number): SourceRecord<T> {
    const index = position - this.#startAt;
    if (index >= this.#flags.length) {
      const grown = new Uint8Array(Math.max(index + 1, this.#flags.length * 2));
      grown.set(this.#flags);
      this.#flags = grown;
    }
    const value = entry.value;
    const time = value !== undefined && this.#time !== undefined
      ? this.#time(value, position)
      : entry.time;
    if (entry.error === undefined && this.#customId === null) {
      return this.#stream === null
        ? new MemoryRecord(this, value, time, index, position)
        : new StreamRecord(this, value, time, index, position, this.#stream);
    }
    const id = this.#id(value, position);
    const ack = () => this.ackIndex(index);
    const failed: SourceRecord<T> = {
      value,
      id,
      time,
      ...(entry.error === undefined ? {} : { error: entry.error }),
      ...(entry.raw === undefined ? {} : { raw: entry.raw }),
      ack,
    };
    return this.#stream === null
      ? failed
      : { ...failed, stream: this.#stream, position: BigInt(position) };
  }

  /**
   * Yields batches until the source ended and everything was delivered, or it was closed.
   *
   * @returns The batch iterator.
   */
  async *[Symbol.asyncIterator](): AsyncIterator<readonly SourceRecord<T>[]> {
    for (;;) {
      if (this.#closed) return;
      const available = this.#queue.length - this.#head;
      if (available > 0) {
        const n = Math.min(available, this.#batchSize);
        const batch: SourceRecord<T>[] = new Array(n);
        for (let i = 0; i < n; i++) {
          batch[i] = this.#record(this.#queue[this.#head + i]!, this.#next + i);
        }
        this.#head += n;
        this.#next += n;
        this.#delivered += n;
        // Drop delivered entries once they are the larger part of the queue.
        if (this.#head > 4096 && this.#head * 2 > this.#queue.length) {
          this.#queue.splice(0, this.#head);
          this.#head = 0;
        }
        yield batch;
        continue;
      }
      if (this.#ended) return;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  /**
   * Stops iteration at the next batch boundary. Safe to call more than once.
   *
   * @returns A promise that resolves at once.
   */
  close(): Promise<void> {
    this.#closed = true;
    this.#wakeUp();
    return Promise.resolve();
  }

  /**
   * Calls {@linkcode MemorySource.close}, so `await using` releases the source.
   *
   * @returns A promise that resolves when closed.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** A record of a memory source; its id is built only when asked for. */
class MemoryRecord<T> {
  readonly value: T | undefined;
  readonly time: number;
  readonly source: MemorySource<T>;
  readonly index: number;
  readonly at: number;

  constructor(
    source: MemorySource<T>,
    value: T | undefined,
    time: number,
    index: number,
    at: number,
  ) {
    this.source = source;
    this.value = value;
    this.time = time;
    this.index = index;
    this.at = at;
  }

  get id(): string {
    return `${this.source.name}:${this.at}`;
  }

  ack(): void {
    this.source.ackIndex(this.index);
  }
}

/** A memory record with a stream and position (made into a bigint only when read). */
class StreamRecord<T> extends MemoryRecord<T> {
  readonly stream: string;

  constructor(
    source: MemorySource<T>,
    value: T | undefined,
    time: number,
    index: number,
    at: number,
    stream: string,
  ) {
    super(source, value, time, index, at);
    this.stream = stream;
  }

  get position(): bigint {
    return BigInt(this.at);
  }
}
