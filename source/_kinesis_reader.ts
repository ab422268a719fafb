// One shard's polling loop: iterator from the checkpoint, GetRecords with backoff, end-of-shard detection.

import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  type ShardIteratorType,
} from "@aws-sdk/client-kinesis";
import { delay } from "../internal/async.ts";
import { backoff } from "../internal/retry.ts";

/** A record as GetRecords returns it, reduced to what the source uses. */
export interface RawRecord {
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  readonly data: Uint8Array;
  readonly arrival: number;
}

/** What a shard reader needs from its source. */
export interface ShardReaderContext {
  readonly client: KinesisClient;
  readonly stream: string;
  readonly shard: string;
  /** The checkpoint to start after (a sequence number or a start sentinel). */
  readonly start: string;
  readonly batchSize: number;
  readonly pollInterval: number;
  readonly maxPollInterval: number;
  readonly signal: AbortSignal;
  /** Whether the shard listing shows the shard closed (it has an ending sequence number). */
  closed(): boolean;
  /** Hands records over; resolves when there is room for more. */
  deliver(records: RawRecord[], millisBehindLatest: number): Promise<void>;
  warn(message: string): void;
}

const THROTTLED = new Set([
  "ProvisionedThroughputExceededException",
  "LimitExceededException",
  "KMSThrottlingException",
  "ThrottlingException",
]);

function nameOf(error: unknown): string {
  return (error as { name?: string })?.name ?? "";
}

/** The iterator request for a checkpoint: after a sequence number, or a start sentinel. */
export function iteratorFor(
  checkpoint: string,
): {
  ShardIteratorType: ShardIteratorType;
  StartingSequenceNumber?: string;
  Timestamp?: Date;
} {
  if (/^\d+$/.test(checkpoint)) {
    return {
      ShardIteratorType: "AFTER_SEQUENCE_NUMBER",
      StartingSequenceNumber: checkpoint,
    };
  }
  if (checkpoint.startsWith("AT_TIMESTAMP:")) {
    return {
      ShardIteratorType: "AT_TIMESTAMP",
      Timestamp: new Date(Number(checkpoint.slice("AT_TIMESTAMP:".length))),
    };
  }
  if (checkpoint === "LATEST") return { ShardIteratorType: "LATEST" };
  return { ShardIteratorType: "TRIM_HORIZON" };
}

/**
 * Reads one shard until its end (`"end"`) or until the signal stops it
 * (`"stopped"`). Throttling and transient errors back off with full jitter
 * from `pollInterval` up to `maxPollInterval`; an expired iterator is
 * renewed after the last record read.
 */
export async function readShard(
  ctx: ShardReaderContext,
): Promise<"end" | "stopped"> {
  const { client, signal } = ctx;
  let after = ctx.start;
  let iterator: string | undefined;
  let failures = 0;
  const policy = {
    baseDelayMs: ctx.pollInterval,
    maxDelayMs: ctx.maxPollInterval,
  };
  const options = { abortSignal: signal };
  while (!signal.aborted) {
    try {
      if (iterator === undefined) {
        const got = await client.send(
          new GetShardIteratorCommand({
            StreamName: ctx.stream,
            ShardId: ctx.shard,
            ...iteratorFor(after),
          }),
          options,
        );
        iterator = got.ShardIterator;
        if (iterator === undefined) return "end";
      }
      const page = await client.send(
        new GetRecordsCommand({
          ShardIterator: iterator,
          Limit: ctx.batchSize,
        }),
        options,
      );
      failures = 0;
      const records: RawRecord[] = [];
      for (const r of page.Records ?? []) {
        records.push({
          sequenceNumber: r.SequenceNumber ?? "0",
          partitionKey: r.PartitionKey ?? "",
          data: r.Data ?? new Uint8Array(0),
          arrival: r.ApproximateArrivalTimestamp?.getTime() ?? Date.now(),
        });
      }
      const behind = page.MillisBehindLatest ?? 0;
      if (records.length > 0) {
        after = records[records.length - 1]!.sequenceNumber;
        await ctx.deliver(records, behind);
      } else {
        await ctx.deliver([], behind);
      }
      iterator = page.NextShardIterator;
      if (iterator === undefined || iterator === null) return "end";
      // Servers that keep answering on a closed shard (moto does): empty and at the tip means done.
      if (records.length === 0 && behind === 0 && ctx.closed()) return "end";
      if (records.length < ctx.batchSize && behind === 0) {
        await delay(ctx.pollInterval, signal);
      }
    } catch (error) {
      if (signal.aborted) break;
      const name = nameOf(error);
      if (name === "ExpiredIteratorException") {
        iterator = undefined;
        continue;
      }
      if (name === "ResourceNotFoundException") {
        ctx.warn(
          `${ctx.shard}: the shard is gone (trimmed or the stream was deleted); treating it as ended`,
        );
        return "end";
      }
      if (!THROTTLED.has(name)) {
        ctx.warn(
          `${ctx.shard}: read failed, retrying: ${
            error instanceof Error ? error.message : String(error)
          }`,
        );
        iterator = undefined;
      }
      try {
        await delay(backoff(policy, failures++), signal);
      } catch {
        break;
      }
    }
  }
  return "stopped";
}
