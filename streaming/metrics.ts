// What a run reports while it works, and an in-memory recorder with rates and percentiles.

/**
 * Receives a run's measurements. Every call names the pipeline, so one
 * recorder can serve many pipelines (a fanout, a worker). Calls happen per
 * batch or per store call, never per record, so implementations may do a
 * little work each time.
 */
export interface MetricsRecorder {
  /** `count` records entered the pipeline (decoded or not). */
  eventsIn(pipeline: string, count: number): void;
  /** One store merge call finished: `deltas` deltas written in `latencyMs`. */
  merged(pipeline: string, deltas: number, latencyMs: number): void;
  /** One flush of the batch window: `records` records folded into `keys` (key, bucket) deltas. */
  flushed(pipeline: string, records: number, keys: number): void;
  /** A failure: a store error (retried or not), a cache error, a bad record. */
  error(pipeline: string, error: unknown): void;
  /** A store call is being retried. */
  retried(pipeline: string): void;
  /** `count` records went to the dead-letter path. */
  deadLettered(pipeline: string, count: number): void;
  /** `count` deltas or records were skipped as already applied (exactly-once). */
  dedupSkipped(pipeline: string, count: number): void;
  /** `count` records were dropped by a key or value debouncer. */
  debounced(pipeline: string, count: number): void;
  /** The age, in ms, of the newest record acked (event time to durable), or `null` when unknown. */
  lag(pipeline: string, ms: number | null): void;
}

/** Three percentiles and the maximum of a sample window. */
export interface Percentiles {
  /** The median. */
  readonly p50: number;
  /** The 95th percentile. */
  readonly p95: number;
  /** The 99th percentile. */
  readonly p99: number;
}

/** A pipeline's measurements at one moment, as plain JSON. */
export interface MetricsSnapshot {
  /** The pipeline's name. */
  readonly pipeline: string;
  /** When the snapshot was taken, in epoch ms. */
  readonly at: number;
  /** Ms since the recorder first heard of the pipeline. */
  readonly uptimeMs: number;
  /** Records in, total. */
  readonly eventsIn: number;
  /** Records in per second over the last ~10 s. */
  readonly eventsPerSecond: number;
  /** Store merge calls, total. */
  readonly merges: number;
  /** Store merge calls per second over the last ~10 s. */
  readonly mergesPerSecond: number;
  /** Deltas per flush over the last 4096 flushes (0s when none). */
  readonly flushSize: Percentiles & { readonly max: number };
  /** Store merge latency in ms over the last 4096 merges (0s when none). */
  readonly mergeLatencyMs: Percentiles;
  /** Errors, total (including retried ones). */
  readonly errors: number;
  /** Retries, total. */
  readonly retries: number;
  /** Records dead-lettered, total. */
  readonly deadLetters: number;
  /** Deltas or records skipped as already applied, total. */
  readonly dedupSkips: number;
  /** Records dropped by debouncers, total. */
  readonly debounced: number;
  /** The last reported lag in ms, or `null`. */
  readonly lag: number | null;
  /** The last error's message, or `null`. */
  readonly lastError: string | null;
  /** When the last record came in, in epoch ms, or `null`. */
  readonly lastEventAt: number | null;
}

/** Options for {@linkcode InMemoryMetrics}. */
export interface InMemoryMetricsOptions {
  /** The clock, in epoch ms. Default: `Date.now`. */
  readonly now?: () => number;
  /** How many samples each percentile window keeps. Default: 4096. */
  readonly samples?: number;
}

const RATE_SECONDS = 10;

/** Counts per whole second over a short trailing window. */
class Rate {
  #counts = new Float64Array(RATE_SECONDS + 1);
  #seconds = new Float64Array(RATE_SECONDS + 1).fill(-1);

  add(now: number, n: number): void {
    const second = Math.floor(now / 1000);
    const i = second % (RATE_SECONDS + 1);
    if (this.#seconds[i] !== second) {
      this.#seconds[i] = second;
      this.#counts[i] = 0;
    }
    this.#counts[i]! += n;
  }

