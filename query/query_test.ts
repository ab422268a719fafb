import assert from "node:assert/strict";
import { daily, days, hourly, max, sum } from "../monoid/mod.ts";
import {
  CachedStore,
  MemoryCache,
  MemoryStore,
  type Scope,
  type StateKey,
  type Store,
} from "../state/mod.ts";
import { pipeline, topN } from "../pipeline/mod.ts";
import { topK } from "../sketch/mod.ts";
import { TestDriver } from "../testing/mod.ts";
import {
  createQuerier,
  InvalidQueryError,
  lambdaQuery,
  PipelineNotFoundError,
  type QueryTarget,
  typedValue,
  WindowMismatchError,
} from "./mod.ts";

const DAY = 86_400_000;
const T0 = Date.UTC(2024, 0, 10);

/** A store that counts reads and can hold them until released. */
class SpyStore implements Store {
  readonly name = "spy";
  readonly inner = new MemoryStore();
  reads = 0;
  keysRead = 0;
  #gate: Promise<void> | undefined;
  #release: (() => void) | undefined;

  hold(): void {
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#gate = promise;
    this.#release = resolve;
  }
  release(): void {
    this.#release?.();
    this.#gate = undefined;
  }
  get<V>(scope: Scope<V>, key: StateKey) {
    return this.getMany(scope, [key]).then(([v]) => v);
  }
  async getMany<V>(scope: Scope<V>, keys: readonly StateKey[]) {
    this.reads++;
    this.keysRead += keys.length;
    if (this.#gate !== undefined) await this.#gate;
    return this.inner.getMany(scope, keys);
  }
  merge: Store["merge"] = (scope, deltas, options) =>
    this.inner.merge(scope, deltas, options);
  close() {
    return this.inner.close();
  }
}

function views(store: Store = new SpyStore()) {
  return {
    name: "views",
    monoid: sum(),
    window: daily({ retention: days(90) }),
    store,
  } satisfies QueryTarget<number>;
}

function totals(store: Store = new SpyStore()) {
  return { name: "totals", monoid: sum(), window: null, store };
}

async function seed(
  store: Store,
  namespace: string,
  entries: [string, number | null, number][],
) {
  await store.merge(
    { namespace, monoid: sum() },
    entries.map(([entity, bucket, value]) => ({
      key: { entity, bucket },
      value,
    })),
  );
}

Deno.test("querier.get() answers the all-time value and present=false for no data", async () => {
  const target = totals();
  await seed(target.store, "totals", [["a", null, 4]]);
  const q = createQuerier([target]);
  const a = await q.get("totals", "a");
  assert.equal(a.value, 4);
  assert.equal(a.present, true);
  assert.equal(a.coverage.allTime, true);
  const b = await q.get(target, "b");
  assert.equal(b.value, 0);
  assert.equal(b.present, false);
});

Deno.test("querier.getMany() answers in the caller's order, duplicates included", async () => {
  const target = totals();
  await seed(target.store, "totals", [["a", null, 1], ["b", null, 2], [
    "c",
    null,
    3,
  ]]);
  const q = createQuerier([target]);
  const answers = await q.getMany("totals", ["c", "a", "zz", "c", "b"]);
  assert.deepEqual(answers.map((a) => a.value), [3, 1, 0, 3, 2]);
  assert.deepEqual(answers.map((a) => a.present), [
    true,
    true,
    false,
    true,
    true,
  ]);
  assert.deepEqual(await q.getMany("totals", []), []);
});

Deno.test("querier.getWindow() merges the last N buckets and says which held data", async () => {
  const target = views();
  await seed(target.store, "views", [
    ["p", T0 - 3 * DAY, 100], // outside the last 3 days
    ["p", T0 - 2 * DAY, 2],
    ["p", T0, 5],
  ]);
  const q = createQuerier([target]);
  const a = await q.getWindow("views", "p", 3, { at: T0 + 1000 });
  assert.equal(a.value, 7);
  assert.equal(a.present, true);
  assert.deepEqual(a.coverage.buckets, [T0 - 2 * DAY, T0 - DAY, T0]);
  assert.deepEqual(a.coverage.presentBuckets, [T0 - 2 * DAY, T0]);
  assert.equal(a.coverage.startMs, T0 - 2 * DAY);
  assert.equal(a.coverage.endMs, T0 + DAY);
  assert.equal(a.coverage.granularity, "day");
  assert.equal(a.stats.keys, 3);
  const none = await q.getWindow("views", "nobody", 3, { at: T0 });
  assert.equal(none.present, false);
  assert.equal(none.value, 0);
  assert.deepEqual(none.coverage.presentBuckets, []);
});

Deno.test("querier.getRange() covers the buckets overlapping [start, end)", async () => {
  const target = views();
  await seed(target.store, "views", [
    ["p", T0 - DAY, 1],
    ["p", T0, 10],
    ["p", T0 + DAY, 100],
  ]);
  const q = createQuerier([target]);
  const a = await q.getRange("views", "p", {
    startMs: T0 - DAY + 5,
    endMs: T0 + DAY,
  });
  assert.equal(a.value, 11);
  assert.equal(a.coverage.startMs, T0 - DAY);
  assert.equal(a.coverage.endMs, T0 + DAY);
  const many = await q.getRangeMany("views", ["x", "p"], {
    startMs: T0,
    endMs: T0 + 2 * DAY,
  });
  assert.deepEqual(many.map((m) => m.value), [0, 110]);
});

Deno.test("querier skips missing buckets, so a monoid whose identity is not zero stays right", async () => {
  const store = new MemoryStore();
  const target = {
    name: "peak",
    monoid: max(),
    window: hourly(),
    store,
  } satisfies QueryTarget<number | null>;
  const hour = 3_600_000;
  await store.merge({ namespace: "peak", monoid: max() }, [
    { key: { entity: "s", bucket: T0 }, value: -5 },
  ]);
  const q = createQuerier([target]);
  const a = await q.getWindow(target, "s", 24, { at: T0 + 3 * hour });
  assert.equal(a.value, -5);
  const b = await q.getWindow(target, "t", 24, { at: T0 });
  assert.equal(b.present, false);
  assert.equal(b.value, max().identity());
});

Deno.test("querier refuses bad input with InvalidQueryError naming the limit, before any read", async () => {
  const store = new SpyStore();
  const q = createQuerier([views(store), totals(store)], {
    limits: { maxEntities: 3, maxBuckets: 400, maxKeys: 500 },
  });
  const refuses = async (call: () => Promise<unknown>, pattern: RegExp) => {
    const error = await call().then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof InvalidQueryError, String(error));
    assert.match(error.message, pattern);
  };
  await refuses(() => q.get("totals", ""), /entity: an entity is empty/);
  await refuses(
    () => q.getMany("totals", ["a", "b", "c", "d"]),
    /4 entities requested; at most 3 per request/,
  );
  await refuses(
    () => q.getMany("totals", ["a", ""]),
    /empty \(at index 1\)/,
  );
  await refuses(
    () => q.getRange("views", "p", { startMs: T0, endMs: T0 - 1 }),
    /inverted: endMs must be after startMs/,
  );
  await refuses(
    () => q.getRange("views", "p", { startMs: T0, endMs: T0 }),
    /is empty/,
  );
  await refuses(
    () => q.getRange("views", "p", { startMs: 0, endMs: 8e15 }),
    /at most 400 per request/,
  );
  await refuses(
    () => q.getRange("views", "p", { startMs: 0, endMs: 9e15 }),
    /not a time/,
  );
  await refuses(
    () => q.getWindow("views", "p", 0),
    /give a whole number from 1 to 400/,
  );
  await refuses(
    () => q.getWindow("views", "p", 1e9),
    /from 1 to 400/,
  );
  await refuses(
    () => q.getWindowMany("views", ["a", "b"], 300),
    /600 keys; at most 500 per request/,
  );
  await refuses(
    () => q.getWindow("views", "x".repeat(2000), 1),
    /2000 characters long; at most 1024/,
  );
  assert.equal(store.reads, 0);
});

