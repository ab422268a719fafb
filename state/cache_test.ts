import assert from "node:assert/strict";
import fc from "fast-check";
import { count, max, sum } from "../monoid/mod.ts";
import {
  type Cache,
  CachedStore,
  CacheUnavailableError,
  MemoryCache,
} from "./cache.ts";
import { MemoryStore } from "./memory.ts";
import type { Scope, StateKey, Store } from "./store.ts";
import { zeroCacheStats } from "./_cache_stats.ts";

const scope: Scope<number> = { namespace: "clicks", monoid: sum() };
const key: StateKey = { entity: "post:1", bucket: null };

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

/** Fills `k` through a lease, as a reader that missed does. */
async function fillOne<V>(
  cache: MemoryCache,
  s: Scope<V>,
  k: StateKey,
  value: V,
): Promise<void> {
  const [lease] = await cache.lease(s, [k]);
  await cache.fill(s, [{ lease: lease!, value }]);
}

Deno.test("MemoryCache.fill() stores under a fresh lease and get() hits", async () => {
  const cache = new MemoryCache();
  assert.equal(await cache.get(scope, key), undefined);
  const [lease] = await cache.lease(scope, [key]);
  assert.deepEqual(await cache.fill(scope, [{ lease: lease!, value: 4 }]), [
    true,
  ]);
  assert.equal(await cache.get(scope, key), 4);
  assert.deepEqual(cache.stats(), {
    hits: 1,
    misses: 1,
    fills: 1,
    fillsRefused: 0,
    updates: 0,
    invalidations: 0,
    errors: 0,
  });
});

Deno.test("MemoryCache.merge() leaves a cold key absent", async () => {
  const cache = new MemoryCache();
  const intent = await cache.beginWrite(scope, [key]);
  const result = await cache.merge(scope, [{ key, value: 3 }], { intent });
  assert.deepEqual(result, { applied: 0, skipped: [0] });
  assert.equal(await cache.get(scope, key), undefined);
});

Deno.test("MemoryCache.fill() is refused after a write raced the lease", async () => {
  const cache = new MemoryCache();
  const [lease] = await cache.lease(scope, [key]);
  const intent = await cache.beginWrite(scope, [key]);
  await cache.merge(scope, [{ key, value: 3 }], { intent });
  assert.deepEqual(await cache.fill(scope, [{ lease: lease!, value: 0 }]), [
    false,
  ]);
  assert.equal(await cache.get(scope, key), undefined);
  assert.equal(cache.stats().fillsRefused, 1);
});

Deno.test("MemoryCache.fill() is refused while a write is in flight", async () => {
  const cache = new MemoryCache();
  const intent = await cache.beginWrite(scope, [key]);
  // The reader leases after the intent and may read the store after the write.
  const [lease] = await cache.lease(scope, [key]);
  assert.deepEqual(await cache.fill(scope, [{ lease: lease!, value: 3 }]), [
    false,
  ]);
  await cache.merge(scope, [{ key, value: 3 }], { intent });
  assert.equal(await cache.get(scope, key), undefined);
});

Deno.test("MemoryCache.fill() is refused when a write ended between lease and fill", async () => {
  const cache = new MemoryCache();
  const intent = await cache.beginWrite(scope, [key]);
  const [lease] = await cache.lease(scope, [key]);
  await cache.merge(scope, [{ key, value: 3 }], { intent });
  assert.deepEqual(await cache.fill(scope, [{ lease: lease!, value: 0 }]), [
    false,
  ]);
});

Deno.test("MemoryCache.fill() is refused for a present key and a stale lease", async () => {
  const time = clock();
  const cache = new MemoryCache({ now: time.now, fillLeaseMs: 100 });
  const [a, b] = await cache.lease(scope, [key, key]);
  assert.deepEqual(await cache.fill(scope, [{ lease: a!, value: 1 }]), [true]);
  assert.deepEqual(await cache.fill(scope, [{ lease: b!, value: 2 }]), [false]);
  const other = { entity: "post:2", bucket: null };
  const [late] = await cache.lease(scope, [other]);
  time.advance(101);
  assert.deepEqual(await cache.fill(scope, [{ lease: late!, value: 1 }]), [
    false,
  ]);
});