  perSecond(now: number, startedAt: number): number {
    const second = Math.floor(now / 1000);
    let total = 0;
    for (let i = 0; i <= RATE_SECONDS; i++) {
      const s = this.#seconds[i]!;
      if (s > second - RATE_SECONDS && s <= second) total += this.#counts[i]!;
    }
    const spanMs = Math.min(
      RATE_SECONDS * 1000,
      Math.max(now - startedAt, 1000),
    );
    return total / (spanMs / 1000);
  }
}

/** A ring buffer of numbers with nearest-rank percentiles. */
class Samples {
  #values: Float64Array;
  #count = 0;
  #next = 0;

  constructor(size: number) {
    this.#values = new Float64Array(size);
  }

  add(value: number): void {
    this.#values[this.#next] = value;
    this.#next = (this.#next + 1) % this.#values.length;
    if (this.#count < this.#values.length) this.#count++;
  }

  summary(): Percentiles & { max: number } {
    if (this.#count === 0) return { p50: 0, p95: 0, p99: 0, max: 0 };
    const sorted = this.#values.slice(0, this.#count).sort();
    const at = (q: number) => sorted[Math.floor((sorted.length - 1) * q)]!;
    return {
      p50: at(0.5),
      p95: at(0.95),
      p99: at(0.99),
      max: sorted[sorted.length - 1]!,
    };
  }
}

class PipelineMetrics {
  readonly startedAt: number;
  eventsIn = 0;
  merges = 0;
  errors = 0;
  retries = 0;
  deadLetters = 0;
  dedupSkips = 0;
  debounced = 0;
  lag: number | null = null;
  lastError: string | null = null;
  lastEventAt: number | null = null;
  readonly eventRate = new Rate();
  readonly mergeRate = new Rate();
  readonly flushSizes: Samples;
  readonly latencies: Samples;

  constructor(now: number, samples: number) {
    this.startedAt = now;
    this.flushSizes = new Samples(samples);
    this.latencies = new Samples(samples);
  }
}

/**
 * A {@linkcode MetricsRecorder} that keeps counters, ~10-second rates and
 * percentiles over the last 4096 samples in memory, per pipeline. The admin
 * UI charts its snapshots.
 *
 * @example Usage
 * ```ts
 * import { InMemoryMetrics } from "@murmur/core/streaming";
 * import assert from "node:assert/strict";
 *
 * const metrics = new InMemoryMetrics();
 * metrics.eventsIn("page_views", 100);
 * metrics.merged("page_views", 12, 3.5);
 * const snap = metrics.snapshot("page_views");
 * assert.equal(snap.eventsIn, 100);
 * assert.equal(snap.merges, 1);
 * assert.equal(snap.mergeLatencyMs.p50, 3.5);
 * ```
 */
export class InMemoryMetrics implements MetricsRecorder {
  #now: () => number;
  #samples: number;
  #pipelines = new Map<string, PipelineMetrics>();

  /**
   * Creates an empty recorder.
   *
   * @param options The clock and the sample window size.
   */
  constructor(options: InMemoryMetricsOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#samples = options.samples ?? 4096;
    if (!Number.isInteger(this.#samples) || this.#samples < 1) {
      throw new RangeError(
        `InMemoryMetrics: samples must be a positive integer, got ${this.#samples}`,
      );
    }
  }

  #of(pipeline: string): PipelineMetrics {
    let m = this.#pipelines.get(pipeline);
    if (m === undefined) {
      m = new PipelineMetrics(this.#now(), this.#samples);
      this.#pipelines.set(pipeline, m);
    }
    return m;
  }

  /** {@inheritDoc MetricsRecorder.eventsIn} */
  eventsIn(pipeline: string, count: number): void {
    const m = this.#of(pipeline);
    const now = this.#now();
    m.eventsIn += count;
    m.lastEventAt = now;
    m.eventRate.add(now, count);
  }

  /** {@inheritDoc MetricsRecorder.merged} */
  merged(pipeline: string, _deltas: number, latencyMs: number): void {
    const m = this.#of(pipeline);
    m.merges++;
    m.mergeRate.add(this.#now(), 1);
    m.latencies.add(latencyMs);
  }

  /** {@inheritDoc MetricsRecorder.flushed} */
  flushed(pipeline: string, _records: number, keys: number): void {
    this.#of(pipeline).flushSizes.add(keys);
  }

  /** {@inheritDoc MetricsRecorder.error} */
  error(pipeline: string, error: unknown): void {
    const m = this.#of(pipeline);
    m.errors++;
    m.lastError = error instanceof Error ? error.message : String(error);
  }

  /** {@inheritDoc MetricsRecorder.retried} */
  retried(pipeline: string): void {
    this.#of(pipeline).retries++;
  }

  /** {@inheritDoc MetricsRecorder.deadLettered} */
  deadLettered(pipeline: string, count: number): void {
    this.#of(pipeline).deadLetters += count;
  }

  /** {@inheritDoc MetricsRecorder.dedupSkipped} */
  dedupSkipped(pipeline: string, count: number): void {
    this.#of(pipeline).dedupSkips += count;
  }

  /** {@inheritDoc MetricsRecorder.debounced} */
  debounced(pipeline: string, count: number): void {
    this.#of(pipeline).debounced += count;
  }

  /** {@inheritDoc MetricsRecorder.lag} */
  lag(pipeline: string, ms: number | null): void {
    this.#of(pipeline).lag = ms;
  }

  /**
   * The names of the pipelines recorded so far.
   *
   * @returns The names, in first-seen order.
   */
  pipelines(): string[] {
    return [...this.#pipelines.keys()];
  }

  /**
   * One pipeline's measurements now.
   *
   * @param pipeline The pipeline's name; by default the first one recorded.
   * @returns The snapshot (all zeros for a pipeline not seen yet).
   */
  snapshot(pipeline?: string): MetricsSnapshot {
    const name = pipeline ?? this.#pipelines.keys().next().value ?? "";
    const now = this.#now();
    const m = this.#pipelines.get(name) ?? new PipelineMetrics(now, 1);
    const latency = m.latencies.summary();
    return {
      pipeline: name,
      at: now,
      uptimeMs: now - m.startedAt,
      eventsIn: m.eventsIn,
      eventsPerSecond: m.eventRate.perSecond(now, m.startedAt),
      merges: m.merges,
      mergesPerSecond: m.mergeRate.perSecond(now, m.startedAt),
      flushSize: m.flushSizes.summary(),
      mergeLatencyMs: { p50: latency.p50, p95: latency.p95, p99: latency.p99 },
      errors: m.errors,
      retries: m.retries,
      deadLetters: m.deadLetters,
      dedupSkips: m.dedupSkips,
      debounced: m.debounced,
      lag: m.lag,
      lastError: m.lastError,
      lastEventAt: m.lastEventAt,
    };
  }

  /**
   * Every pipeline's measurements now.
   *
   * @returns One snapshot per pipeline, sorted by name.
   */
  snapshots(): MetricsSnapshot[] {
    return this.pipelines().sort().map((p) => this.snapshot(p));
  }
}

/**
 * A recorder that discards everything: the default of `run()`.
 *
 * @example Usage
 * ```ts
 * import { noopMetrics } from "@murmur/core/streaming";
 * noopMetrics.eventsIn("p", 1); // does nothing
 * ```
 */
export const noopMetrics: MetricsRecorder = Object.freeze({
  eventsIn() {},
  merged() {},
  flushed() {},
  error() {},
  retried() {},
  deadLettered() {},
  dedupSkipped() {},
  debounced() {},
  lag() {},
});
