import assert from "node:assert/strict";
import {
  count,
  daily,
  days,
  defineMonoid,
  hourly,
  max,
  type Monoid,
  sum,
} from "../monoid/mod.ts";
import { pipeline, PipelineConfigError } from "../pipeline/mod.ts";
import { MemorySource, type SourceRecord } from "../source/mod.ts";
import {
  CachedStore,
  MemoryCache,
  MemoryStore,
  type StateKey,
  type Store,
} from "../state/mod.ts";
import { FaultyStore } from "../testing/faulty_store.ts";
import {
  DeadLetterFailedError,
  InMemoryMetrics,
  type RecordError,
  run,
  StoreFailureError,
} from "./mod.ts";

interface View {
  page: string;
  country: string;
  at: number;
}

const DAY = 86_400_000;
const T0 = Date.UTC(2025, 0, 1);

/** A deterministic workload and its hand-computed totals per (entity, day bucket). */
function workload(
  n: number,
  seed = 7,
): { events: View[]; totals: Map<string, number> } {
  let x = seed;
  const rand = () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x / 2 ** 32;
  };
  const events: View[] = [];
  const totals = new Map<string, number>();
  const add = (entity: string, bucket: number) => {
    const k = `${entity}@${bucket}`;
    totals.set(k, (totals.get(k) ?? 0) + 1);
  };
  for (let i = 0; i < n; i++) {
    const page = `p${Math.floor(rand() * rand() * 40)}`;
    const country = ["de", "fr", "us"][Math.floor(rand() * 3)]!;
    const at = T0 + Math.floor(rand() * 3 * DAY);
    events.push({ page, country, at });
    const bucket = Math.floor(at / DAY) * DAY;
    add(`page:${page}`, bucket);
    add(`country:${country}`, bucket);
    add("global", bucket);
  }
  return { events, totals };
}

function viewsPipeline(store: Store, name = "views") {
  return pipeline<View>(name)
    .keyMany((e) => [`page:${e.page}`, `country:${e.country}`, "global"])
    .value(() => 1)
    .time((e) => e.at)
    .aggregate(sum())
    .window(daily({ retention: days(3650) }))
    .storeIn(store)
    .build();
}

async function readTotals(
  store: Store,
  p: ReturnType<typeof viewsPipeline>,
  expected: Map<string, number>,
) {
  const keys: StateKey[] = [...expected.keys()].map((k) => {
    const [entity, bucket] = k.split("@");
    return { entity: entity!, bucket: Number(bucket) };
  });
  const values = await store.getMany(p.scope, keys);
  return new Map(
    keys.map((k, i) => [`${k.entity}@${k.bucket}`, values[i] ?? 0]),
  );
}

Deno.test("run() folds exact totals with a batch window and keyMany", async () => {
  const { events, totals } = workload(5000);
  const store = new FaultyStore(new MemoryStore());
  const p = viewsPipeline(store);
  const source = MemorySource.of(events, { batchSize: 128 });
  const summary = await run(p, {
    source,
    batchWindow: { time: 20, maxRecords: 1000 },
  });
  assert.deepEqual(await readTotals(store, p, totals), totals);
  assert.equal(summary.events, 5000);
  assert.equal(summary.acked, 5000);
  assert.equal(summary.unacked, 0);
  assert.equal(summary.stoppedBy, "end");
  assert.equal(source.acked, 5000);
  assert.equal(source.committable(), 4999n);
  // Pre-aggregation: far fewer deltas written than record-keys.
  const written = store.calls.reduce((n, c) => n + c.keys.length, 0);
  assert.ok(written < 15_000 / 3, `wrote ${written} deltas`);
});

