/**
 * Replay: run pipelines over an archive (S3 JSON-Lines, Parquet, a
 * JSON-Lines file) into a shadow state table, bucketing every event by its
 * own time, never by the time it is read, and report what was rebuilt:
 * events, dead letters, distinct keys, the buckets written and the
 * event-time range covered. Used with `@murmur/core/state/swap` to rebuild
 * state and switch to it atomically.
 *
 * @example A month of orders lands in its daily buckets
 * ```ts
 * import { replay } from "@murmur/core/replay";
 * import { bind } from "@murmur/core/streaming";
 * import { pipeline } from "@murmur/core/pipeline";
 * import { daily, days, sum } from "@murmur/core/monoid";
 * import { MemorySource } from "@murmur/core/source";
 * import { MemoryStore } from "@murmur/core/state";
 * import assert from "node:assert/strict";
 *
 * const live = new MemoryStore();
 * const shadow = new MemoryStore();
 * const revenue = pipeline<{ shop: string; amount: number; at: number }>("revenue")
 *   .key((o) => o.shop).value((o) => o.amount).time((o) => o.at)
 *   .aggregate(sum()).window(daily({ retention: days(3650) })).storeIn(live).build();
 * const day = Date.UTC(2026, 10, 1);
 * const orders = [{ shop: "a", amount: 3, at: day + 5 }, { shop: "a", amount: 4, at: day + 86_400_000 }];
 * const summary = await replay(MemorySource.of(orders), [bind(revenue)], { into: shadow });
 * assert.equal(summary.events, 2);
 * assert.deepEqual(summary.pipelines[0]!.buckets, [day, day + 86_400_000]);
 * assert.equal(await shadow.get(revenue.scope, { entity: "a", bucket: day }), 3);
 * assert.equal(await live.get(revenue.scope, { entity: "a", bucket: day }), undefined);
 * ```
 *
 * @module
 */

import { type Pipeline, PipelineConfigError } from "../pipeline/mod.ts";
import type { Source, SourceRecord } from "../source/mod.ts";
import {
  type Delta,
  DeltaRejectedError,
  type MergeOptions,
  type MergeResult,
  type ReadOptions,
  type Scope,
  type StateKey,
  type Store,
  type StoreLimits,
} from "../state/mod.ts";
import { HyperLogLog } from "../sketch/hll.ts";
import type { RunSummary } from "./_drive.ts";
import { type BoundPipeline, type FanoutOptions, runFanout } from "./fanout.ts";

/** How far a replay got, for progress bars. */
export interface ReplayProgress {
  /** Records read so far. */
  readonly events: number;
  /** Records per second since the start. */
  readonly eventsPerSecond: number;
  /** Ms since the start. */
  readonly elapsedMs: number;
  /** Units done (objects, files), when the source reports them. */
  readonly done?: number;
  /** Units in all, when the source reports them. */
  readonly total?: number;
  /** Bytes read, when the source reports them. */
  readonly bytes?: number;
}

/** Options of {@linkcode replay}. */
export interface ReplayOptions extends FanoutOptions {
  /** The shadow store every pipeline writes instead of its own. Default: each pipeline's own store. */
  readonly into?: Store;
  /**
   * The cut of a swap (see `prepareShadow`): deltas of buckets at or after
   * it are not written, because live writers copy those into the shadow.
   * Default: none.
   */
  readonly until?: number;
  /**
   * Accept pipelines without `.time()`: the source's record time is the
   * event's own time (a Kafka archive's timestamps). Default: `false`, so a
   * replay never buckets by the time it reads.
   */
  readonly trustSourceTime?: boolean;
  /** Called every `progressInterval` ms and once at the end. */
  readonly onProgress?: (progress: ReplayProgress) => void;
  /** How often `onProgress` is called, in ms. Default: 1000. */
  readonly progressInterval?: number;
}

/** What a replay did for one pipeline. */
export interface ReplayPipelineSummary extends RunSummary {
  /** Distinct entities written (an estimate past 100,000; see `keysExact`). */
  readonly keys: number;
  /** Whether `keys` is exact. */
  readonly keysExact: boolean;
  /** The bucket starts written, ascending (empty for all-time values). */
  readonly buckets: readonly number[];
  /** The earliest event time seen, epoch ms, or `null`. */
  readonly from: number | null;
  /** The latest event time seen, epoch ms, or `null`. */
  readonly to: number | null;
  /** Deltas not written because their bucket is at or after `until`. */
  readonly afterCut: number;
}

