import assert from "node:assert/strict";
import type { SourceRecord } from "./source.ts";
import {
  type BatchControl,
  type ClientBatch,
  type ClientMessage,
  type ConsumerClient,
  type ConsumerHandlers,
  type ProducerClient,
  type ProducerMessage,
  RebalanceSignal,
} from "./_kafka_client.ts";
import { openKafkaSource, resolveSourceOptions } from "./_kafka_source.ts";
import {
  deadLetterMessage,
  openKafkaDeadLetter,
} from "./_kafka_dead_letter.ts";
import {
  jsonDecoder,
  KafkaDecodeError,
  kafkaSource,
  KafkaSourceError,
  type KafkaSourceOptions,
} from "./kafka.ts";

const encoder = new TextEncoder();

interface Committed {
  topic: string;
  partition: number;
  offset: bigint;
}

/** A consumer client driven by the test. */
class FakeClient implements ConsumerClient {
  handlers: ConsumerHandlers | undefined;
  commits: Committed[][] = [];
  stopped = false;
  rebalancing = false;
  startError: Error | undefined;

  start(handlers: ConsumerHandlers): Promise<void> {
    if (this.startError !== undefined) return Promise.reject(this.startError);
    this.handlers = handlers;
    return Promise.resolve();
  }

  commit(offsets: readonly Committed[]): Promise<void> {
    this.commits.push(offsets.map((o) => ({ ...o })));
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.stopped = true;
    return Promise.resolve();
  }

  assign(...partitions: number[]): void {
    this.handlers!.onAssignment(
      partitions.map((partition) => ({ topic: "t", partition })),
    );
  }

  /** Hands a batch to the source, as the client's eachBatch would. */
  deliver(
    partition: number,
    offsets: readonly bigint[],
    body: (offset: bigint) => string = (offset) =>
      JSON.stringify({ n: Number(offset) }),
    lastOffset?: bigint,
  ): Promise<void> {
    const messages: ClientMessage[] = offsets.map((offset) => ({
      topic: "t",
      partition,
      offset,
      key: null,
      value: encoder.encode(body(offset)),
      timestamp: 1_700_000_000_000 + Number(offset),
      headers: { h: "v" },
    }));
    const batch: ClientBatch = {
      topic: "t",
      partition,
      messages,
      lastOffset: lastOffset ?? offsets[offsets.length - 1] ?? 0n,
    };
    const control: BatchControl = {
      heartbeat: () =>
        this.rebalancing
          ? Promise.reject(
            new RebalanceSignal(
              Object.assign(new Error("rebalance"), {
                type: "REBALANCE_IN_PROGRESS",
              }),
            ),
          )
          : Promise.resolve(),
      isRunning: () => !this.stopped,
    };
    return this.handlers!.onBatch(batch, control);
  }

  lastCommitted(partition: number): bigint | undefined {
    let found: bigint | undefined;
    for (const commit of this.commits) {
      for (const entry of commit) {
        if (entry.partition === partition) found = entry.offset;
      }
    }
    return found;
  }
}

type Event = { n: number };

function open(
  client: FakeClient,
  options: Partial<KafkaSourceOptions<Event>> = {},
) {
  return openKafkaSource<Event>(
    resolveSourceOptions<Event>({
      brokers: ["fake:9092"],
      topic: "t",
      groupId: "g",
      heartbeatInterval: 20,
      commitInterval: 10,
      closeTimeout: 200,
      ...options,
    }),
    client,
  );
}

function settledFlag(promise: Promise<unknown>): { settled: boolean } {
  const flag = { settled: false };
  promise.then(
    () => flag.settled = true,
    () => flag.settled = true,
  );
  return flag;
}

const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

/** Opens a source over a fake client, asks for the first batch and assigns `partitions`. */
async function assigned(
  partitions: readonly number[],
  options: Partial<KafkaSourceOptions<Event>> = {},
) {
  const client = new FakeClient();
  const source = open(client, options);
  const iterator = source[Symbol.asyncIterator]();
  const first = iterator.next();
  await tick();
  client.assign(...partitions);
  return { client, source, iterator, first };
}

