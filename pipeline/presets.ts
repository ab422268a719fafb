// One-line builders for the common aggregations: counts, distinct counts, top-N, trending, latest, maximum.

import {
  count,
  type Decayed,
  decayedSum,
  type JsonValue,
  last,
  max,
  type Stamped,
} from "../monoid/mod.ts";
import { hll, HyperLogLog } from "../sketch/hll.ts";
import { type TopK, topK } from "../sketch/topk.ts";
import { pipeline, type PipelineBuilder } from "./pipeline.ts";

/**
 * Counts events per key: value `1`, monoid `count()`. Add `.key()` (or
 * `.keyMany()`), optionally `.window()`, then `.storeIn()` and `.build()`.
 *
 * @typeParam E The event type.
 * @param name The pipeline's name.
 * @returns A builder with value and monoid set.
 *
 * @example Usage
 * ```ts
 * import { counter } from "@murmur/core/pipeline";
 * import { MemoryStore } from "@murmur/core/state";
 * import assert from "node:assert/strict";
 * const views = counter<{ page: string }>("views").key((e) => e.page).storeIn(new MemoryStore()).build();
 * assert.equal(views.monoid.kind, "count");
 * ```
 */
export function counter<E>(name: string): PipelineBuilder<E, number> {
  return pipeline<E>(name).value(() => 1).aggregate(count());
}

/**
 * Counts distinct elements per key with a HyperLogLog sketch (about 0.8 %
 * standard error, 12 KB at most per key and bucket). Each event becomes a
 * one-element sketch ({@linkcode HyperLogLog.of}); the batch window folds
 * them into one sketch per key, so small keys stay in the compact sparse
 * encoding.
 *
 * @typeParam E The event type.
 * @param name The pipeline's name.
 * @param element Returns the element to count, e.g. `e => e.visitorId`.
 * @returns A builder with value and monoid set.
 *
 * @example Usage
 * ```ts
 * import { uniqueCount } from "@murmur/core/pipeline";
 * import { MemoryStore } from "@murmur/core/state";
 * import assert from "node:assert/strict";
 * const visitors = uniqueCount<{ page: string; visitor: string }>("visitors", (e) => e.visitor)
 *   .key((e) => e.page).storeIn(new MemoryStore()).build();
 * assert.equal(visitors.monoid.kind, "hll");
 * ```
 */
export function uniqueCount<E>(
  name: string,
  element: (event: E) => string,
): PipelineBuilder<E, HyperLogLog> {
  return pipeline<E>(name)
    .value((event) => HyperLogLog.of(element(event)))
    .aggregate(hll());
}

/** Options for {@linkcode topN}. */
export interface TopNOptions<E> {
  /**
   * How many items the answers are about: the top `n` per key. Query answers
   * report these `n` (the pipeline's `top`), and it sizes the default
   * capacity `k`. The stored sketch keeps up to `k` items, so read a sketch
   * you fetch yourself with `sketch.top(n)`. Default: 10.
   */
  readonly n?: number;
  /**
   * The sketch's capacity: how many items it tracks per key and bucket.
   * Counts are exact until more than `k` distinct items arrive; after that
   * every count overstates its item by at most N / k (N = the key's total
   * weight), and every item heavier than N / k is kept. Tracking far more
   * items than you report is what lets the true top `n` surface on a long,
   * skewed stream. Default: `max(10 · n, 100)`.
   */
  readonly k?: number;
  /** Returns the item to rank, e.g. `e => e.pageId`. */
  readonly item: (event: E) => string;
  /** Returns the item's weight. Default: 1 per event. */
  readonly weight?: (event: E) => number;
}

const DEFAULT_TOP_N = 10;

// The default capacity for `n` reported items: ten times as many, at least 100.
function capacityFor(n: number): number {
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new RangeError(
      `topN: n (how many items to report) must be a positive integer, got ${n}`,
    );
  }
  return Math.max(10 * n, 100);
}

/**
 * Keeps the top-N items per key with a Top-K (Space-Saving) sketch, e.g. the
 * most viewed pages per country. The sketch tracks `k` items (by default
 * `max(10 · n, 100)`), many more than the `n` you report, so the true top
 * `n` of a skewed stream are kept with tight counts. The built pipeline's
 * `top` is `n` (at most `k`), so query answers report the top `n`; a sketch
 * you read yourself keeps all `k`: take `sketch.top(n)`.
 *
 * @typeParam E The event type.
 * @param name The pipeline's name.
 * @param options How many to report, the capacity, the item and its weight.
 * @returns A builder with value and monoid set.
 * @throws {RangeError} When `n` or `k` is not a positive integer (`k` at most 1 048 576).
 *
 * @example Usage
 * ```ts
 * import { topN } from "@murmur/core/pipeline";
 * import { MemoryStore } from "@murmur/core/state";
 * import assert from "node:assert/strict";
 * const top = topN<{ country: string; page: string }>("top_pages", { n: 20, item: (e) => e.page })
 *   .key((e) => e.country).storeIn(new MemoryStore()).build();
 * assert.equal(top.monoid.name, "topk(k=200)");
 * assert.equal(top.top, 20);
 * ```
 */
