// sum() and sumBigInt(): additive monoids a store may apply as an atomic ADD.

import {
  ascii,
  decimalText,
  describe,
  finiteFromJSON,
  parseBigInt,
  parseDecimal,
} from "./_codec.ts";
import { CodecError } from "./monoid.ts";
import type { Codec, JsonValue, Monoid } from "./monoid.ts";

const MAX = Number.MAX_SAFE_INTEGER;

function notNumber(value: unknown): TypeError {
  return new TypeError(
    `sum: expected a number, got ${typeof value} ${
      describe(value)
    }; convert values in the pipeline's value extractor`,
  );
}

// The rare path: a result outside ±(2^53 − 1), a non-finite result or a wrong type.
function outOfRange(a: number, b: number, r: number): never {
  if (typeof a !== "number") throw notNumber(a);
  if (typeof b !== "number") throw notNumber(b);
  if (!Number.isFinite(r)) {
    throw new RangeError(
      `sum: ${a} + ${b} is not a finite number; refuse NaN and Infinity before folding`,
    );
  }
  throw new RangeError(
    `sum: ${a} + ${b} leaves ±${MAX} (2^53 − 1), where sums stop being exact to the unit; use sumBigInt() for larger totals`,
  );
}

/** Refuses a decoded number outside sum's range, so every decoded value folds. */
function inRange(value: number, format: string, input: unknown): number {
  if (value > MAX || value < -MAX) {
    throw new CodecError(
      `${format}: ${
        describe(input)
      } is outside ±${MAX} (2^53 − 1), which sum() cannot fold exactly; the value was written by something else (sumBigInt() holds larger totals)`,
    );
  }
  return value;
}

function combineNumbers(a: number, b: number): number {
  const r = a + b;
  if (typeof b === "number" && r <= MAX && r >= -MAX) return r;
  return outOfRange(a, b, r);
}

function sumAll(values: Iterable<number>): number {
  const array: readonly number[] = Array.isArray(values)
    ? values
    : Array.from(values);
  const n = array.length;
  let s = 0;
  let i = 0;
  for (; i < n; i++) {
    const v = array[i]!;
    const r = s + v;
    if (typeof v === "number" && r <= MAX && r >= -MAX) s = r;
    else break;
  }
  // Returning here, before the slow loop, keeps its boxed results out of the fast loop's `s`.
  if (i === n) return s;
  for (; i < n; i++) s = combineNumbers(s, array[i]!);
  return s;
}

const decimalCodec: Codec<number> = Object.freeze({
  format: "decimal",
  encode(value: number): Uint8Array {
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw new TypeError(
        `decimal codec: ${describe(value)} is not a finite number`,
      );
    }
    if (value > MAX || value < -MAX) {
      throw new RangeError(
        `decimal codec: ${value} is outside ±${MAX}, which sum() cannot fold exactly; use sumBigInt()`,
      );
    }
    return ascii(String(value));
  },
  decode(bytes: Uint8Array): number {
    const text = decimalText(bytes, "decimal");
    return inRange(parseDecimal(text, "decimal"), "decimal", text);
  },
  toJSON(value: number): JsonValue {
    return value;
  },
  fromJSON(json: JsonValue): number {
    return inRange(finiteFromJSON(json, "decimal"), "decimal", json);
  },
});

const SUM: Monoid<number> = Object.freeze({
  kind: "sum" as const,
  name: "sum",
  additive: true,
  commutative: true,
  idempotent: false,
  identity: () => 0,
  combine: combineNumbers,
  combineAll: sumAll,
  codec: decimalCodec,
});

