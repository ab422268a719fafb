import assert from "node:assert/strict";
import {
  AliasConflictError,
  AliasNotFoundError,
  type AliasRegistry,
  KvAliasRegistry,
  MemoryAliasRegistry,
  prepareShadow,
  swap,
  SwappableStore,
} from "./swap.ts";
import { MemoryStore } from "./memory.ts";
import { ForwardingStore } from "../testing/_forwarding_store.ts";
import type {
  Delta,
  MergeOptions,
  MergeResult,
  Scope,
  Store,
} from "./store.ts";
import { sum } from "../monoid/mod.ts";

const scope = { namespace: "orders", monoid: sum() };
const key = (bucket: number | null = null) => ({ entity: "c1", bucket });

async function registries(): Promise<[string, AliasRegistry, () => void][]> {
  const kv = await Deno.openKv(":memory:");
  return [
    ["memory", new MemoryAliasRegistry(), () => {}],
    ["deno-kv", new KvAliasRegistry(kv), () => kv.close()],
  ];
}

Deno.test("swap() is a compare-and-set: of two operators racing, one loses with AliasConflictError", async () => {
  for (const [name, registry, done] of await registries()) {
    const first = await swap(registry, "orders", "orders_v1");
    assert.equal(first.version, 1, name);
    const results = await Promise.allSettled([
      swap(registry, "orders", "orders_v2", { expectVersion: 1 }),
      swap(registry, "orders", "orders_v3", { expectVersion: 1 }),
    ]);
    const won = results.filter((r) => r.status === "fulfilled");
    const lost = results.filter((r) => r.status === "rejected");
    assert.equal(won.length, 1, name);
    assert.ok(lost[0]!.reason instanceof AliasConflictError, name);
    assert.match(lost[0]!.reason.message, /is at version 2, not 1/);
    assert.equal((await registry.read("orders"))?.version, 2, name);
    await assert.rejects(
      () => swap(registry, "orders", "orders_v4", { expectVersion: 1 }),
      AliasConflictError,
    );
    done();
  }
});

Deno.test("SwappableStore.open() refuses an alias that does not exist", async () => {
  await assert.rejects(
    () =>
      SwappableStore.open(
        new MemoryAliasRegistry(),
        "nope",
        () => new MemoryStore(),
      ),
    AliasNotFoundError,
  );
});

/** A store whose merges wait for a gate, to hold a write in flight. */
class Gated extends ForwardingStore {
  override readonly name = "gated";
  gate: PromiseWithResolvers<void> | null = null;
  started = 0;
  constructor() {
    super(new MemoryStore());
  }
  override async merge<V>(
    s: Scope<V>,
    d: readonly Delta<V>[],
    o?: MergeOptions,
  ): Promise<MergeResult> {
    this.started++;
    if (this.gate !== null) await this.gate.promise;
    return await this.inner.merge(s, d, o);
  }
}

Deno.test("SwappableStore drains the write in flight on the old table before writing the new one", async () => {
  const registry = new MemoryAliasRegistry();
  const v1 = new Gated();
  const v2 = new Gated();
  const tables: Record<string, Store> = { v1, v2 };
  await swap(registry, "orders", "v1");
  const swaps: string[] = [];
  const store = await SwappableStore.open(
    registry,
    "orders",
    (t) => tables[t]!,
    {
      closeTargets: false,
      onSwap: (from, to) => swaps.push(`${from.target}->${to.target}`),
    },
  );
  v1.gate = Promise.withResolvers();
  const inFlight = store.merge(scope, [{ key: key(), value: 5 }]);
  await swap(registry, "orders", "v2");
  const switched = store.refresh();
  await new Promise((r) => setTimeout(r, 0)); // the alias was read: the switch waits for the drain
  const after = store.merge(scope, [{ key: key(), value: 7 }]);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(
    v2.started,
    0,
    "the new table waits while the old write is in flight",
  );
  assert.equal(store.target, "v1");
  v1.gate.resolve();
  await Promise.all([inFlight, switched, after]);
  assert.equal(store.target, "v2");
  assert.deepEqual(swaps, ["v1->v2"]);
  assert.equal(await v1.inner.get(scope, key()), 5);
  assert.equal(await v2.inner.get(scope, key()), 7);
  assert.equal(await store.get(scope, key()), 7);
  await store.close();
});

