/**
 * A Kafka source for a consumer group, and a dead-letter helper that writes
 * poison records to a Kafka topic.
 *
 * Records carry `stream = "kafka:<topic>:<partition>"` and `position` = the
 * offset, so the runtime can fold them exactly once; the source commits only
 * contiguous runs of acked offsets per partition, and a batch fetched from a
 * partition is handed over (acked and committed) before the group can give the
 * partition to another worker. The client library (kafkajs) stays behind an
 * internal adapter.
 *
 * @example Reading a topic (needs a broker)
 * ```ts ignore
 * import { kafkaSource } from "@murmur/core/source/kafka";
 *
 * const source = kafkaSource<{ page: string }>({
 *   brokers: ["localhost:9092"],
 *   topic: "page_views",
 *   groupId: "page-view-counter",
 * });
 * for await (const batch of source) {
 *   for (const record of batch) {
 *     console.log(record.id, record.value?.page);
 *     record.ack();
 *   }
 * }
 * ```
 *
 * @example Decoding bytes
 * ```ts
 * import { jsonDecoder } from "@murmur/core/source/kafka";
 * import assert from "node:assert/strict";
 *
 * const decode = jsonDecoder<{ page: string }>();
 * const bytes = new TextEncoder().encode('{"page":"/home"}');
 * assert.deepEqual(decode(bytes), { page: "/home" });
 * ```
 *
 * @module
 */

import type { Source, SourceRecord } from "./source.ts";

export type { Source, SourceRecord } from "./source.ts";
export {
  jsonDecoder,
  KafkaDecodeError,
  KafkaSourceError,
} from "./_kafka_common.ts";
import { kafkajsConsumer, kafkajsProducer } from "./_kafka_client.ts";
import {
  openKafkaSource,
  positive,
  requireBrokers,
  resolveSourceOptions,
} from "./_kafka_source.ts";
import { openKafkaDeadLetter } from "./_kafka_dead_letter.ts";
import { definedOnly } from "../internal/defined.ts";

