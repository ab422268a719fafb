// Reads pipelines' values: all-time, last N buckets, [start, end) ranges, one or many entities at a time.

import {
  type Cache,
  CachedStore,
  entityProblem,
  type ReadStats as StoreReadStats,
  type Scope,
  type StateKey,
  type Store,
} from "../state/mod.ts";
import type { Granularity, QueryTarget, QueryWindow } from "./target.ts";
import { trailing, type Window } from "../monoid/window.ts";
import {
  type TypedValue,
  typedValue,
  type TypedValueOptions,
} from "./typed.ts";
import {
  InvalidQueryError,
  PipelineNotFoundError,
  WindowMismatchError,
} from "./errors.ts";
import { Singleflight } from "./_singleflight.ts";
import { parseDuration } from "./_duration.ts";

/** Limits that keep one request from turning into an unbounded scan. */
export interface QueryLimits {
  /** Most entities in one `*Many` request. Default: 1000. */
  readonly maxEntities: number;
  /** Most buckets one window or range may cover. Default: 10,080 (a week of minutes). */
  readonly maxBuckets: number;
  /** Most keys (entities × buckets) one request may read. Default: 100,000. */
  readonly maxKeys: number;
  /** Longest entity, in UTF-16 code units. Default: 1024. */
  readonly maxEntityLength: number;
}

/** The limits used when none are given. */
export const DEFAULT_QUERY_LIMITS: QueryLimits = Object.freeze({
  maxEntities: 1000,
  maxBuckets: 10_080,
  maxKeys: 100_000,
  maxEntityLength: 1024,
});

/** Options for {@linkcode createQuerier}. */
export interface QuerierOptions {
  /** Overrides of {@linkcode DEFAULT_QUERY_LIMITS}. */
  readonly limits?: Partial<QueryLimits>;
  /** The clock for windows without an explicit `at`, in epoch ms. Default: `Date.now`. */
  readonly now?: () => number;
}

/** Options for every read. */
export interface ReadOptions {
  /** Read the store directly, skipping the cache and request coalescing. Default: `false`. */
  readonly freshRead?: boolean;
  /** Stops waiting for the answer (a coalesced read goes on for other callers). */
  readonly signal?: AbortSignal;
}

/** Options for window reads. */
export interface WindowReadOptions extends ReadOptions {
  /** The reference time in epoch ms; the querier's clock when absent. */
  readonly at?: number;
}

/** An interval `[startMs, endMs)` in epoch milliseconds. */
export interface TimeRange {
  /** Inclusive start. */
  readonly startMs: number;
  /** Exclusive end; must be after `startMs`. */
  readonly endMs: number;
}

/** Which keys an answer merged. */
export interface Coverage {
  /** True for the all-time value of an unwindowed pipeline. */
  readonly allTime: boolean;
  /** The window's granularity, or `null` for all-time. */
  readonly granularity: Granularity | null;
  /** The covered interval's start (bucket-aligned), or `null` for all-time. */
  readonly startMs: number | null;
  /** The covered interval's end (bucket-aligned, exclusive), or `null` for all-time. */
  readonly endMs: number | null;
  /** Every covered bucket's start, oldest first (empty for all-time). */
  readonly buckets: readonly number[];
  /** The covered buckets that held data, oldest first. */
  readonly presentBuckets: readonly number[];
}

/** How an answer was read. */
export interface ReadStats {
  /** Keys the answer covers. */
  readonly keys: number;
  /** Keys the cache answered. */
  readonly cacheHits: number;
  /** Keys read from the store. */
  readonly storeReads: number;
  /** True when the read joined an identical one already in flight. */
  readonly coalesced: boolean;
}

/**
 * The value of one entity over what a read covered.
 *
 * @typeParam V The value type.
 */
export interface QueryAnswer<V> {
  /** The pipeline's name. */
  readonly pipeline: string;
  /** The entity. */
  readonly entity: string;
  /**
   * True when at least one covered key held data. `false` means "no data",
   * which is not a zero: `value` is then the monoid's identity.
   */
  readonly present: boolean;
  /** The merged value (the monoid's identity when nothing was present). */
  readonly value: V;
  /** What the answer covers. */
  readonly coverage: Coverage;
  /** How it was read. */
  readonly stats: ReadStats;
}

/** A plan: which buckets to read for each entity, and how to describe them. */
interface Plan {
  readonly op: "get" | "window" | "trailing" | "range";
  readonly buckets: readonly (number | null)[];
  readonly coverage: Omit<Coverage, "presentBuckets">;
}

