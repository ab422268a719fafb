import { deepEqual, equal, match } from "node:assert/strict";
import {
  type AutoscaleSample,
  AutoscaleSignal,
  type Emitter,
  KinesisLagGauge,
  PrometheusEmitter,
} from "./mod.ts";

Deno.test("AutoscaleSignal.start() samples until close() and survives a failing probe and emitter", async () => {
  const seen: AutoscaleSample[][] = [];
  const errors: unknown[] = [];
  const recorder: Emitter = {
    emit: (samples) => {
      seen.push([...samples]);
      return Promise.resolve();
    },
  };
  const failing: Emitter = { emit: () => Promise.reject(new Error("down")) };
  const signal = new AutoscaleSignal({
    pipeline: "p",
    probes: [{ measure: () => Promise.reject(new Error("no broker")) }],
    emitters: [recorder, failing],
    intervalMs: 5,
    onError: (e) => errors.push(e),
  });
  signal.start();
  signal.start();
  while (seen.length < 3) await new Promise((r) => setTimeout(r, 5));
  await signal.close();
  const after = seen.length;
  await new Promise((r) => setTimeout(r, 30));
  equal(seen.length, after);
  equal(seen[0]![0]!.lagRecords, null);
  equal(seen[0]![0]!.eventsPerSecond, 0);
  equal(errors.length >= 6, true);
});

Deno.test("KinesisLagGauge forgets shards that stopped reporting", async () => {
  let now = 0;
  const gauge = new KinesisLagGauge("s", { staleAfterMs: 100, now: () => now });
  gauge.report("a", 10);
  gauge.report("b", -1);
  now = 50;
  gauge.report("c", 30);
  now = 120;
  deepEqual((await gauge.measure()).map((r) => r.stream), ["kinesis:s:c"]);
  gauge.forget("c");
  deepEqual(await gauge.measure(), []);
});

Deno.test("PrometheusEmitter escapes label values and leaves unknown lag out", async () => {
  const prometheus = new PrometheusEmitter();
  equal(prometheus.render(), "");
  await prometheus.emit([{
    pipeline: 'a"b\\c',
    at: 0,
    lagRecords: null,
    maxPartitionLagRecords: null,
    behindMs: null,
    eventsPerSecond: 1.5,
    flushLatencyMs: 2,
    partitions: [],
  }]);
  const text = prometheus.render();
  match(
    text,
    /murmur_autoscale_events_per_second\{pipeline="a\\"b\\\\c"\} 1\.5/,
  );
  equal(text.includes("consumer_lag"), false);
});
