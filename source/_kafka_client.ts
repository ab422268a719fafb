// The one place that uses kafkajs (through internal/kafkajs.ts): a small consumer/producer adapter the Kafka source and dead-letter helper use.

import { Buffer } from "node:buffer";
import {
  type Consumer,
  type EachBatchPayload,
  type IHeaders,
  Kafka,
  type KafkaConfig,
  type KafkaMessage as KafkajsMessage,
  type LogEntry,
  logLevel as KafkajsLogLevel,
  Partitioners,
  type Producer,
} from "../internal/kafkajs.ts";
import type { KafkaMessage } from "./kafka.ts";

/** How to reach the brokers: shared by consumers and producers. */
export interface ClientConnection {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly ssl?: boolean | ClientTls;
  readonly sasl?: ClientSasl;
  readonly connectionTimeout?: number;
  readonly requestTimeout?: number;
  readonly logLevel: ClientLogLevel;
}

/** TLS settings handed to the client. */
export interface ClientTls {
  readonly ca?: string | readonly string[];
  readonly cert?: string;
  readonly key?: string;
  readonly servername?: string;
  readonly rejectUnauthorized?: boolean;
}

/** SASL settings handed to the client. */
export interface ClientSasl {
  readonly mechanism: "plain" | "scram-sha-256" | "scram-sha-512";
  readonly username: string;
  readonly password: string;
}

/** How chatty the client library may be on stderr. */
export type ClientLogLevel = "nothing" | "error" | "warn" | "info" | "debug";

/** One fetched message, in client-neutral form: the message decoders see. */
export type ClientMessage = KafkaMessage;

/** The messages of one partition fetched together. */
export interface ClientBatch {
  readonly topic: string;
  readonly partition: number;
  readonly messages: readonly ClientMessage[];
  /** The last offset the fetch covered, which can pass the last message (transaction markers). */
  readonly lastOffset: bigint;
}

/** What a batch handler may do while it holds its batch. */
export interface BatchControl {
  /** Keeps the group membership alive; rejects with a {@linkcode RebalanceSignal} when the group is rebalancing. */
  heartbeat(): Promise<void>;
  /** Whether the consumer is still running. */
  isRunning(): boolean;
}

/** Thrown by {@linkcode BatchControl.heartbeat} when the group started a rebalance. */
export class RebalanceSignal extends Error {
  /** The client's own error, to rethrow so the client rejoins. */
  readonly original: unknown;
  /** Wraps the client's error. */
  constructor(original: unknown) {
    super(
      `the consumer group is rebalancing: ${
        original instanceof Error ? original.message : String(original)
      }`,
    );
    this.name = "RebalanceSignal";
    this.original = original;
  }
}

/** Callbacks the consumer adapter drives. */
export interface ConsumerHandlers {
  /**
   * Handles one partition's batch. The client fetches nothing more from the
   * broker until every handler of the current fetch has returned, and it can
   * only notice a rebalance between handler calls or through
   * {@linkcode BatchControl.heartbeat}, so a handler that returns only when its
   * records are durable and committed hands partitions over cleanly.
   */
  onBatch(batch: ClientBatch, control: BatchControl): Promise<void>;
  /** The group (re)assigned partitions; earlier assignments are void. */
  onAssignment(
    partitions: readonly { topic: string; partition: number }[],
  ): void;
  /** The group is about to rebalance: offsets of the current assignment must not be committed any more after the rejoin. */
  onRebalance(): void;
  /** The client crashed; `restarting` tells whether it will try again on its own. */
  onCrash(error: Error, restarting: boolean): void;
}

/** What the consumer adapter needs to know. */
export interface ConsumerSettings {
  readonly groupId: string;
  readonly topics: readonly string[];
  readonly fromBeginning: boolean;
  readonly sessionTimeout: number;
  readonly rebalanceTimeout: number;
  readonly heartbeatInterval: number;
  readonly maxBytesPerPartition: number;
  readonly maxBytes: number;
  readonly maxWaitTime: number;
  readonly partitionsConsumedConcurrently: number;
}

/** A consumer in a group, reduced to what the source needs. */
export interface ConsumerClient {
  /** Connects, subscribes and starts delivering batches to the handlers. */
  start(handlers: ConsumerHandlers): Promise<void>;
  /** Commits next-offsets-to-read for partitions of the current assignment. */
  commit(
    offsets: readonly { topic: string; partition: number; offset: bigint }[],
  ): Promise<void>;
  /** Stops fetching, waits for running handlers, leaves the group and disconnects. */
  stop(): Promise<void>;
}

