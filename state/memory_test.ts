import assert from "node:assert/strict";
import { sum } from "../monoid/mod.ts";
import { storeConformance } from "../testing/store_conformance.ts";
import { MemoryStore } from "./memory.ts";

storeConformance("MemoryStore", () => Promise.resolve(new MemoryStore()));

Deno.test("MemoryStore reads expiry from its injected clock", async () => {
  let now = 1_000;
  const store = new MemoryStore({ now: () => now });
  const scope = { namespace: "n", monoid: sum() };
  const key = { entity: "e", bucket: 0 };
  await store.merge(scope, [{ key, value: 1, expiresAt: 2_000 }]);
  assert.equal(await store.get(scope, key), 1);
  assert.equal(store.size("n"), 1);
  now = 2_000;
  assert.equal(await store.get(scope, key), undefined);
  assert.equal(store.size("n"), 0);
  await store.merge(scope, [{ key, value: 5, expiresAt: 3_000 }]);
  assert.equal(
    await store.get(scope, key),
    5,
    "an expired entry starts afresh",
  );
});

Deno.test("MemoryStore.keys() lists live keys with their buckets", async () => {
  const store = new MemoryStore();
  const scope = { namespace: "n", monoid: sum() };
  await store.merge(scope, [
    { key: { entity: "a", bucket: null }, value: 1 },
    { key: { entity: "a", bucket: 0 }, value: 1 },
    { key: { entity: "b:c", bucket: -60_000 }, value: 1 },
  ]);
  assert.deepEqual(store.keys("n"), [
    { entity: "a", bucket: null },
    { entity: "a", bucket: 0 },
    { entity: "b:c", bucket: -60_000 },
  ]);
  assert.deepEqual(store.keys("other"), []);
});

Deno.test("MemoryStore refuses calls after close()", async () => {
  const store = new MemoryStore();
  await store.close();
  await assert.rejects(
    store.merge({ namespace: "n", monoid: sum() }, []),
    /closed/,
  );
});

Deno.test("MemoryStore.merge() honours an aborted signal", async () => {
  const store = new MemoryStore();
  await assert.rejects(
    store.merge({ namespace: "n", monoid: sum() }, [], {
      signal: AbortSignal.abort(),
    }),
  );
});
