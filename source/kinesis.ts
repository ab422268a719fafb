/**
 * A Kinesis Data Streams source that scales across worker processes: shards
 * are leased through a DynamoDB table (one lease per shard, renewed,
 * balanced, taken over when a worker dies), each shard is checkpointed only
 * over contiguous acked records with a write conditional on the lease, and a
 * resharded parent is read to its end before its children start.
 *
 * @example Count clicks from a stream, in as many processes as you like
 * ```ts ignore
 * import { KinesisClient } from "@aws-sdk/client-kinesis";
 * import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
 * import { kinesisSource } from "@murmur/core/source/kinesis";
 * import { run } from "@murmur/core/streaming";
 *
 * const source = kinesisSource<{ button: string }>({
 *   stream: "clicks",
 *   leaseTable: "clicks_leases",
 *   kinesis: new KinesisClient({}),
 *   dynamodb: new DynamoDBClient({}),
 * });
 * await run(clicksPipeline, { source, dedup: true });
 * ```
 *
 * @module
 */

import type { DynamoDBClientLike } from "../state/dynamodb.ts";
import type { Source } from "./source.ts";
import { KinesisSource } from "./_kinesis_source.ts";

export { LeaseLostError } from "./_kinesis_leases.ts";
export { KinesisDecodeError } from "./_kinesis_record.ts";

/**
 * What the source needs of a Kinesis client: the AWS SDK v3 `KinesisClient`
 * from `npm:@aws-sdk/client-kinesis` fits.
 */
export interface KinesisClientLike {
  /** Sends a command of `@aws-sdk/client-kinesis`. */
  send(
    command: unknown,
    options?: { abortSignal?: AbortSignal },
  ): Promise<unknown>;
}

/** Where a shard with no checkpoint starts: its oldest record, its tip, or a moment. */
export type KinesisStartPosition =
  | "TRIM_HORIZON"
  | "LATEST"
  | { readonly timestamp: Date | number };

/** What a decoder and the id and time hooks know of a Kinesis record. */
export interface KinesisRecordMeta {
  /** The stream's name. */
  readonly stream: string;
  /** The shard, e.g. `"shardId-000000000001"`. */
  readonly shard: string;
  /** The sequence number, a decimal string. */
  readonly sequenceNumber: string;
  /** The partition key the producer gave. */
  readonly partitionKey: string;
  /** When Kinesis accepted the record, in epoch ms. */
  readonly arrival: number;
}

/** Something that happened to a lease of this worker, for logs and tests. */
export interface KinesisLeaseEvent {
  /** `acquired`: we read the shard from now on; `released`: we freed it or handed it `to` another worker; `lost`: another worker owns it now; `finished`: read to its end. */
  readonly type: "acquired" | "released" | "lost" | "finished";
  /** The shard. */
  readonly shard: string;
  /** This worker. */
  readonly worker: string;
  /** The checkpoint written or found, when there is one. */
  readonly checkpoint?: string;
  /** The worker a lease was handed to. */
  readonly to?: string;
}

/** One held shard as {@linkcode KinesisSourceHandle.status} reports it. */
export interface KinesisShardStatus {
  /** The shard. */
  readonly shard: string;
  /** The last checkpoint written (a sequence number or a start sentinel). */
  readonly checkpoint: string;
  /** Milliseconds behind the shard's tip at the last read. */
  readonly millisBehindLatest: number;
  /** Records handed to the runtime and not yet committable. */
  readonly pending: number;
}

/**
 * Options of {@linkcode kinesisSource}.
 *
 * @typeParam T The decoded event type.
 */
export interface KinesisSourceOptions<T> {
  /** The stream's name. */
  readonly stream: string;
  /** The DynamoDB table holding the leases, one per application; created when missing. */
  readonly leaseTable: string;
  /** The Kinesis client. Default: `new KinesisClient({})`. */
  readonly kinesis?: KinesisClientLike;
  /** The DynamoDB client for the lease table. Default: `new DynamoDBClient({})`. */
  readonly dynamodb?: DynamoDBClientLike;
  /** This worker's id in the lease table. Default: `<hostname>-<pid>-<random>`. */
  readonly workerId?: string;
  /** Where shards without a checkpoint start. Default: `"TRIM_HORIZON"`. */
  readonly startPosition?: KinesisStartPosition;
  /** Records per GetRecords call (1 to 10,000). Default: 1,000. */
  readonly batchSize?: number;
  /** How long, in ms, a shard reader waits after reaching the tip. Default: 1,000. */
  readonly pollInterval?: number;
  /** The largest wait, in ms, of the backoff after throttling or errors. Default: 10,000. */
  readonly maxPollInterval?: number;
  /** A lease not renewed for this many ms is taken over. Default: 10,000. */
  readonly leaseDuration?: number;
  /** How often, in ms, the stream's shards are listed for new (resharded) ones. Default: 10,000. */
  readonly discoveryInterval?: number;
  /** How often, in ms, acked positions are checkpointed. Default: 1,000. */
  readonly checkpointInterval?: number;
  /** Records read but not yet handed to the runtime, at most (across shards). Default: 10,000. */
  readonly maxBufferedRecords?: number;
  /** How long, in ms, a handover or `close()` waits for records out with the runtime. Default: 10,000. */
  readonly closeTimeout?: number;
  /** Turns a record's bytes into an event; a throw dead-letters the record. Default: UTF-8 JSON. */
  readonly decode?: (data: Uint8Array, meta: KinesisRecordMeta) => T;
  /**
   * Gives an event its own id for dedup (claims) instead of the shard
   * position (marks): for producers whose retries put the same event twice.
   * Default: none; the id is `<stream>/<shard>/<sequence number>`.
   */
  readonly eventId?: (value: T, meta: KinesisRecordMeta) => string;
  /** The event time in epoch ms. Default: the arrival timestamp. */
  readonly time?: (value: T, meta: KinesisRecordMeta) => number;
  /** Told about each lease acquired, released, lost or finished. */
  readonly onLease?: (event: KinesisLeaseEvent) => void;
}

/** A Kinesis {@linkcode Source} with its lag and lease status. */
export interface KinesisSourceHandle<T> extends Source<T> {
  /** This worker's id in the lease table. */
  readonly workerId: string;
  /** The largest lag, in ms behind the tip, over the shards this worker reads (0 when none). */
  millisBehindLatest(): number;
  /** The shards this worker holds now. */
  status(): KinesisShardStatus[];
  /** Same as {@linkcode Source.close}. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Opens a Kinesis source. Reading starts at the first iteration: the lease
 * table is created when missing, shards are listed, and this worker takes
 * its share of leases. Each record's stream is `kinesis:<stream>:<shard>`
 * and its position the sequence number as a `bigint`, so `dedup: true`
 * applies each record exactly once across workers, crashes and handovers.
 *
 * @typeParam T The decoded event type.
 * @param options Stream, lease table, clients, positions and timings; see {@linkcode KinesisSourceOptions}.
 * @returns The source.
 * @throws {TypeError} When the stream or lease table is missing.
 * @throws {RangeError} When a number is out of range.
 *
 * @example Options are checked when the source is made
 * ```ts
 * import { kinesisSource } from "@murmur/core/source/kinesis";
 * import assert from "node:assert/strict";
 *
 * assert.throws(
 *   () => kinesisSource({ stream: "clicks", leaseTable: "leases", batchSize: 0 }),
 *   RangeError,
 * );
 * ```
 */
export function kinesisSource<T>(
  options: KinesisSourceOptions<T>,
): KinesisSourceHandle<T> {
  return new KinesisSource(options);
}