/** One message to produce. */
export interface ProducerMessage {
  readonly key?: Uint8Array | string | null;
  readonly value: Uint8Array | string | null;
  readonly headers?: Readonly<Record<string, string>>;
}

/** A producer, reduced to what the dead-letter helper needs. */
export interface ProducerClient {
  /** Sends messages and resolves when all in-sync replicas have them. */
  send(topic: string, messages: readonly ProducerMessage[]): Promise<void>;
  /** Disconnects. */
  close(): Promise<void>;
}

const kafkajsLevels: Record<ClientLogLevel, KafkajsLogLevel> = {
  nothing: KafkajsLogLevel.NOTHING,
  error: KafkajsLogLevel.ERROR,
  warn: KafkajsLogLevel.WARN,
  info: KafkajsLogLevel.INFO,
  debug: KafkajsLogLevel.DEBUG,
};

const levelNames: Record<number, string> = {
  [KafkajsLogLevel.ERROR]: "ERROR",
  [KafkajsLogLevel.WARN]: "WARN",
  [KafkajsLogLevel.INFO]: "INFO",
  [KafkajsLogLevel.DEBUG]: "DEBUG",
};

/** Rebalance notices the client logs as errors although every rebalance causes them. */
const expected = /rebalanc|rejoin is needed/i;

function logCreator(level: ClientLogLevel) {
  const limit = kafkajsLevels[level];
  return () => (entry: LogEntry) => {
    const { message, timestamp: _timestamp, logger: _logger, ...extra } =
      entry.log;
    const routine = entry.level <= KafkajsLogLevel.WARN &&
      (expected.test(message) || expected.test(String(extra["error"] ?? "")));
    const effective = routine ? KafkajsLogLevel.INFO : entry.level;
    if (effective > limit) return;
    const detail = Object.keys(extra).length > 0
      ? ` ${JSON.stringify(extra)}`
      : "";
    console.error(
      `[kafka ${
        levelNames[effective] ?? effective
      }] ${entry.namespace}: ${message}${detail}`,
    );
  };
}

function kafka(connection: ClientConnection): Kafka {
  const config: KafkaConfig = {
    brokers: [...connection.brokers],
    clientId: connection.clientId,
    logLevel: kafkajsLevels[connection.logLevel],
    logCreator: logCreator(connection.logLevel),
  };
  if (connection.ssl !== undefined) {
    config.ssl = typeof connection.ssl === "boolean" ? connection.ssl : {
      ...connection.ssl,
      ca:
        typeof connection.ssl.ca === "string" || connection.ssl.ca === undefined
          ? connection.ssl.ca
          : [...connection.ssl.ca],
    };
  }
  const sasl = connection.sasl;
  if (sasl !== undefined) {
    const { username, password } = sasl;
    config.sasl = sasl.mechanism === "plain"
      ? { mechanism: "plain", username, password }
      : sasl.mechanism === "scram-sha-256"
      ? { mechanism: "scram-sha-256", username, password }
      : { mechanism: "scram-sha-512", username, password };
  }
  if (connection.connectionTimeout !== undefined) {
    config.connectionTimeout = connection.connectionTimeout;
  }
  if (connection.requestTimeout !== undefined) {
    config.requestTimeout = connection.requestTimeout;
  }
  return new Kafka(config);
}

const utf8 = new TextDecoder();

const noHeaders: Readonly<Record<string, string>> = Object.freeze({});

function headersOf(
  headers: IHeaders | undefined,
): Readonly<Record<string, string>> {
  if (headers === undefined) return noHeaders;
  let out: Record<string, string> | undefined;
  for (const name in headers) {
    const raw = headers[name];
    const one = Array.isArray(raw) ? raw[raw.length - 1] : raw;
    if (one === undefined) continue;
    (out ??= {})[name] = typeof one === "string" ? one : utf8.decode(one);
  }
  return out ?? noHeaders;
}

function messageOf(
  topic: string,
  partition: number,
  message: KafkajsMessage,
): ClientMessage {
  return {
    topic,
    partition,
    offset: BigInt(message.offset),
    key: message.key,
    value: message.value,
    timestamp: Number(message.timestamp),
    headers: headersOf(message.headers),
  };
}

/** Converts a fetched batch's messages; a plain loop outside the async handler, so it gets optimized. */
function messagesOf(
  topic: string,
  partition: number,
  messages: readonly KafkajsMessage[],
): ClientMessage[] {
  const out = new Array<ClientMessage>(messages.length);
  for (let i = 0; i < messages.length; i++) {
    out[i] = messageOf(topic, partition, messages[i]!);
  }
  return out;
}

