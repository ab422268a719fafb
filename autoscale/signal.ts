// The autoscaling loop: sample consumer lag and throughput, hand the sample to emitters.

import type { MetricsSnapshot } from "../streaming/mod.ts";

/** The lag of one partition or shard. */
export interface PartitionLag {
  /** Where the lag was measured: `kafka:<topic>:<partition>` or `kinesis:<stream>:<shard>`. */
  readonly stream: string;
  /** Records not yet committed (Kafka: end offset − committed offset), or `null` when unknown. */
  readonly records: number | null;
  /** How far behind the tip the reader is, in ms (Kinesis `MillisBehindLatest`), or `null`. */
  readonly behindMs: number | null;
}

/** Something that measures consumer lag: {@linkcode kafkaLag}, {@linkcode KinesisLagGauge}. */
export interface LagProbe {
  /**
   * Measures the lag of every partition or shard it watches.
   *
   * @param signal Aborts the measurement.
   * @returns One reading per partition or shard.
   */
  measure(signal?: AbortSignal): Promise<readonly PartitionLag[]>;
}

/** Where throughput and latency come from: `InMemoryMetrics` of `@murmur/core/streaming` fits. */
export interface SnapshotSource {
  /**
   * The current measurements of every pipeline.
   *
   * @returns One snapshot per pipeline.
   */
  snapshots(): readonly MetricsSnapshot[];
}

/** One measurement of the signals a scaling policy tracks, for one pipeline. */
export interface AutoscaleSample {
  /** The pipeline. */
  readonly pipeline: string;
  /** When the sample was taken, in epoch ms. */
  readonly at: number;
  /** Records behind over all partitions (the target-tracking metric), or `null` when no probe knows. */
  readonly lagRecords: number | null;
  /** The largest per-partition record lag, or `null`. */
  readonly maxPartitionLagRecords: number | null;
  /** The largest per-shard `behind` in ms, or `null`. */
  readonly behindMs: number | null;
  /** Records read per second, recent. */
  readonly eventsPerSecond: number;
  /** 95th percentile of the store flush (merge) latency, in ms. */
  readonly flushLatencyMs: number;
  /** The per-partition readings behind the totals. */
  readonly partitions: readonly PartitionLag[];
}

/** Publishes samples: {@linkcode CloudWatchEmitter}, {@linkcode PrometheusEmitter}. */
export interface Emitter {
  /**
   * Publishes one round of samples.
   *
   * @param samples One sample per pipeline.
   * @param signal Aborts the publication.
   */
  emit(
    samples: readonly AutoscaleSample[],
    signal?: AbortSignal,
  ): Promise<void>;
}

/** Options for {@linkcode AutoscaleSignal}. */
export interface AutoscaleSignalOptions {
  /** The pipeline the lag probes belong to (a worker runs one consumer group per pipeline). */
  readonly pipeline: string;
  /** Lag probes for the pipeline's source. Default: none (lag is `null`). */
  readonly probes?: readonly LagProbe[];
  /** Throughput and latency; `InMemoryMetrics` fits. Default: none (0s). */
  readonly metrics?: SnapshotSource;
  /** Where to publish. */
  readonly emitters: readonly Emitter[];
  /** Time between samples, in ms. Default: 10 000 (CloudWatch high-resolution periods are 10 s). */
  readonly intervalMs?: number;
  /** Called when a probe or emitter fails; the loop keeps going. Default: `console.warn`. */
  readonly onError?: (error: unknown) => void;
  /** The clock, in epoch ms. Default: `Date.now`. */
  readonly now?: () => number;
}

function sumOrNull(values: readonly (number | null)[]): number | null {
  const known = values.filter((v): v is number => v !== null);
  return known.length === 0 ? null : known.reduce((a, b) => a + b, 0);
}

function maxOrNull(values: readonly (number | null)[]): number | null {
  const known = values.filter((v): v is number => v !== null);
  return known.length === 0 ? null : Math.max(...known);
}