Deno.test("querier answers NotFound and shape mismatches with named errors", async () => {
  const q = createQuerier([views(), totals()]);
  await assert.rejects(
    () => q.get("nope", "a"),
    (e: unknown) =>
      e instanceof PipelineNotFoundError &&
      /unknown pipeline "nope" \(known: "totals", "views"\)/.test(e.message),
  );
  await assert.rejects(
    () => q.getWindow("totals", "a", 7),
    WindowMismatchError,
  );
  await assert.rejects(() => q.get("views", "a"), WindowMismatchError);
  assert.throws(
    () => q.add({ ...totals(), store: new MemoryStore() }),
    TypeError,
  );
});

Deno.test("querier coalesces identical concurrent reads and keeps each caller's order", async () => {
  const store = new SpyStore();
  const target = totals(store);
  await seed(store.inner, "totals", [["a", null, 1], ["b", null, 2], [
    "c",
    null,
    3,
  ]]);
  const q = createQuerier([target]);
  store.hold();
  const first = q.getMany("totals", ["a", "b", "c"]);
  const second = q.getMany("totals", ["c", "a", "b"]);
  const third = q.getMany("totals", ["b", "b", "c", "a"]);
  const fourth = q.get("totals", "a");
  store.release();
  const [x, y, z, w] = await Promise.all([first, second, third, fourth]);
  assert.deepEqual(x.map((a) => a.value), [1, 2, 3]);
  assert.deepEqual(y.map((a) => a.value), [3, 1, 2]);
  assert.deepEqual(z.map((a) => a.value), [2, 2, 3, 1]);
  assert.equal(w.value, 1);
  // One read for the {a,b,c} set (three callers) and one for {a}.
  assert.equal(store.reads, 2);
  assert.equal(x[0]!.stats.coalesced, false);
  assert.equal(y[0]!.stats.coalesced, true);
});

