// Kafka consumer lag: end offset − committed offset per partition, through the kafkajs admin client.

import { Kafka, logLevel } from "../internal/kafkajs.ts";
import type { LagProbe, PartitionLag } from "./signal.ts";

/** What the probe needs of a Kafka admin client: kafkajs' `Admin` fits. */
export interface KafkaAdminLike {
  /** Connects (idempotent in kafkajs). */
  connect(): Promise<void>;
  /** Disconnects. */
  disconnect(): Promise<void>;
  /** Per partition: the end offset (`high`) and the first retained offset (`low`). */
  fetchTopicOffsets(
    topic: string,
  ): Promise<Array<{ partition: number; high: string; low: string }>>;
  /** The group's committed offsets per partition (`"-1"` when none). */
  fetchOffsets(options: { groupId: string; topics: string[] }): Promise<
    Array<
      {
        topic: string;
        partitions: Array<{ partition: number; offset: string }>;
      }
    >
  >;
}

/** Options for {@linkcode kafkaLag}. */
export interface KafkaLagOptions {
  /** The consumer group whose lag is measured (the source's `groupId`). */
  readonly groupId: string;
  /** The topics it reads. */
  readonly topics: readonly string[];
  /** Brokers to connect an admin client to; ignored when `admin` is given. */
  readonly brokers?: readonly string[];
  /** An admin client to use instead of creating one; the caller connects and closes it. */
  readonly admin?: KafkaAdminLike;
}

/** A {@linkcode LagProbe} for a Kafka consumer group that owns its admin client. */
export interface KafkaLagProbe extends LagProbe, AsyncDisposable {
  /** Disconnects the admin client the probe created (not one passed in). */
  close(): Promise<void>;
}

/**
 * Measures a consumer group's lag per partition: the partition's end offset
 * minus the group's committed offset. A partition without a commit counts
 * every retained record (end − first retained offset).
 *
 * @param options Group, topics, and brokers or an admin client.
 * @returns The probe.
 * @throws {TypeError} When neither `brokers` nor `admin` is given.
 *
 * @example Usage (needs a broker)
 * ```ts ignore
 * import { AutoscaleSignal, kafkaLag, PrometheusEmitter } from "@murmur/core/autoscale";
 *
 * await using lag = kafkaLag({ brokers: ["localhost:9092"], groupId: "page-view-counter", topics: ["page_views"] });
 * console.log(await lag.measure()); // [{ stream: "kafka:page_views:0", records: 12, behindMs: null }, …]
 * ```
 */
export function kafkaLag(options: KafkaLagOptions): KafkaLagProbe {
  let admin = options.admin;
  const owned = admin === undefined;
  if (admin === undefined) {
    if (options.brokers === undefined || options.brokers.length === 0) {
      throw new TypeError(
        'kafkaLag: give `brokers` (e.g. ["localhost:9092"]) or an `admin` client',
      );
    }
    admin = new Kafka({
      clientId: "murmur-autoscale",
      brokers: [...options.brokers],
      logLevel: logLevel.NOTHING,
    }).admin();
  }
  const client = admin;
  let connected: Promise<void> | undefined;
  const close = async () => {
    if (owned && connected !== undefined) {
      await connected.catch(() => {});
      await client.disconnect();
    }
  };
  return {
    async measure(): Promise<PartitionLag[]> {
      if (owned) {
        connected ??= client.connect();
        await connected;
      }
      const committed = await client.fetchOffsets({
        groupId: options.groupId,
        topics: [...options.topics],
      });
      const out: PartitionLag[] = [];
      for (const topic of options.topics) {
        const ends = await client.fetchTopicOffsets(topic);
        const group = committed.find((t) => t.topic === topic)?.partitions ??
          [];
        for (
          const { partition, high, low } of ends.sort((a, b) =>
            a.partition - b.partition
          )
        ) {
          const commit = group.find((p) => p.partition === partition)?.offset;
          const from = commit === undefined || BigInt(commit) < 0n
            ? BigInt(low)
            : BigInt(commit);
          const lag = BigInt(high) - from;
          out.push({
            stream: `kafka:${topic}:${partition}`,
            records: Number(lag < 0n ? 0n : lag),
            behindMs: null,
          });
        }
      }
      return out;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
