// Lambda handlers for Kinesis, DynamoDB Streams and SQS batches, on the same runtime as run().

import type { Pipeline } from "../pipeline/mod.ts";
import type { RunOptions, RunSummary } from "../streaming/mod.ts";
import { type BatchItem, runBatch } from "./_batch.ts";
import {
  base64Bytes,
  type BatchResponse,
  type DynamoDBChange,
  type DynamoDBStreamEvent,
  type DynamoDBStreamEventRecord,
  type KinesisEventRecord,
  kinesisOrigin,
  type KinesisStreamEvent,
  type SQSEvent,
  type SQSEventRecord,
  toChange,
} from "./events.ts";

/** What one invocation did, for logs and metrics. */
export interface BatchReport {
  /** Records in the event. */
  readonly records: number;
  /** Records reported back as failed (not durable). */
  readonly failed: number;
  /** The runtime's summary, when the run finished. */
  readonly summary: RunSummary | undefined;
  /** Why the run stopped early, when it did. */
  readonly error: Error | undefined;
}

/** Options every handler takes: the options of `run()`, plus how to split the batch. */
export interface LambdaHandlerOptions extends Omit<RunOptions, "closeSource"> {
  /**
   * Apply each record exactly once across Lambda's retries. Default: `true`
   * (unlike `run()`): redelivery is how Lambda handles failures.
   */
  readonly dedup?: boolean;
  /**
   * Records per store write (the batch window's `maxRecords` unless you set
   * `batchWindow`): with a smaller number, a store that fails halfway leaves
   * the first writes durable and only the rest is retried, and a deadline
   * cuts between writes. Default: the whole batch in one write.
   */
  readonly flushEvery?: number;
  /** Called after each invocation with what it did. */
  readonly onBatch?: (report: BatchReport) => void;
  /**
   * With a context, the run stops reading this many ms before the
   * invocation's deadline, writes what it folded and reports the rest as
   * failed, rather than being killed with the whole batch unanswered.
   * Default: 3,000.
   */
  readonly deadlineMargin?: number;
}

/**
 * Options of {@linkcode kinesisHandler}.
 *
 * @typeParam E The decoded event type.
 */
export interface KinesisHandlerOptions<E> extends LambdaHandlerOptions {
  /**
   * What exactly-once keys on. `"position"`: per-shard marks on sequence
   * numbers, one small write per key (needs the shard's batches in order,
   * one at a time: ParallelizationFactor 1). `"id"`: a claim per record
   * (`<stream>/<shard>/<sequence number>`), for event source mappings with
   * ParallelizationFactor above 1, whose concurrent batches of one shard
   * interleave sequence numbers. Default: `"position"`.
   */
  readonly exactlyOnceBy?: "position" | "id";
  /** Decodes a record's payload; a throw dead-letters it. Default: UTF-8 JSON. */
  readonly decode?: (data: Uint8Array, record: KinesisEventRecord) => E;
  /** The event time in epoch ms. Default: the arrival timestamp. */
  readonly time?: (value: E, record: KinesisEventRecord) => number;
}

/**
 * Options of {@linkcode dynamoDBStreamsHandler}.
 *
 * @typeParam E The decoded event type.
 */
export interface DynamoDBStreamsHandlerOptions<E> extends LambdaHandlerOptions {
  /** Decodes a change; a throw dead-letters it. Default: {@linkcode DynamoDBChange} with plain images. */
  readonly decode?: (record: DynamoDBStreamEventRecord) => E;
  /** The event time in epoch ms. Default: the change's creation time. */
  readonly time?: (value: E, record: DynamoDBStreamEventRecord) => number;
}

/**
 * Options of {@linkcode sqsHandler}.
 *
 * @typeParam E The decoded event type.
 */
export interface SQSHandlerOptions<E> extends LambdaHandlerOptions {
  /** Decodes a message; a throw dead-letters it. Default: the body as JSON. */
  readonly decode?: (body: string, record: SQSEventRecord) => E;
  /** The event time in epoch ms. Default: the `SentTimestamp` attribute. */
  readonly time?: (value: E, record: SQSEventRecord) => number;
}

/** A Lambda handler for one kind of event batch. */
export type BatchHandler<Event> = (
  event: Event,
  context?: InvocationDeadline,
) => Promise<BatchResponse>;

/** What a handler reads of Lambda's context: the time left (see `LambdaContext`). */
export interface InvocationDeadline {
  /** Milliseconds left before Lambda stops the invocation. */
  getRemainingTimeInMillis(): number;
}

const decoder = new TextDecoder();

function item<E, R>(
  record: R,
  id: string,
  fallbackTime: number,
  decode: (record: R) => E,
  time: ((value: E, record: R) => number) | undefined,
  extra: { stream?: string; position?: bigint; raw?: Uint8Array },
): BatchItem<E> {
  try {
    const value = decode(record);
    const at = time === undefined ? fallbackTime : time(value, record);
    if (!Number.isFinite(at)) {
      throw new RangeError(`time() returned ${at}; return epoch milliseconds`);
    }
    return { value, id, time: at, ...extra };
  } catch (error) {
    return {
      value: undefined,
      error: error instanceof Error ? error : new Error(String(error)),
      id,
      time: fallbackTime,
      ...extra,
    };
  }
}

