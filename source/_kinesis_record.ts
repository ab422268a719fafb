// The Kinesis source's options with defaults, and its records (decoded, with ids, positions and acks).

import type { SourceRecord } from "./source.ts";
import type { RawRecord } from "./_kinesis_reader.ts";
import type {
  KinesisLeaseEvent,
  KinesisRecordMeta,
  KinesisSourceOptions,
} from "./kinesis.ts";

/** Acks one record of a shard under the lease generation it was read in. */
export type AckFn = (shard: string, generation: number, seq: bigint) => void;

/** Thrown (as a record's `error`) when a record's bytes could not be decoded. */
export class KinesisDecodeError extends Error {
  /** Creates the error. */
  constructor(shard: string, seq: string, cause: unknown) {
    super(
      `kinesis record ${shard}/${seq} could not be decoded: ${
        cause instanceof Error ? cause.message : String(cause)
      }`,
      { cause },
    );
    this.name = "KinesisDecodeError";
  }
}

/** A record read from a shard. */
export class KinesisRecord<T> implements SourceRecord<T> {
  readonly value: T | undefined;
  readonly time: number;
  readonly stream?: string;
  readonly position?: bigint;
  readonly raw: Uint8Array;
  readonly error?: Error;
  /** The lease acquisition this record was read under; changes when the shard is taken again. */
  readonly generation: number;
  readonly seq: bigint;
  readonly #shard: string;
  readonly #ack: AckFn;
  readonly #prefix: string;
  #id: string | undefined;

  constructor(
    init: {
      value: T | undefined;
      id: string | undefined;
      time: number;
      stream: string | undefined;
      raw: Uint8Array;
      error: Error | undefined;
    },
    prefix: string,
    shard: string,
    seq: bigint,
    generation: number,
    ack: AckFn,
  ) {
    this.value = init.value;
    this.#id = init.id;
    this.time = init.time;
    if (init.stream !== undefined) {
      this.stream = init.stream;
      this.position = seq;
    }
    this.raw = init.raw;
    if (init.error !== undefined) this.error = init.error;
    this.generation = generation;
    this.seq = seq;
    this.#prefix = prefix;
    this.#shard = shard;
    this.#ack = ack;
  }

  /** `<stream>/<shard>/<sequence number>` unless `eventId` gave one; built when first asked (marks dedup by position). */
  get id(): string {
    return this.#id ??= this.#prefix + this.seq;
  }

  ack(): void {
    this.#ack(this.#shard, this.generation, this.seq);
  }
}

/** Options after defaults. */
export interface Resolved<T> {
  readonly stream: string;
  readonly leaseTable: string;
  readonly workerId: string;
  /** The start sentinel: `TRIM_HORIZON`, `LATEST` or `AT_TIMESTAMP:<ms>`. */
  readonly start: string;
  readonly batchSize: number;
  readonly pollInterval: number;
  readonly maxPollInterval: number;
  readonly leaseDuration: number;
  readonly discoveryInterval: number;
  readonly checkpointInterval: number;
  readonly maxBufferedRecords: number;
  readonly closeTimeout: number;
  readonly onLease: ((event: KinesisLeaseEvent) => void) | undefined;
  record(
    raw: RawRecord,
    shard: string,
    streamId: string,
    generation: number,
    ack: AckFn,
  ): KinesisRecord<T>;
}

function number(
  name: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max = Infinity,
): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new RangeError(
      `kinesisSource(): ${name} must be a number from ${min} to ${max}, got ${value}`,
    );
  }
  return value;
}

const decoder = new TextDecoder();

