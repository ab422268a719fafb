// count(): an additive monoid over integer counts.

import {
  ascii,
  decimalText,
  describe,
  finiteFromJSON,
  parseDecimal,
} from "./_codec.ts";
import { CodecError } from "./monoid.ts";
import type { Codec, JsonValue, Monoid } from "./monoid.ts";

const MAX = Number.MAX_SAFE_INTEGER;

function refuse(a: number, b: number): never {
  for (const v of [a, b]) {
    if (!Number.isSafeInteger(v)) {
      throw new TypeError(
        `count: ${
          describe(v)
        } is not a safe integer; counts are whole numbers (lift each event as 1)`,
      );
    }
  }
  throw new RangeError(
    `count: ${a} + ${b} leaves the safe integer range ±${Number.MAX_SAFE_INTEGER}; use sumBigInt() for larger totals`,
  );
}

function combine(a: number, b: number): number {
  const r = a + b;
  if (Number.isSafeInteger(b) && Number.isSafeInteger(r)) return r;
  return refuse(a, b);
}

function combineAll(values: Iterable<number>): number {
  const array: readonly number[] = Array.isArray(values)
    ? values
    : Array.from(values);
  const n = array.length;
  let s = 0;
  let i = 0;
  // As in sum(): a plain fast loop; anything unusual goes to combine().
  for (; i < n; i++) {
    const v = array[i]!;
    const r = s + v;
    if (
      Math.floor(v) === v && v <= MAX && v >= -MAX && r <= MAX && r >= -MAX
    ) {
      s = r;
    } else {
      break;
    }
  }
  // Returning here, before the slow loop, keeps its boxed results out of the fast loop's `s`.
  if (i === n) return s;
  for (; i < n; i++) s = combine(s, array[i]!);
  return s;
}

function checkInteger(value: number, format: string): number {
  if (!Number.isSafeInteger(value)) {
    throw new CodecError(`${format}: ${value} is not a safe integer count`);
  }
  return value;
}

const codec: Codec<number> = Object.freeze({
  format: "decimal-integer",
  encode(value: number): Uint8Array {
    if (!Number.isSafeInteger(value)) {
      throw new TypeError(
        `count codec: ${describe(value)} is not a safe integer`,
      );
    }
    return ascii(String(value));
  },
  decode(bytes: Uint8Array): number {
    const text = decimalText(bytes, "decimal-integer");
    return checkInteger(
      parseDecimal(text, "decimal-integer"),
      "decimal-integer",
    );
  },
  toJSON(value: number): JsonValue {
    return value;
  },
  fromJSON(json: JsonValue): number {
    return checkInteger(
      finiteFromJSON(json, "decimal-integer"),
      "decimal-integer",
    );
  },
});

const COUNT: Monoid<number> = Object.freeze({
  kind: "count" as const,
  name: "count",
  additive: true,
  commutative: true,
  idempotent: false,
  identity: () => 0,
  combine,
  combineAll,
  codec,
});

/**
 * Counts events: lift each event as `1` and add. Additive: stores apply
 * deltas as an atomic ADD.
 *
 * Values are integers within ±`Number.MAX_SAFE_INTEGER`; negative deltas are
 * allowed (corrections). A fraction is refused with a `TypeError` and a total
 * outside the safe range with a `RangeError` (use `sumBigInt()` for that).
 *
 * Codec: decimal integer text (format `"decimal-integer"`), read natively by
 * Valkey `INCRBY`; JSON is the number itself.
 *
 * @returns The frozen `count` monoid.
 *
 * @example Usage
 * ```ts
 * import { count } from "@murmur/core/monoid";
 * import assert from "node:assert/strict";
 * const m = count();
 * assert.equal(m.combineAll([1, 1, 1]), 3);
 * ```
 */
export function count(): Monoid<number> {
  return COUNT;
}
