// mapMerge(): per-key folding of string-keyed maps with an inner monoid.

import {
  ByteReader,
  ByteWriter,
  compareStrings,
  describe,
  fromUtf8,
  isJsonObject,
  utf8,
} from "./_codec.ts";
import { CodecError } from "./monoid.ts";
import type { Codec, JsonValue, Monoid } from "./monoid.ts";

function sortedEntries<V>(
  value: ReadonlyMap<string, V>,
  what: string,
): [string, V][] {
  const entries = [...value];
  for (const [key] of entries) {
    if (typeof key !== "string") {
      throw new TypeError(`${what}: key ${describe(key)} is not a string`);
    }
  }
  return entries.sort((a, b) => compareStrings(a[0], b[0]));
}

/**
 * Folds maps key by key: the union of keys, with values of keys present on
 * both sides combined by `inner`. For example per-country counts under one
 * entity: `mapMerge(count())`.
 *
 * **Why `ReadonlyMap<string, V>` and not a plain object:** any string is a
 * safe key (no `__proto__` or `constructor` surprises, no prototype
 * pollution from untrusted keys), size is O(1), and a map is plainly a
 * value, not a record with a fixed shape. The JSON form is still a plain
 * object, built without touching prototypes.
 *
 * Commutative or idempotent exactly when `inner` is; never additive. A key
 * whose value equals the inner identity is kept (the monoid cannot tell a
 * real zero from "absent"). Values are treated as immutable: `combine`
 * returns a new map or one of its operands.
 *
 * Codec: `murmur.map.v1(<inner format>)` — version byte `1`, a big-endian
 * u32 count, then per entry a u32-length-prefixed UTF-8 key and a
 * u32-length-prefixed inner encoding, keys strictly increasing in UTF-16
 * code-unit order. JSON: an object of the inner JSON forms, keys sorted.
 *
 * @typeParam V The inner value type.
 * @param inner The monoid for values.
 * @returns A frozen `map` monoid.
 *
 * @example Usage
 * ```ts
 * import { count, mapMerge } from "@murmur/core/monoid";
 * import assert from "node:assert/strict";
 * const byCountry = mapMerge(count());
 * const total = byCountry.combineAll([
 *   new Map([["fr", 2], ["de", 1]]),
 *   new Map([["fr", 3]]),
 * ]);
 * assert.deepEqual(total, new Map([["fr", 5], ["de", 1]]));
 * assert.deepEqual(byCountry.codec.toJSON(total), { de: 1, fr: 5 });
 * ```
 */
export function mapMerge<V>(inner: Monoid<V>): Monoid<ReadonlyMap<string, V>> {
  if (inner === undefined || typeof inner.combine !== "function") {
    throw new TypeError(
      "mapMerge: pass the monoid for values, e.g. mapMerge(sum())",
    );
  }
  const format = `murmur.map.v1(${inner.codec.format})`;
  const name = `map(${inner.name})`;

  function combine(
    a: ReadonlyMap<string, V>,
    b: ReadonlyMap<string, V>,
  ): ReadonlyMap<string, V> {
    if (b.size === 0) return a;
    if (a.size === 0) return b;
    const out = new Map(a);
    for (const [key, value] of b) {
      out.set(key, out.has(key) ? inner.combine(out.get(key)!, value) : value);
    }
    return out;
  }

  function combineAll(
    values: Iterable<ReadonlyMap<string, V>>,
  ): ReadonlyMap<string, V> {
    // Gather each key's values, then fold each key once so inner fast paths apply.
    const columns = new Map<string, V[]>();
    for (const value of values) {
      for (const [key, v] of value) {
        const column = columns.get(key);
        if (column === undefined) columns.set(key, [v]);
        else column.push(v);
      }
    }
    const out = new Map<string, V>();
    for (const [key, column] of columns) {
      out.set(key, column.length === 1 ? column[0]! : inner.combineAll(column));
    }
    return out;
  }

  const codec: Codec<ReadonlyMap<string, V>> = Object.freeze({
    format,
    encode(value: ReadonlyMap<string, V>): Uint8Array {
      const writer = new ByteWriter();
      const entries = sortedEntries(value, `${format} codec`);
      writer.u32(entries.length);
      for (const [key, v] of entries) {
        writer.chunk(utf8(key, `${format} codec`));
        writer.chunk(inner.codec.encode(v));
      }
      return writer.finish();
    },
    decode(bytes: Uint8Array): ReadonlyMap<string, V> {
      const reader = new ByteReader(bytes, format);
      const size = reader.u32("count");
      if (size > reader.remaining / 8) {
        reader.fail(
          `count ${size} needs more bytes than the ${reader.remaining} left`,
        );
      }
      const out = new Map<string, V>();
      let previous: string | null = null;
      for (let i = 0; i < size; i++) {
        const key = fromUtf8(reader.chunk(`key ${i}`), format);
        if (previous !== null && !(previous < key)) {
          reader.fail(
            `key ${describe(key)} is not after ${
              describe(previous)
            } (keys must be sorted and unique)`,
          );
        }
        out.set(
          key,
          inner.codec.decode(reader.chunk(`value of ${describe(key)}`)),
        );
        previous = key;
      }
      reader.end();
      return out;
    },
    toJSON(value: ReadonlyMap<string, V>): JsonValue {
      return Object.fromEntries(
        sortedEntries(value, `${format} codec`).map((
          [key, v],
        ) => [key, inner.codec.toJSON(v)]),
      );
    },
    fromJSON(json: JsonValue): ReadonlyMap<string, V> {
      if (!isJsonObject(json)) {
        throw new CodecError(`${format}: ${describe(json)} is not an object`);
      }
      const out = new Map<string, V>();
      for (const [key, v] of Object.entries(json)) {
        out.set(key, inner.codec.fromJSON(v));
      }
      return out;
    },
  });

  return Object.freeze({
    kind: "map" as const,
    name,
    additive: false,
    commutative: inner.commutative,
    idempotent: inner.idempotent,
    identity: (): ReadonlyMap<string, V> => new Map<string, V>(),
    combine,
    combineAll,
    codec,
  });
}