Deno.test("kafkaSource() validates brokers, topic and group", () => {
  assert.throws(
    () => kafkaSource({ brokers: [], topic: "t", groupId: "g" }),
    TypeError,
  );
  assert.throws(
    () => kafkaSource({ brokers: ["b:9092"], topic: "", groupId: "g" }),
    TypeError,
  );
  assert.throws(
    () => kafkaSource({ brokers: ["b:9092"], topic: "t", groupId: "" }),
    TypeError,
  );
  assert.throws(
    () =>
      kafkaSource({
        brokers: ["b:9092"],
        topic: "t",
        groupId: "g",
        maxBufferedRecords: 0,
      }),
    RangeError,
  );
});

Deno.test("kafkaSource maps messages to records with id, time, stream and position", async () => {
  const { client, source, first } = await assigned([0]);
  const held = client.deliver(0, [7n, 8n]);
  const { value } = await first;
  const records = value as readonly SourceRecord<Event>[];
  assert.equal(source.name, "kafka:t");
  assert.equal(records.length, 2);
  assert.deepEqual(records[0]!.value, { n: 7 });
  assert.equal(records[0]!.id, "t/0/7");
  assert.equal(records[0]!.time, 1_700_000_000_007);
  assert.equal(records[0]!.stream, "kafka:t:0");
  assert.equal(records[0]!.position, 7n);
  assert.equal(new TextDecoder().decode(records[0]!.raw), '{"n":7}');
  assert.equal(records[0]!.error, undefined);
  for (const record of records) record.ack();
  await held;
  assert.equal(client.lastCommitted(0), 9n);
  await source.close();
  assert.ok(client.stopped);
});

Deno.test("kafkaSource commits only contiguous acked offsets when acks arrive out of order", async () => {
  const { client, source, first } = await assigned([0]);
  const held = client.deliver(0, [0n, 1n, 2n, 3n, 4n]);
  const records = (await first).value as readonly SourceRecord<Event>[];
  const batchDone = settledFlag(held);
  records[4]!.ack();
  records[2]!.ack();
  records[3]!.ack();
  await tick(40); // a few commit intervals
  assert.equal(client.lastCommitted(0), undefined, "offset 0 is unacked");
  records[0]!.ack();
  await tick(40);
  assert.equal(client.lastCommitted(0), 1n, "0 done, 1 in flight: next is 1");
  assert.equal(batchDone.settled, false, "the batch is held until all acked");
  records[1]!.ack();
  records[1]!.ack(); // a second ack is ignored
  await held;
  assert.equal(client.lastCommitted(0), 5n);
  await source.close();
});

Deno.test("kafkaSource commits past trailing transaction markers once the batch is acked", async () => {
  const { client, source, first } = await assigned([0]);
  const held = client.deliver(0, [0n, 1n], undefined, 2n);
  for (const record of (await first).value!) record.ack();
  await held;
  assert.equal(client.lastCommitted(0), 3n);
  await source.close();
});

Deno.test("kafkaSource turns undecodable messages into records with a KafkaDecodeError", async () => {
  const { client, source, first } = await assigned([2]);
  const held = client.deliver(
    2,
    [0n, 1n],
    (offset) => offset === 0n ? "{not json" : '{"n":1}',
  );
  const records = (await first).value!;
  assert.equal(records[0]!.value, undefined);
  assert.ok(records[0]!.error instanceof KafkaDecodeError);
  assert.match(records[0]!.error.message, /cannot decode t\/2\/0/);
  assert.equal(records[0]!.id, "t/2/0");
  assert.equal(new TextDecoder().decode(records[0]!.raw), "{not json");
  assert.deepEqual(records[1]!.value, { n: 1 });
  for (const record of records) record.ack();
  await held;
  assert.equal(client.lastCommitted(2), 2n);
  await source.close();
});

Deno.test("kafkaSource uses custom decode, id and time, falling back on an empty id", async () => {
  const { client, source, first } = await assigned([1], {
    decode: (bytes, message) => ({
      n: Number(new TextDecoder().decode(bytes)) * 10 + message.partition,
    }),
    id: (_message, value) => value.n === 0 ? "" : `event-${value.n}`,
    time: (_message, value) => value.n * 1000,
  });
  const held = client.deliver(1, [0n, 3n], (offset) => String(offset));
  const records = (await first).value!;
  assert.equal(records[0]!.id, "event-1");
  assert.equal(records[0]!.time, 1_000);
  assert.equal(records[1]!.id, "event-31");
  for (const record of records) record.ack();
  await held;
  await source.close();
});