Deno.test("querier: entities with separator characters never share a coalesced read", async () => {
  const store = new SpyStore();
  await seed(store.inner, "totals", [["a|b", null, 1], ["a", null, 10], [
    "b",
    null,
    100,
  ]]);
  const q = createQuerier([totals(store)]);
  store.hold();
  const one = q.getMany("totals", ["a|b"]);
  const two = q.getMany("totals", ["a", "b"]);
  store.release();
  assert.deepEqual((await one).map((a) => a.value), [1]);
  assert.deepEqual((await two).map((a) => a.value), [10, 100]);
  assert.equal(store.reads, 2);
});

Deno.test("querier: a cancelled caller stops waiting without failing the others", async () => {
  const store = new SpyStore();
  await seed(store.inner, "totals", [["a", null, 5]]);
  const q = createQuerier([totals(store)]);
  store.hold();
  const controller = new AbortController();
  const leader = q.get("totals", "a", { signal: controller.signal });
  const follower = q.get("totals", "a");
  controller.abort(new DOMException("gone", "AbortError"));
  await assert.rejects(leader, /gone/);
  store.release();
  assert.equal((await follower).value, 5);
  assert.equal(store.reads, 1);
});

Deno.test("querier reads cache then store, fills misses under leases, and freshRead skips both cache and coalescing", async () => {
  const store = new SpyStore();
  const cache = new MemoryCache();
  const target = { ...totals(store), cache };
  const scope = { namespace: "totals", monoid: sum() };
  await seed(store.inner, "totals", [["a", null, 3]]);
  const q = createQuerier([target]);

  const cold = await q.get("totals", "a");
  assert.deepEqual(cold.stats, {
    keys: 1,
    cacheHits: 0,
    storeReads: 1,
    coalesced: false,
  });
  assert.equal(await cache.get(scope, { entity: "a", bucket: null }), 3);

  const warm = await q.get("totals", "a");
  assert.equal(warm.value, 3);
  assert.equal(warm.stats.cacheHits, 1);
  assert.equal(store.reads, 1);

  // A write straight to the store (no write-through) is seen only by a fresh read.
  await seed(store.inner, "totals", [["a", null, 4]]);
  assert.equal((await q.get("totals", "a")).value, 3);
  const fresh = await q.get("totals", "a", { freshRead: true });
  assert.equal(fresh.value, 7);
  assert.equal(fresh.stats.storeReads, 1);

  // Absent keys are not cached (no partial values), so they stay store reads.
  await q.get("totals", "nobody");
  assert.equal((await q.get("totals", "nobody")).stats.storeReads, 1);
});

