import assert from "node:assert/strict";
import { count, max, set, sum } from "../monoid/mod.ts";
import { pipeline, PipelineConfigError } from "../pipeline/mod.ts";
import { MemorySource } from "../source/mod.ts";
import { MemoryStore } from "../state/mod.ts";
import { FaultyStore } from "../testing/faulty_store.ts";
import { bind, InMemoryMetrics, runFanout, StoreFailureError } from "./mod.ts";

interface Sale {
  shop: string;
  customer: string;
  amount: number;
}

function sales(n: number): Sale[] {
  return Array.from({ length: n }, (_, i) => ({
    shop: `s${i % 7}`,
    customer: `c${(i * 13) % 50}`,
    amount: (i % 10) + 1,
  }));
}

Deno.test("runFanout() feeds pipelines of different value types, each exact, each with its own options", async () => {
  const events = sales(3000);
  const store = new MemoryStore();
  const metrics = new InMemoryMetrics();
  const revenue = pipeline<Sale>("revenue").key((s) => s.shop).value((s) =>
    s.amount
  ).aggregate(sum()).storeIn(store).build();
  const biggest = pipeline<Sale>("biggest").key((s) => s.shop).value((s) =>
    s.amount
  ).aggregate(max()).storeIn(store).build();
  const customers = pipeline<Sale>("customers").key((s) => s.shop).value((s) =>
    new Set([s.customer])
  ).aggregate(set()).storeIn(store).build();
  const source = MemorySource.of(events, { batchSize: 64 });
  const summary = await runFanout(source, [
    bind(revenue, { batchWindow: { time: 5, maxRecords: 500 }, metrics }),
    bind(biggest, {
      concurrency: 3,
      valueDebounce: { window: 60_000 },
      metrics,
    }),
    bind(customers, { dedup: true, metrics }),
  ]);
  for (let s = 0; s < 7; s++) {
    const mine = events.filter((e) => e.shop === `s${s}`);
    const key = { entity: `s${s}`, bucket: null };
    assert.equal(
      await store.get(revenue.scope, key),
      mine.reduce((a, e) => a + e.amount, 0),
    );
    assert.equal(
      await store.get(biggest.scope, key),
      Math.max(...mine.map((e) => e.amount)),
    );
    assert.deepEqual(
      [...(await store.get(customers.scope, key))!].sort(),
      [...new Set(mine.map((e) => e.customer))].sort(),
    );
  }
  assert.equal(source.acked, 3000);
  assert.equal(summary.pipelines.length, 3);
  assert.ok(summary.pipelines.every((p) => p.acked === 3000));
  const debounced = summary.pipelines[1]!.debounced;
  assert.ok(debounced > 2900, `value debounce honoured (${debounced} dropped)`);
  assert.equal(metrics.snapshot("biggest").debounced, debounced);
});

Deno.test("runFanout() acks at the source only after every pipeline acked its copy", async () => {
  const store = new MemoryStore();
  const down = new FaultyStore(new MemoryStore());
  down.down = true;
  const ok = pipeline<Sale>("ok").key((s) => s.shop).value(() => 1).aggregate(
    count(),
  ).storeIn(store).build();
  const failing = pipeline<Sale>("failing").key((s) => s.shop).value(() => 1)
    .aggregate(count()).storeIn(down).build();
  const source = MemorySource.of(sales(100));
  await assert.rejects(
    runFanout(source, [
      bind(ok),
      bind(failing, { maxAttempts: 2, retryBackoff: { base: 1, max: 1 } }),
    ]),
    StoreFailureError,
  );
  assert.equal(source.acked, 0);
});

Deno.test("runFanout() refuses an empty list and duplicate names", async () => {
  const p = pipeline<Sale>("dup").key((s) => s.shop).value(() => 1).aggregate(
    count(),
  ).storeIn(new MemoryStore()).build();
  await assert.rejects(
    runFanout(MemorySource.of<Sale>([]), []),
    PipelineConfigError,
  );
  await assert.rejects(
    runFanout(MemorySource.of<Sale>([]), [bind(p), bind(p)]),
    /two pipelines are named "dup"/,
  );
});

Deno.test("runFanout() stops all pipelines gracefully on the signal", async () => {
  const store = new MemoryStore();
  const a = pipeline<Sale>("fa").key((s) => s.shop).value(() => 1).aggregate(
    count(),
  ).storeIn(store).build();
  const b = pipeline<Sale>("fb").key((s) => s.customer).value(() => 1)
    .aggregate(count()).storeIn(store).build();
  const source = new MemorySource<Sale>();
  const controller = new AbortController();
  const running = runFanout(source, [
    bind(a),
    bind(b, { batchWindow: { time: 60_000 } }),
  ], { signal: controller.signal });
  source.push(...sales(500));
  await new Promise((r) => setTimeout(r, 20));
  controller.abort();
  const summary = await running;
  assert.equal(summary.stoppedBy, "signal");
  assert.equal(source.acked, 500);
  assert.equal(await store.get(b.scope, { entity: "c0", bucket: null }), 10);
});
