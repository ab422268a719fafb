import assert from "node:assert/strict";
import { sum } from "../monoid/mod.ts";
import { storeConformance } from "../testing/store_conformance.ts";
import { MemoryStore } from "./memory.ts";
import { MarkConflictError } from "./store.ts";

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

Deno.test("MemoryStore keeps marks exact past the packed streams and past safe integers", async () => {
  const store = new MemoryStore();
  const scope = { namespace: "n", monoid: sum() };
  const key = { entity: "e", bucket: null };
  const big = 2n ** 63n - 5n;
  const mark = (stream: string, from: bigint, to: bigint) => ({
    stream,
    from,
    to,
  });
  // Twelve streams, one at a time: the entry outgrows its packed array.
  for (let s = 0; s < 12; s++) {
    const result = await store.merge(scope, [
      { key, value: 1, marks: [mark(`s${s}`, big, big + 1n)] },
    ]);
    assert.equal(result.applied, 1);
  }
  for (let s = 0; s < 12; s++) {
    const replay = await store.merge(scope, [
      { key, value: 1, marks: [mark(`s${s}`, big, big + 1n)] },
    ]);
    assert.deepEqual(replay.skipped, [0], `s${s} is remembered`);
    await assert.rejects(
      store.merge(scope, [
        { key, value: 1, marks: [mark(`s${s}`, big + 1n, big + 2n)] },
      ]),
      MarkConflictError,
    );
  }
  // A position just past Number.MAX_SAFE_INTEGER is not rounded onto its neighbour.
  const edge = BigInt(Number.MAX_SAFE_INTEGER);
  await store.merge(scope, [{ key, value: 1, marks: [mark("x", 0n, edge)] }]);
  const next = await store.merge(scope, [
    { key, value: 1, marks: [mark("x", edge + 1n, edge + 1n)] },
  ]);
  assert.equal(next.applied, 1);
  const again = await store.merge(scope, [
    { key, value: 1, marks: [mark("x", edge + 1n, edge + 1n)] },
  ]);
  assert.deepEqual(again.skipped, [0]);
  assert.equal(await store.get(scope, key), 14);
});