export function topN<E>(
  name: string,
  options: TopNOptions<E>,
): PipelineBuilder<E, TopK> {
  const n = options.n ?? DEFAULT_TOP_N;
  const capacity = capacityFor(n);
  const k = options.k ?? capacity;
  const monoid = topK({ k });
  const { item, weight } = options;
  return pipeline<E>(name)
    .value((event) =>
      monoid.identity().add(
        item(event),
        weight === undefined ? 1 : weight(event),
      )
    )
    .aggregate(monoid)
    .top(Math.min(n, k));
}

/** Options for {@linkcode trending}. */
export interface TrendingOptions<E> {
  /** Time for a contribution to lose half its weight, in ms (e.g. `hours(6)`). */
  readonly halfLife: number;
  /** Returns the event's amount. Default: 1 per event. */
  readonly amount?: (event: E) => number;
}

/**
 * Scores keys by an exponentially decaying sum, stamped with EVENT time (the
 * record's time, or your `.time()` extractor), so replays and backfills decay
 * exactly as live traffic did.
 *
 * @typeParam E The event type.
 * @param name The pipeline's name.
 * @param options The half-life and amount.
 * @returns A builder with value and monoid set.
 *
 * @example Usage
 * ```ts
 * import { trending } from "@murmur/core/pipeline";
 * import { hours } from "@murmur/core/monoid";
 * import { MemoryStore } from "@murmur/core/state";
 * import assert from "node:assert/strict";
 * const hot = trending<{ tag: string }>("hot_tags", { halfLife: hours(6) })
 *   .key((e) => e.tag).storeIn(new MemoryStore()).build();
 * assert.equal(hot.monoid.kind, "decayed");
 * ```
 */
export function trending<E>(
  name: string,
  options: TrendingOptions<E>,
): PipelineBuilder<E, Decayed> {
  const monoid = decayedSum({ halfLife: options.halfLife });
  const amount = options.amount;
  return pipeline<E>(name)
    .value((event, time): Decayed => ({
      value: amount === undefined ? 1 : amount(event),
      time,
    }))
    .aggregate(monoid);
}

/**
 * Keeps the latest value per key by event time (ties broken by the value's
 * bytes, so every replica agrees), e.g. a user's last seen page.
 *
 * @typeParam E The event type.
 * @param name The pipeline's name.
 * @param value Returns the value to keep (JSON-serializable).
 * @returns A builder with value and monoid set.
 *
 * @example Usage
 * ```ts
 * import { latest } from "@murmur/core/pipeline";
 * import { MemoryStore } from "@murmur/core/state";
 * import assert from "node:assert/strict";
 * const lastPage = latest<{ user: string; page: string }>("last_page", (e) => e.page)
 *   .key((e) => e.user).storeIn(new MemoryStore()).build();
 * assert.equal(lastPage.monoid.kind, "last");
 * ```
 */
export function latest<E>(
  name: string,
  value: (event: E) => JsonValue,
): PipelineBuilder<E, Stamped<JsonValue> | null> {
  return pipeline<E>(name)
    .value((event, time): Stamped<JsonValue> | null => ({
      value: value(event),
      time,
    }))
    .aggregate(last());
}

/**
 * Keeps the maximum of a number per key, e.g. the highest bid.
 *
 * @typeParam E The event type.
 * @param name The pipeline's name.
 * @param value Returns the number.
 * @returns A builder with value and monoid set.
 *
 * @example Usage
 * ```ts
 * import { maximum } from "@murmur/core/pipeline";
 * import { MemoryStore } from "@murmur/core/state";
 * import assert from "node:assert/strict";
 * const topBid = maximum<{ item: string; bid: number }>("top_bid", (e) => e.bid)
 *   .key((e) => e.item).storeIn(new MemoryStore()).build();
 * assert.equal(topBid.monoid.kind, "max");
 * ```
 */
export function maximum<E>(
  name: string,
  value: (event: E) => number,
): PipelineBuilder<E, number | null> {
  return pipeline<E>(name).value((event): number | null => value(event))
    .aggregate(max());
}