/**
 * Points alias "orders" at the first of `names` (one MemoryStore each) and
 * opens a SwappableStore that follows it (targets stay open on a swap).
 */
async function followMemoryTables(
  registry: AliasRegistry,
  names: readonly string[],
  options: { pollInterval?: number } = {},
) {
  const tables: Record<string, MemoryStore> = Object.fromEntries(
    names.map((name) => [name, new MemoryStore()]),
  );
  await swap(registry, "orders", names[0]!);
  const store = await SwappableStore.open(
    registry,
    "orders",
    (t) => tables[t]!,
    { ...options, closeTargets: false },
  );
  return { tables, store };
}

Deno.test("SwappableStore copies buckets at or after the shadow's cut into the shadow", async () => {
  const registry = new MemoryAliasRegistry();
  const { tables, store } = await followMemoryTables(registry, ["v1", "v2"]);
  await assert.rejects(
    () => prepareShadow(registry, "orders", { target: "v2", from: 2000 }),
    /is not in the future/,
  );
  await prepareShadow(registry, "orders", { target: "v2", from: 2000 }, {
    allowPastCut: true,
  });
  await store.refresh();
  const keys = [key(1000), key(2000), key(3000), key(null)];
  await store.merge(scope, keys.map((k, i) => ({ key: k, value: i + 1 })));
  assert.deepEqual(await tables.v1!.getMany(scope, keys), [1, 2, 3, 4]);
  assert.deepEqual(
    await tables.v2!.getMany(scope, keys),
    [undefined, 2, 3, undefined],
  );
  await assert.rejects(
    () =>
      prepareShadow(registry, "orders", { target: "v1", from: 0 }, {
        allowPastCut: true,
      }),
    RangeError,
  );
  await store.close();
});

Deno.test("SwappableStore follows a Deno KV alias through kv.watch, without polling", async () => {
  const kv = await Deno.openKv(":memory:");
  const registry = new KvAliasRegistry(kv);
  const { store } = await followMemoryTables(registry, ["a", "b"], {
    pollInterval: 3_600_000,
  });
  await swap(registry, "orders", "b");
  const deadline = Date.now() + 5000;
  while (store.target !== "b" && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(store.target, "b");
  await store.close();
  kv.close();
});

Deno.test("SwappableStore closes a table it left only after the reads still on it finished", async () => {
  const registry = new MemoryAliasRegistry();
  const events: string[] = [];
  const table = (name: string): Store => {
    const inner = new MemoryStore();
    let gate: PromiseWithResolvers<void> | null = Promise.withResolvers();
    return {
      name,
      async get<V>(s: Scope<V>, k: { entity: string; bucket: number | null }) {
        if (gate !== null) {
          await gate.promise;
          events.push(`${name} read`);
        }
        return await inner.get(s, k);
      },
      getMany: (s, k) => inner.getMany(s, k),
      merge: (s, d, o) => inner.merge(s, d, o),
      close() {
        events.push(`${name} closed`);
        gate?.resolve();
        gate = null;
        return Promise.resolve();
      },
      release() {
        gate?.resolve();
      },
    } as Store & { release(): void };
  };
  const tables: Record<string, Store & { release?(): void }> = {
    v1: table("v1"),
    v2: table("v2"),
  };
  await swap(registry, "orders", "v1");
  const store = await SwappableStore.open(
    registry,
    "orders",
    (t) => tables[t]!,
  );
  const reading = store.get(scope, key());
  await swap(registry, "orders", "v2");
  await store.refresh();
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(events, [], "v1 stays open while a read is on it");
  tables.v1!.release!();
  await reading;
  await store.close();
  assert.deepEqual(events.slice(0, 2), ["v1 read", "v1 closed"]);
});