Deno.test("kafkaSource marks a record whose time() is not finite as undecodable", async () => {
  const { client, source, first } = await assigned([0], {
    time: () => Number.NaN,
  });
  const held = client.deliver(0, [0n]);
  const [record] = (await first).value!;
  assert.ok(record!.error instanceof KafkaDecodeError);
  assert.match(record!.error.message, /time\(\) returned NaN/);
  record!.ack();
  await held;
  await source.close();
});

Deno.test("kafkaSource holds a fetch while the buffer is full (backpressure)", async () => {
  const { client, source, iterator, first } = await assigned([0, 1, 2], {
    maxBufferedRecords: 3,
  });
  const batch0 = client.deliver(0, [0n, 1n]);
  const records0 = (await first).value!;
  const held1 = client.deliver(1, [0n, 1n, 2n]);
  const held2 = client.deliver(2, [0n, 1n]);
  await tick(30);
  // Partition 1 filled the buffer; partition 2 waits for room.
  const second = await iterator.next();
  assert.equal(second.value!.length, 3);
  const third = await iterator.next();
  assert.equal(third.value!.length, 2);
  for (const record of [...records0, ...second.value!, ...third.value!]) {
    record.ack();
  }
  await Promise.all([batch0, held1, held2]);
  assert.equal(client.lastCommitted(0), 2n);
  assert.equal(client.lastCommitted(1), 3n);
  assert.equal(client.lastCommitted(2), 2n);
  await source.close();
});

Deno.test("kafkaSource finishes and commits a held batch before handing partitions over", async () => {
  const { client, source, first } = await assigned([0]);
  const held = client.deliver(0, [0n, 1n]);
  const records = (await first).value!;
  const done = settledFlag(held);
  client.rebalancing = true;
  await tick(60);
  assert.equal(done.settled, false, "a rebalance waits for the held records");
  records[0]!.ack();
  records[1]!.ack();
  // The adapter rethrows the client's own error from the signal so the client rejoins.
  await assert.rejects(held, RebalanceSignal);
  assert.equal(client.lastCommitted(0), 2n, "committed before rejoining");
  await source.close();
});

Deno.test("kafkaSource lets a partition go uncommitted when acks miss the handover timeout", async () => {
  const { client, source, first } = await assigned([0], {
    handoverTimeout: 50,
  });
  const held = client.deliver(0, [0n, 1n]);
  const records = (await first).value!;
  records[0]!.ack();
  client.rebalancing = true;
  await assert.rejects(held);
  assert.equal(client.lastCommitted(0), 1n, "only the acked prefix");
  client.handlers!.onRebalance();
  client.rebalancing = false;
  client.assign(1);
  records[1]!.ack(); // late: the partition belongs to someone else now
  await tick(40);
  assert.equal(client.lastCommitted(0), 1n, "a late ack never commits");
  await source.close();
});

Deno.test("kafkaSource.close() waits for handed-out records, commits, drops unread ones", async () => {
  const { client, source, iterator, first } = await assigned([0, 1], {
    closeTimeout: 1_000,
    commitInterval: 60_000,
  });
  const held0 = client.deliver(0, [0n, 1n]);
  const records = (await first).value!;
  const held1 = client.deliver(1, [5n]); // buffered, never pulled
  await tick();
  const closing = source.close();
  const closed = settledFlag(closing);
  await tick(30);
  assert.equal(closed.settled, false, "close waits for in-flight acks");
  for (const record of records) record.ack();
  await closing;
  await Promise.all([held0, held1]);
  assert.equal(client.lastCommitted(0), 2n);
  assert.equal(
    client.lastCommitted(1),
    undefined,
    "unread records stay uncommitted",
  );
  assert.ok(client.stopped);
  assert.deepEqual(await iterator.next(), { done: true, value: undefined });
  await source.close(); // idempotent
});

