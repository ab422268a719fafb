// The CloudWatch emitter: one PutMetricData per tick with the pipeline as a dimension.

import {
  type MetricDatum,
  PutMetricDataCommand,
  type StandardUnit,
} from "@aws-sdk/client-cloudwatch";
import type { AutoscaleSample, Emitter } from "./signal.ts";

/** What the emitter needs of a CloudWatch client: `CloudWatchClient` of `@aws-sdk/client-cloudwatch` fits. */
export interface CloudWatchClientLike {
  /** Sends a command. */
  send(
    command: unknown,
    options?: { abortSignal?: AbortSignal },
  ): Promise<unknown>;
}

/** Options for {@linkcode CloudWatchEmitter}. */
export interface CloudWatchEmitterOptions {
  /** The metric namespace. Default: `"Murmur"`. */
  readonly namespace?: string;
  /** Dimensions added to every metric besides `Pipeline`, e.g. `{ Service: "counter-worker" }`. Default: none. */
  readonly dimensions?: Readonly<Record<string, string>>;
  /** `1` for high-resolution (1 s) metrics, `60` for standard ones. Default: 60. */
  readonly storageResolution?: 1 | 60;
}

/** The names of the metrics {@linkcode CloudWatchEmitter} publishes. */
export interface CloudWatchMetricNames {
  /** Records behind over all partitions. */
  readonly consumerLag: "ConsumerLag";
  /** The largest lag of one partition. */
  readonly maxPartitionLag: "MaxPartitionLag";
  /** The largest Kinesis ms behind. */
  readonly millisBehindLatest: "MillisBehindLatest";
  /** Records read per second. */
  readonly eventsPerSecond: "EventsPerSecond";
  /** Flush latency p95. */
  readonly flushLatencyP95: "FlushLatencyP95";
}

/** The metric names the emitter publishes, for alarms and scaling policies. */
export const CLOUDWATCH_METRICS: CloudWatchMetricNames = Object.freeze(
  {
    /** Records behind over all partitions of the pipeline's consumer group. */
    consumerLag: "ConsumerLag",
    /** The largest lag of one partition, in records. */
    maxPartitionLag: "MaxPartitionLag",
    /** The largest Kinesis `MillisBehindLatest` over the shards read. */
    millisBehindLatest: "MillisBehindLatest",
    /** Records read per second. */
    eventsPerSecond: "EventsPerSecond",
    /** 95th percentile of the store flush latency, in ms. */
    flushLatencyP95: "FlushLatencyP95",
  } as const,
);

/**
 * Publishes samples to Amazon CloudWatch with `PutMetricData`, one datum per
 * signal and pipeline (dimension `Pipeline`). Lag that no probe measured is
 * left out rather than sent as 0, so a target-tracking policy never scales
 * in on missing data.
 *
 * @example Usage
 * ```ts ignore
 * import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
 * import { AutoscaleSignal, CloudWatchEmitter, kafkaLag } from "@murmur/core/autoscale";
 *
 * const emitter = new CloudWatchEmitter(new CloudWatchClient({}), { dimensions: { Service: "counter-worker" } });
 * const lag = kafkaLag({ brokers: ["localhost:9092"], groupId: "page-view-counter", topics: ["page_views"] });
 * new AutoscaleSignal({ pipeline: "page_views", probes: [lag], emitters: [emitter] }).start();
 * ```
 */
export class CloudWatchEmitter implements Emitter {
  #client: CloudWatchClientLike;
  #namespace: string;
  #dimensions: { Name: string; Value: string }[];
  #resolution: number;

  /**
   * Creates the emitter.
   *
   * @param client The CloudWatch client.
   * @param options Namespace, dimensions and resolution.
   */
  constructor(
    client: CloudWatchClientLike,
    options: CloudWatchEmitterOptions = {},
  ) {
    this.#client = client;
    this.#namespace = options.namespace ?? "Murmur";
    this.#dimensions = Object.entries(options.dimensions ?? {}).map((
      [Name, Value],
    ) => ({ Name, Value }));
    this.#resolution = options.storageResolution ?? 60;
  }

  #datums(sample: AutoscaleSample): MetricDatum[] {
    const Dimensions = [
      { Name: "Pipeline", Value: sample.pipeline },
      ...this.#dimensions,
    ];
    const Timestamp = new Date(sample.at);
    const out: MetricDatum[] = [];
    const add = (name: string, value: number | null, unit: StandardUnit) => {
      if (value === null || !Number.isFinite(value)) return;
      out.push({
        MetricName: name,
        Dimensions,
        Timestamp,
        Value: value,
        Unit: unit,
        StorageResolution: this.#resolution,
      });
    };
    add(CLOUDWATCH_METRICS.consumerLag, sample.lagRecords, "Count");
    add(
      CLOUDWATCH_METRICS.maxPartitionLag,
      sample.maxPartitionLagRecords,
      "Count",
    );
    add(CLOUDWATCH_METRICS.millisBehindLatest, sample.behindMs, "Milliseconds");
    add(
      CLOUDWATCH_METRICS.eventsPerSecond,
      sample.eventsPerSecond,
      "Count/Second",
    );
    add(
      CLOUDWATCH_METRICS.flushLatencyP95,
      sample.flushLatencyMs,
      "Milliseconds",
    );
    return out;
  }

  /** {@inheritDoc Emitter.emit} */
  async emit(
    samples: readonly AutoscaleSample[],
    signal?: AbortSignal,
  ): Promise<void> {
    const data = samples.flatMap((s) => this.#datums(s));
    // PutMetricData takes at most 1000 data per call.
    for (let i = 0; i < data.length; i += 1000) {
      await this.#client.send(
        new PutMetricDataCommand({
          Namespace: this.#namespace,
          MetricData: data.slice(i, i + 1000),
        }),
        signal === undefined ? {} : { abortSignal: signal },
      );
    }
  }
}