Deno.test("run() writes ONE merge per key per batch window", async () => {
  const store = new FaultyStore(new MemoryStore());
  const p = pipeline<number>("hot").key((i) => `k${i % 10}`).value(() => 1)
    .aggregate(count()).storeIn(store).build();
  const source = MemorySource.of(Array.from({ length: 1000 }, (_, i) => i), {
    batchSize: 50,
  });
  await run(p, {
    source,
    batchWindow: { time: 60_000, maxRecords: 1_000_000 },
  });
  assert.equal(store.calls.length, 1);
  assert.equal(store.calls[0]!.keys.length, 10);
  assert.equal(await store.get(p.scope, { entity: "k3", bucket: null }), 100);
});

Deno.test("run() flushes when the batch window is full", async () => {
  const store = new FaultyStore(new MemoryStore());
  const p = pipeline<number>("full").key(() => "k").value(() => 1).aggregate(
    count(),
  ).storeIn(store).build();
  const source = MemorySource.of(Array.from({ length: 1000 }, (_, i) => i), {
    batchSize: 10,
  });
  await run(p, { source, batchWindow: { time: 60_000, maxRecords: 100 } });
  assert.ok(store.calls.length >= 9, `${store.calls.length} merges`);
  assert.equal(await store.get(p.scope, { entity: "k", bucket: null }), 1000);
});

Deno.test("run() flushes on time while a live source is idle", async () => {
  const store = new MemoryStore();
  const p = pipeline<number>("timed").key(() => "k").value(() => 1).aggregate(
    count(),
  ).storeIn(store).build();
  const source = new MemorySource<number>();
  const running = run(p, {
    source,
    batchWindow: { time: 10, maxRecords: 1_000_000 },
  });
  source.push(1, 2, 3);
  const deadline = Date.now() + 5000;
  while (source.acked < 3 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.equal(source.acked, 3, "acked by the timer flush");
  assert.equal(await store.get(p.scope, { entity: "k", bucket: null }), 3);
  source.end();
  await running;
});

const appendMonoid: Monoid<readonly number[]> = defineMonoid<readonly number[]>(
  {
    name: "append",
    identity: () => [],
    combine: (a, b) => [...a, ...b],
    codec: {
      format: "json",
      encode: (v) => new TextEncoder().encode(JSON.stringify(v)),
      decode: (b) => JSON.parse(new TextDecoder().decode(b)),
      toJSON: (v) => [...v],
      fromJSON: (j) => j as number[],
    },
  },
);

Deno.test("run() keeps per-key order with concurrency for an order-sensitive monoid", async () => {
  const store = new FaultyStore(new MemoryStore());
  const p = pipeline<number>("ordered").key((i) => `k${i % 7}`).value((
    i,
  ) => [i]).aggregate(appendMonoid).storeIn(store).build();
  const n = 3000;
  const source = MemorySource.of(Array.from({ length: n }, (_, i) => i), {
    batchSize: 64,
  });
  await run(p, {
    source,
    concurrency: 4,
    batchWindow: { time: 1, maxRecords: 200 },
  });
  for (let k = 0; k < 7; k++) {
    const got = await store.get(p.scope, { entity: `k${k}`, bucket: null });
    const want = Array.from({ length: n }, (_, i) => i).filter((i) =>
      i % 7 === k
    );
    assert.deepEqual(got, want);
  }
});

Deno.test("run() spreads a write over concurrent store calls", async () => {
  let inFlight = 0;
  let peak = 0;
  const inner = new MemoryStore();
  const slow: Store = {
    name: "slow",
    get: (s, k) => inner.get(s, k),
    getMany: (s, k) => inner.getMany(s, k),
    merge: async (s, d, o) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
      return inner.merge(s, d, o);
    },
    close: () => inner.close(),
  };
  const p = pipeline<number>("wide").key((i) => `k${i}`).value(() => 1)
    .aggregate(count()).storeIn(slow).build();
  await run(p, {
    source: MemorySource.of(Array.from({ length: 4000 }, (_, i) => i), {
      batchSize: 4000,
    }),
    concurrency: 4,
  });
  assert.equal(peak, 4);
  assert.equal(await inner.get(p.scope, { entity: "k3999", bucket: null }), 1);
});