/**
 * The autoscaling loop: every `intervalMs` it measures the consumer lag of a
 * pipeline's source, reads events per second and flush latency from the
 * run's metrics, and hands the sample to each emitter (CloudWatch,
 * Prometheus). A failing probe or emitter is reported and retried on the
 * next tick; it never stops the worker.
 *
 * @example One sample by hand
 * ```ts
 * import { AutoscaleSignal, KinesisLagGauge, PrometheusEmitter } from "@murmur/core/autoscale";
 * import assert from "node:assert/strict";
 *
 * const shards = new KinesisLagGauge("clicks");
 * shards.report("shardId-000", 1500);
 * const prometheus = new PrometheusEmitter();
 * await using signal = new AutoscaleSignal({ pipeline: "clicks", probes: [shards], emitters: [prometheus] });
 * const [sample] = await signal.tick();
 * assert.equal(sample!.behindMs, 1500);
 * assert.match(prometheus.render(), /murmur_autoscale_behind_ms\{pipeline="clicks"\} 1500/);
 * ```
 */
export class AutoscaleSignal implements AsyncDisposable {
  #options: AutoscaleSignalOptions;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<unknown> | undefined;
  #abort = new AbortController();

  /**
   * Creates the loop; call {@linkcode AutoscaleSignal.start} to run it.
   *
   * @param options Pipeline, probes, metrics, emitters and interval.
   * @throws {RangeError} When `intervalMs` is not a positive number.
   */
  constructor(options: AutoscaleSignalOptions) {
    const interval = options.intervalMs ?? 10_000;
    if (!(interval > 0)) {
      throw new RangeError(
        `AutoscaleSignal: intervalMs ${interval} must be > 0`,
      );
    }
    this.#options = options;
  }

  /**
   * Takes one sample per pipeline and publishes it to every emitter.
   *
   * @returns The samples published: the configured pipeline first, then any
   * other pipeline the metrics know (without lag).
   */
  async tick(): Promise<AutoscaleSample[]> {
    const o = this.#options;
    const signal = this.#abort.signal;
    const report = o.onError ??
      ((e: unknown) => console.warn(`autoscale: ${String(e)}`));
    const readings: PartitionLag[] = [];
    for (const probe of o.probes ?? []) {
      try {
        readings.push(...await probe.measure(signal));
      } catch (error) {
        report(error);
      }
    }
    const at = (o.now ?? Date.now)();
    const snapshots = o.metrics?.snapshots() ?? [];
    const names = [
      o.pipeline,
      ...snapshots.map((s) => s.pipeline).filter((p) => p !== o.pipeline),
    ];
    const samples = names.map((pipeline): AutoscaleSample => {
      const snap = snapshots.find((s) => s.pipeline === pipeline);
      const own = pipeline === o.pipeline ? readings : [];
      return {
        pipeline,
        at,
        lagRecords: sumOrNull(own.map((r) => r.records)),
        maxPartitionLagRecords: maxOrNull(own.map((r) => r.records)),
        behindMs: maxOrNull(own.map((r) => r.behindMs)),
        eventsPerSecond: snap?.eventsPerSecond ?? 0,
        flushLatencyMs: snap?.mergeLatencyMs.p95 ?? 0,
        partitions: own,
      };
    });
    await Promise.all(o.emitters.map(async (emitter) => {
      try {
        await emitter.emit(samples, signal);
      } catch (error) {
        report(error);
      }
    }));
    return samples;
  }

  /** Starts sampling every `intervalMs` (the first sample right away); a second call does nothing. */
  start(): void {
    if (this.#timer !== undefined || this.#abort.signal.aborted) return;
    const loop = () => {
      this.#running = this.tick().finally(() => {
        if (!this.#abort.signal.aborted) {
          this.#timer = setTimeout(loop, this.#options.intervalMs ?? 10_000);
        }
      });
    };
    this.#timer = setTimeout(loop, 0);
  }

  /** Stops the loop, waits for a sample in flight and closes the probes that have a `close()` (e.g. {@linkcode kafkaLag}'s admin client). */
  async close(): Promise<void> {
    this.#abort.abort();
    clearTimeout(this.#timer);
    await this.#running?.catch(() => {});
    for (const probe of this.#options.probes ?? []) {
      await (probe as Partial<AsyncDisposable> & {
        close?: () => Promise<void>;
      })
        .close?.().catch(() => {});
    }
  }

  /** Same as {@linkcode AutoscaleSignal.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