/**
 * Reads any number of pipelines: all-time values, windows of the last N
 * buckets and `[start, end)` ranges, for one or many entities.
 *
 * Reads go through the pipeline's cache (filled from the store on a miss)
 * unless `freshRead` is set; identical concurrent reads share one backend
 * read, and every caller gets answers in the order it asked for them.
 * Missing buckets are simply not folded, so a monoid whose identity is not
 * zero stays correct, and `present` tells "no data" from a real zero.
 */
export class Querier {
  readonly #targets = new Map<string, QueryTarget<unknown>>();
  readonly #limits: QueryLimits;
  readonly #now: () => number;
  readonly #flights = new Singleflight<Map<string, QueryAnswer<unknown>>>();
  readonly #ids = new WeakMap<object, number>();
  #nextId = 0;

  /**
   * Creates a querier over `pipelines`.
   *
   * @param pipelines The pipelines to serve; names must be unique.
   * @param options Limits and clock.
   * @throws {TypeError} When two pipelines share a name.
   */
  constructor(
    pipelines: Iterable<QueryTarget<unknown>> = [],
    options: QuerierOptions = {},
  ) {
    this.#limits = { ...DEFAULT_QUERY_LIMITS, ...options.limits };
    this.#now = options.now ?? Date.now;
    for (const pipeline of pipelines) this.add(pipeline);
  }

  /** The limits in force. */
  get limits(): QueryLimits {
    return this.#limits;
  }

  /** The pipelines served, sorted by name. */
  get pipelines(): readonly QueryTarget<unknown>[] {
    return [...this.#targets.values()].sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0
    );
  }

  /**
   * Serves one more pipeline.
   *
   * @param pipeline The pipeline.
   * @throws {TypeError} When a different pipeline with the same name is served.
   */
  add(pipeline: QueryTarget<unknown>): void {
    const existing = this.#targets.get(pipeline.name);
    if (existing !== undefined && existing !== pipeline) {
      throw new TypeError(
        `a pipeline named ${
          JSON.stringify(pipeline.name)
        } is already served: give each pipeline a unique name`,
      );
    }
    if (pipeline.name === "") {
      throw new TypeError("a pipeline needs a non-empty name to be queried");
    }
    this.#targets.set(pipeline.name, pipeline);
  }

  /**
   * Stops serving a pipeline.
   *
   * @param name The pipeline's name.
   * @returns Whether it was served.
   */
  remove(name: string): boolean {
    return this.#targets.delete(name);
  }

  /**
   * Finds a served pipeline by name.
   *
   * @param name The pipeline's name.
   * @returns The pipeline.
   * @throws {PipelineNotFoundError} When no pipeline has that name.
   */
  target(name: string): QueryTarget<unknown> {
    const target = this.#targets.get(name);
    if (target === undefined) {
      throw new PipelineNotFoundError(name, [...this.#targets.keys()].sort());
    }
    return target;
  }

  /**
   * Reads the all-time value of one entity of an unwindowed pipeline.
   *
   * @typeParam V The value type.
   * @param pipeline The pipeline or its name.
   * @param entity The entity.
   * @param options Read options.
   * @returns The answer.
   * @throws {PipelineNotFoundError} For an unknown pipeline name.
   * @throws {InvalidQueryError} For an empty or over-long entity.
   * @throws {WindowMismatchError} When the pipeline is windowed.
   */
  get<V>(
    pipeline: QueryTarget<V>,
    entity: string,
    options?: ReadOptions,
  ): Promise<QueryAnswer<V>>;
  /**
   * Reads an all-time value by pipeline name. The answer's value is `unknown`; pass the pipeline object for a typed one.
   *
   * @param pipeline The pipeline's name.
   * @returns The same as the typed overload.
   */
  get(
    pipeline: string,
    entity: string,
    options?: ReadOptions,
  ): Promise<QueryAnswer<unknown>>;
  async get(
    pipeline: string | QueryTarget<unknown>,
    entity: string,
    options: ReadOptions = {},
  ): Promise<QueryAnswer<unknown>> {
    const target = this.#resolve(pipeline);
    const [answer] = await this.#run(
      target,
      [entity],
      this.#allTimePlan(target),
      options,
      true,
    );
    return answer!;
  }

  /**
   * Reads the all-time values of many entities, answering in their order.
   *
   * @typeParam V The value type.
   * @param pipeline The pipeline or its name.
   * @param entities The entities; duplicates are allowed.
   * @param options Read options.
   * @returns One answer per entity, in the order given.
   * @throws {PipelineNotFoundError} For an unknown pipeline name.
   * @throws {InvalidQueryError} For a bad entity or too many entities.
   * @throws {WindowMismatchError} When the pipeline is windowed.
   */
  getMany<V>(
    pipeline: QueryTarget<V>,
    entities: readonly string[],
    options?: ReadOptions,
  ): Promise<QueryAnswer<V>[]>;
  /**
   * Reads all-time values by pipeline name. The answer's value is `unknown`; pass the pipeline object for a typed one.
   *
   * @param pipeline The pipeline's name.
   * @returns The same as the typed overload.
   */
  getMany(
    pipeline: string,
    entities: readonly string[],
    options?: ReadOptions,
  ): Promise<QueryAnswer<unknown>[]>;
  async getMany(
    pipeline: string | QueryTarget<unknown>,
    entities: readonly string[],
    options: ReadOptions = {},
  ): Promise<QueryAnswer<unknown>[]> {
    const target = this.#resolve(pipeline);
    return await this.#run(
      target,
      entities,
      this.#allTimePlan(target),
      options,
    );
  }