/** What a replay did. */
export interface ReplaySummary {
  /** One summary per pipeline, in the order given. */
  readonly pipelines: readonly ReplayPipelineSummary[];
  /** Records read from the archive. */
  readonly events: number;
  /** Records dead-lettered, over all pipelines. */
  readonly deadLetters: number;
  /** Wall-clock duration in ms. */
  readonly durationMs: number;
  /** Why the replay ended. */
  readonly stoppedBy: "end" | "signal";
}

/** Thrown when a replay would bucket events by the time they are read. */
export class ReplayConfigError extends PipelineConfigError {
  /**
   * Creates the error.
   *
   * @param pipeline The pipeline's name.
   */
  constructor(pipeline: string) {
    super(
      pipeline,
      `replay: pipeline "${pipeline}" has no event time, so a replay would put last month's events in today's bucket: call .time(e => ...) (or set time: in the config), or pass { trustSourceTime: true } when the archive's record time is the event time`,
    );
    this.name = "ReplayConfigError";
  }
}

const EXACT_KEYS = 100_000;

/** Counts what reaches a store and holds back buckets at or after the cut. */
class Observed implements Store {
  readonly name: string;
  readonly #inner: Store;
  readonly #until: number | undefined;
  readonly #namespace: string;
  #entities: Set<string> | null = new Set();
  #sketch: HyperLogLog | null = null;
  readonly buckets = new Set<number>();
  afterCut = 0;

  constructor(namespace: string, inner: Store, until: number | undefined) {
    this.#namespace = namespace;
    this.#inner = inner;
    this.#until = until;
    this.name = inner.name;
  }

