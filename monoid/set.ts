// set(): union of strings, optionally bounded to the smallest maxSize elements.

import {
  ByteReader,
  ByteWriter,
  compareStrings,
  describe,
  fromUtf8,
  utf8,
} from "./_codec.ts";
import { CodecError } from "./monoid.ts";
import type { Codec, JsonValue, Monoid } from "./monoid.ts";

/** Options for {@linkcode set}. */
export interface SetOptions {
  /**
   * The most elements a value keeps (a positive integer). When a union is
   * larger, only the `maxSize` smallest elements in UTF-16 code-unit order
   * (the order of `Array.prototype.sort`) are kept. Default: unbounded.
   */
  readonly maxSize?: number;
}

function sortedElements(value: ReadonlySet<string>, what: string): string[] {
  const out: string[] = [];
  for (const element of value) {
    if (typeof element !== "string") {
      throw new TypeError(
        `${what}: element ${describe(element)} is not a string`,
      );
    }
    out.push(element);
  }
  return out.sort(compareStrings);
}

/**
 * Unions sets of strings. Commutative and idempotent: re-applying a value
 * (a retry, a replay) changes nothing.
 *
 * **Bound.** With `maxSize`, a value keeps only the `maxSize` smallest
 * elements by UTF-16 code-unit order. Keeping the smallest k of a union is
 * the same however the union is grouped or ordered, so the bounded monoid
 * stays associative, commutative and idempotent (the laws are tested): a
 * bounded set is exactly "the first k distinct strings in sort order seen so
 * far". It is not a count of distinct elements — use a HyperLogLog sketch for
 * that — and not a random sample unless the strings are (e.g. hashes).
 * Inputs larger than the bound are cut to it when combined.
 *
 * Values are treated as immutable: `combine` returns a new set or one of its
 * operands, never changes them.
 *
 * Codec: `murmur.set.v1` — version byte `1`, a big-endian u32 count, then
 * each element as a u32 byte length and UTF-8, in strictly increasing order
 * (decoding refuses unsorted, duplicate, invalid UTF-8, or more than
 * `maxSize` elements). JSON: a sorted array of strings. Strings holding lone
 * UTF-16 surrogates cannot be encoded (`TypeError`).
 *
 * @param options The optional `maxSize` bound.
 * @returns A frozen `set` monoid over `ReadonlySet<string>`.
 * @throws {RangeError} When `maxSize` is not a positive integer.
 *
 * @example Usage
 * ```ts
 * import { set } from "@murmur/core/monoid";
 * import assert from "node:assert/strict";
 * const tags = set();
 * const all = tags.combineAll([new Set(["b", "a"]), new Set(["c", "a"])]);
 * assert.deepEqual([...all].sort(), [ "a", "b", "c" ]);
 * ```
 *
 * @example A bounded set keeps the smallest elements
 * ```ts
 * import { set } from "@murmur/core/monoid";
 * import assert from "node:assert/strict";
 * const few = set({ maxSize: 2 });
 * const kept = few.combine(new Set(["pear", "apple"]), new Set(["fig"]));
 * assert.deepEqual([...kept].sort(), [ "apple", "fig" ]);
 * ```
 */
export function set(options?: SetOptions): Monoid<ReadonlySet<string>> {
  const maxSize = options?.maxSize ?? Infinity;
  if (
    maxSize !== Infinity && (!Number.isSafeInteger(maxSize) || maxSize < 1)
  ) {
    throw new RangeError(
      `set: maxSize ${maxSize} must be a positive integer; omit it for an unbounded set`,
    );
  }
  const bounded = maxSize !== Infinity;
  const name = bounded ? `set(maxSize=${maxSize})` : "set";
  const format = "murmur.set.v1";

  function bound(value: ReadonlySet<string>): ReadonlySet<string> {
    if (value.size <= maxSize) return value;
    return new Set(sortedElements(value, name).slice(0, maxSize));
  }

  function combine(
    a: ReadonlySet<string>,
    b: ReadonlySet<string>,
  ): ReadonlySet<string> {
    if (a === b || b.size === 0) return bound(a);
    if (a.size === 0) return bound(b);
    const out = new Set(a);
    for (const element of b) out.add(element);
    return bound(out);
  }

  function combineAll(
    values: Iterable<ReadonlySet<string>>,
  ): ReadonlySet<string> {
    if (bounded) {
      let acc: ReadonlySet<string> = new Set();
      for (const value of values) acc = combine(acc, value);
      return acc;
    }
    const out = new Set<string>();
    for (const value of values) for (const element of value) out.add(element);
    return out;
  }

  function checkSize(size: number, fail: (message: string) => never): void {
    if (size > maxSize) {
      fail(`${size} elements exceed maxSize ${maxSize}`);
    }
  }

  const codec: Codec<ReadonlySet<string>> = Object.freeze({
    format,
    encode(value: ReadonlySet<string>): Uint8Array {
      const elements = sortedElements(value, `${format} codec`);
      const writer = new ByteWriter();
      writer.u32(elements.length);
      for (const element of elements) {
        writer.chunk(utf8(element, `${format} codec`));
      }
      return writer.finish();
    },
    decode(bytes: Uint8Array): ReadonlySet<string> {
      const reader = new ByteReader(bytes, format);
      const size = reader.u32("count");
      // Each element needs at least its 4-byte length: refuse absurd counts before looping.
      if (size > reader.remaining / 4) {
        reader.fail(
          `count ${size} needs more bytes than the ${reader.remaining} left`,
        );
      }
      checkSize(size, (message) => reader.fail(message));
      const out = new Set<string>();
      let previous: string | null = null;
      for (let i = 0; i < size; i++) {
        const element = fromUtf8(reader.chunk(`element ${i}`), format);
        if (previous !== null && !(previous < element)) {
          reader.fail(
            `element ${i} ${describe(element)} is not after ${
              describe(previous)
            } (elements must be sorted and unique)`,
          );
        }
        out.add(element);
        previous = element;
      }
      reader.end();
      return out;
    },
    toJSON(value: ReadonlySet<string>): JsonValue {
      return sortedElements(value, `${format} codec`);
    },
    fromJSON(json: JsonValue): ReadonlySet<string> {
      if (!Array.isArray(json) || !json.every((e) => typeof e === "string")) {
        throw new CodecError(
          `${format}: ${describe(json)} is not an array of strings`,
        );
      }
      const out = new Set(json as readonly string[]);
      checkSize(out.size, (message) => {
        throw new CodecError(`${format}: ${message}`);
      });
      return out;
    },
  });

  return Object.freeze({
    kind: "set" as const,
    name,
    additive: false,
    commutative: true,
    idempotent: true,
    identity: (): ReadonlySet<string> => new Set<string>(),
    combine,
    combineAll,
    codec,
  });
}