async function answer<E>(
  pipeline: Pipeline<E, unknown>,
  name: string,
  items: readonly BatchItem<E>[],
  identifiers: readonly string[],
  options: LambdaHandlerOptions,
  context: InvocationDeadline | undefined,
): Promise<BatchResponse> {
  const { flushEvery, onBatch, deadlineMargin, ...run } = options;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let deadline: { signal?: AbortSignal; shutdownTimeout?: number } = {};
  if (context !== undefined && run.signal === undefined) {
    const margin = deadlineMargin ?? 3000;
    const stop = new AbortController();
    timer = setTimeout(
      () => stop.abort(new Error("the invocation's deadline is near")),
      Math.max(0, context.getRemainingTimeInMillis() - margin),
    );
    deadline = {
      signal: stop.signal,
      shutdownTimeout: Math.min(run.shutdownTimeout ?? 10_000, margin / 2),
    };
  }
  const outcome = await runBatch(
    pipeline,
    name,
    items,
    flushEvery ?? Math.max(1, items.length),
    {
      ...(flushEvery === undefined || run.batchWindow !== undefined
        ? {}
        : { batchWindow: { time: 0, maxRecords: flushEvery } }),
      ...run,
      ...deadline,
      dedup: options.dedup ?? true,
    },
  ).finally(() => clearTimeout(timer));
  onBatch?.({
    records: items.length,
    failed: outcome.failed.length,
    summary: outcome.summary,
    error: outcome.error,
  });
  return {
    batchItemFailures: outcome.failed.map((i) => ({
      itemIdentifier: identifiers[i]!,
    })),
  };
}

/**
 * The plumbing every handler shares: map the event's records to batch
 * items (with one clock reading for fallback times), run them, and report
 * failures by each record's identifier.
 */
function batchHandler<R, E, V>(
  pipeline: Pipeline<E, V>,
  name: string,
  options: LambdaHandlerOptions & {
    readonly decode?: unknown;
    readonly time?: unknown;
    readonly exactlyOnceBy?: unknown;
  },
  toItem: (record: R, now: number) => BatchItem<E>,
  identifier: (record: R) => string,
): BatchHandler<{ readonly Records: readonly R[] }> {
  // The handler's own options (decoding, event time, dedup key) stay out of run().
  const { decode: _decode, time: _time, exactlyOnceBy: _by, ...common } =
    options;
  return (event, context) => {
    const now = Date.now();
    return answer(
      pipeline as Pipeline<E, unknown>,
      name,
      event.Records.map((record) => toItem(record, now)),
      event.Records.map(identifier),
      common,
      context,
    );
  };
}

/**
 * A Lambda handler for a Kinesis event source. Each record's stream is
 * `kinesis:<stream>:<shard>` and its position the sequence number, exactly
 * as the `@murmur/core/source/kinesis` source gives them, so a Lambda and a worker may
 * share state and both stay exact. The answer names, by sequence number,
 * every record whose effect is not durable (turn `ReportBatchItemFailures`
 * on in the event source mapping).
 *
 * @typeParam E The decoded event type.
 * @param pipeline The pipeline to run (its own source is ignored).
 * @param options Decoding, dedup, retries, dead letters; see {@linkcode KinesisHandlerOptions}.
 * @returns The handler.
 *
 * @example Count clicks per button from a Kinesis batch
 * ```ts
 * import { kinesisHandler } from "@murmur/core/lambda";
 * import { pipeline } from "@murmur/core/pipeline";
 * import { count } from "@murmur/core/monoid";
 * import { MemoryStore } from "@murmur/core/state";
 * import assert from "node:assert/strict";
 *
 * const store = new MemoryStore();
 * const clicks = pipeline<{ button: string }>("clicks")
 *   .key((e) => e.button).value(() => 1).aggregate(count()).storeIn(store).build();
 * const handler = kinesisHandler(clicks);
 * const record = (seq: string) => ({
 *   eventID: `shardId-000000000000:${seq}`,
 *   eventSourceARN: "arn:aws:kinesis:us-east-1:123456789012:stream/clicks",
 *   kinesis: { partitionKey: "k", sequenceNumber: seq, data: btoa('{"button":"buy"}'), approximateArrivalTimestamp: 1700000000 },
 * });
 * const event = { Records: [record("1"), record("2")] };
 * assert.deepEqual(await handler(event), { batchItemFailures: [] });
 * await handler(event); // redelivered: counted once
 * assert.equal(await store.get(clicks.scope, { entity: "buy", bucket: null }), 2);
 * ```
 */
