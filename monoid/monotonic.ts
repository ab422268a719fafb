// monotonic(): the highest absolute reading of a counter that only grows, whatever the arrival order.

import {
  ascii,
  decimalText,
  describe,
  finiteFromJSON,
  parseDecimal,
} from "./_codec.ts";
import { CodecError } from "./monoid.ts";
import type { Codec, JsonValue, Monoid } from "./monoid.ts";

function invalid(value: unknown): TypeError {
  return new TypeError(
    `monotonic: ${
      describe(value)
    } is not a finite number >= 0; monotonic() folds absolute readings such as a follower count (use max() for signed values)`,
  );
}

function combine(a: number, b: number): number {
  if (a >= b) {
    if (b >= 0 && a < Infinity) return a;
  } else if (a >= 0 && b < Infinity) {
    return b;
  }
  throw invalid(!(a >= 0 && a < Infinity) ? a : b);
}

function combineAll(values: Iterable<number>): number {
  let m = 0;
  for (const v of values) {
    if (v > m) {
      if (v < Infinity) m = v;
      else throw invalid(v);
    } else if (!(v >= 0)) {
      throw invalid(v);
    }
  }
  return m;
}

function check(value: number): number {
  if (!(value >= 0)) {
    throw new CodecError(
      `decimal: ${value} is negative; monotonic values are >= 0`,
    );
  }
  return value;
}

const codec: Codec<number> = Object.freeze({
  format: "decimal",
  encode(value: number): Uint8Array {
    if (typeof value !== "number" || !(value >= 0) || !Number.isFinite(value)) {
      throw invalid(value);
    }
    return ascii(String(value));
  },
  decode(bytes: Uint8Array): number {
    return check(parseDecimal(decimalText(bytes, "decimal"), "decimal"));
  },
  toJSON(value: number): JsonValue {
    return value;
  },
  fromJSON(json: JsonValue): number {
    return check(finiteFromJSON(json, "decimal"));
  },
});

const MONOTONIC: Monoid<number> = Object.freeze({
  kind: "monotonic" as const,
  name: "monotonic",
  additive: false,
  commutative: true,
  idempotent: true,
  identity: () => 0,
  combine,
  combineAll,
  codec,
});

/**
 * Keeps the highest absolute reading of a quantity that only grows — a
 * follower count, an odometer, a sequence number — when readings arrive out
 * of order: a late, older reading can never move the value backwards.
 *
 * Values are absolute readings (not deltas): finite numbers `>= 0`, so `0` is
 * a true identity. Negative numbers, `NaN` and `Infinity` are refused with a
 * `TypeError`; use `max()` (identity `null`) for signed values. Commutative
 * and idempotent, so redelivery is harmless; not additive — a store applies
 * it as a conditional "set if greater", never as an ADD.
 *
 * Codec: decimal text (format `"decimal"`); JSON is the number.
 *
 * @returns The frozen `monotonic` monoid.
 *
 * @example Usage
 * ```ts
 * import { monotonic } from "@murmur/core/monoid";
 * import assert from "node:assert/strict";
 * const followers = monotonic();
 * // Readings 120 and 135 were taken in that order but arrive reversed.
 * assert.equal(followers.combineAll([135, 120]), 135);
 * ```
 */
export function monotonic(): Monoid<number> {
  return MONOTONIC;
}
