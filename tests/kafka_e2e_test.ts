// End to end on the stack: Kafka → run() → DynamoDB (and Valkey), exact totals, sketches, windows, two workers, dead letters.

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { Redis } from "iovalkey";
import { daily, days, sum } from "../monoid/mod.ts";
import { type Pipeline, pipeline, uniqueCount } from "../pipeline/mod.ts";
import { HyperLogLog } from "../sketch/hll.ts";
import { kafkaDeadLetter, kafkaSource } from "../source/kafka.ts";
import { CachedStore, type Scope, type StateKey } from "../state/mod.ts";
import { DynamoDBStore } from "../state/dynamodb.ts";
import { ValkeyCache } from "../state/valkey.ts";
import {
  run,
  type RunPipelineOptions,
  type RunSummary,
} from "../streaming/mod.ts";
import { seededRandom } from "../internal/prng.ts";
import { fileURLToPath } from "node:url";
import { service, uniqueName } from "./_stack.ts";
import { stateTable } from "./_dynamodb.ts";
import { pageTotals, wrongTotals } from "./_totals.ts";
import { pageCounter } from "./_bootstrap.ts";
import { Worker } from "./_process.ts";
import {
  createTopic,
  freshTopic,
  produce,
  readTopic,
  type TestMessage,
  waitForCommits,
} from "./_kafka.ts";

// kafkajs and the AWS SDK keep sockets and timers alive briefly after close.
const integration = { sanitizeOps: false, sanitizeResources: false };

const kafka = await service("kafka");
const TABLE = "murmur_h6_e2e";
const { endpoint: dynamo, client } = await stateTable(TABLE);

interface View {
  page: string;
  user: string;
}

/** Deterministic page views (seeded), so expected totals are known. */
function views(
  count: number,
  pages: number,
  users: number,
  seed: number,
): View[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => ({
    page: `/p${Math.floor(random() * random() * pages)}`,
    user: `u${Math.floor(random() * users)}`,
  }));
}

function messagesOf(events: readonly View[], time?: (i: number) => number) {
  return events.map((event, i): TestMessage => ({
    key: event.user,
    value: JSON.stringify(event),
    ...(time === undefined ? {} : { timestamp: time(i) }),
  }));
}

/** A Kafka source of page views with quick heartbeats, commits and fetches. */
function viewSource(topic: string, groupId: string) {
  return kafkaSource<View>({
    brokers: kafka.brokers,
    topic,
    groupId,
    heartbeatInterval: 300,
    commitInterval: 100,
    maxWaitTime: 200,
  });
}

/** Checks that `store` holds exactly the number of `events` of each page. */
async function assertPageTotals(
  store: DynamoDBStore,
  scope: Scope<number>,
  events: readonly View[],
): Promise<void> {
  const expected = pageTotals(events, (e) => e.page);
  assert.deepEqual(await wrongTotals(store, scope, expected), []);
}

/**
 * Starts a run with exactly-once on and a 200 ms batch window over a fresh
 * Kafka source; abort `stop` to end it.
 */
function startRun<V>(
  p: Pipeline<View, V>,
  topic: string,
  groupId: string,
  options: RunPipelineOptions<View> = {},
): { stop: AbortController; done: Promise<RunSummary> } {
  const stop = new AbortController();
  const done = run(p, {
    source: viewSource(topic, groupId),
    batchWindow: { time: 200 },
    dedup: true,
    signal: stop.signal,
    ...options,
  });
  return { stop, done };
}

/** Runs a pipeline as {@linkcode startRun} does until the group committed the whole topic. */
async function runUntilCommitted<V>(
  p: Pipeline<View, V>,
  topic: string,
  groupId: string,
  options: RunPipelineOptions<View> = {},
): Promise<RunSummary> {
  const { stop, done } = startRun(p, topic, groupId, options);
  const committed = waitForCommits(kafka.brokers, groupId, topic);
  await Promise.race([committed, done]);
  stop.abort();
  const summary = await done;
  await committed;
  return summary;
}

