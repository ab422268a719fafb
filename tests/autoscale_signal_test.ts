// The autoscaling signal against the stack: Kafka lag from a real consumer group, CloudWatch on moto, Prometheus via the admin handler.

import { deepEqual, equal, match, ok } from "node:assert/strict";
import { Kafka, logLevel } from "../internal/kafkajs.ts";
import {
  CloudWatchClient,
  GetMetricStatisticsCommand,
} from "@aws-sdk/client-cloudwatch";
import {
  AutoscaleSignal,
  CLOUDWATCH_METRICS,
  CloudWatchEmitter,
  kafkaLag,
  KinesisLagGauge,
  PrometheusEmitter,
} from "../autoscale/mod.ts";
import { createHandler } from "../admin/mod.ts";
import { InMemoryMetrics } from "../streaming/mod.ts";
import { awsConfig, service, uniqueName } from "./_stack.ts";
import { freshTopic, produce } from "./_kafka.ts";

Deno.test("kafkaLag() measures end offset minus committed offset per partition", async () => {
  const { kafka, topic, groupId } = await freshTopic("autoscale-lag", 2);
  await produce(
    kafka.brokers,
    topic,
    Array.from({ length: 30 }, (_, i) => ({
      value: `e${i}`,
      partition: i % 3 === 0 ? 1 : 0,
    })),
  );
  await using probe = kafkaLag({
    brokers: kafka.brokers,
    groupId,
    topics: [topic],
  });
  // No commit yet: every retained record counts.
  deepEqual((await probe.measure()).map((r) => r.records), [20, 10]);
  const admin = new Kafka({
    clientId: "murmur-tests",
    brokers: kafka.brokers,
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    await admin.setOffsets({
      groupId,
      topic,
      partitions: [{ partition: 0, offset: "15" }, {
        partition: 1,
        offset: "10",
      }],
    });
  } finally {
    await admin.disconnect();
  }
  const readings = await probe.measure();
  deepEqual(readings, [
    { stream: `kafka:${topic}:0`, records: 5, behindMs: null },
    { stream: `kafka:${topic}:1`, records: 0, behindMs: null },
  ]);
  const metrics = new InMemoryMetrics();
  metrics.eventsIn(topic, 40);
  metrics.merged(topic, 4, 12);
  const prometheus = new PrometheusEmitter();
  await using signal = new AutoscaleSignal({
    pipeline: topic,
    probes: [probe],
    metrics,
    emitters: [prometheus],
  });
  const [sample] = await signal.tick();
  equal(sample!.lagRecords, 5);
  equal(sample!.maxPartitionLagRecords, 5);
  equal(sample!.flushLatencyMs, 12);
  ok(sample!.eventsPerSecond > 0);
});

Deno.test("CloudWatchEmitter publishes lag, rate and latency that moto's CloudWatch answers back", async () => {
  const moto = await service("kinesis"); // moto serves CloudWatch on the same port
  const client = new CloudWatchClient(awsConfig(moto));
  const namespace = uniqueName("Murmur");
  const gauge = new KinesisLagGauge("clicks");
  gauge.report("shardId-000000000000", 1200);
  gauge.report("shardId-000000000001", 3400);
  const metrics = new InMemoryMetrics();
  metrics.eventsIn("clicks", 10);
  metrics.merged("clicks", 1, 8);
  const errors: unknown[] = [];
  await using signal = new AutoscaleSignal({
    pipeline: "clicks",
    probes: [gauge],
    metrics,
    emitters: [
      new CloudWatchEmitter(client, {
        namespace,
        dimensions: { Service: "worker" },
      }),
    ],
    onError: (e) => errors.push(e),
  });
  await signal.tick();
  deepEqual(errors, []);
  const read = async (name: string) => {
    const answer = await client.send(
      new GetMetricStatisticsCommand({
        Namespace: namespace,
        MetricName: name,
        Dimensions: [{ Name: "Pipeline", Value: "clicks" }, {
          Name: "Service",
          Value: "worker",
        }],
        StartTime: new Date(Date.now() - 10 * 60_000),
        EndTime: new Date(Date.now() + 60_000),
        Period: 60,
        Statistics: ["Maximum"],
      }),
    );
    return answer.Datapoints?.[0]?.Maximum;
  };
  equal(await read(CLOUDWATCH_METRICS.millisBehindLatest), 3400);
  equal(await read(CLOUDWATCH_METRICS.flushLatencyP95), 8);
  ok((await read(CLOUDWATCH_METRICS.eventsPerSecond))! > 0);
  // Kinesis has no record lag: it is left out, not sent as 0.
  equal(await read(CLOUDWATCH_METRICS.consumerLag), undefined);
  client.destroy();
});

Deno.test("PrometheusEmitter adds the gauges to the admin server's /metrics", async () => {
  const metrics = new InMemoryMetrics();
  metrics.eventsIn("likes", 5);
  await using admin = createHandler({ metrics, ui: false });
  const prometheus = new PrometheusEmitter();
  const gauge = new KinesisLagGauge("likes");
  gauge.report("shard-1", 250);
  await using signal = new AutoscaleSignal({
    pipeline: "likes",
    probes: [gauge],
    metrics,
    emitters: [prometheus],
  });
  signal.start();
  const handler = prometheus.wrap(admin);
  let text = "";
  for (let i = 0; i < 50 && !text.includes("murmur_autoscale"); i++) {
    await new Promise((r) => setTimeout(r, 20));
    const res = await handler(new Request("http://127.0.0.1/metrics"));
    equal(res.status, 200);
    text = await res.text();
  }
  match(text, /murmur_events_total\{pipeline="likes"\} 5/);
  match(text, /murmur_autoscale_behind_ms\{pipeline="likes"\} 250/);
  match(text, /murmur_autoscale_events_per_second\{pipeline="likes"\} /);
  const health = await handler(new Request("http://127.0.0.1/healthz"));
  equal(await health.text().then((t) => t.includes("murmur_autoscale")), false);
});
