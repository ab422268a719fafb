// DynamoDB store + Valkey cache under concurrent writers and reading fillers: the cache ends equal to the store.

import assert from "node:assert/strict";
import {
  type Codec,
  defineMonoid,
  jsonCodec,
  max,
  type Monoid,
  sum,
} from "../monoid/mod.ts";
import { hll, type HyperLogLog } from "../sketch/hll.ts";
import {
  CachedStore,
  type Scope,
  type StateKey,
  type Store,
} from "../state/mod.ts";
import { DynamoDBStore } from "../state/dynamodb.ts";
import { MemoryStore } from "../state/memory.ts";
import { pipeline } from "../pipeline/mod.ts";
import { MemorySource } from "../source/mod.ts";
import { run } from "../streaming/mod.ts";
import { Redis } from "iovalkey";
import { ValkeyCache } from "../state/valkey.ts";
import { storeConformance } from "../testing/mod.ts";
import { seededRandom } from "../internal/prng.ts";
import { service, uniqueName } from "./_stack.ts";
import { stateTable } from "./_dynamodb.ts";

const valkey = await service("valkey");
const TABLE = "murmur_h5_coherence";
const { client } = await stateTable(TABLE);
const prefix = `${uniqueName("coherence")}:`;

function cachedStore(): CachedStore {
  return new CachedStore(
    new DynamoDBStore(client, TABLE),
    new ValkeyCache({ url: valkey.url, keyPrefix: prefix }),
  );
}

/** A store whose calls take a little longer at random, widening every race window. */
function jittered(store: Store, random: () => number): Store {
  const wait = () => pause(random() * 8);
  return {
    name: store.name,
    async get(scope, key) {
      await wait();
      const value = await store.get(scope, key);
      await wait();
      return value;
    },
    async getMany(scope, keys) {
      await wait();
      const values = await store.getMany(scope, keys);
      await wait();
      return values;
    },
    async merge(scope, deltas, options) {
      await wait();
      const result = await store.merge(scope, deltas, options);
      await wait();
      return result;
    },
    close: () => store.close(),
  };
}

storeConformance(
  "dynamodb+valkey",
  () => Promise.resolve(cachedStore()),
  { sanitize: false },
);

const opts = { sanitizeOps: false, sanitizeResources: false };

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs writers and readers (each with its own store and Valkey client) against the same keys. */
async function race<V>(
  monoid: Monoid<V>,
  makeValue: (random: () => number) => V,
  equal: (a: V, b: V) => boolean,
  seed: number,
): Promise<void> {
  const scope: Scope<V> = { namespace: uniqueName("race"), monoid };
  const keys: StateKey[] = Array.from({ length: 6 }, (_, i) => ({
    entity: `e${i}`,
    bucket: i % 2 === 0 ? null : 86_400_000,
  }));
  const random = seededRandom(seed);
  const actor = () =>
    new CachedStore(
      jittered(
        new DynamoDBStore(client, TABLE),
        seededRandom(Math.floor(random() * 2 ** 32)),
      ),
      new ValkeyCache({ url: valkey.url, keyPrefix: prefix }),
    );
  const writers = Array.from({ length: 3 }, actor);
  const readers = Array.from({ length: 3 }, actor);
  const write = async (store: CachedStore, r: () => number) => {
    for (let round = 0; round < 12; round++) {
      const picked = keys.filter(() => r() < 0.5);
      await store.merge(
        scope,
        picked.map((key) => ({ key, value: makeValue(r) })),
      );
      await pause(r() * 5);
    }
  };
  const read = async (store: CachedStore, r: () => number) => {
    for (let round = 0; round < 20; round++) {
      await store.getMany(scope, keys.filter(() => r() < 0.6));
      if (r() < 0.15) {
        // An operator flush or an evicted key.
        await store.cache.invalidate(scope, [
          keys[Math.floor(r() * keys.length)]!,
        ]);
      }
      await pause(r() * 5);
    }
  };
  await Promise.all([
    ...writers.map((w) =>
      write(w, seededRandom(Math.floor(random() * 2 ** 32)))
    ),
    ...readers.map((c) =>
      read(c, seededRandom(Math.floor(random() * 2 ** 32)))
    ),
  ]);
  const store = new DynamoDBStore(client, TABLE);
  const truth = await store.getMany(scope, keys);
  const cache = readers[0]!.cache;
  const cached = await cache.getMany(scope, keys);
  cached.forEach((value, i) => {
    if (value === undefined) return;
    assert.ok(truth[i] !== undefined, `key ${i} is cached but not stored`);
    assert.ok(
      equal(value, truth[i]!),
      `seed ${seed}: key ${JSON.stringify(keys[i])} cached ${
        JSON.stringify(monoid.codec.toJSON(value))
      } but the store holds ${JSON.stringify(monoid.codec.toJSON(truth[i]!))}`,
    );
  });
  // One more read through the cache fills what is missing; everything agrees.
  const final = await readers[1]!.getMany(scope, keys);
  const refilled = await cache.getMany(scope, keys);
  keys.forEach((_, i) => {
    if (truth[i] === undefined) return;
    assert.ok(equal(final[i]!, truth[i]!));
    assert.ok(equal(refilled[i]!, truth[i]!), `key ${i} was not refilled`);
  });
  const stats = readers.map((r) => r.cache.stats());
  assert.ok(stats.some((s) => s.fills > 0), "no fill happened");
  for (const s of [...writers, ...readers]) await s.cache.close();
}