  /**
   * Merges the last `last` buckets (the current one included) of one entity.
   *
   * @typeParam V The value type.
   * @param pipeline The pipeline or its name.
   * @param entity The entity.
   * @param last How many buckets of the pipeline's granularity.
   * @param options Read options and the reference time.
   * @returns The answer.
   * @throws {PipelineNotFoundError} For an unknown pipeline name.
   * @throws {InvalidQueryError} For a bad entity or a bucket count out of bounds.
   * @throws {WindowMismatchError} When the pipeline is not windowed.
   */
  getWindow<V>(
    pipeline: QueryTarget<V>,
    entity: string,
    last: number,
    options?: WindowReadOptions,
  ): Promise<QueryAnswer<V>>;
  /**
   * Merges the last buckets by pipeline name. The answer's value is `unknown`; pass the pipeline object for a typed one.
   *
   * @param pipeline The pipeline's name.
   * @returns The same as the typed overload.
   */
  getWindow(
    pipeline: string,
    entity: string,
    last: number,
    options?: WindowReadOptions,
  ): Promise<QueryAnswer<unknown>>;
  async getWindow(
    pipeline: string | QueryTarget<unknown>,
    entity: string,
    last: number,
    options: WindowReadOptions = {},
  ): Promise<QueryAnswer<unknown>> {
    const target = this.#resolve(pipeline);
    const plan = this.#lastPlan(target, last, options.at);
    const [answer] = await this.#run(target, [entity], plan, options, true);
    return answer!;
  }

  /**
   * Merges the last `last` buckets of many entities, answering in their order.
   *
   * @typeParam V The value type.
   * @param pipeline The pipeline or its name.
   * @param entities The entities; duplicates are allowed.
   * @param last How many buckets of the pipeline's granularity.
   * @param options Read options and the reference time.
   * @returns One answer per entity, in the order given.
   * @throws {PipelineNotFoundError} For an unknown pipeline name.
   * @throws {InvalidQueryError} For bad entities or counts out of bounds.
   * @throws {WindowMismatchError} When the pipeline is not windowed.
   */
  getWindowMany<V>(
    pipeline: QueryTarget<V>,
    entities: readonly string[],
    last: number,
    options?: WindowReadOptions,
  ): Promise<QueryAnswer<V>[]>;
  /**
   * Merges the last buckets of many entities by pipeline name. The answer's value is `unknown`; pass the pipeline object for a typed one.
   *
   * @param pipeline The pipeline's name.
   * @returns The same as the typed overload.
   */
  getWindowMany(
    pipeline: string,
    entities: readonly string[],
    last: number,
    options?: WindowReadOptions,
  ): Promise<QueryAnswer<unknown>[]>;
  async getWindowMany(
    pipeline: string | QueryTarget<unknown>,
    entities: readonly string[],
    last: number,
    options: WindowReadOptions = {},
  ): Promise<QueryAnswer<unknown>[]> {
    const target = this.#resolve(pipeline);
    const plan = this.#lastPlan(target, last, options.at);
    return await this.#run(target, entities, plan, options);
  }