/**
 * Adds numbers. Additive: stores apply deltas as an atomic ADD.
 *
 * **Range**: values and totals stay within ±`Number.MAX_SAFE_INTEGER`
 * (2^53 − 1). When a result leaves it, `combine` throws a `RangeError`
 * instead of silently rounding (integers stay exact); use
 * {@linkcode sumBigInt} for totals that can grow past that. The codec
 * refuses such numbers too (`encode` with a `RangeError`, `decode` and
 * `fromJSON` with a `CodecError`), so every value it reads can be folded.
 *
 * **Fractions**: once an operand is not an integer the sum is an ordinary
 * IEEE-754 double sum. It is exactly commutative but associative only up to
 * rounding (about one unit in the last place per addition), so regrouping
 * (batching, retries, bucket merges) can change the last digits. Keep money
 * in integer minor units if that matters.
 *
 * `NaN` and `±Infinity` are refused with a `RangeError`, non-numbers with a
 * `TypeError`: one bad value would otherwise poison a total forever.
 *
 * Codec: decimal text (format `"decimal"`, JavaScript's shortest round-trip
 * form, e.g. `"42"`, `"0.1"`, `"1e-7"`), which Valkey `INCRBYFLOAT` and
 * DynamoDB numbers read natively; JSON is the number itself.
 *
 * @returns The frozen `sum` monoid over `number`.
 *
 * @example Usage
 * ```ts
 * import { sum } from "@murmur/core/monoid";
 * import assert from "node:assert/strict";
 *
 * const m = sum();
 * assert.equal(m.combine(2, 3), 5);
 * assert.equal(m.combineAll([1, 2, 3, 4]), 10);
 * assert.equal(new TextDecoder().decode(m.codec.encode(42)), "42");
 * assert.throws(() => m.codec.fromJSON(1e21), /outside/);
 * ```
 *
 * @example Integer overflow is refused
 * ```ts
 * import { sum } from "@murmur/core/monoid";
 * import { throws } from "node:assert/strict";
 * throws(() => sum().combine(Number.MAX_SAFE_INTEGER, 1), RangeError);
 * ```
 */
export function sum(): Monoid<number> {
  return SUM;
}

function combineBigInts(a: bigint, b: bigint): bigint {
  const r = a + b;
  if (typeof r === "bigint") return r;
  throw new TypeError(
    `sumBigInt: expected bigints, got ${typeof a} ${
      describe(a)
    } and ${typeof b} ${
      describe(b)
    }; convert with BigInt() in the value extractor`,
  );
}

function sumAllBigInts(values: Iterable<bigint>): bigint {
  let s = 0n;
  for (const v of values) s = combineBigInts(s, v);
  return s;
}

const bigintCodec: Codec<bigint> = Object.freeze({
  format: "decimal-integer",
  encode(value: bigint): Uint8Array {
    if (typeof value !== "bigint") {
      throw new TypeError(
        `decimal-integer codec: ${describe(value)} is not a bigint`,
      );
    }
    return ascii(value.toString());
  },
  decode(bytes: Uint8Array): bigint {
    return parseBigInt(
      decimalText(bytes, "decimal-integer"),
      "decimal-integer",
    );
  },
  toJSON(value: bigint): JsonValue {
    return value.toString();
  },
  fromJSON(json: JsonValue): bigint {
    if (typeof json === "string") return parseBigInt(json, "decimal-integer");
    if (typeof json === "number" && Number.isSafeInteger(json)) {
      return BigInt(json);
    }
    throw new CodecError(
      `decimal-integer: ${describe(json)} is not a decimal integer string`,
    );
  },
});

const SUM_BIGINT: Monoid<bigint> = Object.freeze({
  kind: "sum" as const,
  name: "sum(bigint)",
  additive: true,
  commutative: true,
  idempotent: false,
  identity: () => 0n,
  combine: combineBigInts,
  combineAll: sumAllBigInts,
  codec: bigintCodec,
});

/**
 * Adds bigints exactly, with no range limit. Additive: stores apply deltas as
 * an atomic ADD (DynamoDB numbers hold 38 digits; a backend refuses larger
 * totals with a clear error).
 *
 * Codec: decimal integer text (format `"decimal-integer"`, at most 4096
 * characters when decoding); JSON is the decimal string, e.g. `"123"`,
 * because JSON numbers cannot carry more than 53 bits exactly.
 *
 * @returns The frozen `sum` monoid over `bigint`.
 *
 * @example Usage
 * ```ts
 * import { sumBigInt } from "@murmur/core/monoid";
 * import assert from "node:assert/strict";
 *
 * const m = sumBigInt();
 * const total = m.combine(2n ** 64n, 1n);
 * assert.equal(total, 18446744073709551617n);
 * assert.equal(m.codec.toJSON(total), "18446744073709551617");
 * ```
 */
export function sumBigInt(): Monoid<bigint> {
  return SUM_BIGINT;
}
