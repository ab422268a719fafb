import assert from "node:assert/strict";
import { count, daily, days, sum } from "../monoid/mod.ts";
import { pipeline } from "../pipeline/mod.ts";
import { MemorySource, type SourceRecord } from "../source/mod.ts";
import {
  type Delta,
  DeltaRejectedError,
  MemoryStore,
  type MergeOptions,
  type MergeResult,
  type Scope,
  type Store,
  StoreUnavailableError,
} from "../state/mod.ts";
import {
  InMemoryMetrics,
  type RecordError,
  run,
  Runner,
  StoreFailureError,
} from "./mod.ts";
import { progressScope } from "./_processor.ts";

/** A store that counts its merge calls and the deltas in each. */
class CountingStore extends MemoryStore {
  calls = 0;
  deltas = 0;
  override merge<V>(
    scope: Scope<V>,
    deltas: readonly Delta<V>[],
    options?: MergeOptions,
  ): Promise<MergeResult> {
    if (!scope.namespace.startsWith("__murmur")) {
      this.calls++;
      this.deltas += deltas.length;
    }
    return super.merge(scope, deltas, options);
  }
}

/** Records of stream `s` at positions [from, to), valued by position. */
function streamRecords(
  from: number,
  to: number,
  generation?: number,
): SourceRecord<number>[] {
  return Array.from({ length: to - from }, (_, i) => ({
    value: from + i,
    id: `r${from + i}`,
    time: 0,
    stream: "s",
    position: BigInt(from + i),
    ack: () => {},
    ...(generation === undefined ? {} : { generation }),
  }));
}

Deno.test("run() dead-letters a key longer than the store can hold before any store call", async () => {
  const store = new CountingStore({ maxEntityBytes: 32 });
  const long = "x".repeat(33);
  const p = pipeline<string>("limits").key((s) => s).value(() => 1)
    .aggregate(count()).storeIn(store).build();
  const dead: RecordError[] = [];
  const summary = await run(p, {
    source: MemorySource.of(["a", long, "é".repeat(17), "a"]),
    deadLetter: (_, error) => void dead.push(error),
  });
  assert.equal(summary.acked, 4);
  assert.equal(summary.deadLetters, 2);
  assert.deepEqual(dead.map((e) => e.stage), ["key", "key"]);
  assert.match(dead[0]!.message, /33 bytes/);
  assert.equal(await store.get(p.scope, { entity: "a", bucket: null }), 2);
  // Only the good key reached the store.
  assert.equal(store.deltas, 1);
});

Deno.test("run() dead-letters the records of a delta a store refuses for good, then goes on", async () => {
  const inner = new MemoryStore();
  const store: Store = {
    name: "picky",
    get: (scope, key) => inner.get(scope, key),
    getMany: (scope, keys) => inner.getMany(scope, keys),
    merge: (scope, deltas, options) => {
      const bad = deltas.findIndex((d) => d.key.entity === "poison");
      if (bad >= 0) {
        return Promise.reject(
          new DeltaRejectedError(
            scope.namespace,
            bad,
            deltas[bad]!.key,
            "key too large",
          ),
        );
      }
      return inner.merge(scope, deltas, options);
    },
    close: () => inner.close(),
  };
  const p = pipeline<string>("reject").key((s) => s).value(() => 1)
    .aggregate(count()).storeIn(store).build();
  const dead: string[] = [];
  for (const dedup of [false, true]) {
    dead.length = 0;
    const summary = await run(p, {
      source: MemorySource.of(["a", "poison", "b", "poison"], {
        batchSize: 4,
      }),
      dedup,
      maxAttempts: 50,
      deadLetter: (record, error) => {
        assert.equal(error.stage, "store");
        dead.push(record.id);
      },
    });
    assert.equal(summary.acked, 4);
    assert.equal(dead.length, 2);
  }
  assert.equal(await inner.get(p.scope, { entity: "a", bucket: null }), 2);
});