  /**
   * Merges the buckets overlapping `[startMs, endMs)` of one entity.
   *
   * @typeParam V The value type.
   * @param pipeline The pipeline or its name.
   * @param entity The entity.
   * @param range The interval.
   * @param options Read options.
   * @returns The answer; its coverage is the bucket-aligned interval read.
   * @throws {PipelineNotFoundError} For an unknown pipeline name.
   * @throws {InvalidQueryError} For a bad entity or an inverted or enormous range.
   * @throws {WindowMismatchError} When the pipeline is not windowed.
   */
  getRange<V>(
    pipeline: QueryTarget<V>,
    entity: string,
    range: TimeRange,
    options?: ReadOptions,
  ): Promise<QueryAnswer<V>>;
  /**
   * Merges a range by pipeline name. The answer's value is `unknown`; pass the pipeline object for a typed one.
   *
   * @param pipeline The pipeline's name.
   * @returns The same as the typed overload.
   */
  getRange(
    pipeline: string,
    entity: string,
    range: TimeRange,
    options?: ReadOptions,
  ): Promise<QueryAnswer<unknown>>;
  async getRange(
    pipeline: string | QueryTarget<unknown>,
    entity: string,
    range: TimeRange,
    options: ReadOptions = {},
  ): Promise<QueryAnswer<unknown>> {
    const target = this.#resolve(pipeline);
    const plan = this.#rangePlan(target, range);
    const [answer] = await this.#run(target, [entity], plan, options, true);
    return answer!;
  }

  /**
   * Merges the buckets overlapping `[startMs, endMs)` of many entities,
   * answering in their order.
   *
   * @typeParam V The value type.
   * @param pipeline The pipeline or its name.
   * @param entities The entities; duplicates are allowed.
   * @param range The interval.
   * @param options Read options.
   * @returns One answer per entity, in the order given.
   * @throws {PipelineNotFoundError} For an unknown pipeline name.
   * @throws {InvalidQueryError} For bad entities or an inverted or enormous range.
   * @throws {WindowMismatchError} When the pipeline is not windowed.
   */
  getRangeMany<V>(
    pipeline: QueryTarget<V>,
    entities: readonly string[],
    range: TimeRange,
    options?: ReadOptions,
  ): Promise<QueryAnswer<V>[]>;
  /**
   * Merges a range for many entities by pipeline name. The answer's value is `unknown`; pass the pipeline object for a typed one.
   *
   * @param pipeline The pipeline's name.
   * @returns The same as the typed overload.
   */
  getRangeMany(
    pipeline: string,
    entities: readonly string[],
    range: TimeRange,
    options?: ReadOptions,
  ): Promise<QueryAnswer<unknown>[]>;
  async getRangeMany(
    pipeline: string | QueryTarget<unknown>,
    entities: readonly string[],
    range: TimeRange,
    options: ReadOptions = {},
  ): Promise<QueryAnswer<unknown>[]> {
    const target = this.#resolve(pipeline);
    const plan = this.#rangePlan(target, range);
    return await this.#run(target, entities, plan, options);
  }

  /**
   * Merges the buckets of the trailing `duration` up to `at` (default: now)
   * of one entity: every bucket overlapping `[at - duration, at]`, planned by
   * `trailing()` of `@murmur/core/monoid`. Unlike {@linkcode Querier.getWindow}
   * it takes a time span, not a bucket count: `"7d"` on hourly buckets reads
   * 169 buckets (the oldest one straddles the start, see `coverage`).
   *
   * @typeParam V The value type.
   * @param pipeline The pipeline or its name.
   * @param entity The entity.
   * @param duration How far back: ms, or a string like `"90s"`, `"15m"`, `"24h"`, `"7d"`, `"2w"`.
   * @param options Read options and the reference time.
   * @returns The answer; its coverage names the buckets read.
   * @throws {InvalidQueryError} For a bad entity or duration, or one spanning too many buckets.
   * @throws {WindowMismatchError} When the pipeline is not windowed.
   *
   * @example Usage
   * ```ts
   * import { createQuerier } from "@murmur/core/query";
   * import { hourly, sum } from "@murmur/core/monoid";
   * import { MemoryStore } from "@murmur/core/state";
   * import assert from "node:assert/strict";
   *
   * const hour = 3_600_000;
   * const store = new MemoryStore();
   * const views = { name: "views", monoid: sum(), window: hourly(), store };
   * await store.merge({ namespace: "views", monoid: sum() }, [
   *   { key: { entity: "post:1", bucket: 0 }, value: 2 },
   *   { key: { entity: "post:1", bucket: 5 * hour }, value: 5 },
   * ]);
   * const querier = createQuerier([views]);
   * const answer = await querier.getTrailing(views, "post:1", "2h", { at: 5 * hour + 1 });
   * assert.equal(answer.value, 5);
   * assert.equal(answer.coverage.buckets.length, 3);
   * ```
   */
  getTrailing<V>(
    pipeline: QueryTarget<V>,
    entity: string,
    duration: number | string,
    options?: WindowReadOptions,
  ): Promise<QueryAnswer<V>>;
  /**
   * Merges a trailing duration by pipeline name. The answer's value is `unknown`; pass the pipeline object for a typed one.
   *
   * @param pipeline The pipeline's name.
   * @returns The same as the typed overload.
   */
  getTrailing(
    pipeline: string,
    entity: string,
    duration: number | string,
    options?: WindowReadOptions,
  ): Promise<QueryAnswer<unknown>>;
  async getTrailing(
    pipeline: string | QueryTarget<unknown>,
    entity: string,
    duration: number | string,
    options: WindowReadOptions = {},
  ): Promise<QueryAnswer<unknown>> {
    const target = this.#resolve(pipeline);
    const plan = this.#trailingPlan(target, duration, options.at);
    const [answer] = await this.#run(target, [entity], plan, options, true);
    return answer!;
  }