Deno.test({
  name: "kafka → sum → DynamoDB ends with exact totals per page",
  ...integration,
  async fn() {
    const { topic, groupId } = await freshTopic("e2e-sum", 4);
    const events = views(6_000, 60, 500, 1);
    await produce(kafka.brokers, topic, messagesOf(events), 1_000);

    const store = new DynamoDBStore(client, TABLE);
    const counts = pageCounter<View>(store, uniqueName("page_views"));
    const summary = await runUntilCommitted(
      counts,
      topic,
      groupId,
    );
    assert.equal(summary.events, 6_000);
    assert.equal(summary.unacked, 0);
    await assertPageTotals(store, counts.scope, events);
    assert.ok(
      summary.merges < events.length / 5,
      `the batch window folds: ${summary.merges} merges for ${events.length} events`,
    );
  },
});

Deno.test({
  name:
    "kafka → HLL → DynamoDB, and the Valkey copy of the same sketch gives the same PFCOUNT",
  ...integration,
  async fn() {
    const valkey = await service("valkey");
    const prefix = `${uniqueName("e2e-hll")}:`;
    const cache = new ValkeyCache({ url: valkey.url, keyPrefix: prefix });
    const redis = new Redis(valkey.url);
    const store = new DynamoDBStore(client, TABLE);
    const { topic, groupId } = await freshTopic("e2e-hll", 4);
    const name = uniqueName("visitors");
    const visitors = uniqueCount<View>(name, (e) => e.user)
      .key((e) => e.page)
      .storeIn(store)
      .cache(cache)
      .build();
    const first = views(3_000, 8, 2_000, 2);
    const second = views(3_000, 8, 4_000, 3);
    const pages = [...new Set([...first, ...second].map((e) => e.page))];
    const keys = pages.map((page) => ({ entity: page, bucket: null }));
    try {
      for (const [i, events] of [first, second].entries()) {
        await produce(kafka.brokers, topic, messagesOf(events), 1_000);
        await runUntilCommitted(visitors, topic, groupId);
        // Reading through the cache after the first run fills it, so the second run writes through with PFMERGE.
        if (i === 0) {
          await new CachedStore(store, cache).getMany(visitors.scope, keys);
        }
      }
      const truth = await store.getMany(visitors.scope, keys);
      for (const [i, page] of pages.entries()) {
        const sketch = truth[i]!;
        assert.ok(sketch instanceof HyperLogLog);
        const exact = new Set(
          [...first, ...second].filter((e) => e.page === page).map((e) =>
            e.user
          ),
        ).size;
        const scratch = `${prefix}scratch:${i}`;
        await redis.set(scratch, Buffer.from(sketch.toBytes()));
        const fromDynamo = await redis.pfcount(scratch);
        const cacheKey = `${prefix}{${name}|${page}}|all`;
        const fromValkey = await redis.pfcount(cacheKey);
        assert.equal(
          fromDynamo,
          sketch.count(),
          `${page}: PFCOUNT of the DynamoDB bytes`,
        );
        assert.equal(
          fromValkey,
          fromDynamo,
          `${page}: the cached sketch agrees`,
        );
        assert.ok(
          Math.abs(fromDynamo - exact) <= Math.max(3, exact * 0.05),
          `${page}: estimate ${fromDynamo} near ${exact}`,
        );
      }
    } finally {
      redis.disconnect();
      await cache.close();
    }
  },
});

