// The pipeline DSL: a typed builder that validates and produces an immutable pipeline value.

import type { Monoid, MonoidKind } from "../monoid/monoid.ts";
import type { Window } from "../monoid/mod.ts";
import {
  type Cache,
  CachedStore,
  type CachedStoreOptions,
  type Scope,
  type Store,
} from "../state/mod.ts";
import type { Source } from "../source/source.ts";

/** Settings of a key or value debouncer. */
export interface DebounceOptions {
  /** How long, in ms, repeats are dropped after an admitted one. */
  readonly window: number;
  /** How many distinct keys the debouncer remembers at most. Default: 100,000. */
  readonly maxKeys?: number;
}

/** The debouncers a pipeline declares. */
export interface PipelineDebounce {
  /** Drop a record whose first key was admitted less than `window` ago. */
  readonly key?: DebounceOptions;
  /** Drop a record whose (first key, value) pair was admitted less than `window` ago. */
  readonly value?: DebounceOptions;
}

/**
 * The functions a pipeline uses to turn an event into keys, a value and a time.
 *
 * @typeParam E The event type.
 * @typeParam V The value type.
 */
export interface PipelineExtractors<E, V> {
  /** The single key of an event, when the pipeline was built with `.key()`. */
  readonly key: ((event: E) => string) | null;
  /** The keys of an event, when the pipeline was built with `.keyMany()`. */
  readonly keys: ((event: E) => readonly string[]) | null;
  /** The value an event contributes; gets the event time (epoch ms) too. */
  readonly value: (event: E, time: number) => V;
  /** The event time in epoch ms, or `null` to use the record's time. */
  readonly time: ((event: E, recordTime: number) => number) | null;
}

/**
 * What to do with an event whose window bucket is past retention (it would be
 * written as an item that has expired already): `"drop"` it (counted as
 * `late`) or `"deadLetter"` it with stage `"late"`.
 */
export type LateDataPolicy = "drop" | "deadLetter";

/** One node of a pipeline's data-flow graph, for an admin UI. */
export interface PipelineStage {
  /** A stable id, unique in the pipeline, e.g. `"window"`. */
  readonly id: string;
  /** What the stage does. */
  readonly kind:
    | "source"
    | "extract"
    | "debounce"
    | "window"
    | "aggregate"
    | "store"
    | "cache";
  /** A short human label, e.g. `"daily, keep 90 d"`. */
  readonly label: string;
  /** Ids of the stages this one feeds. */
  readonly next: readonly string[];
}

/** A pipeline as plain JSON, for admin APIs and logs. */
export interface PipelineDescription {
  /** The pipeline's name (also its state namespace). */
  readonly name: string;
  /** The monoid's kind and name. */
  readonly monoid: { readonly kind: MonoidKind; readonly name: string };
  /** The window, or `null` for all-time values. */
  readonly window: {
    readonly granularity: Window["granularity"];
    readonly retentionMs: number | null;
  } | null;
  /** The source's name, or `null` when the pipeline is fed by a fanout or a test. */
  readonly source: string | null;
  /** The store's name. */
  readonly store: string;
  /** The cache's name, or `null`. */
  readonly cache: string | null;
  /** Whether each event has one key or many. */
  readonly keyMode: "key" | "keyMany";
  /**
   * How many entries a Top-K answer reports, heaviest first, or `null` for
   * every item the sketch tracks (see {@linkcode PipelineBuilder.top}).
   */
  readonly top: number | null;
  /** The data-flow graph, in flow order. */
  readonly stages: readonly PipelineStage[];
}

/**
 * A built, validated pipeline: what to read, how to key, value, window and
 * fold each event, and where to keep the result. The same value drives live,
 * bootstrap and replay runs and the query layer.
 *
 * @typeParam E The event type.
 * @typeParam V The value type.
 */
