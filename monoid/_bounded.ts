// Private parts shared by min() and max(): an optional number ("not set" or a value), its codec and flags.

import {
  ByteReader,
  ByteWriter,
  describe,
  numberFromJSON,
  numberToJSON,
} from "./_codec.ts";
import type { Codec, JsonValue, Monoid } from "./monoid.ts";

const FORMAT = "murmur.bounded.v1";

function checkValue(value: number | null, what: string): void {
  if (value !== null && (typeof value !== "number" || Number.isNaN(value))) {
    throw new TypeError(
      `${what}: ${describe(value)} is not a number or null`,
    );
  }
}

/**
 * Bytes: version `1`, then `0` for "not set" or `1` followed by the value as
 * a big-endian IEEE-754 float64. JSON: `null`, a number, or the strings
 * `"Infinity"` / `"-Infinity"`.
 */
export const boundedCodec: Codec<number | null> = Object.freeze({
  format: FORMAT,
  encode(value: number | null): Uint8Array {
    checkValue(value, `${FORMAT} codec`);
    const writer = new ByteWriter();
    if (value === null) {
      writer.u8(0);
    } else {
      writer.u8(1);
      writer.f64(value);
    }
    return writer.finish();
  },
  decode(bytes: Uint8Array): number | null {
    const reader = new ByteReader(bytes, FORMAT);
    const tag = reader.u8("set flag");
    let value: number | null = null;
    if (tag === 1) {
      value = reader.f64("value");
      if (Number.isNaN(value)) reader.fail("value is NaN");
    } else if (tag !== 0) {
      reader.fail(`set flag is ${tag}, expected 0 or 1`);
    }
    reader.end();
    return value;
  },
  toJSON(value: number | null): JsonValue {
    checkValue(value, `${FORMAT} codec`);
    return value === null ? null : numberToJSON(value);
  },
  fromJSON(json: JsonValue): number | null {
    return json === null ? null : numberFromJSON(json, FORMAT);
  },
});

/** The error for a comparison that found NaN (or a non-number). */
export function unordered(name: string, a: unknown, b: unknown): TypeError {
  return new TypeError(
    `${name}: cannot order ${describe(a)} and ${
      describe(b)
    }; values must be numbers other than NaN`,
  );
}

/**
 * Builds min() or max(). Both share one fold that compares `sign · value`
 * (`+1` for max, `-1` for min): the comparison stays monomorphic number
 * arithmetic, so one function serves both kinds without slowing either.
 * On a tie the left operand is kept; NaN (or a non-number) meeting another
 * value is refused with {@link unordered}.
 */
export function boundedMonoid(kind: "min" | "max"): Monoid<number | null> {
  const sign = kind === "max" ? 1 : -1;
  function combine(a: number | null, b: number | null): number | null {
    if (a === null) return b;
    if (b === null) return a;
    if (sign * a >= sign * b) return a;
    if (sign * b > sign * a) return b;
    throw unordered(kind, a, b);
  }
  function combineAll(values: Iterable<number | null>): number | null {
    let m: number | null = null;
    if (!Array.isArray(values)) {
      for (const v of values) m = combine(m, v);
      return m;
    }
    const array = values as readonly (number | null)[];
    const n = array.length;
    let i = 0;
    for (; i < n && m === null; i++) m = array[i]!;
    if (m === null) return null;
    let best: number = m;
    let rank = sign * best;
    for (; i < n; i++) {
      const v = array[i]!;
      if (v === null) continue;
      const r = sign * v;
      if (r > rank) {
        best = v;
        rank = r;
      } else if (!(r <= rank)) throw unordered(kind, best, v);
    }
    return best;
  }
  return Object.freeze({
    kind,
    name: kind,
    additive: false,
    commutative: true,
    idempotent: true,
    identity: () => null,
    combine,
    combineAll,
    codec: boundedCodec,
  });
}
