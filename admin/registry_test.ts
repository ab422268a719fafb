import assert from "node:assert/strict";
import { daily, sum } from "../monoid/mod.ts";
import { MemoryStore } from "../state/mod.ts";
import { InMemoryMetrics } from "../streaming/mod.ts";
import { describeLocal, fromSnapshot, Registry } from "./_registry.ts";

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

const views = {
  name: "views",
  monoid: sum(),
  window: daily(),
  store: new MemoryStore({ name: "memory" }),
  source: { name: "kafka:views" },
};

Deno.test("Registry.describe() derives a DAG for pipelines without describe()", () => {
  const description = describeLocal(views, 5);
  assert.deepEqual(
    description.dag?.nodes.map((n) => [n.kind, n.label]),
    [
      ["source", "kafka:views"],
      ["extract", "key, value, time"],
      ["window", "day"],
      ["aggregate", "sum"],
      ["store", "memory"],
    ],
  );
  assert.deepEqual(
    description.dag?.edges.map((e) => `${e.from}>${e.to}`),
    ["source>extract", "extract>window", "window>aggregate", "aggregate>store"],
  );
  assert.equal(description.info?.window?.granularity, "day");
  assert.equal(description.info?.window?.sizeMs, 86_400_000n);
});

Deno.test("Registry sums workers' counters and keeps the worst latency and lag", () => {
  const time = clock();
  const registry = new Registry({ now: time.now, workerLeaseMs: 1000 });
  const metrics = new InMemoryMetrics({ now: time.now });
  for (const worker of ["w1", "w2"]) {
    registry.register(worker, [describeLocal(views, time.now(), worker)], "");
  }
  metrics.eventsIn("views", 10);
  metrics.merged("views", 1, 4);
  metrics.lag("views", 50);
  const one = fromSnapshot(metrics.snapshot("views"), "w1");
  metrics.eventsIn("views", 5);
  metrics.merged("views", 1, 40);
  metrics.lag("views", 500);
  const two = fromSnapshot(metrics.snapshot("views"), "w2");
  assert.equal(registry.report("w1", [one]), true);
  assert.equal(registry.report("w2", [two]), true);
  const [combined] = registry.latest("views");
  assert.equal(combined?.eventsIn, 10 + 15);
  assert.equal(combined?.worker, "w1, w2");
  assert.equal(combined?.lagMs, 500);
  assert.equal(
    combined?.mergeLatencyMs?.p99,
    Math.max(one.mergeLatencyMs!.p99, two.mergeLatencyMs!.p99),
  );
  const [info] = registry.list();
  assert.equal(info?.worker, "w1, w2");
  assert.equal(info?.online, true);
});

Deno.test("Registry marks silent workers offline, then forgets them", () => {
  const time = clock();
  const registry = new Registry({
    now: time.now,
    workerLeaseMs: 1000,
    forgetAfterMs: 5000,
  });
  registry.register(
    "w1",
    [describeLocal(views, time.now(), "w1")],
    "http://w1",
  );
  assert.equal(registry.queryUrlOf("views"), "http://w1");
  time.advance(1500);
  assert.equal(registry.list()[0]?.online, false);
  assert.equal(registry.queryUrlOf("views"), undefined);
  assert.deepEqual(registry.workersOf("views"), ["w1"]);
  assert.equal(registry.report("w1", []), true);
  assert.equal(registry.list()[0]?.online, true);
  time.advance(6000);
  assert.deepEqual(registry.list(), []);
  assert.equal(registry.report("w1", []), false);
});

Deno.test("Registry keeps a bounded history of samples per pipeline", () => {
  const time = clock();
  const metrics = new InMemoryMetrics({ now: time.now });
  const registry = new Registry({ now: time.now, metrics, historySize: 3 });
  registry.addLocal(views);
  for (let i = 0; i < 5; i++) {
    metrics.eventsIn("views", 1);
    time.advance(1000);
    registry.sample();
  }
  const history = registry.history("views", 10);
  assert.deepEqual(history.map((s) => s.eventsIn), [3, 4, 5]);
  assert.deepEqual(registry.history("views", 1).map((s) => s.eventsIn), [5]);
  assert.deepEqual(registry.history("views", 0), []);
});
