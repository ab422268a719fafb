import assert from "node:assert/strict";
import { daily, hours } from "../monoid/mod.ts";
import { hll, HyperLogLog } from "../sketch/hll.ts";
import { seededRandom, Zipf } from "../source/mod.ts";
import { MemoryStore } from "../state/mod.ts";
import { TestDriver, VirtualClock } from "../testing/mod.ts";
import { pipeline } from "./pipeline.ts";
import {
  counter,
  latest,
  maximum,
  topN,
  trending,
  uniqueCount,
} from "./presets.ts";

interface View {
  page: string;
  visitor: string;
  at: number;
}

const T0 = Date.UTC(2025, 0, 1);

Deno.test("counter() counts events per key", async () => {
  const p = counter<View>("c").key((e) => e.page).window(daily()).storeIn(
    new MemoryStore(),
  ).build();
  const d = new TestDriver(p, { clock: new VirtualClock(T0) });
  await d.send({ page: "a", visitor: "x", at: 0 }, {
    page: "a",
    visitor: "y",
    at: 0,
  });
  assert.equal(await d.get("a"), 2);
});

Deno.test("uniqueCount() counts distinct elements with HLL", async () => {
  const p = uniqueCount<View>("u", (e) => e.visitor).key((e) => e.page).storeIn(
    new MemoryStore(),
  ).build();
  const d = new TestDriver(p);
  const events = Array.from(
    { length: 3000 },
    (_, i) => ({ page: "a", visitor: `v${i % 1000}`, at: 0 }),
  );
  await d.send(...events);
  const sketch = await d.get("a");
  const estimate = sketch!.count();
  assert.ok(Math.abs(estimate - 1000) < 50, `estimate ${estimate}`);
});

Deno.test("uniqueCount() folds a batch window into the sketch of every element", async () => {
  const p = uniqueCount<View>("u", (e) => e.visitor).key((e) => e.page)
    .storeIn(new MemoryStore()).build();
  const d = new TestDriver(p, { batchWindow: { time: 1000 } });
  const random = seededRandom(3);
  const events = Array.from({ length: 5000 }, (_, i) => ({
    page: i % 4 === 0 ? "home" : `p${i % 50}`,
    visitor: `v${Math.floor(random() * 2000)}`,
    at: 0,
  }));
  for (let i = 0; i < events.length; i += 500) {
    await d.send(...events.slice(i, i + 500));
  }
  await d.flush();
  for (const page of ["home", "p1", "p3"]) {
    const expected = new HyperLogLog();
    expected.addAll(
      events.filter((e) => e.page === page).map((e) => e.visitor),
    );
    const got = (await d.get(page))!;
    assert.ok(got.equals(expected), page);
    assert.equal(got.count(), expected.count());
  }
  assert.equal(d.deadLetters.length, 0);
});

Deno.test("uniqueCount() dead-letters an element that is not a string", async () => {
  const p = uniqueCount<View>("u", (e) => e.visitor).key((e) => e.page)
    .storeIn(new MemoryStore()).build();
  const d = new TestDriver(p);
  await d.send({ page: "a", visitor: 7 as unknown as string, at: 0 }, {
    page: "a",
    visitor: "x",
    at: 0,
  });
  assert.equal(d.deadLetters.length, 1);
  assert.equal(d.deadLetters[0]!.error.stage, "value");
  assert.equal((await d.get("a"))!.count(), 1);
});

Deno.test("a value that is not an instance of the sketch's class is dead-lettered at the fold", async () => {
  const p = pipeline<View>("bad").key((e) => e.page)
    .value((e) =>
      e.visitor === "bad"
        ? ("not a sketch" as unknown as HyperLogLog)
        : HyperLogLog.of(e.visitor)
    )
    .aggregate(hll()).storeIn(new MemoryStore()).build();
  const d = new TestDriver(p);
  await d.send({ page: "a", visitor: "bad", at: 0 }, {
    page: "a",
    visitor: "ok",
    at: 0,
  });
  assert.equal(d.deadLetters.length, 1);
  assert.equal(d.deadLetters[0]!.error.stage, "fold");
  assert.match(String(d.deadLetters[0]!.error.cause), /HyperLogLog/);
  assert.equal((await d.get("a"))!.count(), 1);
});