  get keys(): { count: number; exact: boolean } {
    return this.#entities !== null
      ? { count: this.#entities.size, exact: true }
      : { count: Math.round(this.#sketch!.count()), exact: false };
  }

  #seen(entity: string): void {
    if (this.#entities !== null) {
      this.#entities.add(entity);
      if (this.#entities.size <= EXACT_KEYS) return;
      const sketch = new HyperLogLog();
      for (const seen of this.#entities) sketch.add(seen);
      this.#sketch = sketch;
      this.#entities = null;
      return;
    }
    this.#sketch!.add(entity);
  }

  get<V>(scope: Scope<V>, key: StateKey): Promise<V | undefined> {
    return this.#inner.get(scope, key);
  }

  getMany<V>(
    scope: Scope<V>,
    keys: readonly StateKey[],
    options?: ReadOptions,
  ): Promise<(V | undefined)[]> {
    return this.#inner.getMany(scope, keys, options);
  }

  get limits(): StoreLimits | undefined {
    return this.#inner.limits;
  }

  async merge<V>(
    scope: Scope<V>,
    deltas: readonly Delta<V>[],
    options?: MergeOptions,
  ): Promise<MergeResult> {
    const kept: Delta<V>[] = [];
    const index: number[] = [];
    deltas.forEach((delta, i) => {
      const bucket = delta.key.bucket;
      if (
        this.#until !== undefined && bucket !== null && bucket >= this.#until
      ) {
        this.afterCut++;
        return;
      }
      kept.push(delta);
      index.push(i);
    });
    if (kept.length === 0) return { applied: 0, skipped: [] };
    if (kept.length === deltas.length && scope.namespace !== this.#namespace) {
      return await this.#inner.merge(scope, deltas, options);
    }
    let result: MergeResult;
    try {
      result = await this.#inner.merge(scope, kept, options);
    } catch (error) {
      if (error instanceof DeltaRejectedError) {
        throw new DeltaRejectedError(
          error.namespace,
          index[error.index] ?? error.index,
          error.key,
          error.message,
          { cause: error },
        );
      }
      throw error;
    }
    for (const delta of scope.namespace === this.#namespace ? kept : []) {
      this.#seen(delta.key.entity);
      if (delta.key.bucket !== null) this.buckets.add(delta.key.bucket);
    }
    return {
      applied: result.applied,
      skipped: result.skipped.map((i) => index[i]!),
    };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** The same pipeline writing another store, without a cache (the cache belongs to the live table). */
function retarget<E>(
  pipeline: Pipeline<E, unknown>,
  store: Store,
): Pipeline<E, unknown> {
  return Object.freeze({
    ...pipeline,
    store,
    cache: null,
    describe: () => ({
      ...pipeline.describe(),
      store: store.name,
      cache: null,
    }),
  });
}

interface Seen {
  min: number;
  max: number;
}

/** Passes batches through and watches event times and counts on the way. */
function watched<E>(
  source: Source<E>,
  times: readonly (((event: E, recordTime: number) => number) | null)[],
  seen: Seen[],
  counts: { events: number },
): Source<E> {
  return {
    name: source.name,
    close: () => source.close(),
    [Symbol.asyncDispose]: () => source.close(),
    async *[Symbol.asyncIterator]() {
      for await (
        const batch of source as AsyncIterable<readonly SourceRecord<E>[]>
      ) {
        counts.events += batch.length;
        for (const record of batch) {
          if (record.error !== undefined) continue;
          times.forEach((time, p) => {
            let t = record.time;
            if (time !== null) {
              try {
                t = time(record.value as E, record.time);
              } catch {
                return;
              }
            }
            if (!Number.isFinite(t)) return;
            const s = seen[p]!;
            if (t < s.min) s.min = t;
            if (t > s.max) s.max = t;
          });
        }
        yield batch;
      }
    },
  };
}

/**
 * Runs pipelines over an archive into a shadow store, bucketing by each
 * event's own time, and reports what it rebuilt. Pipelines run as one
 * fanout over the source (each with its own run options); their caches are
 * not written (a cache belongs to the live table).
 *
 * @typeParam E The event type.
 * @param source The archive: a finite source.
 * @param pipelines The pipelines, bound with `bind()`.
 * @param options The shadow store, the cut, progress and shutdown.
 * @returns What the replay did, per pipeline.
 * @throws {ReplayConfigError} When a pipeline has no event time (unless `trustSourceTime`).
 * @throws {StoreFailureError} When the shadow store kept failing.
 */
export async function replay<E>(
  source: Source<NoInfer<E>>,
  pipelines: readonly BoundPipeline<E>[],
  options: ReplayOptions = {},
): Promise<ReplaySummary> {
  for (const { pipeline } of pipelines) {
    if (pipeline.extract.time === null && options.trustSourceTime !== true) {
      throw new ReplayConfigError(pipeline.name);
    }
  }
  const observed = pipelines.map(({ pipeline }) =>
    new Observed(pipeline.name, options.into ?? pipeline.store, options.until)
  );
  const seen = pipelines.map(() => ({ min: Infinity, max: -Infinity }));
  const counts = { events: 0 };
  const input = watched(
    source,
    pipelines.map(({ pipeline }) => pipeline.extract.time),
    seen,
    counts,
  );
  const started = performance.now();
  const report = () => {
    const elapsedMs = performance.now() - started;
    const extra = (source as { progress?: () => Record<string, unknown> })
      .progress?.();
    const num = (v: unknown) => typeof v === "number" ? v : undefined;
    const done = num(extra?.itemsDone);
    const total = num(extra?.items);
    const bytes = num(extra?.bytes);
    options.onProgress?.({
      events: counts.events,
      eventsPerSecond: elapsedMs > 0 ? counts.events / (elapsedMs / 1000) : 0,
      elapsedMs,
      ...(done === undefined ? {} : { done }),
      ...(total === undefined ? {} : { total }),
      ...(bytes === undefined ? {} : { bytes }),
    });
  };
  const timer = options.onProgress === undefined
    ? undefined
    : setInterval(report, options.progressInterval ?? 1000);
  let result;
  try {
    result = await runFanout(
      input,
      pipelines.map((bound, i) => ({
        pipeline: retarget(bound.pipeline, observed[i]!),
        options: bound.options,
      })),
      options,
    );
  } finally {
    clearInterval(timer);
  }
  report();
  const summaries = result.pipelines.map((run, i): ReplayPipelineSummary => {
    const o = observed[i]!;
    const s = seen[i]!;
    return {
      ...run,
      keys: o.keys.count,
      keysExact: o.keys.exact,
      buckets: [...o.buckets].sort((a, b) => a - b),
      from: Number.isFinite(s.min) ? s.min : null,
      to: Number.isFinite(s.max) ? s.max : null,
      afterCut: o.afterCut,
    };
  });
  return {
    pipelines: summaries,
    events: counts.events,
    deadLetters: summaries.reduce((n, p) => n + p.deadLetters, 0),
    durationMs: result.durationMs,
    stoppedBy: result.stoppedBy,
  };
}