Deno.test("run() hands the dead letters of a batch to the handler all at once", async () => {
  let inFlight = 0;
  let most = 0;
  const p = pipeline<number>("dlq_batch").key(() => "k").value((n) => {
    if (n % 2 === 0) throw new Error("poison");
    return 1;
  }).aggregate(sum()).storeIn(new MemoryStore()).build();
  const summary = await run(p, {
    source: MemorySource.of(Array.from({ length: 200 }, (_, i) => i), {
      batchSize: 100,
    }),
    deadLetter: async () => {
      most = Math.max(most, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 5));
      inFlight--;
    },
  });
  assert.equal(summary.deadLetters, 100);
  assert.equal(most, 50);
});

Deno.test("run() logs dead letters without a handler, at most once per interval", async () => {
  const warned: string[] = [];
  const original = console.warn;
  console.warn = (message: string) => void warned.push(message);
  try {
    const p = pipeline<number>("dlq_log").key(() => "").value(() => 1)
      .aggregate(sum()).storeIn(new MemoryStore()).build();
    const summary = await run(p, {
      source: MemorySource.of([1, 2, 3], { batchSize: 1 }),
    });
    assert.equal(summary.deadLetters, 3);
    assert.equal(warned.length, 1);
    assert.match(warned[0]!, /dlq_log.*no deadLetter handler/);
    await run(p, {
      source: MemorySource.of([1]),
      logDeadLetters: false,
    });
    assert.equal(warned.length, 1);
  } finally {
    console.warn = original;
  }
});

Deno.test("run() drops or dead-letters late events and never writes an expired item", async () => {
  const DAY = 86_400_000;
  const now = Date.UTC(2025, 5, 30, 12);
  const events = [
    { page: "a", at: now - 1000 }, // today
    { page: "a", at: now - 3 * DAY }, // kept 7 days
    { page: "a", at: now - 30 * DAY }, // past retention
  ];
  for (const policy of ["drop", "deadLetter"] as const) {
    const store = new CountingStore();
    const p = pipeline<{ page: string; at: number }>(`late_${policy}`)
      .key((e) => e.page).value(() => 1).time((e) => e.at).aggregate(sum())
      .window(daily({ retention: days(7) })).lateData(policy).storeIn(store)
      .build();
    const dead: RecordError[] = [];
    const summary = await run(p, {
      source: MemorySource.of(events),
      now: () => now,
      deadLetter: (_, error) => void dead.push(error),
    });
    assert.equal(summary.acked, 3);
    assert.equal(store.deltas, 2);
    if (policy === "drop") {
      assert.equal(summary.late, 1);
      assert.equal(dead.length, 0);
    } else {
      assert.equal(summary.late, 0);
      assert.equal(dead.length, 1);
      assert.equal(dead[0]!.stage, "late");
    }
  }
});

Deno.test("run() recovers an interrupted flush with a few store calls, not one per record", async () => {
  const inner = new CountingStore();
  const p = pipeline<number>("recover").key((n) => `k${n % 10}`).value(() => 1)
    .aggregate(sum()).storeIn(inner).build();
  const records = (n: number) => streamRecords(0, n);
  // A first worker wrote its intent and then half of the keys, and died.
  const first = new Runner(p, { dedup: true, batchWindow: { time: 60_000 } });
  await first.push(records(5000).filter((r) => Number(r.value) % 10 < 5));
  await first.flush();
  const before = inner.calls;
  // It also recorded an intent covering everything: the survivor reads it.
  await inner.merge(progressScope("recover"), [
    { key: { entity: "s", bucket: null }, value: 4999n },
  ]);
  const second = new Runner(p, { dedup: true, batchWindow: { time: 60_000 } });
  await second.push(records(5000));
  await second.flush();
  // 5 000 records at or below the horizon, 10 keys: one round, not 500.
  assert.ok(inner.calls - before <= 3, `${inner.calls - before} calls`);
  assert.ok(second.summary().dedupSkips >= 2500);
  for (let k = 0; k < 10; k++) {
    assert.equal(
      await inner.get(p.scope, { entity: `k${k}`, bucket: null }),
      500,
    );
  }
});

