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

function reasonOf(error: unknown): { name: string; reason: string } {
  const name = error instanceof Error ? error.name : "Error";
  const text = error instanceof Error ? error.message : String(error);
  return {
    name,
    reason: text.length > maxReason ? `${text.slice(0, maxReason)}…` : text,
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
  const { name, reason } = reasonOf(error);
  const headers: Record<string, string> = {
    "murmur-reason": reason,
    "murmur-error": name,
    "murmur-record-id": record.id,
    "murmur-event-time": String(record.time),
    "murmur-pipeline": pipeline,
  };
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
