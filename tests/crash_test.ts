// Crash test: a worker killed with SIGKILL at several points of a batch window, restarted, must end with exact totals.

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { sum } from "../monoid/mod.ts";
import { DynamoDBStore } from "../state/dynamodb.ts";
import { service, uniqueName } from "./_stack.ts";
import { stateTable } from "./_dynamodb.ts";
import { createTopic, produce, waitForCommits } from "./_kafka.ts";
import { Worker } from "./_process.ts";
import { pageTotals, wrongTotals } from "./_totals.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };

const kafka = await service("kafka");
const TABLE = "murmur_h6_crash";
const { client } = await stateTable(TABLE);
const store = new DynamoDBStore(client, TABLE);
const WORKER = fileURLToPath(new URL("./_crash_worker.ts", import.meta.url));

/** Starts a crash worker on a topic, group, table and pipeline. */
function crashWorker(args: readonly string[]): Worker {
  return new Worker(WORKER, args);
}

/** A Zipf-like spread of page views so flushes hold thousands of keys, some of them hot. */
function pageViews(count: number, pages: number, seed: number): string[] {
  let state = seed >>> 0;
  const random = () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
  return Array.from(
    { length: count },
    () => `/p${Math.floor(pages ** random()) - 1}`,
  );
}

/** Creates a 4-partition topic holding one message per page view, keyed by 97 users. */
async function viewsTopic(prefix: string, pages: readonly string[]) {
  const topic = uniqueName(prefix);
  await createTopic(kafka.brokers, topic, 4);
  await produceViews(topic, pages);
  return topic;
}

/** Produces one view per page, keyed over 97 users (so every partition gets some). */
function produceViews(topic: string, pages: readonly string[]): Promise<void> {
  return produce(
    kafka.brokers,
    topic,
    pages.map((page, i) => ({
      key: `u${i % 97}`,
      value: JSON.stringify({ page }),
    })),
    2_000,
  );
}

/** Describes the pages whose stored total under pipeline `name` is not their count in `pages`. */
function wrongPages(name: string, pages: readonly string[]): Promise<string[]> {
  return wrongTotals(
    store,
    { namespace: name, monoid: sum() },
    pageTotals(pages, (page) => page),
  );
}

type KillPoint = (worker: Worker, round: number) => Promise<void>;

/** Runs workers on a fresh topic, killing each round's worker at `kills[round]`, and checks the totals. */
async function crashAndCheck(
  kills: readonly KillPoint[],
  seed: number,
): Promise<Worker[]> {
  const pages = pageViews(12_000, 3_000, seed);
  const topic = await viewsTopic("crash", pages);
  const groupId = uniqueName("crash-group");
  const name = uniqueName("crash_views");
  const workers: Worker[] = [];
  for (const [round, kill] of kills.entries()) {
    const worker = crashWorker([topic, groupId, TABLE, name]);
    workers.push(worker);
    await kill(worker, round);
    await worker.kill();
  }
  const last = crashWorker([topic, groupId, TABLE, name]);
  workers.push(last);
  await last.until((s) => s.step === "assigned");
  await waitForCommits(kafka.brokers, groupId, topic, 90_000);
  const status = await last.stop();
  assert.equal(status.code, 0, "the last worker stops cleanly on SIGTERM");

  const wrong = await wrongPages(name, pages);
  assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} keys are off`);
  return workers;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Data chunks written by the worker (the pipeline's scope, not its progress intents). */
const dataChunks = (worker: Worker) =>
  worker.steps.filter((s) =>
    s.step === "chunk" && !String(s.namespace).startsWith("__murmur")
  ).length;

/** While records are folded in the first batch window, before any write. */
const midWindow: KillPoint = async (worker) => {
  await worker.until((s) => s.step === "read");
  await pause(150);
};

/** Between two chunks of the first flush's data write. */
const midFlush: KillPoint = (worker) =>
  worker.until(() => dataChunks(worker) >= 3);

/** In the window after two flushes were written and acked. */
const afterTwoFlushes: KillPoint = async (worker) => {
  await worker.until(() => worker.count("flushed") >= 2);
  await pause(100);
};

Deno.test({
  name:
    "crash: SIGKILL while the batch window is still folding loses and doubles nothing",
  ...integration,
  async fn() {
    await crashAndCheck([midWindow], 11);
  },
});

Deno.test({
  name: "crash: SIGKILL in the middle of a flush loses and doubles nothing",
  ...integration,
  async fn() {
    const [, restarted] = await crashAndCheck([midFlush], 12);
    assert.ok(
      restarted!.total("skipped", "count") > 0,
      "the restart found deltas of the killed flush already applied and skipped them",
    );
  },
});

Deno.test({
  name:
    "crash: SIGKILL after a few committed flushes loses and doubles nothing",
  ...integration,
  async fn() {
    await crashAndCheck([afterTwoFlushes], 13);
  },
});

Deno.test({
  name:
    "crash: SIGKILL twice, the second time while replaying the first crash, loses and doubles nothing",
  ...integration,
  async fn() {
    const [, replaying, last] = await crashAndCheck([midFlush, midFlush], 14);
    assert.ok(
      replaying!.total("skipped", "count") + last!.total("skipped", "count") >
        0,
      "the replays skipped what the killed flushes had applied",
    );
  },
});

Deno.test({
  name:
    "crash: a surviving worker takes over the partitions of a peer killed mid-flush and goes on exactly",
  ...integration,
  async fn() {
    const first = pageViews(40_000, 3_000, 21);
    const later = pageViews(12_000, 3_000, 22);
    const pages = [...first, ...later];
    const topic = await viewsTopic("crash-peer", first);
    const groupId = uniqueName("crash-peer-group");
    const name = uniqueName("crash_peer_views");
    // The survivor first holds every partition (and learns their horizons),
    // then gives two up to the victim, which dies in the middle of a flush:
    // they come back to the survivor partly applied by the victim.
    const survivor = crashWorker([topic, groupId, TABLE, name]);
    await survivor.until((s) => s.step === "flushed");
    const victim = crashWorker([topic, groupId, TABLE, name]);
    const shares = (s: Readonly<Record<string, unknown>>) =>
      s.step === "assigned" && Number(s.partitions) > 0 &&
      Number(s.partitions) < 4;
    try {
      // Both hold partitions, and the victim is in the middle of a flush.
      await victim.until(shares);
      await survivor.until(shares);
      // Fresh views for every partition: the survivor may have read all of
      // the victim's share before the rebalance, leaving it nothing to flush.
      await produceViews(topic, later);
      const before = dataChunks(victim);
      await victim.until(() => dataChunks(victim) >= before + 3);
    } catch (error) {
      throw new Error(
        `${error}: victim ${JSON.stringify(victim.steps.slice(-3))}, survivor ${
          JSON.stringify(survivor.steps.slice(-3))
        }`,
      );
    } finally {
      await victim.kill();
    }
    // The survivor gets the victim's partitions once its session expires.
    await survivor.until((s) => s.step === "assigned" && s.partitions === 4);
    await waitForCommits(kafka.brokers, groupId, topic, 90_000);
    const status = await survivor.stop();
    assert.equal(status.code, 0, "the survivor never stopped on its own");
    assert.equal(
      survivor.steps.filter((s) => s.step === "stopped").length,
      1,
    );
    const wrong = await wrongPages(name, pages);
    assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} keys are off`);
  },
});
