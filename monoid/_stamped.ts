// Private engine behind first() and last(): a value stamped with its event time, ordered by (time, bytes).

import {
  ByteReader,
  ByteWriter,
  compareBytes,
  describe,
  finiteFromJSON,
  isJsonObject,
} from "./_codec.ts";
import { CodecError } from "./monoid.ts";
import type { Codec, JsonValue, Monoid } from "./monoid.ts";

/**
 * A value with the event time it was observed at.
 *
 * @typeParam T The value type.
 */
export interface Stamped<T> {
  /** The observed value. */
  readonly value: T;
  /** Event time in epoch ms. */
  readonly time: number;
}

function checkTime(time: number, what: string): void {
  if (typeof time !== "number" || !Number.isFinite(time)) {
    throw new TypeError(
      `${what}: time ${describe(time)} must be a finite epoch-ms number`,
    );
  }
}

/** Builds first() (`earliest`) or last() (`latest`). */
export function stampedMonoid<T>(
  kind: "first" | "last",
  valueCodec: Codec<T>,
): Monoid<Stamped<T> | null> {
  const format = `murmur.stamped.v1(${valueCodec.format})`;
  // Whether `a` wins over `b` on a time tie: first keeps the smaller encoding, last the larger.
  const keepLeftOnTie = kind === "first"
    ? (a: T, b: T) =>
      compareBytes(valueCodec.encode(a), valueCodec.encode(b)) <= 0
    : (a: T, b: T) =>
      compareBytes(valueCodec.encode(a), valueCodec.encode(b)) >= 0;

  function combine(
    a: Stamped<T> | null,
    b: Stamped<T> | null,
  ): Stamped<T> | null {
    if (a === null) return b;
    if (b === null) return a;
    if (a.time < b.time) return kind === "first" ? a : b;
    if (b.time < a.time) return kind === "first" ? b : a;
    if (a.time === b.time) {
      // Identical values (a retry, a duplicate) need no encoding to break the tie.
      return a.value === b.value || keepLeftOnTie(a.value, b.value) ? a : b;
    }
    throw new TypeError(
      `${kind}: cannot order times ${describe(a.time)} and ${
        describe(b.time)
      }; stamp values with finite epoch-ms times`,
    );
  }

  function combineAll(values: Iterable<Stamped<T> | null>): Stamped<T> | null {
    let acc: Stamped<T> | null = null;
    for (const value of values) acc = combine(acc, value);
    return acc;
  }

  const codec: Codec<Stamped<T> | null> = Object.freeze({
    format,
    encode(stamped: Stamped<T> | null): Uint8Array {
      const writer = new ByteWriter();
      if (stamped === null) {
        writer.u8(0);
      } else {
        checkTime(stamped.time, `${format} codec`);
        writer.u8(1);
        writer.f64(stamped.time);
        writer.bytes(valueCodec.encode(stamped.value));
      }
      return writer.finish();
    },
    decode(bytes: Uint8Array): Stamped<T> | null {
      const reader = new ByteReader(bytes, format);
      const tag = reader.u8("set flag");
      if (tag === 0) {
        reader.end();
        return null;
      }
      if (tag !== 1) reader.fail(`set flag is ${tag}, expected 0 or 1`);
      const time = reader.f64("time");
      if (!Number.isFinite(time)) reader.fail(`time ${time} is not finite`);
      return { value: valueCodec.decode(reader.rest()), time };
    },
    toJSON(stamped: Stamped<T> | null): JsonValue {
      if (stamped === null) return null;
      checkTime(stamped.time, `${format} codec`);
      return { value: valueCodec.toJSON(stamped.value), time: stamped.time };
    },
    fromJSON(json: JsonValue): Stamped<T> | null {
      if (json === null) return null;
      if (
        !isJsonObject(json) || !Object.hasOwn(json, "value") ||
        Object.keys(json).length !== 2
      ) {
        throw new CodecError(
          `${format}: ${describe(json)} is not null or { value, time }`,
        );
      }
      return {
        value: valueCodec.fromJSON(json.value!),
        time: finiteFromJSON(json.time ?? null, format),
      };
    },
  });

  return Object.freeze({
    kind,
    name: valueCodec.format === "json" ? kind : `${kind}(${valueCodec.format})`,
    additive: false,
    commutative: true,
    idempotent: true,
    identity: () => null,
    combine,
    combineAll,
    codec,
  });
}
