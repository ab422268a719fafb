// Writes poison records to a Kafka dead-letter topic, gathering concurrent calls into one produce request.

import type { SourceRecord } from "./source.ts";
import type { ProducerClient, ProducerMessage } from "./_kafka_client.ts";
import type { KafkaDeadLetter } from "./kafka.ts";

/** Settings of the dead-letter writer, defaults applied. */
export interface DeadLetterSettings {
  readonly topic: string;
  readonly pipeline: string;
  readonly linger: number;
}

const maxReason = 2_000;
const encoder = new TextEncoder();

/** Parses `"kafka:<topic>:<partition>"`; topic names cannot hold a colon. */
function kafkaStream(
  stream: string | undefined,
): { topic: string; partition: string } | undefined {
  if (stream === undefined || !stream.startsWith("kafka:")) return undefined;
  const at = stream.lastIndexOf(":");
  if (at <= "kafka:".length) return undefined;
  return {
    topic: stream.slice("kafka:".length, at),
    partition: stream.slice(at + 1),
  };
}

/** What the runtime's `RecordError` adds to an error, read structurally. */
interface Described {
  readonly stage?: unknown;
  readonly pipeline?: unknown;
  readonly cause?: unknown;
}

function reasonOf(error: unknown): {
  name: string;
  reason: string;
  stage: string | undefined;
  pipeline: string | undefined;
  cause: string | undefined;
} {
  const name = error instanceof Error ? error.name : "Error";
  const text = error instanceof Error ? error.message : String(error);
  const described =
    (typeof error === "object" && error !== null ? error : {}) as Described;
  return {
    name,
    reason: text.length > maxReason ? `${text.slice(0, maxReason)}…` : text,
    stage: typeof described.stage === "string" ? described.stage : undefined,
    pipeline: typeof described.pipeline === "string"
      ? described.pipeline
      : undefined,
    cause: described.cause instanceof Error ? described.cause.name : undefined,
  };
}

function valueOf(record: SourceRecord<unknown>): Uint8Array | null {
  if (record.raw !== undefined) return record.raw;
  if (record.value === undefined) return null;
  try {
    return encoder.encode(JSON.stringify(record.value));
  } catch {
    return null;
  }
}

/** Builds the dead-letter message for a record. */
export function deadLetterMessage(
  record: SourceRecord<unknown>,
  error: unknown,
  pipeline: string,
): ProducerMessage {
  const described = reasonOf(error);
  const headers: Record<string, string> = {
    "murmur-reason": described.reason,
    "murmur-error": described.name,
    "murmur-record-id": record.id,
    "murmur-event-time": String(record.time),
    "murmur-pipeline": described.pipeline ?? pipeline,
  };
  if (described.stage !== undefined) headers["murmur-stage"] = described.stage;
  if (described.cause !== undefined) headers["murmur-cause"] = described.cause;
  const kafka = kafkaStream(record.stream);
  if (kafka !== undefined) {
    headers["murmur-source-topic"] = kafka.topic;
    headers["murmur-source-partition"] = kafka.partition;
    if (record.position !== undefined) {
      headers["murmur-source-offset"] = record.position.toString();
    }
  } else {
    if (record.stream !== undefined) headers["murmur-stream"] = record.stream;
    if (record.position !== undefined) {
      headers["murmur-position"] = record.position.toString();
    }
  }
  return { key: record.id, value: valueOf(record), headers };
}

interface Pending {
  readonly message: ProducerMessage;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** Opens a dead-letter writer over any producer client. */
export function openKafkaDeadLetter(
  producer: ProducerClient,
  settings: DeadLetterSettings,
): KafkaDeadLetter {
  let pending: Pending[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let sending: Promise<void> = Promise.resolve();
  let closed = false;

  const flush = () => {
    timer = undefined;
    const batch = pending;
    pending = [];
    if (batch.length === 0) return sending;
    sending = sending.then(async () => {
      try {
        await producer.send(settings.topic, batch.map((item) => item.message));
        for (const item of batch) item.resolve();
      } catch (error) {
        for (const item of batch) item.reject(error);
      }
    });
    return sending;
  };

  const write = (record: SourceRecord<unknown>, error: unknown) => {
    if (closed) {
      return Promise.reject(
        new TypeError(
          `dead-letter writer for "${settings.topic}" is closed; create a new one`,
        ),
      );
    }
    const message = deadLetterMessage(record, error, settings.pipeline);
    return new Promise<void>((resolve, reject) => {
      pending.push({ message, resolve, reject });
      timer ??= setTimeout(flush, settings.linger);
    });
  };

  const close = async () => {
    if (closed) return;
    closed = true;
    clearTimeout(timer);
    await flush();
    await producer.close();
  };

  return Object.assign(write, {
    close,
    [Symbol.asyncDispose]: close,
  });
}
