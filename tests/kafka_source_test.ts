// The Kafka source against the stack's real broker: records, decode errors, contiguous commits, handover, dead letters.

import assert from "node:assert/strict";
import {
  kafkaDeadLetter,
  KafkaDecodeError,
  kafkaSource,
  type KafkaSourceOptions,
} from "../source/kafka.ts";
import type { Source, SourceRecord } from "../source/source.ts";
import { eventually, service, uniqueName } from "./_stack.ts";
import {
  committedOffsets,
  createTopic,
  freshTopic,
  produce,
  readTopic,
  waitForCommits,
} from "./_kafka.ts";

// kafkajs keeps request and reconnect timers alive briefly after disconnect().
const integration = { sanitizeOps: false, sanitizeResources: false };

type View = { page: string; n: number };

function fastOptions(
  brokers: readonly string[],
  topic: string,
  groupId: string,
): KafkaSourceOptions<View> {
  return {
    brokers,
    topic,
    groupId,
    heartbeatInterval: 300,
    sessionTimeout: 10_000,
    rebalanceTimeout: 20_000,
    commitInterval: 100,
    maxWaitTime: 200,
    closeTimeout: 2_000,
  };
}

/** Pulls batches in the background into `seen`, calling `onBatch` for each. */
function drain<T>(
  source: Source<T>,
  onBatch: (batch: readonly SourceRecord<T>[]) => void,
): Promise<void> {
  return (async () => {
    for await (const batch of source) onBatch(batch);
  })();
}

Deno.test({
  name:
    "kafkaSource reads every partition with ids, streams, positions and decode errors",
  ...integration,
  async fn() {
    const { kafka, topic, groupId } = await freshTopic("ks-read", 3);
    const messages = Array.from({ length: 30 }, (_, n) => ({
      key: `k${n}`,
      value: n % 10 === 3 ? "{oops" : JSON.stringify({ page: `/p${n % 4}`, n }),
      timestamp: 1_700_000_000_000 + n,
    }));
    await produce(kafka.brokers, topic, messages);

    const source = kafkaSource<View>(
      fastOptions(kafka.brokers, topic, groupId),
    );
    const seen: SourceRecord<View>[] = [];
    const loop = drain(source, (batch) => {
      seen.push(...batch);
      for (const record of batch) record.ack();
    });
    await eventually("30 records", () => seen.length >= 30 ? true : undefined);
    await waitForCommits(kafka.brokers, groupId, topic, 15_000);
    await source.close();
    await loop;

    assert.equal(seen.length, 30);
    const ids = new Set(seen.map((record) => record.id));
    assert.equal(ids.size, 30, "no record twice");
    for (const record of seen) {
      const [, partition, offset] = record.id.split("/");
      assert.equal(record.id, `${topic}/${partition}/${offset}`);
      assert.equal(record.stream, `kafka:${topic}:${partition}`);
      assert.equal(record.position, BigInt(offset!));
      assert.ok(record.raw instanceof Uint8Array);
    }
    const bad = seen.filter((record) => record.error !== undefined);
    assert.equal(bad.length, 3);
    for (const record of bad) {
      assert.ok(record.error instanceof KafkaDecodeError);
      assert.equal(new TextDecoder().decode(record.raw), "{oops");
      assert.equal(record.value, undefined);
    }
    const good = seen.find((record) => record.value?.n === 5)!;
    assert.equal(good.time, 1_700_000_000_005);
    assert.equal(good.value!.page, "/p1");
  },
});