Deno.test("run() retries injected store failures and stays exact", async () => {
  const { events, totals } = workload(2000, 3);
  const store = new FaultyStore(new MemoryStore());
  const metrics = new InMemoryMetrics();
  const p = viewsPipeline(store, "retry");
  store.failNext(3);
  const source = MemorySource.of(events, { batchSize: 100 });
  const summary = await run(p, {
    source,
    metrics,
    retryBackoff: { base: 1, max: 2 },
    batchWindow: { time: 5, maxRecords: 500 },
  });
  assert.deepEqual(await readTotals(store, p, totals), totals);
  assert.equal(summary.acked, 2000);
  assert.equal(metrics.snapshot("retry").retries, 3);
  assert.ok(metrics.snapshot("retry").errors >= 3);
});

Deno.test("run() stops with StoreFailureError when the store keeps failing, acking nothing unwritten", async () => {
  const store = new FaultyStore(new MemoryStore());
  const p = pipeline<number>("down").key((i) => `k${i % 3}`).value(() => 1)
    .aggregate(count()).storeIn(store).build();
  store.down = true;
  const source = MemorySource.of(Array.from({ length: 50 }, (_, i) => i));
  const error = await run(p, {
    source,
    maxAttempts: 3,
    retryBackoff: { base: 1, max: 1 },
  }).then(
    () => assert.fail("expected the run to stop"),
    (e) => e,
  );
  assert.ok(error instanceof StoreFailureError, String(error));
  assert.equal(error.attempts, 3);
  assert.match(error.message, /failed 3 time\(s\) in a row/);
  assert.equal(source.acked, 0);
  assert.equal(store.calls.length, 3, "no spinning");
});

Deno.test("run() dead-letters bad records with their reason and goes on", async () => {
  const store = new MemoryStore();
  type E = { page?: string; n?: unknown; at?: number };
  const p = pipeline<E>("bad")
    .key((e) => {
      if (e.page === undefined) throw new TypeError("no page");
      return e.page;
    })
    .value((e) => e.n as number)
    .time((e, t) => e.at ?? t)
    .aggregate(sum())
    .window(hourly())
    .storeIn(store)
    .build();
  const source = new MemorySource<E>({ time: () => T0 });
  source.push({ page: "a", n: 1 });
  source.push({ n: 1 });
  source.push({ page: "a", n: "seven" });
  source.pushUndecodable("{not json", new SyntaxError("Unexpected token"));
  source.push({ page: "a", n: 2, at: Number.NaN });
  source.push({ page: "a", n: 4 });
  source.end();
  const dead: { id: string; error: RecordError }[] = [];
  const summary = await run(p, {
    source,
    deadLetter: (r, error) => void dead.push({ id: r.id, error }),
  });
  assert.deepEqual(dead.map((d) => [d.id, d.error.stage]), [
    ["memory:1", "key"],
    ["memory:3", "decode"],
    ["memory:4", "time"],
    ["memory:2", "fold"],
  ]);
  assert.match(dead[0]!.error.message, /key extractor failed: no page/);
  assert.match(dead[3]!.error.message, /expected a number/);
  assert.equal(summary.deadLetters, 4);
  assert.equal(summary.acked, 6);
  assert.equal(await store.get(p.scope, { entity: "a", bucket: T0 }), 5);
});

Deno.test("run() stops when the deadLetter callback fails, without acking that record", async () => {
  const source = new MemorySource<{ k?: string }>();
  source.push({});
  source.end();
  const p = pipeline<{ k?: string }>("dlq").key((e) => e.k!).value(() => 1)
    .aggregate(count()).storeIn(new MemoryStore()).build();
  await assert.rejects(
    run(p, { source, deadLetter: () => Promise.reject(new Error("DLQ full")) }),
    DeadLetterFailedError,
  );
  assert.equal(source.acked, 0);
});