Deno.test("MemoryCache.merge() folds into present values with the monoid", async () => {
  const cache = new MemoryCache();
  const peak: Scope<number | null> = { namespace: "peak", monoid: max() };
  await fillOne(cache, peak, key, 5);
  const intent = await cache.beginWrite(peak, [key]);
  const result = await cache.merge(peak, [{ key, value: 9 }, {
    key,
    value: 2,
  }], { intent });
  assert.deepEqual(result, { applied: 2, skipped: [] });
  assert.equal(await cache.get(peak, key), 9);
});

Deno.test("MemoryCache.merge() without an intent drops present keys", async () => {
  const cache = new MemoryCache();
  await fillOne(cache, scope, key, 5);
  const result = await cache.merge(scope, [{ key, value: 1 }]);
  assert.deepEqual(result, { applied: 0, skipped: [0] });
  assert.equal(await cache.get(scope, key), undefined);
  assert.equal(cache.stats().invalidations, 1);
});

Deno.test("MemoryCache drops a value whose write intent expired unfinished", async () => {
  const time = clock();
  const cache = new MemoryCache({ now: time.now, writeLeaseMs: 1000 });
  const [lease] = await cache.lease(scope, [key]);
  await cache.fill(scope, [{ lease: lease!, value: 5 }]);
  const intent = await cache.beginWrite(scope, [key]);
  time.advance(999);
  assert.equal(await cache.get(scope, key), 5);
  time.advance(1);
  assert.equal(await cache.get(scope, key), undefined);
  // The late completion cannot tell what a refill saw: it drops the key.
  const [again] = await cache.lease(scope, [key]);
  await cache.fill(scope, [{ lease: again!, value: 8 }]);
  assert.deepEqual(
    await cache.merge(scope, [{ key, value: 3 }], { intent }),
    { applied: 0, skipped: [0] },
  );
  assert.equal(await cache.get(scope, key), undefined);
});

Deno.test("MemoryCache keeps a completed write's value past the intent's deadline", async () => {
  const time = clock();
  const cache = new MemoryCache({ now: time.now, writeLeaseMs: 1000 });
  await fillOne(cache, scope, key, 5);
  const intent = await cache.beginWrite(scope, [key]);
  await cache.merge(scope, [{ key, value: 1 }], { intent });
  time.advance(5000);
  assert.equal(await cache.get(scope, key), 6);
});

Deno.test("MemoryCache expires values at the fill's expiry and at the maximum age", async () => {
  const time = clock();
  const cache = new MemoryCache({ now: time.now, maxAgeMs: 10_000 });
  const other = { entity: "post:2", bucket: 0 };
  const [a, b] = await cache.lease(scope, [key, other]);
  await cache.fill(scope, [
    { lease: a!, value: 1 },
    { lease: b!, value: 2, expiresAt: time.now() + 500 },
  ]);
  time.advance(500);
  assert.deepEqual(await cache.getMany(scope, [key, other]), [1, undefined]);
  time.advance(9500);
  assert.equal(await cache.get(scope, key), undefined);
});

Deno.test("MemoryCache.invalidate() drops keys and closes an intent", async () => {
  const cache = new MemoryCache();
  const [lease] = await cache.lease(scope, [key]);
  await cache.fill(scope, [{ lease: lease!, value: 5 }]);
  const intent = await cache.beginWrite(scope, [key]);
  await cache.invalidate(scope, [], { intent });
  assert.equal(await cache.get(scope, key), undefined);
  const [again] = await cache.lease(scope, [key]);
  assert.deepEqual(await cache.fill(scope, [{ lease: again!, value: 6 }]), [
    true,
  ]);
});

