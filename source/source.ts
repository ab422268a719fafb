// The contract every source implements: an async iterable of record batches with acks.

/**
 * One event as a source delivers it.
 *
 * A record whose bytes could not be decoded still arrives, with `error` set
 * and `value` undefined, so the runtime can dead-letter it with its reason
 * and ack past it.
 *
 * @typeParam T The decoded event type.
 */
export interface SourceRecord<T> {
  /** The decoded event; `undefined` only when `error` is set. */
  readonly value: T | undefined;
  /** A stable id for dedup, e.g. `"page_views/3/1042"`. */
  readonly id: string;
  /** Event time in epoch ms (the source's timestamp unless an extractor overrides it). */
  readonly time: number;
  /** The ordered stream this record belongs to, e.g. `"kafka:page_views:3"`, when the source has one. */
  readonly stream?: string;
  /** The record's position within `stream` (offset, sequence number, line number). */
  readonly position?: bigint;
  /**
   * The stream's assignment generation: bumped by the source each time it
   * (re)acquires the stream (a Kafka rebalance, a Kinesis lease taken
   * over). The runtime reloads the stream's exactly-once horizon when it
   * changes. Omitted by sources whose streams never move.
   */
  readonly generation?: number;
  /** The raw bytes, when the source has them (for dead letters). */
  readonly raw?: Uint8Array;
  /** Set when the source could not decode the record. */
  readonly error?: Error;
  /** Tells the source this record's effect is durable. Call once. */
  ack(): void;
}

/**
 * A source of events: an async iterable of record batches.
 *
 * A finite source (snapshot, file, archive) simply ends; a live one runs
 * until closed. Positions advance only over contiguous runs of acked records.
 *
 * @typeParam T The decoded event type.
 */
export interface Source<T> extends AsyncIterable<readonly SourceRecord<T>[]> {
  /** A short description, e.g. `"kafka:page_views"`, `"memory"`. */
  readonly name: string;
  /** Stops reading and commits what was acked. Safe to call more than once. */
  close(): Promise<void>;
  /** Calls `close()`, so `await using source = ...` stops it. Every built-in source has it. */
  [Symbol.asyncDispose]?(): Promise<void>;
}
