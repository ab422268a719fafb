import assert from "node:assert/strict";
import { count, hourly, hours, max } from "../monoid/mod.ts";
import { pipeline } from "../pipeline/mod.ts";
import { MemoryStore } from "../state/mod.ts";
import { FaultyStore } from "./faulty_store.ts";
import { TestDriver, VirtualClock } from "./driver.ts";

const T0 = Date.UTC(2025, 0, 1, 9);

Deno.test("TestDriver writes at once without a batch window", async () => {
  const p = pipeline<string>("d1").key((s) => s).value(() => 1).aggregate(
    count(),
  ).storeIn(new MemoryStore()).build();
  const driver = new TestDriver(p);
  await driver.send("a", "b", "a");
  assert.equal(await driver.get("a"), 2);
  assert.equal(driver.acked, 3);
  assert.equal(driver.buffered, 0);
});

Deno.test("TestDriver.advance() writes the batch window when its time elapses", async () => {
  const clock = new VirtualClock(T0);
  const p = pipeline<string>("d2").key((s) => s).value(() => 1).aggregate(
    count(),
  ).window(hourly({ retention: hours(2) }))
    .storeIn(new MemoryStore({ now: clock.now })).build();
  const driver = new TestDriver(p, { clock, batchWindow: { time: 500 } });
  await driver.send("a");
  await driver.advance(499);
  assert.equal(await driver.get("a"), undefined);
  assert.equal(driver.buffered, 1);
  await driver.advance(1);
  assert.equal(await driver.get("a"), 1);
  assert.equal(driver.acked, 1);
  // Expiry follows the virtual clock: bucket end (10:00) + 2 h retention.
  clock.advance(hours(2) + 3_600_000);
  assert.equal(await driver.get("a", T0), undefined);
});

Deno.test("TestDriver.sendAt() buckets by the given event time", async () => {
  const p = pipeline<string>("d3").key((s) => s).value(() => 1).aggregate(
    count(),
  ).window(hourly()).storeIn(new MemoryStore()).build();
  const driver = new TestDriver(p, { clock: new VirtualClock(T0) });
  await driver.sendAt(T0 - 3_600_000, "a");
  await driver.send("a");
  assert.equal(await driver.get("a"), 1);
  assert.equal(await driver.get("a", T0 - 1), 1);
  assert.deepEqual(driver.keyOf("a"), { entity: "a", bucket: T0 });
});

Deno.test("TestDriver collects dead letters with their reasons", async () => {
  const p = pipeline<{ v?: number }>("d4").key(() => "k").value((e) =>
    e.v as number
  ).aggregate(max()).storeIn(new MemoryStore()).build();
  const driver = new TestDriver(p);
  await driver.send({ v: 3 }, { v: "x" as unknown as number });
  await driver.sendUndecodable("{oops");
  assert.deepEqual(driver.deadLetters.map((d) => d.error.stage), [
    "fold",
    "decode",
  ]);
  assert.equal(await driver.get("k"), 3);
  assert.equal(driver.acked, 3);
});

Deno.test("TestDriver debounces on the virtual clock", async () => {
  const p = pipeline<number>("d5").key(() => "k").value((n) => n).aggregate(
    max(),
  ).storeIn(new MemoryStore()).build();
  const driver = new TestDriver(p, { keyDebounce: { window: 1000 } });
  await driver.send(1);
  await driver.send(9);
  driver.clock.advance(1000);
  await driver.send(5);
  assert.equal(await driver.get("k"), 5);
  assert.equal(driver.summary().debounced, 1);
});

Deno.test("TestDriver with dedup replays a failed write exactly", async () => {
  const store = new FaultyStore(new MemoryStore());
  const p = pipeline<string>("d6").key((s) => s).value(() => 1).aggregate(
    count(),
  ).storeIn(store).build();
  const driver = new TestDriver(p, { dedup: true });
  store.failNext(1, "after-write", "d6");
  await driver.send("a", "a", "b");
  assert.equal(await driver.get("a"), 2);
  assert.equal(driver.summary().dedupSkips, 2);
});

Deno.test("VirtualClock refuses to go backwards", () => {
  assert.throws(() => new VirtualClock().advance(-1), RangeError);
});