  /**
   * Merges the trailing `duration` of many entities, answering in their order.
   *
   * @typeParam V The value type.
   * @param pipeline The pipeline or its name.
   * @param entities The entities; duplicates are allowed.
   * @param duration How far back: ms, or a string like `"24h"` or `"7d"`.
   * @param options Read options and the reference time.
   * @returns One answer per entity, in the order given.
   * @throws {InvalidQueryError} For bad entities or a bad duration.
   * @throws {WindowMismatchError} When the pipeline is not windowed.
   */
  getTrailingMany<V>(
    pipeline: QueryTarget<V>,
    entities: readonly string[],
    duration: number | string,
    options?: WindowReadOptions,
  ): Promise<QueryAnswer<V>[]>;
  /**
   * Merges a trailing duration of many entities by pipeline name. The answer's value is `unknown`; pass the pipeline object for a typed one.
   *
   * @param pipeline The pipeline's name.
   * @returns The same as the typed overload.
   */
  getTrailingMany(
    pipeline: string,
    entities: readonly string[],
    duration: number | string,
    options?: WindowReadOptions,
  ): Promise<QueryAnswer<unknown>[]>;
  async getTrailingMany(
    pipeline: string | QueryTarget<unknown>,
    entities: readonly string[],
    duration: number | string,
    options: WindowReadOptions = {},
  ): Promise<QueryAnswer<unknown>[]> {
    const target = this.#resolve(pipeline);
    const plan = this.#trailingPlan(target, duration, options.at);
    return await this.#run(target, entities, plan, options);
  }

  /**
   * Describes an answer's value in typed form ({@linkcode typedValue}), as
   * the Connect service sends it: a Top-K value reports the pipeline's `top`
   * entries (a `topN()` pipeline's `n`), or every tracked item when the
   * pipeline sets none, unless `options.top` asks for another count.
   *
   * @typeParam V The value type.
   * @param pipeline The pipeline that answered, or its name.
   * @param answer The answer.
   * @param options Bloom probe items; how many Top-K entries to report.
   * @returns The typed value.
   * @throws {PipelineNotFoundError} For an unknown pipeline name.
   * @throws {InvalidQueryError} When `top` is not a positive integer.
   *
   * @example Usage
   * ```ts
   * import { createQuerier } from "@murmur/core/query";
   * import { topN } from "@murmur/core/pipeline";
   * import { MemoryStore } from "@murmur/core/state";
   * import assert from "node:assert/strict";
   *
   * const pages = topN<{ page: string }>("top_pages", { n: 2, item: (e) => e.page })
   *   .key(() => "all").storeIn(new MemoryStore()).build();
   * const sketch = pages.monoid.identity().add("/", 9).add("/a", 4).add("/b", 1);
   * await pages.store.merge(pages.scope, [{ key: { entity: "all", bucket: null }, value: sketch }]);
   *
   * const querier = createQuerier([pages]);
   * const answer = await querier.get(pages, "all");
   * const typed = querier.typed(pages, answer);
   * assert.equal(typed.type === "topk" && typed.entries.length, 2);
   * assert.equal(answer.value.top().length, 3); // the value keeps the whole sketch
   * ```
   */
  typed<V>(
    pipeline: string | QueryTarget<V>,
    answer: QueryAnswer<V>,
    options: TypedValueOptions = {},
  ): TypedValue {
    const target = typeof pipeline === "string"
      ? this.target(pipeline) as QueryTarget<V>
      : pipeline;
    const top = options.top ?? target.top ?? undefined;
    return typedValue(
      target.monoid,
      answer.value,
      top === undefined ? options : { ...options, top },
    );
  }