Deno.test("MemoryCache keeps scopes apart", async () => {
  const cache = new MemoryCache();
  const other: Scope<number> = { namespace: "views", monoid: count() };
  await fillOne(cache, scope, key, 5);
  assert.equal(await cache.get(other, key), undefined);
});

Deno.test("CachedStore reads through, fills and writes through", async () => {
  const store = new CachedStore(new MemoryStore(), new MemoryCache());
  const other = { entity: "post:2", bucket: 60_000 };
  await store.merge(scope, [{ key, value: 2 }]);
  assert.deepEqual(await store.getMany(scope, [key, other]), [2, undefined]);
  await store.merge(scope, [{ key, value: 3 }, { key: other, value: 1 }]);
  assert.deepEqual(await store.getMany(scope, [key, other]), [5, 1]);
  assert.deepEqual(await store.getMany(scope, [key, other]), [5, 1]);
  assert.deepEqual(store.stats(), {
    reads: 6,
    hits: 3,
    storeReads: 3,
    degradedReads: 0,
    cacheErrors: 0,
    pendingInvalidations: 0,
    droppedInvalidations: 0,
    cacheDown: false,
    lastCacheError: null,
    lastCacheErrorAt: null,
  });
  await store.close();
});

Deno.test("CachedStore passes skipped deltas' keys to the cache without folding them", async () => {
  const cache = new MemoryCache();
  const store = new CachedStore(new MemoryStore(), cache);
  const marks = [{ stream: "s", from: 0n, to: 0n }];
  await store.merge(scope, [{ key, value: 2, marks }]);
  assert.equal(await store.get(scope, key), 2);
  const result = await store.merge(scope, [{ key, value: 2, marks }]);
  assert.deepEqual(result.skipped, [0]);
  assert.equal(await cache.get(scope, key), 2);
});