Deno.test("run() splits a partly applied key during recovery and stays exact", async () => {
  const inner = new CountingStore();
  const p = pipeline<number>("recover_split").key(() => "k").value(() => 1)
    .aggregate(sum()).storeIn(inner).build();
  const records = streamRecords(0, 1000);
  // A dead worker applied positions 0..599 of key k.
  const first = new Runner(p, { dedup: true, batchWindow: { time: 60_000 } });
  await first.push(records.slice(0, 600));
  await first.flush();
  await inner.merge(progressScope("recover_split"), [
    { key: { entity: "s", bucket: null }, value: 999n },
  ]);
  const before = inner.calls;
  const second = new Runner(p, { dedup: true, batchWindow: { time: 60_000 } });
  await second.push(records);
  await second.flush();
  assert.equal(await inner.get(p.scope, { entity: "k", bucket: null }), 1000);
  // log2(1000) levels of halving at most, never one call per record.
  assert.ok(inner.calls - before <= 25, `${inner.calls - before} calls`);
});

Deno.test("run() lets timers fire under a source that never waits", async () => {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  try {
    const n = 300_000;
    const source = {
      name: "eager",
      async *[Symbol.asyncIterator]() {
        for (let i = 0; i < n; i += 1000) {
          yield Array.from({ length: 1000 }, (_, j) => ({
            value: i + j,
            id: String(i + j),
            time: 0,
            ack: () => {},
          }));
        }
      },
      close: () => Promise.resolve(),
    };
    const metrics = new InMemoryMetrics();
    const p = pipeline<number>("eager").key((i) => `k${i % 100}`).value(() => 1)
      .aggregate(sum()).storeIn(new MemoryStore()).build();
    const started = performance.now();
    await run(p, { source, metrics, batchWindow: { time: 5 } });
    const took = performance.now() - started;
    // The run took long enough for timers to be due: they must have fired.
    if (took > 50) assert.ok(ticks > 0, `no tick in ${took} ms`);
  } finally {
    clearInterval(timer);
  }
});

Deno.test("run() writes when the buffer's bytes or distinct keys reach their bound", async () => {
  const store = new CountingStore();
  const p = pipeline<number>("bounds").key((i) => `k${i}`).value(() => 1)
    .aggregate(sum()).storeIn(store).build();
  await run(p, {
    source: MemorySource.of(Array.from({ length: 1000 }, (_, i) => i), {
      batchSize: 10,
    }),
    batchWindow: { time: 60_000, maxRecords: 1_000_000, maxKeys: 100 },
  });
  assert.ok(store.calls >= 10, `${store.calls} calls`);
  const byBytes = new CountingStore();
  const q = pipeline<number>("bounds_bytes").key((i) => `k${i % 5}`)
    .value(() => 1).aggregate(sum()).storeIn(byBytes).build();
  await run(q, {
    source: MemorySource.of(Array.from({ length: 1000 }, (_, i) => i), {
      batchSize: 10,
    }),
    batchWindow: { time: 60_000, maxRecords: 1_000_000, maxBytes: 20_000 },
  });
  assert.ok(byBytes.calls >= 5, `${byBytes.calls} calls`);
  assert.equal(await byBytes.get(q.scope, { entity: "k0", bucket: null }), 200);
});