Deno.test({
  name: "cache and store agree after concurrent counters (INCRBY path)",
  ...opts,
  fn: () => race(sum(), (r) => 1 + Math.floor(r() * 9), (a, b) => a === b, 1),
});

Deno.test({
  name: "cache and store agree after concurrent HLL merges (PFMERGE path)",
  ...opts,
  fn: () => {
    const h = hll();
    return race<HyperLogLog>(
      h,
      (r) => {
        const sketch = h.identity();
        for (let i = 0; i < 20; i++) sketch.add(`v${Math.floor(r() * 5000)}`);
        return sketch;
      },
      (a, b) => a.equals(b),
      2,
    );
  },
});

Deno.test({
  name: "cache and store agree after concurrent max updates (compare path)",
  ...opts,
  fn: () => race(max(), (r) => Math.floor(r() * 1000), (a, b) => a === b, 3),
});

Deno.test({
  name: "cache and store agree for a custom monoid (drop-on-write path)",
  ...opts,
  fn: () =>
    race(
      defineMonoid<number[]>({
        name: "sorted-union",
        identity: () => [],
        combine: (a, b) => [...new Set([...a, ...b])].sort((x, y) => x - y),
        commutative: true,
        idempotent: true,
        codec: jsonCodec as Codec<number[]>,
      }),
      (r) => [Math.floor(r() * 50)],
      (a, b) => JSON.stringify(a) === JSON.stringify(b),
      4,
    ),
});

/**
 * The pid of the Valkey server the stack points at, as the server itself
 * reports it (`INFO server`): right whichever checkout started the stack.
 */
async function valkeyPid(): Promise<number> {
  const raw = new Redis(valkey.url);
  try {
    const found = /process_id:(\d+)/.exec(await raw.info("server"));
    if (found === null) {
      throw new Error(`Valkey at ${valkey.url} reported no process_id`);
    }
    return Number(found[1]);
  } finally {
    raw.disconnect();
  }
}

Deno.test({
  name:
    "a pipeline's cache holds no stale key after a Valkey stall (SIGSTOP) during writes",
  ...opts,
  fn: async () => {
    const pid = await valkeyPid();
    const truth = new MemoryStore();
    const cache = new ValkeyCache({
      url: valkey.url,
      keyPrefix: prefix,
      commandTimeoutMs: 200,
    });
    const n = 500;
    const keys: StateKey[] = Array.from(
      { length: n },
      (_, i) => ({ entity: `e${i}`, bucket: null }),
    );
    const p = pipeline<number>(uniqueName("stall")).key((i) => `e${i % n}`)
      .value(() => 1).aggregate(sum()).storeIn(truth).cache(cache).build();
    const source = new MemorySource<number>({ batchSize: 100 });
    const running = run(p, { source, batchWindow: { time: 20 } });
    let next = 0;
    const round = () => source.push(...Array.from({ length: n }, () => next++));
    round();
    await pause(300);
    // A reader (as a query server would) fills every key before the stall.
    await new CachedStore(truth, cache).getMany(p.scope, keys);
    assert.ok(
      (await cache.getMany(p.scope, keys)).every((v) => v !== undefined),
    );
    let stopped = false;
    try {
      Deno.kill(pid, "SIGSTOP");
      stopped = true;
      const until = Date.now() + 3000;
      while (Date.now() < until) {
        round();
        await pause(100);
      }
    } finally {
      // Always resume the server: the stack is shared.
      if (stopped) Deno.kill(pid, "SIGCONT");
    }
    for (let i = 0; i < 5; i++) {
      round();
      await pause(100);
    }
    source.end();
    const summary = await running;
    assert.equal(summary.acked, next);
    assert.ok(p.store instanceof CachedStore);
    assert.ok(await p.store.settle(AbortSignal.timeout(30_000)));
    const check = new ValkeyCache({ url: valkey.url, keyPrefix: prefix });
    try {
      const cached = await check.getMany(p.scope, keys);
      const stored = await truth.getMany(p.scope, keys);
      const stale = keys.filter((_, i) =>
        cached[i] !== undefined && cached[i] !== stored[i]
      );
      assert.deepEqual(
        stale.length,
        0,
        `${stale.length} of ${n} keys stale, e.g. ${stale[0]?.entity}`,
      );
      assert.equal(stored.reduce((a, b) => a! + b!, 0), next);
    } finally {
      await check.close();
      await p.store.close();
    }
  },
});
