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
 * Assembles min() or max() from its fold. The folds stay in min.ts and max.ts:
 * one shared fold would be one function to V8, optimised for whichever of the
 * two ran first and about 1.7 times slower for the other.
 */
export function boundedMonoid(
  kind: "min" | "max",
  combine: (a: number | null, b: number | null) => number | null,
  combineAll: (values: Iterable<number | null>) => number | null,
): Monoid<number | null> {
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
