// Kafka helpers for the integration tests and the benchmark: topics, producing, reading back, committed offsets.

import { Buffer } from "node:buffer";
import { Kafka, logLevel, Partitioners } from "kafkajs";

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

/** Creates a topic and waits for its partition leaders. */
export async function createTopic(
  brokers: readonly string[],
  topic: string,
  partitions: number,
): Promise<void> {
  const admin = client(brokers).admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [{ topic, numPartitions: partitions }],
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
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
export async function committedOffsets(
  brokers: readonly string[],
  groupId: string,
  topic: string,
): Promise<Map<number, bigint>> {
  const admin = client(brokers).admin();
  await admin.connect();
  try {
    const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const out = new Map<number, bigint>();
    for (const { partition, offset } of entry?.partitions ?? []) {
      out.set(partition, BigInt(offset));
    }
    return out;
  } finally {
    await admin.disconnect();
  }
}

/** The high watermark (next offset to be written) per partition. */
export async function highWatermarks(
  brokers: readonly string[],
  topic: string,
): Promise<Map<number, bigint>> {
  const admin = client(brokers).admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return new Map(
      offsets.map(({ partition, high }) => [partition, BigInt(high)]),
    );
  } finally {
    await admin.disconnect();
  }
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
export async function deleteTopics(
  brokers: readonly string[],
  topics: readonly string[],
): Promise<void> {
  const admin = client(brokers).admin();
  await admin.connect();
  try {
    await admin.deleteTopics({ topics: [...topics] }).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
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
