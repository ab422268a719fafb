// Kafka helpers for the integration tests and the benchmark: topics, producing, reading back, committed offsets.

import { Buffer } from "node:buffer";
import {
  type Admin,
  Kafka,
  logLevel,
  Partitioners,
} from "../internal/kafkajs.ts";
import { type Endpoint, service, uniqueName } from "./_stack.ts";

/** One message to produce. */
export interface TestMessage {
  readonly key?: string | null;
  readonly value: string | Uint8Array | null;
  readonly partition?: number;
  readonly timestamp?: number;
}

/** A message read back, with its decoded headers. */
export interface ReadMessage {
  readonly partition: number;
  readonly offset: bigint;
  readonly key: string | null;
  readonly value: Uint8Array | null;
  readonly headers: Record<string, string>;
}

function client(brokers: readonly string[]): Kafka {
  return new Kafka({
    clientId: "murmur-tests",
    brokers: [...brokers],
    logLevel: logLevel.NOTHING,
    retry: { retries: 8, initialRetryTime: 100 },
  });
}

/** Runs `body` with a connected admin client, disconnecting it afterwards. */
async function withAdmin<T>(
  brokers: readonly string[],
  body: (admin: Admin) => Promise<T>,
): Promise<T> {
  const admin = client(brokers).admin();
  await admin.connect();
  try {
    return await body(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Creates a topic and waits for its partition leaders. */
export function createTopic(
  brokers: readonly string[],
  topic: string,
  partitions: number,
): Promise<void> {
  return withAdmin(brokers, async (admin) => {
    await admin.createTopics({
      topics: [{ topic, numPartitions: partitions }],
      waitForLeaders: true,
    });
  });
}

/** A fresh topic on the stack's Kafka and a fresh consumer group name for it. */
export interface FreshTopic {
  /** The Kafka endpoint (`kafka.brokers`). */
  readonly kafka: Endpoint;
  /** The topic, named from the prefix. */
  readonly topic: string;
  /** A group id no one used yet, `<prefix>-group-…`. */
  readonly groupId: string;
}

/**
 * Creates a topic named from `prefix` with `partitions` partitions on the
 * stack's Kafka (failing loudly when it is down) and names a fresh group.
 */
export async function freshTopic(
  prefix: string,
  partitions: number,
): Promise<FreshTopic> {
  const kafka = await service("kafka");
  const topic = uniqueName(prefix);
  await createTopic(kafka.brokers, topic, partitions);
  return { kafka, topic, groupId: uniqueName(`${prefix}-group`) };
}

/** Produces messages in requests of `chunk` messages, in order. */
export async function produce(
  brokers: readonly string[],
  topic: string,
  messages: readonly TestMessage[],
  chunk = 10_000,
): Promise<void> {
  const producer = client(brokers).producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  try {
    for (let at = 0; at < messages.length; at += chunk) {
      await producer.send({
        topic,
        acks: -1,
        messages: messages.slice(at, at + chunk).map((message) => ({
          key: message.key ?? null,
          value: typeof message.value === "string" || message.value === null
            ? message.value
            : Buffer.from(message.value),
          ...(message.partition === undefined
            ? {}
            : { partition: message.partition }),
          ...(message.timestamp === undefined
            ? {}
            : { timestamp: String(message.timestamp) }),
        })),
      });
    }
  } finally {
    await producer.disconnect();
  }
}

/** The group's committed next-offset per partition (`-1n` when none). */
export function committedOffsets(
  brokers: readonly string[],
  groupId: string,
  topic: string,
): Promise<Map<number, bigint>> {
  return withAdmin(brokers, async (admin) => {
    const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const out = new Map<number, bigint>();
    for (const { partition, offset } of entry?.partitions ?? []) {
      out.set(partition, BigInt(offset));
    }
    return out;
  });
}

/** The high watermark (next offset to be written) per partition. */
export function highWatermarks(
  brokers: readonly string[],
  topic: string,
): Promise<Map<number, bigint>> {
  return withAdmin(brokers, async (admin) => {
    const offsets = await admin.fetchTopicOffsets(topic);
    return new Map(
      offsets.map(({ partition, high }) => [partition, BigInt(high)]),
    );
  });
}

/** Reads a topic from the beginning until `count` messages arrived (or the timeout passes). */
export async function readTopic(
  brokers: readonly string[],
  topic: string,
  count: number,
  timeoutMs = 20_000,
): Promise<ReadMessage[]> {
  const consumer = client(brokers).consumer({
    groupId: `reader-${crypto.randomUUID()}`,
    maxWaitTimeInMs: 200,
  });
  const out: ReadMessage[] = [];
  const decoder = new TextDecoder();
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    let done!: () => void;
    const finished = new Promise<void>((resolve) => done = resolve);
    await consumer.run({
      eachMessage: ({ partition, message }) => {
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(message.headers ?? {})) {
          if (value === undefined) continue;
          const one = Array.isArray(value) ? value[0] : value;
          if (one !== undefined) {
            headers[name] = typeof one === "string" ? one : decoder.decode(one);
          }
        }
        out.push({
          partition,
          offset: BigInt(message.offset),
          key: message.key === null ? null : decoder.decode(message.key),
          value: message.value,
          headers,
        });
        if (out.length >= count) done();
        return Promise.resolve();
      },
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      finished,
      new Promise<void>((resolve) => timer = setTimeout(resolve, timeoutMs)),
    ]);
    clearTimeout(timer);
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** Deletes topics, ignoring ones that are already gone. */
export function deleteTopics(
  brokers: readonly string[],
  topics: readonly string[],
): Promise<void> {
  return withAdmin(brokers, async (admin) => {
    await admin.deleteTopics({ topics: [...topics] }).catch(() => undefined);
  });
}

/** Waits until the group committed every partition of `topic` up to its high watermark. */
export async function waitForCommits(
  brokers: readonly string[],
  groupId: string,
  topic: string,
  timeoutMs = 60_000,
): Promise<void> {
  const high = await highWatermarks(brokers, topic);
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const committed = await committedOffsets(brokers, groupId, topic);
    const behind = [...high].filter(([partition, offset]) =>
      committed.get(partition) !== offset
    );
    if (behind.length === 0) return;
    if (Date.now() > deadline) {
      throw new Error(
        `group ${groupId} did not commit ${topic} within ${timeoutMs} ms: ${
          behind.map(([p, o]) => `p${p} at ${committed.get(p)} of ${o}`).join(
            ", ",
          )
        }`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}