export function kinesisHandler<E, V>(
  pipeline: Pipeline<E, V>,
  options: KinesisHandlerOptions<E> = {},
): BatchHandler<KinesisStreamEvent> {
  const decode = options.decode ??
    ((data: Uint8Array) => JSON.parse(decoder.decode(data)) as E);
  const byId = options.exactlyOnceBy === "id";
  return batchHandler(
    pipeline,
    "lambda:kinesis",
    options,
    (record: KinesisEventRecord) => {
      const { shard, stream } = kinesisOrigin(record);
      const k = record.kinesis;
      const raw = base64Bytes(k.data);
      return item(
        record,
        `${stream}/${shard}/${k.sequenceNumber}`,
        Math.round(k.approximateArrivalTimestamp * 1000),
        (r) => decode(raw, r),
        options.time,
        byId ? { raw } : {
          stream: `kinesis:${stream}:${shard}`,
          position: BigInt(k.sequenceNumber),
          raw,
        },
      );
    },
    (r) => r.kinesis.sequenceNumber,
  );
}

/**
 * A Lambda handler for a DynamoDB Streams event source. Dedup uses each
 * change's `eventID`; failures are reported by the change's sequence number,
 * which is what Lambda expects for a stream.
 *
 * @typeParam E The decoded event type.
 * @param pipeline The pipeline to run (its own source is ignored).
 * @param options Decoding, dedup, retries, dead letters; see {@linkcode DynamoDBStreamsHandlerOptions}.
 * @returns The handler.
 *
 * @example Count inserts per table partition
 * ```ts
 * import { type DynamoDBChange, dynamoDBStreamsHandler } from "@murmur/core/lambda";
 * import { pipeline } from "@murmur/core/pipeline";
 * import { count } from "@murmur/core/monoid";
 * import { MemoryStore } from "@murmur/core/state";
 * import assert from "node:assert/strict";
 *
 * const store = new MemoryStore();
 * const inserts = pipeline<DynamoDBChange>("inserts")
 *   .key((c) => String(c.keys.pk)).value(() => 1).aggregate(count()).storeIn(store).build();
 * const handler = dynamoDBStreamsHandler(inserts);
 * const response = await handler({
 *   Records: [{
 *     eventID: "a1", eventName: "INSERT",
 *     dynamodb: { Keys: { pk: { S: "user#1" } }, SequenceNumber: "100", ApproximateCreationDateTime: 1700000000 },
 *   }],
 * });
 * assert.deepEqual(response.batchItemFailures, []);
 * assert.equal(await store.get(inserts.scope, { entity: "user#1", bucket: null }), 1);
 * ```
 */
export function dynamoDBStreamsHandler<E = DynamoDBChange, V = unknown>(
  pipeline: Pipeline<E, V>,
  options: DynamoDBStreamsHandlerOptions<E> = {},
): BatchHandler<DynamoDBStreamEvent> {
  const decode = options.decode ??
    ((r: DynamoDBStreamEventRecord) => toChange(r) as E);
  return batchHandler(
    pipeline,
    "lambda:dynamodb-streams",
    options,
    (record: DynamoDBStreamEventRecord, now) => {
      const created = record.dynamodb.ApproximateCreationDateTime;
      return item(
        record,
        record.eventID,
        created === undefined ? now : Math.round(created * 1000),
        decode,
        options.time,
        {},
      );
    },
    (r) => r.dynamodb.SequenceNumber,
  );
}

/**
 * A Lambda handler for an SQS event source. Dedup uses each message's
 * `messageId`; failures are reported by `messageId`, so SQS makes only those
 * messages visible again.
 *
 * @typeParam E The decoded event type.
 * @param pipeline The pipeline to run (its own source is ignored).
 * @param options Decoding, dedup, retries, dead letters; see {@linkcode SQSHandlerOptions}.
 * @returns The handler.
 *
 * @example A message that is not JSON is dead-lettered, not retried
 * ```ts
 * import { sqsHandler } from "@murmur/core/lambda";
 * import { pipeline } from "@murmur/core/pipeline";
 * import { sum } from "@murmur/core/monoid";
 * import { MemoryStore } from "@murmur/core/state";
 * import assert from "node:assert/strict";
 *
 * const store = new MemoryStore();
 * const spend = pipeline<{ user: string; cents: number }>("spend")
 *   .key((e) => e.user).value((e) => e.cents).aggregate(sum()).storeIn(store).build();
 * const dead: string[] = [];
 * const handler = sqsHandler(spend, { deadLetter: (record) => { dead.push(record.id); } });
 * const response = await handler({
 *   Records: [
 *     { messageId: "m1", body: '{"user":"ann","cents":250}' },
 *     { messageId: "m2", body: "not json" },
 *   ],
 * });
 * assert.deepEqual(response.batchItemFailures, []);
 * assert.deepEqual(dead, ["m2"]);
 * assert.equal(await store.get(spend.scope, { entity: "ann", bucket: null }), 250);
 * ```
 */
export function sqsHandler<E, V>(
  pipeline: Pipeline<E, V>,
  options: SQSHandlerOptions<E> = {},
): BatchHandler<SQSEvent> {
  const decode = options.decode ?? ((body: string) => JSON.parse(body) as E);
  return batchHandler(
    pipeline,
    "lambda:sqs",
    options,
    (record: SQSEventRecord, now) => {
      const sent = Number(record.attributes?.SentTimestamp);
      return item(
        record,
        record.messageId,
        Number.isFinite(sent) ? sent : now,
        (r) => decode(r.body, r),
        options.time,
        {},
      );
    },
    (r) => r.messageId,
  );
}