Deno.test({
  name:
    "kafka → daily windowed counters → DynamoDB over events spread across days",
  ...integration,
  async fn() {
    const { topic, groupId } = await freshTopic("e2e-daily", 3);
    const window = daily({ retention: days(30) });
    const now = Date.now();
    const events = views(4_000, 10, 100, 4);
    // Six days back to now, in steps that cross midnight many times.
    const timeOf = (i: number) =>
      now - days(6) + Math.floor((i * days(6)) / events.length);
    await produce(kafka.brokers, topic, messagesOf(events, timeOf), 1_000);

    const store = new DynamoDBStore(client, TABLE);
    const daily_views = pipeline<View>(uniqueName("daily_views"))
      .key((e) => e.page)
      .value(() => 1)
      .aggregate(sum())
      .window(window)
      .storeIn(store)
      .build();
    await runUntilCommitted(
      daily_views,
      topic,
      groupId,
    );
    const expected = new Map<string, { key: StateKey; count: number }>();
    events.forEach((event, i) => {
      const bucket = window.bucketOf(timeOf(i));
      const id = `${event.page}@${bucket}`;
      const entry = expected.get(id) ?? {
        key: { entity: event.page, bucket },
        count: 0,
      };
      entry.count++;
      expected.set(id, entry);
    });
    const buckets = new Set([...expected.values()].map((e) => e.key.bucket));
    assert.ok(buckets.size >= 6, `events span ${buckets.size} days`);
    const stored = await store.getMany(
      daily_views.scope,
      [...expected.values()].map((e) => e.key),
    );
    assert.deepEqual(stored, [...expected.values()].map((e) => e.count));
  },
});

Deno.test({
  name:
    "two workers in one consumer group end with exact totals, one leaving midway",
  ...integration,
  async fn() {
    const { topic, groupId } = await freshTopic("e2e-pair", 4);
    const store = new DynamoDBStore(client, TABLE);
    const counts = pageCounter<View>(store, uniqueName("pair_views"));
    const worker = () =>
      startRun(counts, topic, groupId, { batchWindow: { time: 150 } });
    const batches = [
      views(3_000, 40, 300, 5),
      views(3_000, 40, 300, 6),
      views(2_000, 40, 300, 7),
    ];
    await produce(kafka.brokers, topic, messagesOf(batches[0]!), 500);
    const a = worker();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const b = worker();
    await produce(kafka.brokers, topic, messagesOf(batches[1]!), 500);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    a.stop.abort();
    const first = await a.done;
    await produce(kafka.brokers, topic, messagesOf(batches[2]!), 500);
    await waitForCommits(kafka.brokers, groupId, topic);
    b.stop.abort();
    const second = await b.done;

    assert.ok(first.events > 0 && second.events > 0, "both workers read");
    assert.equal(first.unacked + second.unacked, 0);
    await assertPageTotals(store, counts.scope, batches.flat());
  },
});

Deno.test({
  name:
    "poison records go to the dead-letter topic with headers and the worker goes on",
  ...integration,
  async fn() {
    const { topic, groupId } = await freshTopic("e2e-poison", 2);
    const dlq = `${topic}.dlq`;
    await createTopic(kafka.brokers, dlq, 1);
    const good = views(500, 5, 50, 8);
    const messages: TestMessage[] = [
      ...messagesOf(good.slice(0, 250)),
      { value: "{definitely not json", partition: 0 },
      { value: JSON.stringify({ user: "u1" }), partition: 1 }, // no page: the key extractor throws
      ...messagesOf(good.slice(250)),
    ];
    await produce(kafka.brokers, topic, messages, 100);
    const store = new DynamoDBStore(client, TABLE);
    const name = uniqueName("poison_views");
    const counts = pipeline<View>(name)
      .key((e) => {
        if (typeof e.page !== "string") {
          throw new TypeError("event has no page");
        }
        return e.page;
      })
      .value(() => 1)
      .aggregate(sum())
      .storeIn(store)
      .build();
    const deadLetter = kafkaDeadLetter({ brokers: kafka.brokers, topic: dlq });
    const summary = await runUntilCommitted(
      counts,
      topic,
      groupId,
      { deadLetter },
    );
    await deadLetter.close();
    assert.equal(summary.deadLetters, 2);
    await assertPageTotals(store, counts.scope, good);

    const letters = await readTopic(kafka.brokers, dlq, 2);
    assert.equal(letters.length, 2);
    const byStage = new Map(letters.map((l) => [l.headers["murmur-stage"], l]));
    const decode = byStage.get("decode")!;
    assert.equal(
      new TextDecoder().decode(decode.value!),
      "{definitely not json",
    );
    assert.equal(decode.headers["murmur-source-topic"], topic);
    assert.equal(decode.headers["murmur-source-partition"], "0");
    assert.equal(
      decode.headers["murmur-record-id"],
      `${topic}/0/${decode.headers["murmur-source-offset"]}`,
    );
    assert.equal(decode.headers["murmur-pipeline"], name);
    assert.match(decode.headers["murmur-reason"]!, /could not decode/);
    const key = byStage.get("key")!;
    assert.equal(key.headers["murmur-source-partition"], "1");
    assert.match(key.headers["murmur-reason"]!, /event has no page/);
    assert.equal(key.headers["murmur-cause"], "TypeError");
    assert.equal(
      key.headers["murmur-record-id"],
      `${topic}/1/${key.headers["murmur-source-offset"]}`,
    );
  },
});