  #allTimePlan(target: QueryTarget<unknown>): Plan {
    if (target.window !== null) {
      throw new WindowMismatchError(
        target.name,
        `is windowed (${target.window.granularity} buckets): use getWindow() or getRange()`,
      );
    }
    return {
      op: "get",
      buckets: [null],
      coverage: {
        allTime: true,
        granularity: null,
        startMs: null,
        endMs: null,
        buckets: [],
      },
    };
  }

  #lastPlan(
    target: QueryTarget<unknown>,
    last: number,
    at: number | undefined,
  ): Plan {
    const window = this.#windowOf(target, "getWindow");
    const limit = this.#limits.maxBuckets;
    if (!Number.isSafeInteger(last) || last < 1 || last > limit) {
      throw new InvalidQueryError(
        "last",
        `${last} buckets asked for; give a whole number from 1 to ${limit}`,
      );
    }
    const now = at ?? this.#now();
    checkTime("at", now);
    const buckets = listBuckets("last", () => window.lastN(last, now));
    return this.#windowPlan(target, "window", buckets);
  }

  #trailingPlan(
    target: QueryTarget<unknown>,
    duration: number | string,
    at: number | undefined,
  ): Plan {
    const window = this.#windowOf(target, "getTrailing");
    const ms = parseDuration(duration);
    const now = at ?? this.#now();
    checkTime("at", now);
    checkTime("duration", now - ms);
    // Refused before the planner lists anything, like an enormous range.
    const span = Math.ceil(ms / window.size) + 1;
    if (span > this.#limits.maxBuckets) {
      throw new InvalidQueryError(
        "duration",
        `${duration} spans about ${span} ${window.granularity} buckets; at most ${this.#limits.maxBuckets} per request`,
      );
    }
    const buckets = listBuckets("duration", () => {
      const plan = trailing(asWindow(window), ms, { now });
      return plan.parts.flatMap((part) => part.buckets);
    });
    return this.#windowPlan(target, "trailing", buckets);
  }

  #rangePlan(target: QueryTarget<unknown>, range: TimeRange): Plan {
    const window = this.#windowOf(target, "getRange");
    const { startMs, endMs } = range;
    checkTime("startMs", startMs);
    checkTime("endMs", endMs);
    if (endMs <= startMs) {
      throw new InvalidQueryError(
        "endMs",
        `the range [${startMs}, ${endMs}) is ${
          endMs === startMs ? "empty" : "inverted"
        }: endMs must be after startMs`,
      );
    }
    const limit = this.#limits.maxBuckets;
    // Checked before asking the window for the bucket list, so an enormous
    // range is refused without ever being materialised.
    const span = Math.ceil((endMs - startMs) / window.size) + 1;
    if (span > limit) {
      throw new InvalidQueryError(
        "endMs",
        `the range spans about ${span} ${window.granularity} buckets; at most ${limit} per request`,
      );
    }
    const buckets = listBuckets("endMs", () => window.range(startMs, endMs));
    return this.#windowPlan(target, "range", buckets);
  }

  #resolve(pipeline: string | QueryTarget<unknown>): QueryTarget<unknown> {
    return typeof pipeline === "string" ? this.target(pipeline) : pipeline;
  }

  #windowOf(target: QueryTarget<unknown>, method: string) {
    if (target.window === null) {
      throw new WindowMismatchError(
        target.name,
        `is not windowed: ${method}() needs buckets; use get() for its all-time value`,
      );
    }
    return target.window;
  }

  #windowPlan(
    target: QueryTarget<unknown>,
    op: "window" | "trailing" | "range",
    buckets: readonly number[],
  ): Plan {
    const window = target.window!;
    if (buckets.length > this.#limits.maxBuckets) {
      throw new InvalidQueryError(
        op === "window" ? "last" : op === "trailing" ? "duration" : "endMs",
        `${buckets.length} buckets; at most ${this.#limits.maxBuckets} per request`,
      );
    }
    const first = buckets[0];
    const last = buckets[buckets.length - 1];
    return {
      op,
      buckets,
      coverage: {
        allTime: false,
        granularity: window.granularity,
        startMs: first ?? null,
        endMs: last === undefined ? null : window.bucketEnd(last),
        buckets,
      },
    };
  }

  #checkEntities(
    target: QueryTarget<unknown>,
    entities: readonly string[],
    single: boolean,
  ): void {
    const limits = this.#limits;
    const field = single ? "entity" : "entities";
    if (!Array.isArray(entities)) {
      throw new InvalidQueryError(field, "must be a list of strings");
    }
    if (entities.length > limits.maxEntities) {
      throw new InvalidQueryError(
        field,
        `${entities.length} entities requested; at most ${limits.maxEntities} per request`,
      );
    }
    for (const [index, entity] of entities.entries()) {
      const where = single ? "" : ` (at index ${index})`;
      if (typeof entity !== "string" || entity.length === 0) {
        throw new InvalidQueryError(
          field,
          `an entity is empty${where}: name the entity to read, e.g. "post:42"`,
        );
      }
      if (entity.length > limits.maxEntityLength) {
        throw new InvalidQueryError(
          field,
          `an entity is ${entity.length} characters long${where}; at most ${limits.maxEntityLength}`,
        );
      }
      // The store's own limit is in bytes (UTF-8), checked before any read.
      const problem = entityProblem(target.store, entity);
      if (problem !== undefined) {
        throw new InvalidQueryError(field, `${problem}${where}`);
      }
    }
  }

  #idOf(target: QueryTarget<unknown>): string {
    if (this.#targets.get(target.name) === target) {
      return `name:${target.name}`;
    }
    let id = this.#ids.get(target);
    if (id === undefined) {
      id = this.#nextId++;
      this.#ids.set(target, id);
    }
    return `object:${id}`;
  }

  async #run(
    target: QueryTarget<unknown>,
    entities: readonly string[],
    plan: Plan,
    options: ReadOptions,
    single = false,
  ): Promise<QueryAnswer<unknown>[]> {
    this.#checkEntities(target, entities, single);
    if (entities.length === 0) return [];
    const unique = entities.length === 1
      ? entities
      : [...new Set(entities)].sort();
    const keyCount = unique.length * plan.buckets.length;
    if (keyCount > this.#limits.maxKeys) {
      throw new InvalidQueryError(
        "entities",
        `${unique.length} entities × ${plan.buckets.length} buckets = ${keyCount} keys; at most ${this.#limits.maxKeys} per request`,
      );
    }
    const read = () => readAnswers(target, unique, plan, options.freshRead);
    let byEntity: Map<string, QueryAnswer<unknown>>;
    let shared = false;
    if (options.freshRead === true) {
      options.signal?.throwIfAborted();
      byEntity = await read();
    } else {
      // Unambiguous whatever characters names and entities hold: the id is
      // length-prefixed, the entity comes last, many entities go as JSON.
      const id = this.#idOf(target);
      const key = `${id.length}:${id}${plan.op}${plan.buckets.join(",")}|${
        unique.length === 1 ? unique[0] : JSON.stringify(unique)
      }`;
      const flight = await this.#flights.run(key, read, options.signal);
      byEntity = flight.value;
      shared = flight.shared;
    }
    return entities.map((entity) => {
      const answer = byEntity.get(entity)!;
      return shared
        ? { ...answer, stats: { ...answer.stats, coalesced: true } }
        : answer;
    });
  }
}

