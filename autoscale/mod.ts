/**
 * Autoscaling signals: a loop that measures a pipeline's consumer lag (Kafka:
 * end offset − committed offset per partition; Kinesis: ms behind the tip),
 * events per second and flush latency, and publishes them to CloudWatch (for
 * an ECS target-tracking policy, see `docs/autoscaling.md`) and to the admin
 * server's Prometheus `/metrics`.
 *
 * @example Publishing Kinesis lag to Prometheus
 * ```ts
 * import { AutoscaleSignal, KinesisLagGauge, PrometheusEmitter } from "@murmur/core/autoscale";
 * import { InMemoryMetrics } from "@murmur/core/streaming";
 * import assert from "node:assert/strict";
 *
 * const metrics = new InMemoryMetrics();
 * metrics.eventsIn("clicks", 50);
 * const shards = new KinesisLagGauge("clicks");
 * shards.report("shardId-000", 900);
 * const prometheus = new PrometheusEmitter();
 * await using signal = new AutoscaleSignal({ pipeline: "clicks", probes: [shards], metrics, emitters: [prometheus] });
 * const [sample] = await signal.tick();
 * assert.equal(sample!.behindMs, 900);
 * assert.ok(sample!.eventsPerSecond > 0);
 * ```
 *
 * @module
 */

export {
  type AutoscaleSample,
  AutoscaleSignal,
  type AutoscaleSignalOptions,
  type Emitter,
  type LagProbe,
  type PartitionLag,
  type SnapshotSource,
} from "./signal.ts";
export {
  type KafkaAdminLike,
  kafkaLag,
  type KafkaLagOptions,
  type KafkaLagProbe,
} from "./kafka.ts";
export {
  KinesisLagGauge,
  type KinesisLagGaugeOptions,
  type KinesisShardsLike,
  kinesisSourceLag,
} from "./kinesis.ts";
export {
  CLOUDWATCH_METRICS,
  type CloudWatchClientLike,
  CloudWatchEmitter,
  type CloudWatchEmitterOptions,
  type CloudWatchMetricNames,
} from "./cloudwatch.ts";
export type { MetricsSnapshot, Percentiles } from "../streaming/mod.ts";
export { type FetchHandler, PrometheusEmitter } from "./prometheus.ts";
