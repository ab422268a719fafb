import assert from "node:assert/strict";
import { daily, days, max, sum } from "../monoid/mod.ts";
import { MemoryStore } from "../state/mod.ts";
import { CachedStore, MemoryCache } from "../state/mod.ts";
import { topK } from "../sketch/mod.ts";
import { pipeline, PipelineConfigError } from "./pipeline.ts";

interface View {
  page: string;
  country: string;
  at: number;
}

Deno.test("pipeline().build() produces a frozen pipeline with its scope", () => {
  const store = new MemoryStore();
  const p = pipeline<View>("views")
    .key((e) => e.page)
    .value(() => 1)
    .aggregate(sum())
    .window(daily({ retention: days(90) }))
    .storeIn(store)
    .build();
  assert.equal(p.name, "views");
  assert.equal(p.scope.namespace, "views");
  assert.equal(p.scope.monoid, p.monoid);
  assert.equal(p.store, store);
  assert.equal(p.cache, null);
  assert.equal(p.source, null);
  assert.equal(p.keyMode, "key");
  assert.equal(p.extract.key?.({ page: "x", country: "y", at: 0 }), "x");
  assert.ok(Object.isFrozen(p));
});

Deno.test("pipeline().describe() lists the stages as a DAG", () => {
  const p = pipeline<View>("views")
    .keyMany((e) => [e.page, `country:${e.country}`])
    .value(() => 1)
    .time((e) => e.at)
    .aggregate(sum())
    .window(daily({ retention: days(90) }))
    .storeIn(new MemoryStore())
    .cache(new MemoryCache())
    .build();
  const d = p.describe();
  assert.equal(d.keyMode, "keyMany");
  assert.deepEqual(d.monoid, { kind: "sum", name: "sum" });
  assert.deepEqual(d.window, { granularity: "day", retentionMs: days(90) });
  assert.equal(d.source, null);
  assert.equal(d.store, "memory");
  assert.notEqual(d.cache, null);
  assert.deepEqual(d.stages.map((s) => s.id), [
    "source",
    "extract",
    "window",
    "aggregate",
    "store",
    "cache",
  ]);
  assert.deepEqual(d.stages[0]!.next, ["extract"]);
  assert.deepEqual(d.stages.at(-1)!.next, []);
  assert.equal(d.stages[2]!.label, "day, keep 90 d");
  assert.deepEqual(JSON.parse(JSON.stringify(d)), d, "plain JSON");
});

Deno.test("pipeline().build() says what to call when something is missing", () => {
  const store = new MemoryStore();
  const base = pipeline<View>("pv");
  assert.throws(() => base.build(), /has no key: call \.key/);
  assert.throws(
    () => base.key((e) => e.page).build(),
    /has no value: call \.value/,
  );
  assert.throws(
    () => base.key((e) => e.page).value(() => 1).build(),
    /has no monoid: call \.aggregate/,
  );
  assert.throws(
    () => base.key((e) => e.page).value(() => 1).aggregate(sum()).build(),
    (e: unknown) =>
      e instanceof PipelineConfigError &&
      e.message ===
        `pipeline "pv" has no store: call .storeIn(store) before .build()`,
  );
  assert.throws(
    () =>
      pipeline<View>("").key((e) => e.page).value(() => 1).aggregate(sum())
        .storeIn(store).build(),
    /needs a name/,
  );
  assert.throws(
    () =>
      pipeline<View>("__murmur_x").key((e) => e.page).value(() => 1).aggregate(
        sum(),
      ).storeIn(store).build(),
    /reserved/,
  );
});

Deno.test("pipeline builders are immutable and can be forked", () => {
  const base = pipeline<View>("a").key((e) => e.page).value(() => 1).aggregate(
    sum(),
  );
  const one = base.storeIn(new MemoryStore()).build();
  assert.throws(() => base.build(), /has no store/);
  const many = base.keyMany((e) => [e.page, e.country]).storeIn(
    new MemoryStore(),
  ).build();
  assert.equal(one.keyMode, "key");
  assert.equal(many.keyMode, "keyMany");
  assert.equal(many.extract.key, null);
});

