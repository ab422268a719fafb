/**
 * Sources: async iterables of record batches with acks. This module holds
 * the contract ({@linkcode Source}, {@linkcode SourceRecord}), the
 * {@linkcode AckTracker} partitioned sources use to commit only contiguous
 * runs of acked records, and the in-process sources: memory, JSON-Lines and
 * a synthetic generator. Kafka lives in `@murmur/core/source/kafka`; the
 * bootstrap and archive sources in `@murmur/core/source/mongo`,
 * `@murmur/core/source/dynamodb`, `@murmur/core/source/s3` and
 * `@murmur/core/source/parquet`.
 *
 * @example Usage
 * ```ts
 * import { AckTracker } from "@murmur/core/source";
 * import assert from "node:assert/strict";
 *
 * const tracker = new AckTracker();
 * tracker.delivered("p0", 1n);
 * tracker.delivered("p0", 2n);
 * tracker.ack("p0", 2n);
 * assert.equal(tracker.committable("p0"), undefined); // 1 is still in flight
 * tracker.ack("p0", 1n);
 * assert.equal(tracker.committable("p0"), 2n);
 * ```
 *
 * @module
 */

export type { Source, SourceRecord } from "./source.ts";
export { AckTracker } from "./ack_tracker.ts";
export { MemorySource, type MemorySourceOptions } from "./memory.ts";
export {
  seededRandom,
  type SyntheticDraw,
  type SyntheticEvent,
  type SyntheticOptions,
  SyntheticSource,
  Zipf,
} from "./synthetic.ts";
export {
  type JsonLinesOptions,
  JsonLinesSource,
  LineTooLongError,
} from "./jsonl.ts";
export {
  type Checkpoint,
  FileCheckpoint,
  MemoryCheckpoint,
} from "./_handoff.ts";