Deno.test({
  name:
    "examples/worker.ts: two workers share the group, answer /healthz, and SIGTERM hands over with exact totals",
  ...integration,
  async fn() {
    const valkey = await service("valkey");
    const { topic, groupId } = await freshTopic("e2e-worker", 4);
    const name = uniqueName("worker_views");
    const script = fileURLToPath(
      new URL("../examples/worker.ts", import.meta.url),
    );
    const args = [
      "--brokers",
      kafka.brokers.join(","),
      "--topic",
      topic,
      "--group",
      groupId,
      "--table",
      TABLE,
      "--dynamodb-endpoint",
      dynamo.url,
      "--valkey-url",
      valkey.url,
      "--pipeline",
      name,
      "--window",
      "none",
      "--batch-window",
      "200",
      "--log-interval",
      "500",
      "--port",
      "0",
    ];
    const start = async () => {
      const worker = new Worker(script, args);
      await worker.until(
        (line) => line.msg === "health endpoint listening",
        30_000,
      );
      const port = worker.steps.find((line) =>
        line.msg === "health endpoint listening"
      )!.port;
      return { worker, health: `http://127.0.0.1:${port}/healthz` };
    };
    const batches = [
      views(3_000, 30, 200, 21),
      views(3_000, 30, 200, 22),
      views(2_000, 30, 200, 23),
    ];
    await produce(kafka.brokers, topic, messagesOf(batches[0]!), 500);
    const a = await start();
    await a.worker.until((line) => line.msg === "partitions assigned");
    const healthy = await fetch(a.health);
    assert.equal(healthy.status, 200);
    const body = await healthy.json();
    assert.equal(body.status, "running");
    assert.equal(body.pipeline, name);

    const b = await start();
    await produce(kafka.brokers, topic, messagesOf(batches[1]!), 500);
    await b.worker.until((line) =>
      line.msg === "partitions assigned" &&
      Array.isArray(line.partitions) && line.partitions.length > 0, 30_000);
    const stoppedA = await a.worker.stop();
    assert.equal(stoppedA.code, 0, "SIGTERM stops worker a cleanly");
    await b.worker.until((line) =>
      line.msg === "partitions assigned" &&
      Array.isArray(line.partitions) && line.partitions.length === 4, 30_000);
    await produce(kafka.brokers, topic, messagesOf(batches[2]!), 500);
    await waitForCommits(kafka.brokers, groupId, topic);
    const stoppedB = await b.worker.stop();
    assert.equal(stoppedB.code, 0, "SIGTERM stops worker b cleanly");

    for (const worker of [a.worker, b.worker]) {
      const summary = worker.steps.find((line) => line.msg === "stopped")!;
      assert.equal(summary.unacked, 0);
      assert.ok(Number(summary.events) > 0, "each worker read a share");
    }
    await assertPageTotals(
      new DynamoDBStore(client, TABLE),
      { namespace: name, monoid: sum() },
      batches.flat(),
    );
  },
});