Deno.test("pipeline().debounce() is refused on monoids where it under-counts", () => {
  const store = new MemoryStore();
  assert.throws(
    () =>
      pipeline<View>("c").key((e) => e.page).value(() => 1).aggregate(sum())
        .debounce({ key: { window: 1000 } }).storeIn(store).build(),
    /under-counts: remove the key debounce/,
  );
  const ok = pipeline<View>("m").key((e) => e.page).value((e) => e.at)
    .aggregate(max())
    .debounce({ value: { window: 1000 } }).storeIn(store).build();
  assert.deepEqual(
    ok.describe().stages.map((s) => s.kind).includes("debounce"),
    true,
  );
  assert.throws(
    () =>
      pipeline<View>("m").key((e) => e.page).value((e) => e.at).aggregate(max())
        .debounce({ key: { window: -1 } }).storeIn(store).build(),
    /positive number of ms/,
  );
});

Deno.test("pipeline().top() sets how many Top-K entries answers report", () => {
  const store = new MemoryStore();
  const sketches = topK({ k: 50 });
  const base = pipeline<View>("t").key((e) => e.country)
    .value((e) => sketches.identity().add(e.page)).aggregate(sketches)
    .storeIn(store);
  const all = base.build();
  assert.equal(all.top, null);
  assert.equal(all.describe().top, null);
  assert.equal(
    all.describe().stages.find((s) => s.id === "aggregate")?.label,
    "topk(k=50)",
  );
  const five = base.top(5).build();
  assert.equal(five.top, 5);
  assert.equal(five.describe().top, 5);
  assert.equal(
    five.describe().stages.find((s) => s.id === "aggregate")?.label,
    "topk(k=50), report top 5",
  );
  assert.equal(five.monoid, sketches);
  for (const n of [0, -2, 1.5, Number.NaN]) {
    assert.throws(
      () => base.top(n).build(),
      (e: unknown) =>
        e instanceof PipelineConfigError && /positive integer/.test(e.message),
    );
  }
  assert.throws(
    () =>
      pipeline<View>("s").key((e) => e.page).value(() => 1).aggregate(sum())
        .top(3).storeIn(store).build(),
    /only applies to Top-K sketches: remove \.top\(\)/,
  );
});

Deno.test("pipeline() catches a value that does not fit the monoid at compile time", () => {
  const store = new MemoryStore();
  const ok = pipeline<View>("typed").key((e) => e.page).value((e) => e.at)
    .aggregate(max()).storeIn(store).build();
  assert.equal(ok.monoid.kind, "max");
  assert.throws(() =>
    pipeline<View>("typed")
      .key((e) => e.page)
      .value((e) => e.page)
      // @ts-expect-error: string values do not fit sum()
      .aggregate(sum())
      .storeIn(store)
      .build()
      .extract.value({ page: "x", country: "y", at: 0 }, 0)
      .toFixed()
  );
});

Deno.test("pipeline.cache() wraps the store in a CachedStore at build()", async () => {
  const store = new MemoryStore();
  const cache = new MemoryCache();
  const errors: string[] = [];
  const p = pipeline<string>("wrapped").key((s) => s).value(() => 1)
    .aggregate(sum()).storeIn(store)
    .cache(cache, { onCacheError: (_, operation) => errors.push(operation) })
    .build();
  assert.ok(p.store instanceof CachedStore);
  assert.equal(p.store.store, store);
  assert.equal(p.store.cache, cache);
  assert.equal(p.cache, cache);
  assert.equal(p.describe().store, "memory");
  assert.equal(p.describe().cache, cache.name);
  const key = { entity: "a", bucket: null };
  await p.store.merge(p.scope, [{ key, value: 2 }]);
  assert.equal(await p.store.get(p.scope, key), 2);
  assert.equal(await cache.get(p.scope, key), 2);
  await cache.close();
  await p.store.merge(p.scope, [{ key, value: 1 }]);
  assert.ok(errors.length > 0);
});

Deno.test("pipeline.build() refuses a plain store as a cache and an unknown late-data policy", () => {
  const base = pipeline<string>("refused").key((s) => s).value(() => 1)
    .aggregate(sum()).storeIn(new MemoryStore());
  assert.throws(
    () => base.cache(new MemoryStore() as never).build(),
    /needs a Cache with leases/,
  );
  assert.throws(
    () => base.lateData("keep" as never).build(),
    /takes "drop" or "deadLetter"/,
  );
  assert.equal(base.build().lateData, "drop");
});