Deno.test("kafkaSource surfaces a client crash it will not recover from", async () => {
  const client = new FakeClient();
  const source = open(client);
  const iterator = source[Symbol.asyncIterator]();
  const first = iterator.next();
  await tick();
  client.handlers!.onCrash(new Error("broker gone"), false);
  await assert.rejects(first, KafkaSourceError);
  await source.close();
});

Deno.test("kafkaSource reports a failed start from the iterator", async () => {
  const client = new FakeClient();
  client.startError = new Error("connection refused");
  const source = open(client);
  await assert.rejects(
    source[Symbol.asyncIterator]().next(),
    (error: Error) => {
      assert.ok(error instanceof KafkaSourceError);
      assert.match(error.message, /connection refused/);
      return true;
    },
  );
  assert.throws(() => source[Symbol.asyncIterator](), TypeError);
  await source.close();
});

Deno.test("jsonDecoder() rejects invalid UTF-8 and empty values", () => {
  const decode = jsonDecoder<unknown>();
  assert.throws(() => decode(new Uint8Array([0xff, 0xfe])), TypeError);
  assert.throws(() => decode(new Uint8Array(0)), /tombstone/);
  assert.throws(() => decode(encoder.encode("{")), SyntaxError);
});

function fakeRecord(
  overrides: Partial<SourceRecord<unknown>> = {},
): SourceRecord<unknown> {
  return {
    value: undefined,
    id: "t/3/42",
    time: 5,
    stream: "kafka:page.views:3",
    position: 42n,
    raw: encoder.encode("{bad"),
    ack() {},
    ...overrides,
  };
}

Deno.test("deadLetterMessage() carries raw bytes and the reason, topic, partition, offset and pipeline headers", () => {
  const message = deadLetterMessage(
    fakeRecord(),
    new SyntaxError("Unexpected token"),
    "page_views",
  );
  assert.equal(new TextDecoder().decode(message.value as Uint8Array), "{bad");
  assert.equal(message.key, "t/3/42");
  assert.deepEqual(message.headers, {
    "murmur-reason": "Unexpected token",
    "murmur-error": "SyntaxError",
    "murmur-record-id": "t/3/42",
    "murmur-event-time": "5",
    "murmur-pipeline": "page_views",
    "murmur-source-topic": "page.views",
    "murmur-source-partition": "3",
    "murmur-source-offset": "42",
  });
});

Deno.test("deadLetterMessage() describes records of other sources by stream and position", () => {
  const { raw: _raw, ...noRaw } = fakeRecord({
    stream: "file:events.jsonl",
    position: 7n,
    value: { a: 1 },
  });
  const message = deadLetterMessage(noRaw, "too big", "p");
  assert.equal(
    new TextDecoder().decode(message.value as Uint8Array),
    '{"a":1}',
  );
  assert.equal(message.headers!["murmur-stream"], "file:events.jsonl");
  assert.equal(message.headers!["murmur-position"], "7");
  assert.equal(message.headers!["murmur-reason"], "too big");
  assert.equal(message.headers!["murmur-source-topic"], undefined);
});

Deno.test("openKafkaDeadLetter() gathers concurrent writes into one produce and reports failures", async () => {
  const sent: { topic: string; messages: readonly ProducerMessage[] }[] = [];
  let fail = false;
  let closed = false;
  const producer: ProducerClient = {
    send(topic, messages) {
      if (fail) return Promise.reject(new Error("broker down"));
      sent.push({ topic, messages });
      return Promise.resolve();
    },
    close() {
      closed = true;
      return Promise.resolve();
    },
  };
  const deadLetter = openKafkaDeadLetter(producer, {
    topic: "dlq",
    pipeline: "p",
    linger: 5,
  });
  await Promise.all([
    deadLetter(fakeRecord({ id: "a" }), new Error("x")),
    deadLetter(fakeRecord({ id: "b" }), new Error("y")),
  ]);
  assert.equal(sent.length, 1);
  assert.equal(sent[0]!.topic, "dlq");
  assert.deepEqual(sent[0]!.messages.map((m) => m.key), ["a", "b"]);
  fail = true;
  await assert.rejects(deadLetter(fakeRecord(), new Error("z")), /broker down/);
  await deadLetter.close();
  assert.ok(closed);
  await assert.rejects(deadLetter(fakeRecord(), new Error("late")), TypeError);
});