Deno.test("run() dead-letters the records of a delta the store rejects for good", async () => {
  const store = new FaultyStore(new MemoryStore(), {
    reject: (_, d) => d.key.entity === "poison" ? "item too large" : undefined,
  });
  const p = pipeline<string>("reject").key((s) => s).value(() => 1).aggregate(
    count(),
  ).storeIn(store).build();
  const dead: string[] = [];
  const source = MemorySource.of(["a", "poison", "b", "poison", "a"]);
  const summary = await run(p, {
    source,
    deadLetter: (r, e) => void dead.push(`${r.id}:${e.stage}`),
  });
  assert.deepEqual(dead.sort(), ["memory:1:store", "memory:3:store"]);
  assert.equal(summary.acked, 5);
  assert.deepEqual(
    await store.getMany(p.scope, [{ entity: "a", bucket: null }, {
      entity: "b",
      bucket: null,
    }, { entity: "poison", bucket: null }]),
    [2, 1, undefined],
  );
});

Deno.test("run() acks a keyMany record only when all its keys are durable", async () => {
  const store = new FaultyStore(new MemoryStore(), {});
  const p = pipeline<string>("many").keyMany((s) => [s, "global"]).value(() =>
    1
  ).aggregate(count()).storeIn(store).build();
  const inner = store.merge.bind(store);
  store.merge = (scope, deltas, options) =>
    deltas.some((d) => d.key.entity === "global")
      ? Promise.reject(new Error("global partition unavailable"))
      : inner(scope, deltas, options);
  const source = MemorySource.of(["a", "b"]);
  await assert.rejects(
    run(p, {
      source,
      maxAttempts: 2,
      retryBackoff: { base: 1, max: 1 },
      concurrency: 2,
    }),
    StoreFailureError,
  );
  assert.equal(source.acked, 0);
});

Deno.test("run() with dedup survives a write that applied but reported failure", async () => {
  const { events, totals } = workload(1500, 11);
  const store = new FaultyStore(new MemoryStore());
  const metrics = new InMemoryMetrics();
  const p = viewsPipeline(store, "lost_ack");
  store.failNext(2, "after-write", "lost_ack");
  await run(p, {
    source: MemorySource.of(events, { batchSize: 100 }),
    dedup: true,
    metrics,
    retryBackoff: { base: 1, max: 1 },
    batchWindow: { time: 5, maxRecords: 300 },
  });
  assert.deepEqual(await readTotals(store, p, totals), totals);
  assert.ok(
    metrics.snapshot("lost_ack").dedupSkips > 0,
    "the replayed write was skipped",
  );
});

Deno.test("run() without dedup is at least once: a lost reply double-counts", async () => {
  const store = new FaultyStore(new MemoryStore());
  const p = pipeline<number>("alo").key(() => "k").value(() => 1).aggregate(
    count(),
  ).storeIn(store).build();
  store.failNext(1, "after-write");
  await run(p, {
    source: MemorySource.of([1, 2, 3], { batchSize: 3 }),
    retryBackoff: { base: 1, max: 1 },
  });
  assert.equal(await store.get(p.scope, { entity: "k", bucket: null }), 6);
});

Deno.test("run() with dedup loses nothing and counts nothing twice when a crash is followed by redelivery", async () => {
  const { events, totals } = workload(3000, 5);
  const durable = new MemoryStore();
  const flaky = new FaultyStore(durable);
  const p1 = viewsPipeline(flaky, "crash");
  // The store dies after a few writes; some flushes are written, the rest are not.
  let writes = 0;
  const merge = flaky.merge.bind(flaky);
  flaky.merge = (scope, deltas, options) => {
    if (++writes > 6) flaky.down = true;
    return merge(scope, deltas, options);
  };
  const first = MemorySource.of(events, { batchSize: 50 });
  await assert.rejects(
    run(p1, {
      source: first,
      dedup: true,
      maxAttempts: 2,
      retryBackoff: { base: 1, max: 1 },
      batchWindow: { time: 1, maxRecords: 200 },
    }),
    StoreFailureError,
  );
  assert.ok(first.acked > 0 && first.acked < 3000, `acked ${first.acked}`);
  // Redeliver EVERYTHING (worse than a real source, which resumes after the committed position).
  const p2 = viewsPipeline(durable, "crash");
  const again = MemorySource.of(events, { batchSize: 70 });
  const summary = await run(p2, {
    source: again,
    dedup: true,
    batchWindow: { time: 1, maxRecords: 500 },
  });
  assert.deepEqual(await readTotals(durable, p2, totals), totals);
  assert.ok(summary.dedupSkips > 0);
});