export interface Pipeline<E, V> {
  /** The pipeline's name; also the state namespace. */
  readonly name: string;
  /** The monoid that folds values. */
  readonly monoid: Monoid<V>;
  /** The window, or `null` for all-time values (bucket `null`). */
  readonly window: Window | null;
  /** The store that holds the truth. */
  readonly store: Store;
  /**
   * The cache set with `.cache()`, or `null`; for description only. Reads
   * and writes go through {@linkcode Pipeline.store}, which `build()` wrapped
   * in a `CachedStore` over this cache.
   */
  readonly cache: Cache | null;
  /**
   * What happens to an event whose window bucket is already past retention:
   * `"drop"` (counted in metrics and the run summary as `late`) or
   * `"deadLetter"`. Such an event is never written. Set by `.lateData()`;
   * default `"drop"`.
   */
  readonly lateData: LateDataPolicy;
  /** The source, or `null` when the pipeline is fed by a fanout or a test driver. */
  readonly source: Source<E> | null;
  /** The scope the pipeline's state lives in (`namespace` = `name`). */
  readonly scope: Scope<V>;
  /** Whether each event has one key or many. */
  readonly keyMode: "key" | "keyMany";
  /** The extractors. */
  readonly extract: PipelineExtractors<E, V>;
  /** The debouncers declared with `.debounce()`. */
  readonly debounce: PipelineDebounce;
  /**
   * How many entries its Top-K query answers report, heaviest first, or
   * `null` for every item the sketch tracks. Set by `.top(n)` and by the
   * `topN()` preset; the stored sketch always keeps its full capacity.
   */
  readonly top: number | null;
  /** Describes the pipeline as plain JSON. */
  describe(): PipelineDescription;
}

/** Thrown by {@linkcode PipelineBuilder.build} when the pipeline is incomplete or inconsistent. */
export class PipelineConfigError extends Error {
  /** The pipeline's name. */
  readonly pipeline: string;
  /**
   * Creates the error.
   *
   * @param pipeline The pipeline's name.
   * @param message What is wrong and what to call.
   */
  constructor(pipeline: string, message: string) {
    super(message);
    this.name = "PipelineConfigError";
    this.pipeline = pipeline;
  }
}

/** Monoids whose result changes when a repeat event is dropped, so debouncing them would under-count. */
const NOT_DEBOUNCEABLE: ReadonlySet<MonoidKind> = new Set([
  "sum",
  "count",
  "topk",
  "decayed",
]);

/** Checks that the monoid may be debounced. */
function assertDebounceable(
  pipeline: string,
  monoid: Monoid<unknown>,
  which: "key" | "value",
): void {
  if (NOT_DEBOUNCEABLE.has(monoid.kind)) {
    throw new PipelineConfigError(
      pipeline,
      `pipeline "${pipeline}" folds with ${monoid.name} (kind "${monoid.kind}"), where dropping repeats under-counts: remove the ${which} debounce, or aggregate with an idempotent monoid (max, min, set, last, hll, bloom)`,
    );
  }
}

/** Checks a debounce setting's numbers. */
function assertDebounceOptions(
  pipeline: string,
  which: string,
  options: DebounceOptions,
): void {
  if (!(options.window > 0) || !Number.isFinite(options.window)) {
    throw new PipelineConfigError(
      pipeline,
      `pipeline "${pipeline}": ${which} debounce window must be a positive number of ms, got ${options.window}`,
    );
  }
  const maxKeys = options.maxKeys ?? 100_000;
  if (!Number.isInteger(maxKeys) || maxKeys < 1) {
    throw new PipelineConfigError(
      pipeline,
      `pipeline "${pipeline}": ${which} debounce maxKeys must be a positive integer, got ${maxKeys}`,
    );
  }
}

interface Config<E> {
  readonly name: string;
  readonly source: Source<E> | null;
  readonly key: ((event: E) => string) | null;
  readonly keys: ((event: E) => readonly string[]) | null;
  readonly value: ((event: E, time: number) => unknown) | null;
  readonly time: ((event: E, recordTime: number) => number) | null;
  readonly monoid: Monoid<unknown> | null;
  readonly window: Window | null;
  readonly store: Store | null;
  readonly cache: Cache | null;
  readonly cacheOptions: CachedStoreOptions;
  readonly debounce: PipelineDebounce;
  readonly top: number | null;
  readonly lateData: LateDataPolicy;
}