Deno.test({
  name:
    "kafkaSource commits only up to the first unacked offset when acks arrive out of order",
  ...integration,
  async fn() {
    const { kafka, topic, groupId } = await freshTopic("ks-order", 1);
    await produce(
      kafka.brokers,
      topic,
      Array.from({ length: 20 }, (_, n) => ({
        value: JSON.stringify({ page: "/", n }),
      })),
    );
    const source = kafkaSource<View>(
      fastOptions(kafka.brokers, topic, groupId),
    );
    const held: SourceRecord<View>[] = [];
    const loop = drain(source, (batch) => held.push(...batch));
    await eventually("20 records", () => held.length >= 20 ? true : undefined);
    // Finish everything except offset 7, newest first.
    for (const record of [...held].reverse()) {
      if (record.position !== 7n) record.ack();
    }
    const partial = await eventually("a commit at the gap", async () => {
      const committed = await committedOffsets(kafka.brokers, groupId, topic);
      return committed.get(0) === 7n ? committed.get(0) : undefined;
    });
    assert.equal(partial, 7n, "next offset to read is the unacked 7");
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.equal(
      (await committedOffsets(kafka.brokers, groupId, topic)).get(0),
      7n,
      "never past the gap",
    );
    held.find((record) => record.position === 7n)!.ack();
    await eventually("the full commit", async () => {
      const committed = await committedOffsets(kafka.brokers, groupId, topic);
      return committed.get(0) === 20n ? true : undefined;
    });
    await source.close();
    await loop;
  },
});

Deno.test({
  name: "kafkaSource uses a custom decoder, id and event time",
  ...integration,
  async fn() {
    const { kafka, topic, groupId } = await freshTopic("ks-custom", 1);
    await produce(kafka.brokers, topic, [
      { key: "u1", value: "click|/a|1700000001000" },
      { key: "u2", value: "click|/b|1700000002000" },
    ]);
    const source = kafkaSource<{ user: string; page: string; at: number }>({
      ...fastOptions(kafka.brokers, topic, groupId),
      decode: (bytes, message) => {
        const [, page, at] = new TextDecoder().decode(bytes).split("|");
        return {
          user: new TextDecoder().decode(message.key!),
          page: page!,
          at: Number(at),
        };
      },
      id: (_message, event) => `${event.user}@${event.at}`,
      time: (_message, event) => event.at,
    });
    const seen: SourceRecord<{ user: string; page: string; at: number }>[] = [];
    const loop = drain(source, (batch) => {
      seen.push(...batch);
      for (const record of batch) record.ack();
    });
    await eventually("2 records", () => seen.length >= 2 ? true : undefined);
    await source.close();
    await loop;
    assert.deepEqual(seen.map((record) => record.id), [
      "u1@1700000001000",
      "u2@1700000002000",
    ]);
    assert.deepEqual(seen.map((record) => record.time), [
      1_700_000_001_000,
      1_700_000_002_000,
    ]);
    assert.equal(seen[1]!.value!.page, "/b");
  },
});

Deno.test({
  name:
    "kafkaSource hands partitions over between group members without reading a record twice",
  ...integration,
  async fn() {
    const { kafka, topic, groupId } = await freshTopic("ks-handover", 4);
    const batchOf = (from: number, count: number) =>
      Array.from({ length: count }, (_, i) => ({
        key: `k${from + i}`,
        value: JSON.stringify({ page: "/", n: from + i }),
      }));
    await produce(kafka.brokers, topic, batchOf(0, 200));

    const seen = new Map<string, string[]>();
    const member = (name: string) => {
      const source = kafkaSource<View>(
        fastOptions(kafka.brokers, topic, groupId),
      );
      // Acks come well after a heartbeat interval, as a slow batch window would
      // give them, so rebalances are noticed while batches are held.
      const loop = drain(source, (batch) => {
        for (const record of batch) {
          seen.set(record.id, [...(seen.get(record.id) ?? []), name]);
        }
        setTimeout(() => {
          for (const record of batch) record.ack();
        }, 700);
      });
      return { source, loop };
    };

    const a = member("a");
    await eventually(
      "a reads the first 200",
      () => seen.size >= 200 ? true : undefined,
    );
    const b = member("b");
    await produce(kafka.brokers, topic, batchOf(200, 200));
    await eventually(
      "both read the next 200",
      () => seen.size >= 400 ? true : undefined,
      30_000,
    );
    await a.source.close();
    await a.loop;
    await produce(kafka.brokers, topic, batchOf(400, 100));
    await eventually(
      "b reads the last 100 after a left",
      () => seen.size >= 500 ? true : undefined,
      30_000,
    );
    await waitForCommits(kafka.brokers, groupId, topic, 20_000);
    await b.source.close();
    await b.loop;

    const twice = [...seen].filter(([, readers]) => readers.length > 1);
    assert.deepEqual(twice, [], "no record was read twice");
    assert.equal(seen.size, 500);
    const readers = new Set([...seen.values()].flat());
    assert.deepEqual([...readers].sort(), ["a", "b"]);
  },
});

