import assert from "node:assert/strict";
import { InMemoryMetrics, noopMetrics } from "./metrics.ts";

Deno.test("InMemoryMetrics.snapshot() counts totals per pipeline", () => {
  const m = new InMemoryMetrics();
  m.eventsIn("a", 10);
  m.eventsIn("a", 5);
  m.eventsIn("b", 1);
  m.error("a", new Error("boom"));
  m.retried("a");
  m.deadLettered("a", 2);
  m.dedupSkipped("a", 3);
  m.debounced("a", 4);
  m.lag("a", 120);
  const a = m.snapshot("a");
  assert.equal(a.eventsIn, 15);
  assert.equal(a.errors, 1);
  assert.equal(a.lastError, "boom");
  assert.equal(a.retries, 1);
  assert.equal(a.deadLetters, 2);
  assert.equal(a.dedupSkips, 3);
  assert.equal(a.debounced, 4);
  assert.equal(a.lag, 120);
  assert.equal(m.snapshot("b").eventsIn, 1);
  assert.deepEqual(m.pipelines(), ["a", "b"]);
  assert.deepEqual(m.snapshots().map((s) => s.pipeline), ["a", "b"]);
  assert.equal(m.snapshot().pipeline, "a");
});

Deno.test("InMemoryMetrics.snapshot() of an unknown pipeline is all zeros and registers nothing", () => {
  const m = new InMemoryMetrics();
  const s = m.snapshot("nope");
  assert.equal(s.eventsIn, 0);
  assert.equal(s.lag, null);
  assert.deepEqual(s.flushSize, { p50: 0, p95: 0, p99: 0, max: 0 });
  assert.deepEqual(m.pipelines(), []);
});

Deno.test("InMemoryMetrics computes rates over the last 10 seconds", () => {
  let now = 1_000_000;
  const m = new InMemoryMetrics({ now: () => now });
  m.eventsIn("p", 0);
  for (let i = 0; i < 20; i++) {
    m.eventsIn("p", 100);
    m.merged("p", 1, 1);
    now += 1000;
  }
  now -= 1;
  const s = m.snapshot("p");
  assert.equal(s.eventsPerSecond, 100);
  assert.equal(s.mergesPerSecond, 1);
  assert.equal(s.uptimeMs, 19_999);
  now += 60_000;
  assert.equal(m.snapshot("p").eventsPerSecond, 0);
});

Deno.test("InMemoryMetrics keeps percentiles over a bounded sample window", () => {
  const m = new InMemoryMetrics({ samples: 100 });
  for (let i = 1; i <= 1000; i++) {
    m.merged("p", 1, i);
    m.flushed("p", i, i);
  }
  const s = m.snapshot("p");
  assert.equal(s.mergeLatencyMs.p50, 950);
  assert.equal(s.mergeLatencyMs.p99, 999);
  assert.equal(s.flushSize.max, 1000);
  assert.equal(s.merges, 1000);
  assert.throws(() => new InMemoryMetrics({ samples: 0 }), RangeError);
});

Deno.test("noopMetrics accepts every call", () => {
  noopMetrics.eventsIn("p", 1);
  noopMetrics.lag("p", null);
});
