import assert from "node:assert/strict";
import { hourly, sum } from "../monoid/mod.ts";
import { hll, topK } from "../sketch/mod.ts";
import { MemoryStore } from "../state/mod.ts";
import { createQuerier } from "../query/mod.ts";
import { createLocalQueryClient, createQueryClient } from "../query/client.ts";
import { createHandler } from "../admin/mod.ts";

const HOUR = 3_600_000;

async function fixture() {
  const store = new MemoryStore();
  const views = { name: "views", monoid: sum(), window: hourly(), store };
  const visitors = { name: "visitors", monoid: hll(), window: null, store };
  const products = {
    name: "products",
    monoid: topK({ k: 3 }),
    window: null,
    store,
  };
  await store.merge({ namespace: "views", monoid: sum() }, [
    { key: { entity: "p", bucket: 0 }, value: 1 },
    { key: { entity: "p", bucket: 22 * HOUR }, value: 2 },
    { key: { entity: "p", bucket: 23 * HOUR }, value: 3 },
    { key: { entity: "q", bucket: 23 * HOUR }, value: 10 },
  ]);
  const sketch = hll().identity();
  for (let i = 0; i < 500; i++) sketch.add(`u${i}`);
  await store.merge({ namespace: "visitors", monoid: hll() }, [
    { key: { entity: "home", bucket: null }, value: sketch },
  ]);
  const top = topK({ k: 3 }).identity().add("a", 5).add("b", 9);
  await store.merge({ namespace: "products", monoid: topK({ k: 3 }) }, [
    { key: { entity: "all", bucket: null }, value: top },
  ]);
  return createQuerier([views, visitors, products]);
}

Deno.test("client.trailing() reads a duration over the wire; the querier's getTrailing agrees", async () => {
  const querier = await fixture();
  await using handler = createHandler({ querier });
  const client = createQueryClient({
    baseUrl: "http://localhost",
    fetch: (input, init) => handler(new Request(input, init)),
  });
  const at = 23 * HOUR + 10;
  const views = client.number("views");
  assert.equal(await views.trailing("p", "2h", { at }), 5);
  assert.equal(await views.trailing("p", 30 * HOUR, { at }), 6);
  assert.deepEqual(await views.trailingMany(["q", "p"], "1h", { at }), [
    10,
    5,
  ]);
  const reading = await views.read({ entity: "p", trailing: "2h", at });
  assert.deepEqual(reading.coverage.buckets, [
    21 * HOUR,
    22 * HOUR,
    23 * HOUR,
  ]);
  const local = await querier.getTrailing("views", "p", "2h", { at });
  assert.equal(local.value, 5);
  await assert.rejects(views.trailing("p", "7 fortnights"), /duration/);
});

Deno.test("createLocalQueryClient gives in process the typed values the network client gives", async () => {
  const querier = await fixture();
  const local = createLocalQueryClient(querier);
  await using handler = createHandler({ querier });
  const remote = createQueryClient({
    baseUrl: "http://localhost",
    fetch: (input, init) => handler(new Request(input, init)),
  });
  for (const client of [local, remote]) {
    const cardinality = await client.cardinality("visitors").get("home");
    assert.ok(cardinality.lower <= 500 && 500 <= cardinality.upper);
    assert.deepEqual(await client.topK("products").get("all"), [
      { key: "b", count: 9 },
      { key: "a", count: 5 },
    ]);
  }
  assert.deepEqual(
    await local.cardinality("visitors").get("home"),
    await remote.cardinality("visitors").get("home"),
  );
});