/** One Kafka message as decoders and extractors see it. */
export interface KafkaMessage {
  /** The topic it was read from. */
  readonly topic: string;
  /** The partition it was read from. */
  readonly partition: number;
  /** Its offset in the partition. */
  readonly offset: bigint;
  /** The message key, or `null`. */
  readonly key: Uint8Array | null;
  /** The message value, or `null` for a tombstone. */
  readonly value: Uint8Array | null;
  /** The message timestamp in epoch ms (create or log-append time, as the topic says). */
  readonly timestamp: number;
  /** The headers, decoded as UTF-8 (the last value wins when a name repeats). */
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * Turns a message's bytes into an event. Throwing marks the record as
 * undecodable: it reaches the runtime with `error` set and is dead-lettered.
 *
 * @typeParam T The decoded event type.
 */
export type KafkaDecoder<T> = (bytes: Uint8Array, message: KafkaMessage) => T;

/** TLS settings for the broker connection. */
export interface KafkaTlsOptions {
  /** Trusted CA certificates (PEM). */
  readonly ca?: string | readonly string[];
  /** Client certificate (PEM) for mutual TLS. */
  readonly cert?: string;
  /** Client private key (PEM) for mutual TLS. */
  readonly key?: string;
  /** The server name to verify, when it differs from the broker host. */
  readonly servername?: string;
  /** Whether to verify the broker's certificate. Default `true`. */
  readonly rejectUnauthorized?: boolean;
}

/** SASL authentication for the broker connection. */
export interface KafkaSaslOptions {
  /** The mechanism. */
  readonly mechanism: "plain" | "scram-sha-256" | "scram-sha-512";
  /** The user name. */
  readonly username: string;
  /** The password. */
  readonly password: string;
}

/** How to reach the brokers; shared by {@linkcode KafkaSourceOptions} and {@linkcode KafkaDeadLetterOptions}. */
export interface KafkaConnectionOptions {
  /** Bootstrap brokers, e.g. `["localhost:9092"]`. */
  readonly brokers: readonly string[];
  /** The client id brokers see in their logs. Default `"murmur"`. */
  readonly clientId?: string;
  /** `true` for TLS with the system's trust store, or TLS settings. Default: plaintext. */
  readonly ssl?: boolean | KafkaTlsOptions;
  /** SASL authentication. Default: none. */
  readonly sasl?: KafkaSaslOptions;
  /** Connection timeout in ms. Default: the client's (1 s). */
  readonly connectionTimeout?: number;
  /** Request timeout in ms. Default: the client's (30 s). */
  readonly requestTimeout?: number;
  /** How much the client library logs to stderr. Default `"error"`. */
  readonly logLevel?: "nothing" | "error" | "warn" | "info" | "debug";
}

/** A partition of a topic. */
export interface KafkaPartition {
  /** The topic. */
  readonly topic: string;
  /** The partition number. */
  readonly partition: number;
}

/** A committed position: `offset` is the next offset the group will read. */
export interface KafkaCommittedOffset extends KafkaPartition {
  /** The next offset to read (the highest contiguous acked offset plus one). */
  readonly offset: bigint;
}

/**
 * Options for {@linkcode kafkaSource}.
 *
 * @typeParam T The decoded event type.
 */
export interface KafkaSourceOptions<T> extends KafkaConnectionOptions {
  /** The topic, or topics, to read. */
  readonly topic: string | readonly string[];
  /** The consumer group; workers with the same group share the partitions. */
  readonly groupId: string;
  /** Decodes message bytes. Default: {@linkcode jsonDecoder}. */
  readonly decode?: KafkaDecoder<T>;
  /**
   * The record id used for dedup claims. Default `"<topic>/<partition>/<offset>"`;
   * an empty result falls back to the default.
   */
  readonly id?: (message: KafkaMessage, value: T) => string;
  /** The event time in epoch ms. Default: the message timestamp. */
  readonly time?: (message: KafkaMessage, value: T) => number;
  /** Where a group with no committed offset starts: the oldest message (`true`, default) or new ones only. */
  readonly fromBeginning?: boolean;
  /**
   * How many fetched records may wait for the runtime to pull them before
   * fetching pauses. Default `50_000`. One fetch larger than this is still
   * delivered whole.
   */
  readonly maxBufferedRecords?: number;
  /**
   * When the group starts a rebalance, how long a fetched batch may wait for
   * its records to be acked before the partition is let go uncommitted (its
   * records are then read again by the next owner). Keep it below
   * `rebalanceTimeout`. Default `20_000` ms.
   */
  readonly handoverTimeout?: number;
  /** How often late acks are committed, in ms. Default `1_000`. */
  readonly commitInterval?: number;
  /** How long {@linkcode Source.close} waits for handed-out records to be acked before it commits. Default `10_000` ms. */
  readonly closeTimeout?: number;
  /** Group session timeout in ms. Default `30_000`. */
  readonly sessionTimeout?: number;
  /** Group rebalance timeout in ms. Default `60_000`. */
  readonly rebalanceTimeout?: number;
  /** Heartbeat interval in ms. Default `3_000`. */
  readonly heartbeatInterval?: number;
  /** Most bytes fetched per partition per request. Default 4 MiB. */
  readonly maxBytesPerPartition?: number;
  /** Most bytes fetched per request. Default 32 MiB. */
  readonly maxBytes?: number;
  /** How long the broker may hold a fetch open waiting for data, in ms. Default `500`. */
  readonly maxWaitTime?: number;
  /** Partitions processed at the same time; keep it at or above the partitions one worker owns. Default `64`. */
  readonly partitionsConsumedConcurrently?: number;
  /** Called after the group assigns partitions to this worker. */
  readonly onAssignment?: (partitions: readonly KafkaPartition[]) => void;
  /** Called after offsets were committed. */
  readonly onCommit?: (offsets: readonly KafkaCommittedOffset[]) => void;
}

/**
 * Reads one or more topics as a member of a consumer group.
 *
 * Each record has `id = "<topic>/<partition>/<offset>"` (or `options.id`),
 * `time` = the message timestamp (or `options.time`), `stream =
 * "kafka:<topic>:<partition>"`, `position` = the offset and `raw` = the value
 * bytes. A message that cannot be decoded arrives with `error` set (a
 * {@linkcode KafkaDecodeError}) so the runtime dead-letters it and goes on.
 *
 * Commits: per partition, only the highest contiguous run of acked offsets is
 * committed (at the end of every fetched batch, every `commitInterval` and on
 * close), however out of order the records finish. A fetched batch is held
 * until its records are acked, with heartbeats, so when the group rebalances
 * the partitions are handed over flushed and committed (see docs/kafka.md).
 * The client fetches nothing more while the runtime has not pulled the
 * buffered records, which is how backpressure reaches the broker.
 *
 * The source is iterated once; iteration connects and joins the group.
 *
 * @typeParam T The decoded event type.
 * @param options Brokers, topic, group and tuning.
 * @returns The source.
 * @throws {TypeError} When brokers, topic or groupId are missing.
 * @throws {RangeError} When a size or timeout is not a positive number.
 *
 * @example Usage (needs a broker)
 * ```ts ignore
 * import { kafkaSource } from "@murmur/core/source/kafka";
 *
 * const source = kafkaSource<{ page: string }>({
 *   brokers: ["localhost:9092"],
 *   topic: "page_views",
 *   groupId: "page-view-counter",
 *   time: (_message, event) => Date.parse((event as { at: string }).at),
 * });
 * await source.close();
 * ```
 */
export function kafkaSource<T>(options: KafkaSourceOptions<T>): Source<T> {
  const settings = resolveSourceOptions(options);
  return openKafkaSource<T>(
    settings,
    kafkajsConsumer(connectionOf(options), settings),
  );
}

/** Options for {@linkcode kafkaDeadLetter}. */
export interface KafkaDeadLetterOptions extends KafkaConnectionOptions {
  /** The dead-letter topic. Created on first write when the broker allows it. */
  readonly topic: string;
  /** The pipeline name written in the `murmur-pipeline` header when the error names none. Default `""`. */
  readonly pipeline?: string;
  /** How long to gather dead letters into one produce request, in ms. Default `5`. */
  readonly linger?: number;
}

/**
 * A dead-letter callback that writes to Kafka, with `close()` to flush and
 * disconnect.
 */
export interface KafkaDeadLetter {
  /**
   * Writes the record's raw bytes to the dead-letter topic and resolves when
   * the brokers have it.
   *
   * @param record The poison record.
   * @param error Why it could not be processed.
   */
  (record: SourceRecord<unknown>, error: unknown): Promise<void>;
  /** Waits for pending writes and disconnects. */
  close(): Promise<void>;
  /** Same as {@linkcode KafkaDeadLetter.close}. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Creates a dead-letter callback for the runtime that produces each poison
 * record to a Kafka topic.
 *
 * The message value is the record's raw bytes (or its value as JSON when the
 * source kept no bytes), the key is the record id, and the headers are
 * `murmur-reason` (the error message), `murmur-error` (the error's name),
 * `murmur-source-topic`, `murmur-source-partition`, `murmur-source-offset`
 * (for Kafka records; `murmur-stream`/`murmur-position` otherwise),
 * `murmur-record-id`, `murmur-event-time` and `murmur-pipeline` (the
 * error's pipeline when the runtime names one, else `options.pipeline`), plus
 * `murmur-stage` (the step that refused the record) and `murmur-cause` (the
 * underlying error's name) when the runtime's error carries them.
 *
 * @param options Brokers, topic and pipeline name.
 * @returns The callback.
 * @throws {TypeError} When brokers or topic are missing.
 *
 * @example Usage (needs a broker)
 * ```ts ignore
 * import { kafkaDeadLetter } from "@murmur/core/source/kafka";
 *
 * await using deadLetter = kafkaDeadLetter({
 *   brokers: ["localhost:9092"],
 *   topic: "page_views.dlq",
 *   pipeline: "page_views",
 * });
 * ```
 */
export function kafkaDeadLetter(
  options: KafkaDeadLetterOptions,
): KafkaDeadLetter {
  requireBrokers(options.brokers);
  if (typeof options.topic !== "string" || options.topic.length === 0) {
    throw new TypeError(
      'kafkaDeadLetter() needs a topic: pass { topic: "<name>.dlq" }',
    );
  }
  return openKafkaDeadLetter(kafkajsProducer(connectionOf(options)), {
    topic: options.topic,
    pipeline: options.pipeline ?? "",
    linger: positive("linger", options.linger, 5, true),
  });
}

function connectionOf(options: KafkaConnectionOptions) {
  return {
    brokers: options.brokers,
    clientId: options.clientId ?? "murmur",
    logLevel: options.logLevel ?? "error",
    ...definedOnly({
      ssl: options.ssl,
      sasl: options.sasl,
      connectionTimeout: options.connectionTimeout,
      requestTimeout: options.requestTimeout,
    }),
  };
}