Deno.test("run() goes on exactly when another writer applied part of a folded flush", async () => {
  const store = new MemoryStore();
  const p = pipeline<number>("zombie").key(() => "k").value(() => 1)
    .aggregate(sum()).storeIn(store).build();
  const survivor = new Runner(p, {
    dedup: true,
    batchWindow: { time: 60_000 },
  });
  await survivor.push(streamRecords(0, 100));
  // A peer that gave the stream up late still wrote its first half.
  await store.merge(p.scope, [{
    key: { entity: "k", bucket: null },
    value: 50,
    marks: [{ stream: "s", from: 0n, to: 49n }],
  }]);
  await survivor.flush();
  assert.equal(await store.get(p.scope, { entity: "k", bucket: null }), 100);
  await survivor.push(streamRecords(100, 110));
  await survivor.flush();
  assert.equal(await store.get(p.scope, { entity: "k", bucket: null }), 110);
});

Deno.test("run() reloads a stream's horizon when the source's generation changes", async () => {
  const inner = new MemoryStore();
  let conflicts = 0;
  const store: Store = {
    name: "watch",
    get: (scope, key) => inner.get(scope, key),
    getMany: (scope, keys) => inner.getMany(scope, keys),
    merge: (scope, deltas, options) =>
      inner.merge(scope, deltas, options).catch((error) => {
        conflicts++;
        throw error;
      }),
    close: () => inner.close(),
  };
  const p = pipeline<number>("regain").key(() => "k").value(() => 1)
    .aggregate(sum()).storeIn(store).build();
  const worker = new Runner(p, { dedup: true, batchWindow: { time: 60_000 } });
  await worker.push(streamRecords(0, 10, 1));
  await worker.flush();
  // The stream moved to a peer, which applied 10..19, then came back.
  const peer = new Runner(p, { dedup: true, batchWindow: { time: 60_000 } });
  await peer.push(streamRecords(10, 20, 1));
  await peer.flush();
  await worker.push(streamRecords(10, 30, 2));
  await worker.flush();
  assert.equal(await inner.get(p.scope, { entity: "k", bucket: null }), 30);
  assert.equal(conflicts, 0);
});

Deno.test("run() does not retry on top of a store that retried on its own", async () => {
  let calls = 0;
  const inner = new MemoryStore();
  const store: Store = {
    name: "self-retrying",
    get: (scope, key) => inner.get(scope, key),
    getMany: (scope, keys) => inner.getMany(scope, keys),
    merge: () => {
      calls++;
      return Promise.reject(
        new StoreUnavailableError("self-retrying", 8, "is it running?"),
      );
    },
    close: () => inner.close(),
  };
  const p = pipeline<number>("stacked").key(() => "k").value(() => 1)
    .aggregate(sum()).storeIn(store).build();
  await assert.rejects(
    run(p, {
      source: MemorySource.of([1, 2]),
      maxAttempts: 5,
      retryBackoff: { base: 1, max: 1 },
    }),
    (error: unknown) =>
      error instanceof StoreFailureError && error.attempts === 8,
  );
  assert.equal(calls, 1);
});

Deno.test("run() recovers many keys found partly applied in a few calls", async () => {
  const inner = new CountingStore();
  const keys = 500;
  const p = pipeline<number>("recover_many").key((n) => `k${n % keys}`)
    .value(() => 1).aggregate(sum()).storeIn(inner).build();
  const records = streamRecords(0, keys * 20);
  // A dead worker applied the first half of every key's records.
  const first = new Runner(p, { dedup: true, batchWindow: { time: 60_000 } });
  await first.push(records.slice(0, keys * 10));
  await first.flush();
  await inner.merge(progressScope("recover_many"), [
    { key: { entity: "s", bucket: null }, value: BigInt(keys * 20 - 1) },
  ]);
  const before = inner.calls;
  const second = new Runner(p, { dedup: true, batchWindow: { time: 60_000 } });
  await second.push(records);
  await second.flush();
  assert.ok(inner.calls - before <= 10, `${inner.calls - before} calls`);
  for (const k of [0, 17, keys - 1]) {
    assert.equal(
      await inner.get(p.scope, { entity: `k${k}`, bucket: null }),
      20,
    );
  }
});