Deno.test("run() with dedup resumes after the committed position exactly", async () => {
  const { events, totals } = workload(2000, 9);
  const durable = new MemoryStore();
  const flaky = new FaultyStore(durable);
  let writes = 0;
  const merge = flaky.merge.bind(flaky);
  flaky.merge = (scope, deltas, options) => {
    if (++writes > 4) flaky.down = true;
    return merge(scope, deltas, options);
  };
  const first = MemorySource.of(events, { batchSize: 40 });
  await assert.rejects(
    run(viewsPipeline(flaky, "resume"), {
      source: first,
      dedup: true,
      maxAttempts: 1,
      batchWindow: { time: 1, maxRecords: 300 },
    }),
  );
  const from = Number(first.committable() ?? -1n) + 1;
  const rest = MemorySource.of(events.slice(from), {
    startAt: from,
    batchSize: 40,
  });
  await run(viewsPipeline(durable, "resume"), { source: rest, dedup: true });
  assert.deepEqual(
    await readTotals(durable, viewsPipeline(durable, "resume"), totals),
    totals,
  );
});

Deno.test("run() with dedup uses claims for records without positions", async () => {
  const durable = new MemoryStore();
  const flaky = new FaultyStore(durable);
  const p = pipeline<string>("claims").keyMany((s) => [s, "all"]).value(() => 1)
    .aggregate(count()).storeIn(flaky).build();
  const events = Array.from({ length: 300 }, (_, i) => `k${i % 5}`);
  flaky.failNext(2, "after-write");
  const opts = {
    stream: null,
    id: (_: string, i: number) => `evt-${i}`,
  } as const;
  await run(p, {
    source: MemorySource.of(events, opts),
    dedup: true,
    retryBackoff: { base: 1, max: 1 },
  });
  // Redelivery of everything: all claims held, nothing changes.
  const again = await run(p, {
    source: MemorySource.of(events, opts),
    dedup: true,
  });
  assert.equal(again.dedupSkips, 600);
  assert.equal(
    await durable.get(p.scope, { entity: "all", bucket: null }),
    300,
  );
  assert.equal(await durable.get(p.scope, { entity: "k0", bucket: null }), 60);
});

Deno.test("run() shuts down in the middle: acks what it wrote, and a replay of the rest is exact", async () => {
  const { events, totals } = workload(4000, 13);
  const store = new MemoryStore();
  const p = viewsPipeline(store, "shutdown");
  const source = new MemorySource<View>({ batchSize: 25 });
  const controller = new AbortController();
  const running = run(p, {
    source,
    dedup: true,
    signal: controller.signal,
    batchWindow: { time: 2, maxRecords: 250 },
  });
  let pushed = 0;
  while (pushed < 2000) {
    source.push(...events.slice(pushed, pushed + 100));
    pushed += 100;
    await new Promise((r) => setTimeout(r, 1));
  }
  controller.abort();
  const summary = await running;
  assert.equal(summary.stoppedBy, "signal");
  assert.equal(summary.unacked, 0);
  assert.equal(summary.acked, summary.events);
  assert.ok(summary.events <= 2000 && summary.events > 0);
  const from = Number(source.committable() ?? -1n) + 1;
  assert.equal(from, summary.acked);
  await run(p, {
    source: MemorySource.of(events.slice(from), { startAt: from }),
    dedup: true,
  });
  assert.deepEqual(await readTotals(store, p, totals), totals);
});