/** The reserved prefix of internal namespaces (exactly-once progress). */
const RESERVED_PREFIX = "__murmur";

/**
 * A typed, immutable builder: each call returns a new builder, so a base can
 * be forked into several pipelines.
 *
 * @typeParam E The event type.
 * @typeParam V The value type, fixed by `.value()` or `.aggregate()`.
 */
export class PipelineBuilder<E, V = unknown> {
  #c: Config<E>;

  /**
   * Use {@linkcode pipeline} to start a builder.
   *
   * @param config The builder's state.
   */
  private constructor(config: Config<E>) {
    this.#c = config;
  }

  /**
   * Starts a builder.
   *
   * @typeParam E The event type.
   * @param name The pipeline's name.
   * @returns An empty builder.
   */
  static start<E>(name: string): PipelineBuilder<E> {
    return new PipelineBuilder<E>({
      name,
      source: null,
      key: null,
      keys: null,
      value: null,
      time: null,
      monoid: null,
      window: null,
      store: null,
      cache: null,
      cacheOptions: {},
      debounce: {},
      top: null,
      lateData: "drop",
    });
  }

  #with<W>(patch: Partial<Config<E>>): PipelineBuilder<E, W> {
    return new PipelineBuilder<E, W>({ ...this.#c, ...patch });
  }

  /**
   * Sets the source the pipeline reads when run on its own.
   *
   * @param source The source.
   * @returns A new builder.
   */
  from(source: Source<E>): PipelineBuilder<E, V> {
    return this.#with({ source });
  }

  /**
   * Keys each event by one entity; replaces an earlier `.keyMany()`.
   *
   * @param fn Returns the entity, e.g. `e => e.pageId`.
   * @returns A new builder.
   */
  key(fn: (event: E) => string): PipelineBuilder<E, V> {
    return this.#with({ key: fn, keys: null });
  }

  /**
   * Keys each event by several entities (hierarchical roll-ups such as
   * `post:X`, `country:Y`, `global`); replaces an earlier `.key()`. The first
   * key routes the event (per-key order) and feeds the debouncers.
   *
   * @param fn Returns the entities.
   * @returns A new builder.
   */
  keyMany(fn: (event: E) => readonly string[]): PipelineBuilder<E, V> {
    return this.#with({ keys: fn, key: null });
  }

  /**
   * Sets the value each event contributes.
   *
   * @typeParam W The value type.
   * @param fn Returns the value, e.g. `() => 1`; gets the event time as its
   * second argument, for time-stamped values such as `last()` or `decayedSum()`.
   * @returns A new builder.
   */
  value<W extends V>(
    fn: (event: E, time: number) => W,
  ): PipelineBuilder<E, unknown extends V ? W : V> {
    return this.#with({ value: fn });
  }

  /**
   * Sets the event-time extractor; by default the record's time is used.
   *
   * @param fn Returns the event time in epoch ms; gets the record's time as a fallback.
   * @returns A new builder.
   */
  time(fn: (event: E, recordTime: number) => number): PipelineBuilder<E, V> {
    return this.#with({ time: fn });
  }

  /**
   * Sets the monoid that folds values. When `.value()` came first, its
   * values must fit the monoid's value type (a compile error otherwise).
   *
   * @typeParam W The monoid's value type.
   * @param monoid The monoid, e.g. `sum()`.
   * @param _valueFits Nothing: a type-level check that the values fit.
   * @returns A new builder.
   */
  aggregate<W>(
    monoid: Monoid<W>,
    ..._valueFits: unknown extends V ? [] : [V] extends [W] ? [] : [never]
  ): PipelineBuilder<E, W> {
    return this.#with({ monoid: monoid as Monoid<unknown> });
  }

  /**
   * Buckets values by event time, e.g. `daily({ retention: days(90) })`.
   *
   * @param window The window.
   * @returns A new builder.
   */
  window(window: Window): PipelineBuilder<E, V> {
    return this.#with({ window });
  }

  /**
   * Sets the store that holds the truth.
   *
   * @param store The store.
   * @returns A new builder.
   */
  storeIn(store: Store): PipelineBuilder<E, V> {
    return this.#with({ store });
  }

  /**
   * Puts a cache in front of the store: `build()` wraps the store in a
   * `CachedStore` (the one place the cache protocol runs), so the runtime
   * writes through it and queries read through it. Cache errors are counted
   * in the `CachedStore`'s stats, never thrown, and never hold back acks;
   * failed invalidations are queued and retried.
   *
   * @param cache The cache, e.g. a `MemoryCache` or a `ValkeyCache`.
   * @param options The `CachedStore`'s options (`onCacheError`,
   * `maxPendingInvalidations`…). Default: fills expire with the window's
   * `expiresAt(bucket)`.
   * @returns A new builder.
   */
  cache(cache: Cache, options: CachedStoreOptions = {}): PipelineBuilder<E, V> {
    return this.#with({ cache, cacheOptions: options });
  }

  /**
   * Sets what happens to an event whose window bucket is already past
   * retention: `"drop"` (the default; counted in metrics and in the run
   * summary as `late`) or `"deadLetter"` (the record goes to the dead-letter
   * path with stage `"late"`). Either way nothing already expired is
   * written to the store.
   *
   * @param policy `"drop"` or `"deadLetter"`.
   * @returns A new builder.
   *
   * @example Usage
   * ```ts
   * import { pipeline } from "@murmur/core/pipeline";
   * import { daily, days, sum } from "@murmur/core/monoid";
   * import { MemoryStore } from "@murmur/core/state";
   * import assert from "node:assert/strict";
   *
   * const p = pipeline<{ page: string }>("views")
   *   .key((e) => e.page)
   *   .value(() => 1)
   *   .aggregate(sum())
   *   .window(daily({ retention: days(7) }))
   *   .lateData("deadLetter")
   *   .storeIn(new MemoryStore())
   *   .build();
   * assert.equal(p.lateData, "deadLetter");
   * ```
   */
  lateData(policy: LateDataPolicy): PipelineBuilder<E, V> {
    return this.#with({ lateData: policy });
  }

  /**
   * Drops repeats before they reach the store. Only for monoids where a
   * repeat changes nothing (max, min, set, last, hll, bloom); `build()`
   * refuses it on sum, count, top-k and decayed sums.
   *
   * @param debounce The key and/or value debouncer.
   * @returns A new builder.
   */
  debounce(debounce: PipelineDebounce): PipelineBuilder<E, V> {
    return this.#with({ debounce });
  }

  /**
   * Sets how many entries query answers report for a Top-K monoid: the
   * heaviest `n`, where the sketch may track many more (its capacity `k`, so
   * that the true top `n` surface with tight counts). Only the answers'
   * typed value is cut; the stored sketch and the answers' canonical bytes
   * keep every tracked item, and a query may ask for another count. Without
   * it, answers report every tracked item. `build()` refuses it on other
   * monoids.
   *
   * @param n How many entries to report; a positive integer.
   * @returns A new builder.
   *
   * @example Usage
   * ```ts
   * import { pipeline } from "@murmur/core/pipeline";
   * import { topK } from "@murmur/core/sketch";
   * import { MemoryStore } from "@murmur/core/state";
   * import assert from "node:assert/strict";
   *
   * const sketches = topK({ k: 200 });
   * const pages = pipeline<{ page: string }>("top_pages")
   *   .key(() => "all")
   *   .value((e) => sketches.identity().add(e.page))
   *   .aggregate(sketches)
   *   .top(20)
   *   .storeIn(new MemoryStore())
   *   .build();
   * assert.equal(pages.top, 20);
   * ```
   */
  top(n: number): PipelineBuilder<E, V> {
    return this.#with({ top: n });
  }

  /**
   * Validates and builds the pipeline.
   *
   * @returns The pipeline.
   * @throws {PipelineConfigError} When something is missing or inconsistent; the message says what to call.
   */
  build(): Pipeline<E, V> {
    const c = this.#c;
    const name = c.name;
    const fail = (message: string): never => {
      throw new PipelineConfigError(name, message);
    };
    if (typeof name !== "string" || name.trim() === "") {
      fail(
        `a pipeline needs a name: call pipeline("page_views") with a non-empty name`,
      );
    }
    if (name.startsWith(RESERVED_PREFIX)) {
      fail(
        `pipeline "${name}": names starting with "${RESERVED_PREFIX}" are reserved for murmur's own state: choose another name`,
      );
    }
    if (c.key === null && c.keys === null) {
      fail(
        `pipeline "${name}" has no key: call .key(e => ...) or .keyMany(e => [...]) before .build()`,
      );
    }
    if (c.value === null) {
      fail(
        `pipeline "${name}" has no value: call .value(e => ...) before .build()`,
      );
    }
    if (c.monoid === null) {
      fail(
        `pipeline "${name}" has no monoid: call .aggregate(monoid), e.g. .aggregate(sum()), before .build()`,
      );
    }
    if (c.store === null) {
      fail(
        `pipeline "${name}" has no store: call .storeIn(store) before .build()`,
      );
    }
    const monoid = c.monoid!;
    if (
      typeof monoid.combine !== "function" ||
      typeof monoid.identity !== "function" || typeof monoid.kind !== "string"
    ) {
      fail(
        `pipeline "${name}": .aggregate() needs a Monoid (kind, identity(), combine(), codec): use one from "@murmur/core/monoid"`,
      );
    }
    if (
      c.window !== null &&
      (typeof c.window.bucketOf !== "function" || !(c.window.size > 0))
    ) {
      fail(
        `pipeline "${name}": .window() needs a Window such as daily() or hourly() from "@murmur/core/monoid"`,
      );
    }
    if (c.top !== null) {
      if (!Number.isSafeInteger(c.top) || c.top < 1) {
        fail(
          `pipeline "${name}": .top(n) needs a positive integer (how many Top-K entries answers report), got ${c.top}`,
        );
      }
      if (monoid.kind !== "topk") {
        fail(
          `pipeline "${name}" folds with ${monoid.name} (kind "${monoid.kind}"), but .top(n) only applies to Top-K sketches: remove .top(), or aggregate with topK({ k })`,
        );
      }
    }
    if (c.lateData !== "drop" && c.lateData !== "deadLetter") {
      fail(
        `pipeline "${name}": .lateData() takes "drop" or "deadLetter", got ${
          JSON.stringify(c.lateData)
        }`,
      );
    }
    if (
      c.cache !== null &&
      (typeof c.cache.lease !== "function" ||
        typeof c.cache.beginWrite !== "function")
    ) {
      fail(
        `pipeline "${name}": .cache() needs a Cache with leases and write intents, such as MemoryCache or ValkeyCache; a plain store cannot keep a cache coherent`,
      );
    }
    if (c.debounce.key !== undefined) {
      assertDebounceOptions(name, "key", c.debounce.key);
      assertDebounceable(name, monoid, "key");
    }
    if (c.debounce.value !== undefined) {
      assertDebounceOptions(name, "value", c.debounce.value);
      assertDebounceable(name, monoid, "value");
    }
    return new BuiltPipeline<E, V>(c);
  }
}

class BuiltPipeline<E, V> implements Pipeline<E, V> {
  readonly name: string;
  readonly monoid: Monoid<V>;
  readonly window: Window | null;
  readonly store: Store;
  readonly cache: Cache | null;
  readonly source: Source<E> | null;
  readonly scope: Scope<V>;
  readonly keyMode: "key" | "keyMany";
  readonly extract: PipelineExtractors<E, V>;
  readonly debounce: PipelineDebounce;
  readonly top: number | null;
  readonly lateData: LateDataPolicy;
  /** The store of truth, behind the cache if there is one. */
  readonly #backend: Store;

