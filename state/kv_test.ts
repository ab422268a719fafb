import assert from "node:assert/strict";
import { count, sum, sumBigInt } from "../monoid/mod.ts";
import { storeConformance } from "../testing/store_conformance.ts";
import {
  DeltaRejectedError,
  entityProblem,
  EntityRejectedError,
} from "./store.ts";
import { KvStore } from "./kv.ts";
import { keyBytes, MAX_KEY_BYTES } from "./_kv_keys.ts";

storeConformance("KvStore(:memory:)", () => KvStore.open(":memory:"));

const dir = await Deno.makeTempDir({ prefix: "murmur-kv-test-" });
globalThis.addEventListener(
  "unload",
  () => Deno.removeSync(dir, { recursive: true }),
);
let files = 0;
storeConformance("KvStore(file)", () => KvStore.open(`${dir}/${files++}.kv`));

Deno.test("KvStore keeps negative integer totals exact through KvU64 two's complement", async () => {
  const store = await KvStore.open(":memory:");
  const scope = { namespace: "n", monoid: sum() };
  const key = { entity: "e", bucket: null };
  await store.merge(scope, [{ key, value: 5 }, { key, value: -12 }]);
  assert.equal(await store.get(scope, key), -7);
  await store.merge(scope, [{ key, value: 0.5 }]);
  assert.equal(await store.get(scope, key), -6.5);
  const big = { namespace: "b", monoid: sumBigInt() };
  await store.merge(big, [{ key, value: -(2n ** 62n) }, {
    key,
    value: -(2n ** 62n),
  }]);
  assert.equal(await store.get(big, key), -(2n ** 63n));
  await store.close();
});

Deno.test("KvStore shares one database between stores with different prefixes", async () => {
  const kv = await Deno.openKv(":memory:");
  const a = new KvStore(kv, { prefix: ["a"] });
  const b = new KvStore(kv, { prefix: ["b"] });
  const scope = { namespace: "n", monoid: count() };
  const key = { entity: "e", bucket: null };
  await a.merge(scope, [{ key, value: 1 }]);
  assert.equal(await b.get(scope, key), undefined);
  await a.close();
  await b.close();
  assert.equal(
    (await kv.get(["a", "v", "n", "e", false, "n"])).value !== null,
    true,
    "a store does not close a database it did not open",
  );
  kv.close();
});

Deno.test("KvStore rejects keys and values beyond Deno KV's limits before writing", async () => {
  const store = await KvStore.open(":memory:");
  const scope = { namespace: "n", monoid: sum() };
  const fine = { key: { entity: "ok", bucket: null }, value: 1.5 };
  const long = { key: { entity: "x".repeat(3000), bucket: null }, value: 1.5 };
  await assert.rejects(
    store.merge(scope, [fine, long]),
    (e: unknown) => e instanceof DeltaRejectedError && e.index === 1,
  );
  assert.equal(await store.get(scope, fine.key), undefined);
  await store.close();
});

Deno.test("KvStore writes thousands of keys across several atomic commits", async () => {
  const store = await KvStore.open(":memory:");
  const scope = { namespace: "n", monoid: sum() };
  const deltas = Array.from({ length: 3000 }, (_, i) => ({
    key: { entity: `e${i}`, bucket: 0 },
    value: i % 2 === 0 ? i : i + 0.5,
    expiresAt: Date.now() + 60_000,
  }));
  assert.equal((await store.merge(scope, deltas)).applied, 3000);
  const values = await store.getMany(scope, deltas.map((d) => d.key));
  assert.deepEqual(values, deltas.map((d) => d.value));
  await store.close();
});

Deno.test("KvStore refuses an entity over its byte limit with a permanent error before any read", async () => {
  const store = await KvStore.open(":memory:");
  const scope = { namespace: "n", monoid: sum() };
  // 1 000 characters, within a 1 024-character limit, but 3 000 bytes in UTF-8.
  const key = { entity: "€".repeat(1000), bucket: null };
  assert.equal(entityProblem(store, key.entity)?.includes("3000 bytes"), true);
  await assert.rejects(
    store.get(scope, key),
    (e: unknown) =>
      e instanceof EntityRejectedError && /3000 bytes/.test(e.message),
  );
  await assert.rejects(store.getMany(scope, [key]), EntityRejectedError);
  await assert.rejects(
    store.merge(scope, [{ key, value: 1 }]),
    (e: unknown) => e instanceof DeltaRejectedError && e.index === 0,
  );
  await store.close();
});

Deno.test("KvStore holds every entity up to its declared limit, in reads, writes and claims", async () => {
  await using store = await KvStore.open(":memory:");
  const max = store.limits.maxEntityBytes;
  assert.ok(max > 1500 && max < 2048, String(max));
  const scope = { namespace: "n".repeat(128), monoid: sum() };
  for (const unit of ["x", "é", "€", "😀"]) {
    const entity = unit.repeat(
      Math.floor(max / new TextEncoder().encode(unit).length),
    );
    assert.equal(entityProblem(store, entity), undefined);
    const key = { entity, bucket: 1_700_000_000_000 };
    await store.merge(scope, [{
      key,
      value: 2,
      expiresAt: Date.now() + 60_000,
    }]);
    await store.merge(scope, [{ key, value: 3, claims: ["c".repeat(128)] }]);
    assert.equal(await store.get(scope, key), 5);
  }
  assert.notEqual(entityProblem(store, "x".repeat(max + 1)), undefined);
});

Deno.test("KvStore rejects a long namespace or claim id exactly, as a permanent error", async () => {
  await using store = await KvStore.open(":memory:");
  const entity = "x".repeat(store.limits.maxEntityBytes);
  const long = { namespace: "n".repeat(400), monoid: sum() };
  await assert.rejects(
    store.get(long, { entity, bucket: null }),
    (e: unknown) =>
      e instanceof EntityRejectedError && /namespace/.test(e.message),
  );
  const scope = { namespace: "n", monoid: sum() };
  await assert.rejects(
    store.merge(scope, [{
      key: { entity, bucket: null },
      value: 1,
      claims: ["c".repeat(600)],
    }]),
    (e: unknown) => e instanceof DeltaRejectedError && /claim/.test(e.message),
  );
});

Deno.test("keyBytes() matches what Deno KV accepts, byte for byte at the limit", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const shapes: ((n: number) => Deno.KvKey)[] = [
      (n) => ["p", "x".repeat(n)],
      (n) => ["p", "é".repeat(n >> 1)],
      (n) => ["p", "\u0000".repeat(n >> 1), 1_700_000_000_000],
      (n) => ["p", false, new Uint8Array(n).fill(n % 3), 12n],
    ];
    for (const shape of shapes) {
      for (let n = 2000; n < 2060; n++) {
        const key = shape(n);
        const fits = keyBytes(key) <= MAX_KEY_BYTES;
        const wrote = await kv.set(key, 1).then(() => true, () => false);
        assert.equal(
          wrote,
          fits,
          `shape ${shapes.indexOf(shape)} n=${n}: ${keyBytes(key)} bytes`,
        );
      }
    }
  } finally {
    kv.close();
  }
});