Deno.test("run() shutdown gives up after shutdownTimeout and leaves unwritten records unacked", async () => {
  const store = new FaultyStore(new MemoryStore());
  const p = pipeline<number>("stuck").key(() => "k").value(() => 1).aggregate(
    count(),
  ).storeIn(store).build();
  const source = new MemorySource<number>();
  const controller = new AbortController();
  const running = run(p, {
    source,
    signal: controller.signal,
    shutdownTimeout: 30,
    maxAttempts: 1000,
    retryBackoff: { base: 5, max: 5 },
    batchWindow: { time: 60_000 },
  });
  source.push(1, 2, 3);
  await new Promise((r) => setTimeout(r, 20));
  store.down = true;
  controller.abort();
  const summary = await running;
  assert.equal(summary.stoppedBy, "signal");
  assert.equal(summary.unacked, 3);
  assert.equal(source.acked, 0);
});

Deno.test("run() key debounce drops repeats inside the window", async () => {
  let now = 0;
  const store = new MemoryStore();
  const p = pipeline<{ k: string; v: number }>("debounced").key((e) => e.k)
    .value((e) => e.v).aggregate(max()).storeIn(store).build();
  const source = new MemorySource<{ k: string; v: number }>({ batchSize: 1 });
  const metrics = new InMemoryMetrics();
  const running = run(p, {
    source,
    keyDebounce: { window: 100 },
    now: () => now,
    metrics,
  });
  const step = async (v: number, at: number) => {
    now = at;
    source.push({ k: "a", v });
    const target = source.delivered + 0;
    while (source.acked < target) await new Promise((r) => setTimeout(r, 1));
  };
  await step(5, 0);
  await step(9, 50);
  await step(7, 150);
  source.end();
  const summary = await running;
  assert.equal(summary.debounced, 1);
  assert.equal(metrics.snapshot("debounced").debounced, 1);
  assert.equal(await store.get(p.scope, { entity: "a", bucket: null }), 7);
});

Deno.test("run() refuses debounce on monoids where it under-counts", async () => {
  const p = pipeline<number>("c").key(() => "k").value(() => 1).aggregate(sum())
    .storeIn(new MemoryStore()).build();
  await assert.rejects(
    run(p, { source: MemorySource.of([1]), valueDebounce: { window: 10 } }),
    (e: unknown) =>
      e instanceof PipelineConfigError && /under-counts/.test(e.message),
  );
});

Deno.test("run() without a source says what to call", async () => {
  const p = pipeline<number>("nosrc").key(() => "k").value(() => 1).aggregate(
    sum(),
  ).storeIn(new MemoryStore()).build();
  await assert.rejects(run(p), /has no source: call \.from\(source\)/);
});

Deno.test("run() validates its options", async () => {
  const p = pipeline<number>("opts").key(() => "k").value(() => 1).aggregate(
    sum(),
  ).storeIn(new MemoryStore()).build();
  const source = MemorySource.of([1]);
  await assert.rejects(run(p, { source, maxAttempts: 0 }), RangeError);
  await assert.rejects(run(p, { source, concurrency: 1.5 }), RangeError);
  await assert.rejects(
    run(p, { source, retryBackoff: { base: 10, max: 1 } }),
    RangeError,
  );
  await assert.rejects(
    run(p, { source, batchWindow: { time: -1 } }),
    RangeError,
  );
});