/** `<hostname>-<pid>-<random>`; the host part falls back to `worker` without `--allow-sys`. */
function defaultWorkerId(): string {
  let host = "worker";
  try {
    host = Deno.hostname();
  } catch {
    // no permission to read the host name
  }
  return `${host}-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
}

/** Validates options and applies defaults. */
export function resolveOptions<T>(
  options: KinesisSourceOptions<T>,
): Resolved<T> {
  if (typeof options.stream !== "string" || options.stream === "") {
    throw new TypeError(
      'kinesisSource() needs a stream: pass { stream: "clicks" }',
    );
  }
  if (typeof options.leaseTable !== "string" || options.leaseTable === "") {
    throw new TypeError(
      'kinesisSource() needs a lease table: pass { leaseTable: "clicks_leases" } (one per application)',
    );
  }
  const position = options.startPosition ?? "TRIM_HORIZON";
  let start: string;
  if (position === "TRIM_HORIZON" || position === "LATEST") start = position;
  else {
    const at = position.timestamp instanceof Date
      ? position.timestamp.getTime()
      : position.timestamp;
    if (!Number.isFinite(at)) {
      throw new RangeError(
        "kinesisSource(): startPosition.timestamp must be a Date or epoch ms",
      );
    }
    start = `AT_TIMESTAMP:${at}`;
  }
  const stream = options.stream;
  const { eventId, time } = options;
  const custom = options.decode !== undefined || eventId !== undefined ||
    time !== undefined;
  const decode = options.decode ??
    ((data: Uint8Array) => JSON.parse(decoder.decode(data)) as T);
  const pollInterval = number("pollInterval", options.pollInterval, 1000, 0);
  return {
    stream,
    leaseTable: options.leaseTable,
    workerId: options.workerId ?? defaultWorkerId(),
    start,
    batchSize: number("batchSize", options.batchSize, 1000, 1, 10_000),
    pollInterval,
    maxPollInterval: number(
      "maxPollInterval",
      options.maxPollInterval,
      Math.max(10_000, pollInterval),
      pollInterval,
    ),
    leaseDuration: number("leaseDuration", options.leaseDuration, 10_000, 300),
    discoveryInterval: number(
      "discoveryInterval",
      options.discoveryInterval,
      10_000,
      100,
    ),
    checkpointInterval: number(
      "checkpointInterval",
      options.checkpointInterval,
      1000,
      10,
    ),
    maxBufferedRecords: number(
      "maxBufferedRecords",
      options.maxBufferedRecords,
      10_000,
      1,
    ),
    closeTimeout: number("closeTimeout", options.closeTimeout, 10_000, 0),
    onLease: options.onLease,
    record(raw, shard, streamId, generation, ack) {
      const seq = BigInt(raw.sequenceNumber);
      const prefix = `${stream}/${shard}/`;
      const keyed = eventId === undefined ? streamId : undefined;
      // The record's metadata is built only for hooks that take it.
      const meta = (): KinesisRecordMeta => ({
        stream,
        shard,
        sequenceNumber: raw.sequenceNumber,
        partitionKey: raw.partitionKey,
        arrival: raw.arrival,
      });
      try {
        let value: T;
        let id: string | undefined;
        let at = raw.arrival;
        if (custom) {
          const m = meta();
          value = decode(raw.data, m);
          if (eventId !== undefined) id = eventId(value, m);
          if (time !== undefined) at = time(value, m);
          if (!Number.isFinite(at)) {
            throw new RangeError(
              `time() returned ${at}; return epoch milliseconds`,
            );
          }
        } else {
          value = JSON.parse(decoder.decode(raw.data)) as T;
        }
        return new KinesisRecord<T>(
          {
            value,
            id,
            time: at,
            stream: keyed,
            raw: raw.data,
            error: undefined,
          },
          prefix,
          shard,
          seq,
          generation,
          ack,
        );
      } catch (error) {
        return new KinesisRecord<T>(
          {
            value: undefined,
            id: undefined,
            time: raw.arrival,
            stream: keyed,
            raw: raw.data,
            error: new KinesisDecodeError(shard, raw.sequenceNumber, error),
          },
          prefix,
          shard,
          seq,
          generation,
          ack,
        );
      }
    },
  };
}
