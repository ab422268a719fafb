// tuple(): componentwise folding of fixed-length tuples, one monoid per position.

import { ByteReader, ByteWriter, describe } from "./_codec.ts";
import { CodecError } from "./monoid.ts";
import type { Codec, JsonValue, Monoid, ValueOf } from "./monoid.ts";

/**
 * The value type of a tuple of monoids.
 *
 * @typeParam Ms The monoids, in order.
 */
export type TupleValue<Ms extends readonly Monoid<unknown>[]> = {
  readonly [K in keyof Ms]: ValueOf<Ms[K]>;
};

/** The most positions a tuple may have. */
const MAX_ARITY = 255;

/**
 * Folds tuples position by position, e.g. a count and a maximum in one
 * value: `tuple(count(), max())`.
 *
 * Commutative or idempotent exactly when every component is; never additive
 * (a store merges the whole tuple with read-combine-write). `combineAll`
 * folds each position with its monoid's own `combineAll`, so fast paths
 * apply.
 *
 * Codec: `murmur.tuple.v1(<formats>)` — version byte `1`, the arity as one
 * byte, then each component's bytes prefixed by a big-endian u32 length.
 * JSON: an array of the components' JSON forms.
 *
 * @typeParam Ms The component monoids.
 * @param monoids One monoid per position (1 to 255).
 * @returns A frozen `tuple` monoid over readonly arrays.
 * @throws {TypeError} When no monoid or more than 255 are given.
 *
 * @example Usage
 * ```ts
 * import { count, max, tuple } from "@murmur/core/monoid";
 * import assert from "node:assert/strict";
 * const stats = tuple(count(), max());
 * const folded = stats.combineAll([[1, 120], [1, 340], [1, null]]);
 * assert.deepEqual(folded, [ 3, 340 ]);
 * ```
 */
export function tuple<const Ms extends readonly Monoid<unknown>[]>(
  ...monoids: Ms
): Monoid<TupleValue<Ms>> {
  if (monoids.length === 0 || monoids.length > MAX_ARITY) {
    throw new TypeError(
      `tuple: give 1 to ${MAX_ARITY} monoids, got ${monoids.length}`,
    );
  }
  const parts: readonly Monoid<unknown>[] = [...monoids];
  const arity = parts.length;
  const format = `murmur.tuple.v1(${
    parts.map((m) => m.codec.format).join(",")
  })`;
  const name = `tuple(${parts.map((m) => m.name).join(", ")})`;
  type T = TupleValue<Ms>;

  function checkArity(value: readonly unknown[], what: string): void {
    if (!Array.isArray(value) || value.length !== arity) {
      throw new TypeError(
        `${name}: ${what} ${
          describe(value)
        } is not an array of ${arity} values`,
      );
    }
  }

  function combine(a: T, b: T): T {
    const left = a as readonly unknown[];
    const right = b as readonly unknown[];
    checkArity(left, "operand");
    checkArity(right, "operand");
    const out = new Array<unknown>(arity);
    for (let i = 0; i < arity; i++) {
      out[i] = parts[i]!.combine(left[i], right[i]);
    }
    return out as unknown as T;
  }

  function combineAll(values: Iterable<T>): T {
    const columns = parts.map((): unknown[] => []);
    for (const value of values) {
      const row = value as readonly unknown[];
      checkArity(row, "value");
      for (let i = 0; i < arity; i++) columns[i]!.push(row[i]);
    }
    return parts.map((m, i) => m.combineAll(columns[i]!)) as unknown as T;
  }

  const codec: Codec<T> = Object.freeze({
    format,
    encode(value: T): Uint8Array {
      const row = value as readonly unknown[];
      checkArity(row, "value");
      const writer = new ByteWriter();
      writer.u8(arity);
      for (let i = 0; i < arity; i++) {
        writer.chunk(parts[i]!.codec.encode(row[i]));
      }
      return writer.finish();
    },
    decode(bytes: Uint8Array): T {
      const reader = new ByteReader(bytes, format);
      const n = reader.u8("arity");
      if (n !== arity) reader.fail(`arity is ${n}, expected ${arity}`);
      const out = new Array<unknown>(arity);
      for (let i = 0; i < arity; i++) {
        out[i] = parts[i]!.codec.decode(reader.chunk(`component ${i}`));
      }
      reader.end();
      return out as unknown as T;
    },
    toJSON(value: T): JsonValue {
      const row = value as readonly unknown[];
      checkArity(row, "value");
      return parts.map((m, i) => m.codec.toJSON(row[i]));
    },
    fromJSON(json: JsonValue): T {
      if (!Array.isArray(json) || json.length !== arity) {
        throw new CodecError(
          `${format}: ${describe(json)} is not an array of ${arity} values`,
        );
      }
      return parts.map((m, i) => m.codec.fromJSON(json[i]!)) as unknown as T;
    },
  });

  return Object.freeze({
    kind: "tuple" as const,
    name,
    additive: false,
    commutative: parts.every((m) => m.commutative),
    idempotent: parts.every((m) => m.idempotent),
    identity: (): T => parts.map((m) => m.identity()) as unknown as T,
    combine,
    combineAll,
    codec,
  });
}
