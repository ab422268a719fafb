// Turns a merged monoid value into the typed form answers carry: a number, a cardinality, a top-K list, a Bloom probe.

import type { JsonValue, Monoid } from "../monoid/mod.ts";
import { BloomFilter, HyperLogLog, TopK } from "../sketch/mod.ts";
import { InvalidQueryError } from "./errors.ts";

/** A cardinality estimate with its confidence interval. */
export interface CardinalityValue {
  /** The point estimate. */
  readonly estimate: number;
  /** The lower bound of the interval. */
  readonly lower: number;
  /** The upper bound of the interval. */
  readonly upper: number;
  /** The interval's confidence, e.g. `0.95`. */
  readonly confidence: number;
}

/** One key of a top-K answer. */
export interface TopKEntry {
  /** The key. */
  readonly key: string;
  /** Its count (a lower bound for keys the sketch evicted and re-admitted). */
  readonly count: number;
}

/** The membership of one probe item in a Bloom filter. */
export interface BloomProbe {
  /** The item. */
  readonly item: string;
  /** `false` means definitely absent; `true` means probably present. */
  readonly mightContain: boolean;
}

/**
 * A merged value in typed form, by the monoid's kind.
 *
 * `none` for the "not set" identity of min, max, first and last (no value at
 * all, not even a zero), `number` for numeric monoids (sum, count, min, max,
 * monotonic, decayed),
 * `integer` when they hold `bigint`, `cardinality` for HyperLogLog, `topk`
 * for top-K sketches, `bloom` for Bloom filters and `json` (the codec's JSON
 * form) for anything else.
 */
export type TypedValue =
  | { readonly type: "none" }
  | { readonly type: "number"; readonly value: number }
  | { readonly type: "integer"; readonly value: bigint }
  | ({ readonly type: "cardinality" } & CardinalityValue)
  | {
    readonly type: "topk";
    /** The sketch's capacity K, not the number of entries. */
    readonly k: number;
    /** The entries, heaviest first: all tracked items, or the first `top`. */
    readonly entries: readonly TopKEntry[];
  }
  | {
    readonly type: "bloom";
    /** One result per probe, in the order given. */
    readonly probes: readonly BloomProbe[];
    /** The filter's size in bits. */
    readonly bits: number;
    /** The number of hash functions. */
    readonly hashes: number;
    /** An estimate of how many distinct items were added (`Infinity` once every bit is set). */
    readonly estimatedItems: number;
  }
  | { readonly type: "json"; readonly value: JsonValue };

/** Options for {@linkcode typedValue}. */
export interface TypedValueOptions {
  /** Items to test for membership when the value is a Bloom filter. Default: none. */
  readonly probes?: readonly string[];
  /**
   * How many entries a top-K value reports, heaviest first; a positive
   * integer. Default: every item the sketch tracks (up to its K).
   */
  readonly top?: number;
}

/**
 * Describes a merged value in typed form: numbers as numbers, HyperLogLog
 * sketches as a cardinality with bounds, top-K sketches as their entries
 * (all, or the heaviest `top`) with the sketch's K, Bloom filters as the
 * membership of the probe items, and anything else as its codec's JSON.
 *
 * @typeParam V The value type.
 * @param monoid The monoid that folded the value.
 * @param value The value.
 * @param options Probe items for Bloom filters; how many top-K entries to report.
 * @returns The typed form; `json` when nothing more specific fits.
 * @throws {InvalidQueryError} When `top` is not a positive integer.
 *
 * @example Usage
 * ```ts
 * import { typedValue } from "@murmur/core/query";
 * import { sum } from "@murmur/core/monoid";
 * import assert from "node:assert/strict";
 * assert.deepEqual(typedValue(sum(), 42), { type: "number", value: 42 });
 * ```
 *
 * @example The heaviest entries of a top-K sketch
 * ```ts
 * import { typedValue } from "@murmur/core/query";
 * import { topK } from "@murmur/core/sketch";
 * import assert from "node:assert/strict";
 *
 * const monoid = topK({ k: 100 });
 * const sketch = monoid.identity().add("a", 5).add("b", 3).add("c", 1);
 * const typed = typedValue(monoid, sketch, { top: 2 });
 * assert.deepEqual(typed, {
 *   type: "topk",
 *   k: 100,
 *   entries: [{ key: "a", count: 5 }, { key: "b", count: 3 }],
 * });
 * ```
 */
export function typedValue<V>(
  monoid: Monoid<V>,
  value: V,
  options: TypedValueOptions = {},
): TypedValue {
  const top = options.top;
  if (top !== undefined && (!Number.isSafeInteger(top) || top < 1)) {
    throw new InvalidQueryError(
      "top",
      `${top} top-K entries asked for; give a whole number of at least 1`,
    );
  }
  if (value === null || value === undefined) return { type: "none" };
  if (typeof value === "number") return { type: "number", value };
  if (typeof value === "bigint") return { type: "integer", value };
  if (value instanceof HyperLogLog) {
    return { type: "cardinality", ...value.estimate() };
  }
  if (value instanceof TopK) {
    return {
      type: "topk",
      k: value.k,
      entries: value.top(top ?? value.k).map(({ key, count }) => ({
        key,
        count,
      })),
    };
  }
  if (value instanceof BloomFilter) {
    return {
      type: "bloom",
      probes: (options.probes ?? []).map((item) => ({
        item,
        mightContain: value.has(item),
      })),
      bits: value.bits,
      hashes: value.hashes,
      estimatedItems: value.count(),
    };
  }
  if (typeof value === "object" && value !== null) {
    // Numeric wrappers, e.g. a decayed sum `{ value, time }`.
    const inner = (value as Record<string, unknown>)["value"];
    if (typeof inner === "number") return { type: "number", value: inner };
    if (typeof inner === "bigint") return { type: "integer", value: inner };
  }
  return { type: "json", value: monoid.codec.toJSON(value) };
}