/** Reads every key of `plan` for `entities` (unique) and folds each entity's buckets. */
async function readAnswers(
  target: QueryTarget<unknown>,
  entities: readonly string[],
  plan: Plan,
  freshRead = false,
): Promise<Map<string, QueryAnswer<unknown>>> {
  const keys: StateKey[] = [];
  for (const entity of entities) {
    for (const bucket of plan.buckets) keys.push({ entity, bucket });
  }
  const { values, cached } = await readKeys(target, keys, freshRead);
  const width = plan.buckets.length;
  const answers = new Map<string, QueryAnswer<unknown>>();
  for (const [index, entity] of entities.entries()) {
    const present: unknown[] = [];
    const presentBuckets: number[] = [];
    let hits = 0;
    for (let offset = 0; offset < width; offset++) {
      const at = index * width + offset;
      if (cached[at] === true) hits++;
      const value = values[at];
      if (value === undefined) continue;
      present.push(value);
      const bucket = plan.buckets[offset];
      if (bucket !== null && bucket !== undefined) presentBuckets.push(bucket);
    }
    const monoid = target.monoid;
    const value = present.length === 0
      ? monoid.identity()
      : present.length === 1
      ? present[0]
      : monoid.combineAll(present);
    answers.set(entity, {
      pipeline: target.name,
      entity,
      present: present.length > 0,
      value,
      coverage: { ...plan.coverage, presentBuckets },
      stats: {
        keys: width,
        cacheHits: hits,
        storeReads: width - hits,
        coalesced: false,
      },
    });
  }
  return answers;
}