Deno.test("run() writes through a cache and never fails on cache errors", async () => {
  const store = new MemoryStore();
  const cache = new MemoryCache();
  const metrics = new InMemoryMetrics();
  const p = pipeline<string>("cached").key((s) => s).value(() => 1).aggregate(
    count(),
  ).storeIn(store).cache(cache).build();
  await run(p, { source: MemorySource.of(["a", "a", "b"]), metrics });
  assert.equal(await store.get(p.scope, { entity: "a", bucket: null }), 2);
  const broken = new MemoryCache({ name: "broken-cache" });
  await broken.close();
  const q = pipeline<string>("cached2").key((s) => s).value(() => 1).aggregate(
    count(),
  ).storeIn(store).cache(broken).build();
  const summary = await run(q, {
    source: MemorySource.of(["a", "b"]),
    metrics,
  });
  assert.equal(summary.acked, 2);
  assert.ok(q.store instanceof CachedStore);
  const stats = q.store.stats();
  assert.ok(stats.cacheErrors > 0);
  assert.equal(stats.cacheDown, true);
  assert.equal(await store.get(q.scope, { entity: "b", bucket: null }), 1);
});

Deno.test("run() records metrics: events, merges, flush sizes, lag", async () => {
  const metrics = new InMemoryMetrics();
  const p = pipeline<number>("m").key((i) => `k${i % 4}`).value(() => 1)
    .aggregate(count()).storeIn(new MemoryStore()).build();
  await run(p, {
    source: MemorySource.of(Array.from({ length: 100 }, (_, i) => i), {
      time: () => Date.now(),
    }),
    metrics,
  });
  const snap = metrics.snapshot("m");
  assert.equal(snap.eventsIn, 100);
  assert.ok(snap.merges >= 1);
  assert.ok(snap.flushSize.max >= 1 && snap.flushSize.max <= 4);
  assert.notEqual(snap.lag, null);
});

Deno.test("run() ignores records whose keyMany is empty but still acks them", async () => {
  const source = MemorySource.of([[], ["a"]] as string[][]);
  const store = new MemoryStore();
  const p = pipeline<string[]>("empty").keyMany((k) => k).value(() => 1)
    .aggregate(count()).storeIn(store).build();
  const summary = await run(p, { source });
  assert.equal(summary.acked, 2);
  assert.equal(await store.get(p.scope, { entity: "a", bucket: null }), 1);
});

Deno.test("run() propagates a source error after writing what it read", async () => {
  const store = new MemoryStore();
  const p = pipeline<number>("srcerr").key(() => "k").value(() => 1).aggregate(
    count(),
  ).storeIn(store).build();
  const acked: number[] = [];
  const source = {
    name: "broken",
    async *[Symbol.asyncIterator](): AsyncIterator<
      readonly SourceRecord<number>[]
    > {
      yield [{ value: 1, id: "1", time: 0, ack: () => void acked.push(1) }];
      throw new Error("connection reset");
    },
    close: () => Promise.resolve(),
  };
  await assert.rejects(run(p, { source }), /connection reset/);
  assert.deepEqual(acked, [1]);
  assert.equal(await store.get(p.scope, { entity: "k", bucket: null }), 1);
});

Deno.test("run() with dedup on Deno KV: a crash, then redelivery of everything, is exact", async () => {
  const { KvStore } = await import("../state/kv.ts");
  const { events, totals } = workload(2000, 21);
  const durable = await KvStore.open(":memory:");
  try {
    const flaky = new FaultyStore(durable);
    let writes = 0;
    const merge = flaky.merge.bind(flaky);
    flaky.merge = (scope, deltas, options) => {
      if (++writes > 5) flaky.down = true;
      return merge(scope, deltas, options);
    };
    await assert.rejects(
      run(viewsPipeline(flaky, "kv_crash"), {
        source: MemorySource.of(events, { batchSize: 50 }),
        dedup: true,
        maxAttempts: 1,
        batchWindow: { time: 1, maxRecords: 300 },
      }),
      StoreFailureError,
    );
    const p = viewsPipeline(durable, "kv_crash");
    const summary = await run(p, {
      source: MemorySource.of(events, { batchSize: 64 }),
      dedup: true,
      batchWindow: { time: 1, maxRecords: 400 },
    });
    assert.ok(summary.dedupSkips > 0);
    assert.deepEqual(await readTotals(durable, p, totals), totals);
  } finally {
    await durable.close();
  }
});