/** Delegates to `inner`, bound, except for the methods given. */
function override<T extends object>(inner: T, methods: Partial<T>): T {
  return new Proxy(inner, {
    get(target, property) {
      if (property in methods) return methods[property as keyof T];
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** A cache whose every call fails, as an unreachable server would. */
function brokenCache(): Cache {
  const fail = (operation: string) =>
    Promise.reject(
      new CacheUnavailableError("broken", operation, new Error("down")),
    );
  return {
    name: "broken",
    get: () => fail("get"),
    getMany: () => fail("getMany"),
    lease: () => fail("lease"),
    fill: () => fail("fill"),
    beginWrite: () => fail("beginWrite"),
    merge: () => fail("merge"),
    invalidate: () => fail("invalidate"),
    stats: zeroCacheStats,
    close: () => Promise.resolve(),
  };
}

Deno.test("CachedStore degrades to the store when the cache fails", async () => {
  const errors: string[] = [];
  const store = new CachedStore(new MemoryStore(), brokenCache(), {
    onCacheError: (_, operation) => errors.push(operation),
  });
  const result = await store.merge(scope, [{ key, value: 2 }]);
  assert.equal(result.applied, 1);
  assert.equal(await store.get(scope, key), 2);
  assert.deepEqual(errors, ["beginWrite", "merge", "invalidate", "getMany"]);
  const stats = store.stats();
  assert.equal(stats.degradedReads, 1);
  assert.equal(stats.cacheErrors, 4);
  assert.equal(stats.pendingInvalidations, 1);
  assert.equal(stats.cacheDown, true);
  assert.match(stats.lastCacheError!, /down/);
  await store.close();
});

Deno.test("CachedStore retries a failed invalidation on the next merge", async () => {
  const cache = new MemoryCache();
  let down = false;
  const flaky = override<Cache>(cache, {
    merge: (...args: Parameters<Cache["merge"]>) =>
      down
        ? Promise.reject(new CacheUnavailableError("flaky", "merge", "down"))
        : cache.merge(...args),
    invalidate: (...args: Parameters<Cache["invalidate"]>) =>
      down
        ? Promise.reject(
          new CacheUnavailableError("flaky", "invalidate", "down"),
        )
        : cache.invalidate(...args),
  });
  const store = new CachedStore(new MemoryStore(), flaky, {
    retryInvalidationsMs: 0,
  });
  await store.merge(scope, [{ key, value: 2 }]);
  assert.equal(await store.get(scope, key), 2);
  down = true;
  await store.merge(scope, [{ key, value: 3 }]);
  assert.equal(store.stats().pendingInvalidations, 1);
  // Until the invalidation lands, this wrapper reads the key from the store.
  assert.equal(await cache.get(scope, key), 2);
  assert.equal(await store.get(scope, key), 5);
  down = false;
  await store.merge(scope, [{ key: { entity: "x", bucket: null }, value: 1 }]);
  assert.equal(store.stats().pendingInvalidations, 0);
  assert.equal(await cache.get(scope, key), undefined);
  assert.equal(await store.get(scope, key), 5);
});

Deno.test("CachedStore invalidates the keys of a failed store write", async () => {
  const cache = new MemoryCache();
  const inner = new MemoryStore();
  const failing = override<Store>(inner, {
    merge: () => Promise.reject(new Error("store down")),
  });
  const store = new CachedStore(failing, cache);
  await inner.merge(scope, [{ key, value: 2 }]);
  assert.equal(await store.get(scope, key), 2);
  await assert.rejects(store.merge(scope, [{ key, value: 1 }]), /store down/);
  assert.equal(await cache.get(scope, key), undefined);
  assert.equal(await store.get(scope, key), 2);
});

/** Wraps every async method so the scheduler decides when it starts and when it answers. */
function scheduled<T extends object>(inner: T, s: fc.Scheduler): T {
  return new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      if (property === "stats" || property === "close") {
        return value.bind(target);
      }
      return async (...args: unknown[]) => {
        await s.schedule(Promise.resolve(), `${String(property)} starts`);
        const result = await value.apply(target, args);
        await s.schedule(Promise.resolve(), `${String(property)} answers`);
        return result;
      };
    },
  });
}

Deno.test("CachedStore keeps cache and store equal under any interleaving", async () => {
  const keys: StateKey[] = [
    { entity: "a", bucket: null },
    { entity: "b", bucket: 0 },
  ];
  const op = fc.oneof(
    fc.record({
      kind: fc.constant("write" as const),
      key: fc.nat(1),
      value: fc.integer({ min: 1, max: 9 }),
    }),
    fc.record({ kind: fc.constant("read" as const), key: fc.nat(1) }),
    fc.record({ kind: fc.constant("flush" as const), key: fc.nat(1) }),
  );
  await fc.assert(
    fc.asyncProperty(
      fc.scheduler(),
      fc.array(op, { minLength: 1, maxLength: 8 }),
      async (s, ops) => {
        const memory = new MemoryStore();
        const cache = new MemoryCache();
        const store = new CachedStore(
          scheduled(memory, s),
          scheduled(cache, s),
        );
        const running = ops.map((o) => {
          const k = keys[o.key]!;
          if (o.kind === "write") {
            return store.merge(scope, [{ key: k, value: o.value }]);
          }
          if (o.kind === "flush") return cache.invalidate(scope, [k]);
          return store.get(scope, k);
        });
        await s.waitFor(Promise.all(running));
        for (const k of keys) {
          const cached = await cache.get(scope, k);
          if (cached !== undefined) {
            assert.equal(cached, await memory.get(scope, k), String(s));
          }
        }
        // One more read of each key fills what is missing, still equal.
        for (const k of keys) {
          const [lease] = await cache.lease(scope, [k]);
          const value = await memory.get(scope, k);
          if (value !== undefined) {
            await cache.fill(scope, [{ lease: lease!, value }]);
          }
          assert.equal(await cache.get(scope, k), value);
        }
      },
    ),
    { numRuns: 300 },
  );
});