  constructor(c: Config<E>) {
    this.name = c.name;
    this.monoid = c.monoid as Monoid<V>;
    this.window = c.window;
    const window = c.window;
    this.store = c.cache === null
      ? c.store!
      : new CachedStore(c.store!, c.cache, {
        fillExpiresAt: (_namespace, key) =>
          key.bucket === null || window === null
            ? undefined
            : window.expiresAt(key.bucket),
        ...c.cacheOptions,
      });
    this.#backend = c.store!;
    this.cache = c.cache;
    this.lateData = c.lateData;
    this.source = c.source;
    this.scope = Object.freeze({ namespace: c.name, monoid: this.monoid });
    this.keyMode = c.keys !== null ? "keyMany" : "key";
    this.extract = Object.freeze({
      key: c.key,
      keys: c.keys,
      value: c.value as (event: E, time: number) => V,
      time: c.time,
    });
    this.debounce = c.debounce;
    this.top = c.top;
    Object.freeze(this);
  }

  describe(): PipelineDescription {
    const w = this.window;
    const stages: PipelineStage[] = [];
    const add = (
      id: string,
      kind: PipelineStage["kind"],
      label: string,
    ) => {
      const previous = stages.at(-1);
      if (previous !== undefined) {
        stages[stages.length - 1] = { ...previous, next: [id] };
      }
      stages.push({ id, kind, label, next: [] });
    };
    add("source", "source", this.source?.name ?? "external");
    add(
      "extract",
      "extract",
      `${this.keyMode === "keyMany" ? "keys" : "key"}, value, ${
        this.extract.time === null ? "record time" : "event time"
      }`,
    );
    const { key, value } = this.debounce;
    if (key !== undefined || value !== undefined) {
      const parts: string[] = [];
      if (key !== undefined) parts.push(`key ${key.window} ms`);
      if (value !== undefined) parts.push(`value ${value.window} ms`);
      add("debounce", "debounce", parts.join(", "));
    }
    if (w !== null) {
      add(
        "window",
        "window",
        `${w.granularity}${
          w.retention === null ? "" : `, keep ${formatMs(w.retention)}`
        }`,
      );
    }
    add(
      "aggregate",
      "aggregate",
      this.top === null
        ? this.monoid.name
        : `${this.monoid.name}, report top ${this.top}`,
    );
    add("store", "store", this.#backend.name);
    if (this.cache !== null) add("cache", "cache", this.cache.name);
    return {
      name: this.name,
      monoid: { kind: this.monoid.kind, name: this.monoid.name },
      window: w === null
        ? null
        : { granularity: w.granularity, retentionMs: w.retention },
      source: this.source?.name ?? null,
      store: this.#backend.name,
      cache: this.cache?.name ?? null,
      keyMode: this.keyMode,
      top: this.top,
      stages,
    };
  }
}

function formatMs(ms: number): string {
  const units: [number, string][] = [
    [86_400_000, "d"],
    [3_600_000, "h"],
    [60_000, "min"],
    [1000, "s"],
  ];
  for (const [size, unit] of units) {
    if (ms >= size && ms % size === 0) return `${ms / size} ${unit}`;
  }
  return `${ms} ms`;
}

/**
 * Starts a pipeline definition.
 *
 * @typeParam E The event type.
 * @param name The pipeline's name; also the namespace its state lives in.
 * @returns An empty builder.
 *
 * @example Usage
 * ```ts
 * import { pipeline } from "@murmur/core/pipeline";
 * import { daily, days, sum } from "@murmur/core/monoid";
 * import { MemoryStore } from "@murmur/core/state";
 * import assert from "node:assert/strict";
 *
 * interface PageView { pageId: string }
 * const views = pipeline<PageView>("page_views")
 *   .key((e) => e.pageId)
 *   .value(() => 1)
 *   .aggregate(sum())
 *   .window(daily({ retention: days(90) }))
 *   .storeIn(new MemoryStore())
 *   .build();
 * assert.equal(views.describe().window?.granularity, "day");
 * ```
 */
export function pipeline<E>(name: string): PipelineBuilder<E> {
  return PipelineBuilder.start<E>(name);
}
