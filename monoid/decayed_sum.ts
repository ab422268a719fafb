// decayedSum(): an exponentially decaying sum (trending scores), rescaled to the later timestamp on merge.

import {
  ByteReader,
  ByteWriter,
  describe,
  finiteFromJSON,
  isJsonObject,
} from "./_codec.ts";
import { CodecError } from "./monoid.ts";
import type { Codec, JsonValue, Monoid } from "./monoid.ts";

/** A decayed sum: its value as of `time`. */
export interface Decayed {
  /** The sum, as of `time`. */
  readonly value: number;
  /** Epoch ms the value is expressed at; `-Infinity` only for the identity (value 0). */
  readonly time: number;
}

/** Options for {@linkcode decayedSum}. */
export interface DecayedSumOptions {
  /** Time for a contribution to lose half its weight, in ms (e.g. `hours(6)`). Must be > 0. */
  readonly halfLife: number;
}

/** A decayed-sum monoid, with its half-life and a reader for the value at any time. */
export interface DecayedSumMonoid extends Monoid<Decayed> {
  /** The half-life in ms. */
  readonly halfLife: number;
  /**
   * The value of `decayed` as of `timeMs`: `value * 2^(-(timeMs - time) / halfLife)`.
   * Earlier than `decayed.time` it grows back. `0` for the identity.
   */
  valueAt(decayed: Decayed, timeMs: number): number;
}

function invalid(decayed: unknown, why: string): TypeError {
  return new TypeError(`decayedSum: ${describe(decayed)} ${why}`);
}

function isValid(value: number, time: number): boolean {
  return Number.isFinite(value) &&
    (Number.isFinite(time) || (time === -Infinity && value === 0));
}

/**
 * An exponentially decaying sum — a "trending" score. Each contribution
 * loses half its weight every `halfLife` ms, so recent events dominate.
 *
 * Lift an event as `{ value: amount, time: eventTimeMs }`. Combining keeps
 * the later time and rescales the older operand to it:
 * `older.value * 2^(-(newer.time - older.time) / halfLife) + newer.value`.
 * The identity is `{ value: 0, time: -Infinity }` (its JSON time is `null`).
 * Values must be finite; a result that overflows throws a `RangeError`.
 *
 * **Floating point.** Combining is exactly commutative, but associative only
 * up to rounding: regrouping multiplies decay factors in a different order,
 * so results agree to within about 1e-12 relative to the magnitudes involved
 * (a few units in the last place per merge; mixed signs can cancel and leave
 * that error relative to the inputs, not the result). The laws are tested
 * with a relative tolerance of 1e-9. Compare scores, don't test them for
 * equality.
 *
 * Not additive (a store merges it with read-combine-write) and not
 * idempotent.
 *
 * Codec: `murmur.decayed.v1` — version byte `1`, then value and time as
 * big-endian float64 (17 bytes). JSON: `{ "value": …, "time": … | null }`.
 *
 * @param options The half-life in ms.
 * @returns A frozen {@linkcode DecayedSumMonoid}.
 * @throws {RangeError} When `halfLife` is not a positive finite number.
 *
 * @example Usage
 * ```ts
 * import { decayedSum, hours } from "@murmur/core/monoid";
 * import assert from "node:assert/strict";
 * const trending = decayedSum({ halfLife: hours(1) });
 * const t0 = Date.UTC(2024, 0, 1, 12);
 * const score = trending.combine(
 *   { value: 8, time: t0 },
 *   { value: 1, time: t0 + hours(2) }, // 8 has decayed to 2 by now
 * );
 * assert.deepEqual(score, { value: 3, time: 1704117600000 });
 * assert.equal(trending.valueAt(score, t0 + hours(3)), 1.5);
 * ```
 */
export function decayedSum(options: DecayedSumOptions): DecayedSumMonoid {
  const halfLife = options?.halfLife;
  if (
    typeof halfLife !== "number" || !(halfLife > 0) ||
    !Number.isFinite(halfLife)
  ) {
    throw new RangeError(
      `decayedSum: halfLife ${halfLife} must be a positive finite number of ms, e.g. hours(6)`,
    );
  }
  const name = `decayedSum(halfLife=${halfLife}ms)`;
  const format = "murmur.decayed.v1";

  function combine(a: Decayed, b: Decayed): Decayed {
    let older = a;
    let newer = b;
    if (a.time > b.time) {
      older = b;
      newer = a;
    } else if (!(a.time <= b.time)) {
      throw invalid(Number.isNaN(a.time) ? a : b, "has no valid time");
    }
    const value = older.time === newer.time
      ? a.value + b.value
      : older.value * 2 ** ((older.time - newer.time) / halfLife) + newer.value;
    if (Number.isFinite(value)) return { value, time: newer.time };
    if (!isValid(a.value, a.time)) throw invalid(a, "is not a valid value");
    if (!isValid(b.value, b.time)) throw invalid(b, "is not a valid value");
    throw new RangeError(
      `decayedSum: combining ${describe(a)} and ${describe(b)} overflows`,
    );
  }

  function combineAll(values: Iterable<Decayed>): Decayed {
    let acc: Decayed = { value: 0, time: -Infinity };
    for (const value of values) acc = combine(acc, value);
    return acc;
  }

  function valueAt(decayed: Decayed, timeMs: number): number {
    if (typeof timeMs !== "number" || !Number.isFinite(timeMs)) {
      throw new RangeError(`decayedSum.valueAt: time ${timeMs} is not finite`);
    }
    if (decayed.time === -Infinity) return 0;
    return decayed.value * 2 ** ((decayed.time - timeMs) / halfLife);
  }

  const codec: Codec<Decayed> = Object.freeze({
    format,
    encode(decayed: Decayed): Uint8Array {
      if (!isValid(decayed.value, decayed.time)) {
        throw invalid(decayed, "is not a valid decayed value");
      }
      const writer = new ByteWriter();
      writer.f64(decayed.value);
      writer.f64(decayed.time);
      return writer.finish();
    },
    decode(bytes: Uint8Array): Decayed {
      const reader = new ByteReader(bytes, format);
      const value = reader.f64("value");
      const time = reader.f64("time");
      reader.end();
      if (!isValid(value, time)) {
        reader.fail(`value ${value} at time ${time} is not valid`);
      }
      return { value, time };
    },
    toJSON(decayed: Decayed): JsonValue {
      if (!isValid(decayed.value, decayed.time)) {
        throw invalid(decayed, "is not a valid decayed value");
      }
      return {
        value: decayed.value,
        time: decayed.time === -Infinity ? null : decayed.time,
      };
    },
    fromJSON(json: JsonValue): Decayed {
      if (!isJsonObject(json) || Object.keys(json).length !== 2) {
        throw new CodecError(
          `${format}: ${describe(json)} is not { value, time }`,
        );
      }
      const value = finiteFromJSON(json.value ?? null, format);
      const time = json.time === null
        ? -Infinity
        : finiteFromJSON(json.time ?? null, format);
      if (!isValid(value, time)) {
        throw new CodecError(
          `${format}: the identity (time null) must have value 0`,
        );
      }
      return { value, time };
    },
  });

  return Object.freeze({
    kind: "decayed" as const,
    name,
    additive: false,
    commutative: true,
    idempotent: false,
    halfLife,
    identity: (): Decayed => ({ value: 0, time: -Infinity }),
    combine,
    combineAll,
    valueAt,
    codec,
  });
}
