// Lambda-architecture reads: a batch view and a realtime layer, merged per key with the monoid.

import type {
  Delta,
  MergeResult,
  Scope,
  StateKey,
  Store,
} from "../state/store.ts";
import type { QueryTarget } from "./target.ts";

/** Options for {@linkcode lambdaQuery}. */
export interface LambdaQueryOptions {
  /** The batch view: values recomputed offline over the full history. */
  readonly batch: Store;
  /** The realtime layer: values a live pipeline folded since the batch view was cut. */
  readonly realtime: Store;
  /** The batch view's namespace, when it differs from the pipeline's. Default: the pipeline's. */
  readonly batchNamespace?: string;
  /**
   * The batch view's high-water mark in epoch ms: it holds every event before
   * it, and the realtime layer holds the events from it on. Buckets that end
   * at or before the cutover are read from the batch view only, buckets that
   * start at or after it from the realtime layer only, so an event counted in
   * both is not counted twice. Align it to a bucket boundary: a bucket that
   * straddles it, and all-time values, read both. Default: no cutover (every
   * key reads both).
   */
  readonly cutover?: () => number | null | undefined;
}

/**
 * Queries a pipeline over the merge of a batch view and a realtime layer:
 * per key, batch ⊕ realtime with the pipeline's monoid (one present alone is
 * taken as is; neither means no data).
 *
 * The result is a query target like any other, so windows, ranges, `*Many`
 * reads and the Connect service all work on it. Its store is a read-only view
 * (merging into it throws); it has no cache, since a cache in front of either
 * layer would not hold the merged value.
 *
 * @typeParam V The value type.
 * @param pipeline The pipeline whose values the two layers hold.
 * @param options The two stores and the cutover.
 * @returns A query target named like the pipeline.
 *
 * @example Usage
 * ```ts
 * import { createQuerier, lambdaQuery } from "@murmur/core/query";
 * import { sum } from "@murmur/core/monoid";
 * import { MemoryStore } from "@murmur/core/state";
 * import assert from "node:assert/strict";
 *
 * const batch = new MemoryStore();
 * const realtime = new MemoryStore();
 * const scope = { namespace: "likes", monoid: sum() };
 * const key = { entity: "post:1", bucket: null };
 * await batch.merge(scope, [{ key, value: 100 }]);
 * await realtime.merge(scope, [{ key, value: 7 }]);
 *
 * const likes = { name: "likes", monoid: sum(), window: null, store: realtime };
 * const querier = createQuerier([lambdaQuery(likes, { batch, realtime })]);
 * assert.equal((await querier.get("likes", "post:1")).value, 107);
 * ```
 */
export function lambdaQuery<V>(
  pipeline: QueryTarget<V>,
  options: LambdaQueryOptions,
): QueryTarget<V> {
  const scope: Scope<V> = pipeline.scope ??
    { namespace: pipeline.name, monoid: pipeline.monoid };
  return {
    name: pipeline.name,
    monoid: pipeline.monoid,
    window: pipeline.window,
    scope,
    store: new LambdaStore(pipeline, options),
    cache: null,
    source: pipeline.source ?? null,
  };
}

type Layer = "batch" | "realtime" | "both";

/** A read-only store view that merges a batch store and a realtime store. */
class LambdaStore implements Store {
  readonly name: string;
  readonly #pipeline: QueryTarget<unknown>;
  readonly #options: LambdaQueryOptions;

  constructor(pipeline: QueryTarget<unknown>, options: LambdaQueryOptions) {
    this.#pipeline = pipeline;
    this.#options = options;
    this.name = `lambda(${options.batch.name} + ${options.realtime.name})`;
  }

  async get<V>(scope: Scope<V>, key: StateKey): Promise<V | undefined> {
    const [value] = await this.getMany(scope, [key]);
    return value;
  }

  async getMany<V>(
    scope: Scope<V>,
    keys: readonly StateKey[],
  ): Promise<(V | undefined)[]> {
    const cutover = this.#options.cutover?.() ?? null;
    const layers = keys.map((key) => this.#layerOf(key, cutover));
    const batchKeys = keys.filter((_, i) => layers[i] !== "realtime");
    const realtimeKeys = keys.filter((_, i) => layers[i] !== "batch");
    const batchScope: Scope<V> = this.#options.batchNamespace === undefined
      ? scope
      : { namespace: this.#options.batchNamespace, monoid: scope.monoid };
    const [batchValues, realtimeValues] = await Promise.all([
      batchKeys.length === 0
        ? []
        : this.#options.batch.getMany(batchScope, batchKeys),
      realtimeKeys.length === 0
        ? []
        : this.#options.realtime.getMany(scope, realtimeKeys),
    ]);
    let b = 0;
    let r = 0;
    return layers.map((layer) => {
      const fromBatch = layer === "realtime" ? undefined : batchValues[b++];
      const fromRealtime = layer === "batch" ? undefined : realtimeValues[r++];
      if (fromBatch === undefined) return fromRealtime;
      if (fromRealtime === undefined) return fromBatch;
      return scope.monoid.combine(fromBatch, fromRealtime);
    });
  }

  merge<V>(
    _scope: Scope<V>,
    _deltas: readonly Delta<V>[],
  ): Promise<MergeResult> {
    return Promise.reject(
      new TypeError(
        `${this.name} is a read-only view: merge into the batch or the realtime store itself`,
      ),
    );
  }

  /** Closes nothing: the view does not own the two stores. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  #layerOf(key: StateKey, cutover: number | null): Layer {
    const window = this.#pipeline.window;
    if (cutover === null || key.bucket === null || window === null) {
      return "both";
    }
    if (window.bucketEnd(key.bucket) <= cutover) return "batch";
    if (key.bucket >= cutover) return "realtime";
    return "both";
  }
}