interface TypedError {
  readonly type?: unknown;
}

function isRebalancing(error: unknown): boolean {
  const type = (error as TypedError | null)?.type;
  return type === "REBALANCE_IN_PROGRESS" ||
    type === "NOT_COORDINATOR_FOR_GROUP" || type === "ILLEGAL_GENERATION";
}

/** Creates the kafkajs-backed consumer adapter. */
export function kafkajsConsumer(
  connection: ClientConnection,
  settings: ConsumerSettings,
): ConsumerClient {
  const consumer: Consumer = kafka(connection).consumer({
    groupId: settings.groupId,
    sessionTimeout: settings.sessionTimeout,
    rebalanceTimeout: settings.rebalanceTimeout,
    heartbeatInterval: settings.heartbeatInterval,
    maxBytesPerPartition: settings.maxBytesPerPartition,
    maxBytes: settings.maxBytes,
    maxWaitTimeInMs: settings.maxWaitTime,
    allowAutoTopicCreation: false,
  });
  const removers: (() => void)[] = [];

  return {
    async start(handlers) {
      removers.push(
        consumer.on(consumer.events.REBALANCING, () => handlers.onRebalance()),
        consumer.on(consumer.events.GROUP_JOIN, (event) => {
          const assigned = event.payload.memberAssignment;
          const partitions: { topic: string; partition: number }[] = [];
          for (const topic in assigned) {
            for (const partition of assigned[topic] ?? []) {
              partitions.push({ topic, partition });
            }
          }
          handlers.onAssignment(partitions);
        }),
        consumer.on(consumer.events.CRASH, (event) => {
          const error = event.payload.error;
          handlers.onCrash(
            error instanceof Error ? error : new Error(String(error)),
            event.payload.restart,
          );
        }),
      );
      await consumer.connect();
      await consumer.subscribe({
        topics: [...settings.topics],
        fromBeginning: settings.fromBeginning,
      });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: true,
        partitionsConsumedConcurrently: settings.partitionsConsumedConcurrently,
        eachBatch: async (payload: EachBatchPayload) => {
          const { batch } = payload;
          const control: BatchControl = {
            async heartbeat() {
              try {
                await payload.heartbeat();
              } catch (error) {
                if (isRebalancing(error)) throw new RebalanceSignal(error);
                throw error;
              }
            },
            isRunning: () => payload.isRunning(),
          };
          try {
            await handlers.onBatch({
              topic: batch.topic,
              partition: batch.partition,
              messages: messagesOf(
                batch.topic,
                batch.partition,
                batch.messages,
              ),
              lastOffset: BigInt(batch.lastOffset()),
            }, control);
          } catch (error) {
            throw error instanceof RebalanceSignal ? error.original : error;
          }
        },
      });
    },
    async commit(offsets) {
      if (offsets.length === 0) return;
      await consumer.commitOffsets(offsets.map((entry) => ({
        topic: entry.topic,
        partition: entry.partition,
        offset: entry.offset.toString(),
      })));
    },
    async stop() {
      try {
        await consumer.disconnect();
      } finally {
        for (const remove of removers.splice(0)) remove();
      }
    },
  };
}

/** Creates the kafkajs-backed producer adapter; it connects on first send. */
export function kafkajsProducer(connection: ClientConnection): ProducerClient {
  const producer: Producer = kafka(connection).producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: true,
  });
  let connected: Promise<void> | undefined;
  // A failed connect is forgotten, so the next send tries again: the brokers
  // may simply not have been up yet.
  const connect = () =>
    connected ??= producer.connect().catch((error) => {
      connected = undefined;
      throw error;
    });
  return {
    async send(topic, messages) {
      await connect();
      await producer.send({
        topic,
        acks: -1,
        messages: messages.map((message) => {
          const out: {
            key?: Buffer | string | null;
            value: Buffer | string | null;
            headers?: Record<string, string>;
          } = { value: toBuffer(message.value) };
          if (message.key !== undefined) out.key = toBuffer(message.key);
          if (message.headers !== undefined) {
            out.headers = { ...message.headers };
          }
          return out;
        }),
      });
    },
    async close() {
      if (connected === undefined) return;
      await connected.catch(() => undefined);
      await producer.disconnect();
    },
  };
}

function toBuffer(value: Uint8Array | string | null): Buffer | string | null {
  if (value === null || typeof value === "string") return value;
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}