/** Stores built for targets that name a cache beside a plain store. */
const cachedStores = new WeakMap<Store, Map<Cache, Store>>();

/**
 * The store a target reads: its own. A pipeline's `.cache()` already wrapped
 * its store in a `CachedStore`; a hand-built target that names a cache beside
 * a plain store gets one `CachedStore` over the pair, so the cache protocol
 * only ever runs there.
 */
function storeOf(target: QueryTarget<unknown>): Store {
  const { store, cache } = target;
  if (
    cache === null || cache === undefined || store instanceof CachedStore ||
    typeof (cache as Partial<Cache>).lease !== "function" ||
    typeof (cache as Partial<Cache>).beginWrite !== "function"
  ) return store;
  let byCache = cachedStores.get(store);
  if (byCache === undefined) {
    byCache = new Map();
    cachedStores.set(store, byCache);
  }
  let wrapped = byCache.get(cache as Cache);
  if (wrapped === undefined) {
    const window = target.window;
    wrapped = new CachedStore(store, cache as Cache, {
      fillExpiresAt: (_namespace, key) =>
        key.bucket === null ? undefined : window?.expiresAt?.(key.bucket),
    });
    byCache.set(cache as Cache, wrapped);
  }
  return wrapped;
}

/**
 * Reads keys through the target's store (a `CachedStore` answers from its
 * cache unless `freshRead`), with which keys the cache answered.
 */
async function readKeys(
  target: QueryTarget<unknown>,
  keys: readonly StateKey[],
  freshRead: boolean,
): Promise<{ values: (unknown | undefined)[]; cached: readonly boolean[] }> {
  const scope: Scope<unknown> = target.scope ??
    { namespace: target.name, monoid: target.monoid };
  const stats: StoreReadStats = { cacheHits: 0, cacheMisses: 0, hits: [] };
  const values = await storeOf(target).getMany(scope, keys, {
    fresh: freshRead,
    stats,
  });
  return { values, cached: stats.hits ?? [] };
}

/**
 * Creates a {@linkcode Querier} over pipelines.
 *
 * @param pipelines The pipelines to serve; names must be unique.
 * @param options Limits and clock.
 * @returns The querier.
 * @throws {TypeError} When two pipelines share a name.
 *
 * @example Usage
 * ```ts
 * import { createQuerier } from "@murmur/core/query";
 * import { sum } from "@murmur/core/monoid";
 * import { MemoryStore } from "@murmur/core/state";
 * import assert from "node:assert/strict";
 *
 * const store = new MemoryStore();
 * const likes = { name: "likes", monoid: sum(), window: null, store };
 * await store.merge({ namespace: "likes", monoid: sum() }, [
 *   { key: { entity: "post:1", bucket: null }, value: 3 },
 * ]);
 * const querier = createQuerier([likes]);
 * const answer = await querier.get(likes, "post:1");
 * assert.equal(answer.value, 3);
 * assert.equal((await querier.get("likes", "post:2")).present, false);
 * ```
 */
export function createQuerier(
  pipelines: Iterable<QueryTarget<unknown>> = [],
  options: QuerierOptions = {},
): Querier {
  return new Querier(pipelines, options);
}

/** The largest time magnitude windows accept, in ms: the `Date` range. */
const MAX_TIME = 8.64e15;

function checkTime(field: string, value: number): void {
  if (!Number.isSafeInteger(value) || Math.abs(value) > MAX_TIME) {
    throw new InvalidQueryError(
      field,
      `${value} is not a time: give whole epoch milliseconds within ±${MAX_TIME}`,
    );
  }
}

/** The query window as the `trailing()` planner's window. */
function asWindow(window: QueryWindow): Window {
  return {
    granularity: window.granularity,
    size: window.size,
    retention: window.retention,
    bucketOf: (t) => window.bucketOf(t),
    bucketEnd: (b) => window.bucketEnd(b),
    expiresAt: (b) => window.expiresAt?.(b),
    lastN: (n, now) => [...window.lastN(n, now)],
    range: (start, end) => [...window.range(start, end)],
  };
}

/** Runs a window listing, reporting a window's own refusal as bad input. */
function listBuckets(
  field: string,
  list: () => readonly number[],
): readonly number[] {
  try {
    return list();
  } catch (error) {
    if (error instanceof RangeError) {
      throw new InvalidQueryError(field, error.message);
    }
    throw error;
  }
}
