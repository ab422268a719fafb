import assert from "node:assert/strict";
import { daily, hours } from "../monoid/mod.ts";
import { MemoryStore } from "../state/mod.ts";
import { TestDriver, VirtualClock } from "../testing/mod.ts";
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