Deno.test("querier falls back to the store when the cache fails", async () => {
  const store = new SpyStore();
  await seed(store.inner, "totals", [["a", null, 3]]);
  const broken = new MemoryCache();
  await broken.close();
  const q = createQuerier([{ ...totals(store), cache: broken }]);
  const answer = await q.get("totals", "a");
  assert.equal(answer.value, 3);
  assert.equal(answer.stats.storeReads, 1);
});

Deno.test("querier reads a CachedStore's cache, and its store alone for fresh reads", async () => {
  const base = new MemoryStore();
  const cache = new MemoryCache();
  const cached = new CachedStore(base, cache);
  const q = createQuerier([totals(cached)]);
  await cached.merge({ namespace: "totals", monoid: sum() }, [
    { key: { entity: "a", bucket: null }, value: 2 },
  ]);
  assert.equal((await q.get("totals", "a")).stats.storeReads, 1);
  assert.equal((await q.get("totals", "a")).stats.cacheHits, 1);
  assert.equal((await q.get("totals", "a", { freshRead: true })).value, 2);
});

Deno.test("querier serves a built pipeline from @murmur/core/pipeline", async () => {
  const store = new MemoryStore();
  const built = pipeline<{ page: string }>("page_views")
    .key((e) => e.page)
    .value(() => 1)
    .aggregate(sum())
    .window(daily({ retention: days(30) }))
    .storeIn(store)
    .build();
  await store.merge(built.scope, [
    { key: { entity: "home", bucket: T0 }, value: 41 },
  ]);
  const q = createQuerier([built]);
  const answer = await q.getWindow(built, "home", 30, { at: T0 });
  const value: number = answer.value;
  assert.equal(value, 41);
});

Deno.test("typedValue() reports every tracked top-K entry, or the heaviest `top`", () => {
  const monoid = topK({ k: 10 });
  const sketch = monoid.identity();
  for (const [key, n] of [["a", 2], ["b", 7], ["c", 4], ["d", 1]] as const) {
    sketch.add(key, n);
  }
  assert.deepEqual(typedValue(monoid, sketch), {
    type: "topk",
    k: 10,
    entries: [
      { key: "b", count: 7 },
      { key: "c", count: 4 },
      { key: "a", count: 2 },
      { key: "d", count: 1 },
    ],
  });
  assert.deepEqual(typedValue(monoid, sketch, { top: 2 }), {
    type: "topk",
    k: 10,
    entries: [{ key: "b", count: 7 }, { key: "c", count: 4 }],
  });
  const wide = typedValue(monoid, sketch, { top: 100 });
  assert.equal(wide.type === "topk" && wide.entries.length, 4);
  assert.deepEqual(typedValue(sum(), 5, { top: 2 }), {
    type: "number",
    value: 5,
  });
  for (const top of [0, -1, 2.5]) {
    assert.throws(
      () => typedValue(monoid, sketch, { top }),
      (e: unknown) => e instanceof InvalidQueryError && e.field === "top",
    );
  }
});

