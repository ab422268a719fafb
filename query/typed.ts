// Turns a merged monoid value into the typed form answers carry: a number, a cardinality, a top-K list, a Bloom probe.

import type { JsonValue, Monoid } from "../monoid/monoid.ts";

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
 * `number` for numeric monoids (sum, count, min, max, monotonic, decayed),
 * `integer` when they hold `bigint`, `cardinality` for HyperLogLog, `topk`
 * for top-K sketches, `bloom` for Bloom filters and `json` (the codec's JSON
 * form) for anything else.
 */
export type TypedValue =
  | { readonly type: "number"; readonly value: number }
  | { readonly type: "integer"; readonly value: bigint }
  | ({ readonly type: "cardinality" } & CardinalityValue)
  | {
    readonly type: "topk";
    /** The sketch's capacity K, not the number of entries. */
    readonly k: number;
    /** The entries, heaviest first. */
    readonly entries: readonly TopKEntry[];
  }
  | {
    readonly type: "bloom";
    /** One result per probe, in the order given. */
    readonly probes: readonly BloomProbe[];
    /** The filter's size in bits (0 when the filter does not say). */
    readonly bits: number;
    /** The number of hash functions (0 when the filter does not say). */
    readonly hashes: number;
    /** An estimate of how many distinct items were added (0 when unknown). */
    readonly estimatedItems: number;
  }
  | { readonly type: "json"; readonly value: JsonValue };

/** Options for {@linkcode typedValue}. */
export interface TypedValueOptions {
  /** Items to test for membership when the value is a Bloom filter. Default: none. */
  readonly probes?: readonly string[];
}

/**
 * Describes a merged value in typed form, dispatching on the monoid's kind
 * and the sketch's own methods (`estimate()`, `top()`, `has()`).
 *
 * @typeParam V The value type.
 * @param monoid The monoid that folded the value.
 * @param value The value.
 * @param options Probe items for Bloom filters.
 * @returns The typed form; `json` when nothing more specific fits.
 *
 * @example Usage
 * ```ts
 * import { typedValue } from "@murmur/core/query";
 * import { sum } from "@murmur/core/monoid";
 * console.log(typedValue(sum(), 42)); // { type: "number", value: 42 }
 * ```
 */
export function typedValue<V>(
  monoid: Monoid<V>,
  value: V,
  options: TypedValueOptions = {},
): TypedValue {
  if (typeof value === "number") return { type: "number", value };
  if (typeof value === "bigint") return { type: "integer", value };
  switch (monoid.kind) {
    case "hll": {
      const cardinality = asCardinality(value);
      if (cardinality !== undefined) {
        return { type: "cardinality", ...cardinality };
      }
      break;
    }
    case "topk": {
      const topk = asTopK(value);
      if (topk !== undefined) return { type: "topk", ...topk };
      break;
    }
    case "bloom": {
      const bloom = asBloom(value, options.probes ?? []);
      if (bloom !== undefined) return { type: "bloom", ...bloom };
      break;
    }
    default: {
      const numeric = asNumber(value);
      if (numeric !== undefined) return numeric;
    }
  }
  return { type: "json", value: monoid.codec.toJSON(value) };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

function numberField(
  source: Record<string, unknown>,
  ...names: string[]
): number | undefined {
  for (const name of names) {
    let field = source[name];
    if (typeof field === "function") {
      field = field.length === 0
        ? (field as () => unknown).call(source)
        : undefined;
    }
    if (typeof field === "number" && Number.isFinite(field)) return field;
    if (typeof field === "bigint") return Number(field);
  }
  return undefined;
}

/** Numeric wrappers such as a decayed sum `{ value, time }` or a stamped `{ value, at }`. */
function asNumber(value: unknown): TypedValue | undefined {
  if (!isObject(value)) return undefined;
  const inner = value["value"];
  if (typeof inner === "number") return { type: "number", value: inner };
  if (typeof inner === "bigint") return { type: "integer", value: inner };
  return undefined;
}

function asCardinality(value: unknown): CardinalityValue | undefined {
  if (!isObject(value) || typeof value["estimate"] !== "function") {
    return undefined;
  }
  const raw: unknown = (value["estimate"] as () => unknown).call(value);
  if (typeof raw === "number") {
    return { estimate: raw, lower: raw, upper: raw, confidence: 0 };
  }
  if (!isObject(raw)) return undefined;
  const estimate = numberField(raw, "estimate");
  if (estimate === undefined) return undefined;
  return {
    estimate,
    lower: numberField(raw, "lower") ?? estimate,
    upper: numberField(raw, "upper") ?? estimate,
    confidence: numberField(raw, "confidence") ?? 0,
  };
}

function asTopK(
  value: unknown,
): { k: number; entries: TopKEntry[] } | undefined {
  if (!isObject(value) || typeof value["top"] !== "function") return undefined;
  const k = numberField(value, "k", "capacity") ?? 0;
  const raw: unknown = (value["top"] as (n?: number) => unknown).call(
    value,
    k > 0 ? k : undefined,
  );
  if (!Array.isArray(raw)) return undefined;
  const entries: TopKEntry[] = [];
  for (const item of raw as unknown[]) {
    if (Array.isArray(item) && typeof item[0] === "string") {
      entries.push({ key: item[0], count: Number(item[1] ?? 0) });
    } else if (isObject(item)) {
      const key = item["key"] ?? item["item"];
      const count = numberField(item, "count");
      if (typeof key === "string" && count !== undefined) {
        entries.push({ key, count });
      }
    }
  }
  return { k: k > 0 ? k : entries.length, entries };
}

function asBloom(
  value: unknown,
  probes: readonly string[],
):
  | {
    probes: BloomProbe[];
    bits: number;
    hashes: number;
    estimatedItems: number;
  }
  | undefined {
  if (!isObject(value) || typeof value["has"] !== "function") return undefined;
  const has = value["has"] as (item: string) => unknown;
  return {
    probes: probes.map((item) => ({
      item,
      mightContain: has.call(value, item) === true,
    })),
    bits: numberField(value, "bits", "size", "m") ?? 0,
    hashes: numberField(value, "hashes", "hashCount", "k") ?? 0,
    estimatedItems: numberField(value, "estimatedItems", "estimate", "count") ??
      0,
  };
}
