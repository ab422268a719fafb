import assert from "node:assert/strict";
import { Kafka, logLevel } from "../internal/kafkajs.ts";
import { eventually, service, uniqueName } from "./_stack.ts";
import { serviceTest } from "./_service.ts";

// kafkajs keeps internal timers (request timeouts, heartbeats) alive briefly
// after disconnect(), so the op/resource sanitizers are disabled here.
serviceTest(
  "stack: kafka produces and consumes through a consumer group",
  async () => {
    const kafka = await service("kafka");
    const client = new Kafka({
      clientId: "murmur-stack-test",
      brokers: kafka.brokers,
      logLevel: logLevel.NOTHING,
      retry: { retries: 8, initialRetryTime: 100 },
    });
    const topic = uniqueName("stack-kafka");
    const admin = client.admin();
    const producer = client.producer();
    const groupId = uniqueName("stack-group");
    const consumer = client.consumer({ groupId });
    try {
      await admin.connect();
      assert.equal(
        await admin.createTopics({
          topics: [{ topic, numPartitions: 3 }],
          waitForLeaders: true,
        }),
        true,
      );
      await producer.connect();
      await producer.send({
        topic,
        messages: [
          { key: "a", value: "one" },
          { key: "b", value: "two" },
          { key: "c", value: "three" },
        ],
      });
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      const seen: string[] = [];
      await consumer.run({
        eachMessage: ({ message }) => {
          seen.push(message.value?.toString() ?? "");
          return Promise.resolve();
        },
      });
      await eventually(
        "3 Kafka messages",
        () => seen.length >= 3 ? true : undefined,
        30_000,
      );
      assert.deepEqual([...seen].sort(), ["one", "three", "two"]);
      const offsets = await eventually("committed group offsets", async () => {
        const [committed] = await admin.fetchOffsets({
          groupId,
          topics: [topic],
        });
        const total = committed?.partitions.reduce(
          // a partition without a commit reports -1
          (sum, p) => sum + Math.max(0, Number(p.offset)),
          0,
        );
        return total === 3 ? total : undefined;
      }, 30_000);
      assert.equal(offsets, 3);
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.disconnect();
    }
  },
);