Deno.test("querier.typed() reports a topN(n: 3) pipeline's top 3, heaviest first", async () => {
  const pages = topN<{ country: string; page: string }>("top_pages", {
    n: 3,
    item: (e) => e.page,
  }).key((e) => e.country).storeIn(new MemoryStore()).build();
  const driver = new TestDriver(pages);
  const counts = [["/", 9], ["/a", 7], ["/b", 5], ["/c", 3], [
    "/d",
    1,
  ]] as const;
  for (const [page, n] of counts) {
    await driver.send(
      ...Array.from({ length: n }, () => ({ country: "de", page })),
    );
  }
  await driver.flush();
  const querier = createQuerier([pages]);
  const answer = await querier.get(pages, "de");
  assert.equal(answer.value.k, 100);
  assert.equal(answer.value.top().length, 5, "the value keeps every item");
  const expected = {
    type: "topk",
    k: 100,
    entries: [
      { key: "/", count: 9 },
      { key: "/a", count: 7 },
      { key: "/b", count: 5 },
    ],
  };
  assert.deepEqual(querier.typed(pages, answer), expected);
  assert.deepEqual(querier.typed("top_pages", answer), expected);
  const one = querier.typed(pages, answer, { top: 1 });
  assert.deepEqual(one.type === "topk" && one.entries, [{
    key: "/",
    count: 9,
  }]);
  const all = querier.typed(pages, answer, { top: 100 });
  assert.equal(all.type === "topk" && all.entries.length, 5);
  const [many] = await querier.getMany("top_pages", ["de"]);
  assert.deepEqual(querier.typed("top_pages", many!), expected);
  assert.throws(
    () => querier.typed(pages, answer, { top: 0 }),
    InvalidQueryError,
  );
  assert.throws(() => querier.typed("nope", answer), PipelineNotFoundError);
});

Deno.test("querier.typed() reports every entry of a top-K pipeline that sets no top", async () => {
  const store = new MemoryStore();
  const monoid = topK({ k: 4 });
  const target = { name: "t", monoid, window: null, store };
  await store.merge({ namespace: "t", monoid }, [
    {
      key: { entity: "x", bucket: null },
      value: monoid.identity().add("p", 1).add("q", 3).add("r", 2),
    },
  ]);
  const querier = createQuerier([target]);
  const typed = querier.typed(target, await querier.get(target, "x"));
  assert.deepEqual(typed.type === "topk" && typed.entries.map((e) => e.key), [
    "q",
    "r",
    "p",
  ]);
});

Deno.test("lambdaQuery() merges batch and realtime per key, split at the cutover", async () => {
  const batch = new MemoryStore();
  const realtime = new MemoryStore();
  const target = views(realtime);
  // Batch holds everything before T0; realtime overlaps it by one day.
  await seed(batch, "views", [["p", T0 - 2 * DAY, 1], ["p", T0 - DAY, 2]]);
  await seed(realtime, "views", [["p", T0 - DAY, 2], ["p", T0, 4]]);

  const plain = createQuerier([lambdaQuery(target, { batch, realtime })]);
  assert.equal((await plain.getWindow("views", "p", 3, { at: T0 })).value, 9);

  const cut = createQuerier([
    lambdaQuery(target, { batch, realtime, cutover: () => T0 }),
  ]);
  const answer = await cut.getWindow("views", "p", 3, { at: T0 });
  assert.equal(answer.value, 7);
  assert.deepEqual(answer.coverage.presentBuckets, [
    T0 - 2 * DAY,
    T0 - DAY,
    T0,
  ]);
  const absent = await cut.getWindow("views", "q", 3, { at: T0 });
  assert.equal(absent.present, false);
  await assert.rejects(
    () =>
      lambdaQuery(target, { batch, realtime }).store.merge(
        { namespace: "views", monoid: sum() },
        [],
      ),
    /read-only view/,
  );
});