Deno.test("topN() tracks max(10 · n, 100) items unless k is given", () => {
  const name = (options: { n?: number; k?: number }) =>
    topN<View>("t", { ...options, item: (e) => e.page }).key((e) => e.page)
      .storeIn(new MemoryStore()).build().monoid.name;
  assert.equal(name({}), "topk(k=100)");
  assert.equal(name({ n: 5 }), "topk(k=100)");
  assert.equal(name({ n: 20 }), "topk(k=200)");
  assert.equal(name({ n: 20, k: 30 }), "topk(k=30)");
  for (const n of [0, -1, 1.5]) {
    assert.throws(() => name({ n }), RangeError);
  }
  assert.throws(() => name({ k: 0 }), RangeError);
});

Deno.test("topN() answers report n items (at most k) while the sketch tracks k", () => {
  const top = (options: { n?: number; k?: number }) =>
    topN<View>("t", { ...options, item: (e) => e.page }).key((e) => e.page)
      .storeIn(new MemoryStore()).build().top;
  assert.equal(top({}), 10);
  assert.equal(top({ n: 3 }), 3);
  assert.equal(top({ n: 20, k: 30 }), 20);
  assert.equal(top({ k: 3 }), 3);
  assert.equal(top({ n: 50, k: 30 }), 30);
});

Deno.test("topN() finds the true top n of a long Zipf stream", async () => {
  const p = topN<View>("t", { n: 10, item: (e) => e.page }).key(() => "all")
    .storeIn(new MemoryStore()).build();
  const d = new TestDriver(p, { batchWindow: { time: 1000 } });
  const zipf = new Zipf(5000, 1.1, seededRandom(11));
  const truth = new Map<string, number>();
  const events: View[] = [];
  for (let i = 0; i < 30_000; i++) {
    const page = `p${zipf.next()}`;
    truth.set(page, (truth.get(page) ?? 0) + 1);
    events.push({ page, visitor: "", at: 0 });
  }
  for (let i = 0; i < events.length; i += 1000) {
    await d.send(...events.slice(i, i + 1000));
  }
  await d.flush();
  const sketch = (await d.get("all"))!;
  const top = sketch.top(10);
  assert.equal(top.length, 10);
  const expected = [...truth].sort((a, b) => b[1] - a[1]).slice(0, 10)
    .map(([page]) => page);
  assert.deepEqual(new Set(top.map((item) => item.key)), new Set(expected));
  for (const item of top) {
    const exact = truth.get(item.key)!;
    assert.ok(item.count - item.error <= exact && exact <= item.count);
    assert.ok(item.error <= sketch.total / sketch.k);
  }
});

Deno.test("topN() keeps the heaviest items", async () => {
  const p = topN<View>("t", { k: 3, item: (e) => e.page }).key(() => "all")
    .storeIn(new MemoryStore()).build();
  const d = new TestDriver(p);
  for (
    const [page, n] of [["a", 50], ["b", 30], ["c", 20], ["d", 1]] as const
  ) {
    await d.send(
      ...Array.from({ length: n }, () => ({ page, visitor: "", at: 0 })),
    );
  }
  const top = (await d.get("all"))!.top(2).map((i) => i.key);
  assert.deepEqual(top, ["a", "b"]);
});

Deno.test("trending() decays by EVENT time, so a replay scores like live traffic", async () => {
  const p = trending<View>("hot", { halfLife: hours(1) }).key((e) => e.page)
    .time((e) => e.at).storeIn(new MemoryStore()).build();
  const d = new TestDriver(p, { clock: new VirtualClock(T0 + hours(100)) });
  // Processed long after they happened: processing time must not matter.
  await d.send({ page: "a", visitor: "", at: T0 }, {
    page: "a",
    visitor: "",
    at: T0 + hours(2),
  });
  const score = await d.get("a");
  assert.deepEqual(score, { value: 1.25, time: T0 + hours(2) });
});

Deno.test("latest() keeps the value with the latest event time", async () => {
  const p = latest<View>("l", (e) => e.page).key((e) => e.visitor).time((e) =>
    e.at
  ).storeIn(new MemoryStore()).build();
  const d = new TestDriver(p);
  await d.send({ page: "second", visitor: "v", at: 2 }, {
    page: "first",
    visitor: "v",
    at: 1,
  });
  assert.deepEqual(await d.get("v"), { value: "second", time: 2 });
});

Deno.test("maximum() keeps the largest number", async () => {
  const p = maximum<{ item: string; bid: number }>("m", (e) => e.bid).key((e) =>
    e.item
  ).storeIn(new MemoryStore()).build();
  const d = new TestDriver(p);
  await d.send({ item: "x", bid: 3 }, { item: "x", bid: 10 }, {
    item: "x",
    bid: 7,
  });
  assert.equal(await d.get("x"), 10);
});