Deno.test({
  name:
    "kafkaDeadLetter writes poison records to the dead-letter topic with headers",
  ...integration,
  async fn() {
    const { kafka, topic, groupId } = await freshTopic("ks-poison", 2);
    const dlq = `${topic}.dlq`;
    await createTopic(kafka.brokers, dlq, 1);
    await produce(kafka.brokers, topic, [
      { value: JSON.stringify({ page: "/", n: 1 }), partition: 0 },
      { value: "not json at all", partition: 1 },
      { value: '{"page":', partition: 0 },
    ]);
    const source = kafkaSource<View>(
      fastOptions(kafka.brokers, topic, groupId),
    );
    const deadLetter = kafkaDeadLetter({
      brokers: kafka.brokers,
      topic: dlq,
      pipeline: "page_views",
    });
    let count = 0;
    const loop = drain(source, (batch) => {
      count += batch.length;
      for (const record of batch) {
        if (record.error === undefined) record.ack();
        else void deadLetter(record, record.error).then(() => record.ack());
      }
    });
    await eventually("3 records", () => count >= 3 ? true : undefined);
    const letters = await readTopic(kafka.brokers, dlq, 2);
    await source.close();
    await loop;
    await deadLetter.close();

    assert.equal(letters.length, 2);
    const byOffset = new Map(
      letters.map((
        letter,
      ) => [letter.headers["murmur-source-partition"], letter]),
    );
    const one = byOffset.get("1")!;
    assert.equal(new TextDecoder().decode(one.value!), "not json at all");
    assert.equal(one.key, `${topic}/1/0`);
    assert.equal(one.headers["murmur-source-topic"], topic);
    assert.equal(one.headers["murmur-source-offset"], "0");
    assert.equal(one.headers["murmur-pipeline"], "page_views");
    assert.equal(one.headers["murmur-error"], "KafkaDecodeError");
    assert.match(one.headers["murmur-reason"]!, /cannot decode/);
    const zero = byOffset.get("0")!;
    assert.equal(zero.headers["murmur-source-offset"], "1");
    assert.equal(new TextDecoder().decode(zero.value!), '{"page":');
  },
});

/** A free loopback port: nothing listens there until the caller does. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Forwards every connection on `port` to the broker (a bootstrap address that comes up late). */
function forward(port: number, host: string, to: number): Deno.Listener {
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  (async () => {
    for await (const conn of listener) {
      Deno.connect({ hostname: host, port: to }).then((upstream) => {
        conn.readable.pipeTo(upstream.writable).catch(() => {});
        upstream.readable.pipeTo(conn.writable).catch(() => {});
      }, () => conn.close());
    }
  })().catch(() => {});
  return listener;
}

Deno.test({
  name:
    "kafkaDeadLetter connects again after its first connect failed (brokers came up late)",
  ...integration,
  async fn() {
    const kafka = await service("kafka");
    const dlq = uniqueName("ks-late-dlq");
    await createTopic(kafka.brokers, dlq, 1);
    const port = freePort();
    const deadLetter = kafkaDeadLetter({
      brokers: [`127.0.0.1:${port}`],
      topic: dlq,
      connectionTimeout: 300,
      logLevel: "nothing",
    });
    const record: SourceRecord<unknown> = {
      value: { page: "/" },
      id: "late-1",
      time: 0,
      ack: () => {},
    };
    await assert.rejects(deadLetter(record, new Error("poison")));
    const proxy = forward(port, kafka.host, kafka.port);
    try {
      await deadLetter(record, new Error("poison"));
      const letters = await readTopic(kafka.brokers, dlq, 1);
      assert.equal(letters.length, 1);
      assert.equal(letters[0]!.headers["murmur-record-id"], "late-1");
    } finally {
      await deadLetter.close();
      proxy.close();
    }
  },
});
