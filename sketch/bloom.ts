// Bloom filter sized from a capacity and a false-positive rate, hashed once with MurmurHash64A.

/**
 * Set membership with a bounded false-positive rate: {@linkcode BloomFilter}
 * answers "definitely not added" or "probably added". Filters of the same
 * shape merge by OR, so the filter is an idempotent, commutative monoid
 * ({@linkcode bloom}).
 *
 * @example Skip work for ids already seen
 * ```ts
 * import { BloomFilter } from "@murmur/core/sketch/bloom";
 * import assert from "node:assert/strict";
 *
 * const seen = new BloomFilter({ capacity: 1000, falsePositiveRate: 0.01 });
 * seen.add("order-1");
 * assert.equal(seen.has("order-1"), true);
 * assert.equal(seen.has("order-2"), false);
 * ```
 *
 * @module
 */

import { CodecError } from "../monoid/mod.ts";
import type { Codec, JsonValue, Monoid } from "../monoid/mod.ts";

export { CodecError } from "../monoid/mod.ts";
export type * from "../monoid/_types.ts";
import { sketchMonoid } from "./_monoid.ts";
import {
  ByteReader,
  ByteWriter,
  fromBase64,
  jsonCount,
  jsonObject,
  toBase64,
} from "./_bytes.ts";
import { IncompatibleSketchError } from "./_errors.ts";
import { hashHighBits, hashLow } from "./_murmurhash.ts";
import { modOf, nextProbe } from "./_probe.ts";
import { BLOCK_BITS, blockedBits, blockOf } from "./_bloom_blocked.ts";

export { IncompatibleSketchError } from "./_errors.ts";

const MAGIC = [0x4d, 0x42, 0x46] as const; // "MBF"
// The version byte names the layout: 1 standard, 2 blocked.
const VERSION = 1;
const VERSION_BLOCKED = 2;
const FORMAT = "murmur.bloom.v1";
// As a signed 32-bit integer (the same bits), which the hash core takes without conversion.
const SEED = 0x9747b28c | 0;
const DEFAULT_CAPACITY = 10_000;
const DEFAULT_FALSE_POSITIVE_RATE = 0.01;
const MAX_BITS = 2 ** 31;
const MAX_HASHES = 255;
// The blocked layout's probe sequence: the golden-ratio Weyl step and a
// MurmurHash3 finalizer multiplier.
const WEYL = 0x9e3779b9 | 0;
const MIX = 0x85ebca6b | 0;
// Scratch for one item's probe positions.
const PROBES = new Int32Array(MAX_HASHES);

const POPCOUNT = Uint8Array.from(
  { length: 256 },
  (_, byte) => {
    let bits = 0;
    for (let b = byte; b !== 0; b >>= 1) bits += b & 1;
    return bits;
  },
);

/** Options for a {@linkcode BloomFilter}. */
export interface BloomFilterOptions {
  /**
   * How many distinct items the filter is sized for. Past it the
   * false-positive rate climbs above `falsePositiveRate`.
   *
   * @default {10000}
   */
  readonly capacity?: number;
  /**
   * The false-positive rate at `capacity` items, strictly between 0 and 1.
   *
   * @default {0.01}
   */
  readonly falsePositiveRate?: number;
  /**
   * Where an item's probes fall; see {@linkcode BloomLayout}. Filters of
   * different layouts never merge.
   *
   * @default {"standard"}
   */
  readonly layout?: BloomLayout;
}

/**
 * How a filter places an item's probes.
 *
 * - `"standard"`: anywhere in the bit array (enhanced double hashing over
 *   all bits), the classic filter and the smallest for its rate; an add
 *   touches `hashes` cache lines.
 * - `"blocked"`: all in one 512-bit block (one 64-byte cache line) that the
 *   item's hash picks, so an add or a lookup touches one cache line: about
 *   twice as fast on filters larger than the CPU cache, for a few percent
 *   more bits at rates around 1 % (more at very small rates; sized so the
 *   rate still holds at `capacity` items).
 */
export type BloomLayout = "standard" | "blocked";

/** The size of a filter: what must match for two filters to merge. */
export interface BloomFilterShape {
  /** The capacity it was sized for. */
  readonly capacity: number;
  /** The false-positive rate it was sized for. */
  readonly falsePositiveRate: number;
  /** Number of bits, m = ⌈−n·ln p / (ln 2)²⌉. */
  readonly bits: number;
  /** Number of hash probes per item, k = round(m/n · ln 2), at least 1. */
  readonly hashes: number;
  /** Where the probes fall; see {@linkcode BloomLayout}. */
  readonly layout: BloomLayout;
}

/**
 * The shape of a filter for a capacity and false-positive rate: the
 * optimal bit count and number of probes.
 *
 * @example Usage
 * ```ts
 * import { bloomShape } from "@murmur/core/sketch/bloom";
 * import assert from "node:assert/strict";
 * const { bits, hashes } = bloomShape({ capacity: 10_000, falsePositiveRate: 0.01 });
 * assert.equal(bits, 95851);
 * assert.equal(hashes, 7);
 * assert.equal(Math.ceil(bits / 8), 11982);
 * ```
 *
 * @example The blocked layout rounds up to whole 512-bit blocks
 * ```ts
 * import { bloomShape } from "@murmur/core/sketch/bloom";
 * import assert from "node:assert/strict";
 * const shape = bloomShape({ capacity: 10_000, layout: "blocked" });
 * assert.equal(shape.bits % 512, 0);
 * assert.equal(shape.bits > 95851, true);
 * assert.equal(shape.hashes, 7);
 * ```
 *
 * @param options Capacity, false-positive rate and layout (defaults 10 000,
 * 0.01 and `"standard"`).
 * @returns The shape.
 * @throws {RangeError} When the capacity is not a positive integer, the
 * rate is not strictly between 0 and 1, the layout is unknown, or the filter
 * would need more than 2^31 bits or 255 probes.
 */
export function bloomShape(options: BloomFilterOptions = {}): BloomFilterShape {
  const capacity = options.capacity ?? DEFAULT_CAPACITY;
  const layout = options.layout ?? "standard";
  const falsePositiveRate = options.falsePositiveRate ??
    DEFAULT_FALSE_POSITIVE_RATE;
  if (!Number.isSafeInteger(capacity) || capacity < 1) {
    throw new RangeError(
      `bloom: capacity must be a positive integer, got ${capacity}`,
    );
  }
  if (!(falsePositiveRate > 0 && falsePositiveRate < 1)) {
    throw new RangeError(
      `bloom: falsePositiveRate must be between 0 and 1 (exclusive), got ${falsePositiveRate}`,
    );
  }
  if (layout !== "standard" && layout !== "blocked") {
    throw new RangeError(
      `bloom: layout must be "standard" or "blocked", got ${String(layout)}`,
    );
  }
  const standardBits = Math.ceil(
    -capacity * Math.log(falsePositiveRate) / (Math.LN2 * Math.LN2),
  );
  const hashes = Math.max(1, Math.round(standardBits / capacity * Math.LN2));
  const bits = layout === "standard"
    ? standardBits
    : blockedSize(capacity, falsePositiveRate, hashes, standardBits);
  if (bits > MAX_BITS || hashes > MAX_HASHES) {
    throw new RangeError(
      `bloom: capacity ${capacity} at rate ${falsePositiveRate} needs ${bits} bits and ${hashes} probes${
        layout === "blocked" ? " in the blocked layout" : ""
      }; the limits are 2^31 bits and 255 probes`,
    );
  }
  return { capacity, falsePositiveRate, bits, hashes, layout };
}

// Blocked sizes by capacity and rate: sizing sums a series, and a pipeline
// creates a filter of one shape per event.
const blockedSizes = new Map<string, number>();

function blockedSize(
  capacity: number,
  rate: number,
  hashes: number,
  standardBits: number,
): number {
  const key = `${capacity}:${rate}`;
  let bits = blockedSizes.get(key);
  if (bits === undefined) {
    if (blockedSizes.size >= 256) blockedSizes.clear();
    bits = blockedBits(capacity, rate, hashes, standardBits, MAX_BITS);
    blockedSizes.set(key, bits);
  }
  return bits;
}

// Set just before a private construction so the constructor takes this shape as is.
let restoring: BloomFilterShape | undefined;

function sameShape(a: BloomFilterShape, b: BloomFilterShape): boolean {
  return a.capacity === b.capacity &&
    a.falsePositiveRate === b.falsePositiveRate && a.bits === b.bits &&
    a.hashes === b.hashes && a.layout === b.layout;
}

function describe(shape: BloomFilterShape): string {
  return `capacity ${shape.capacity}, rate ${shape.falsePositiveRate} (${shape.bits} bits, ${shape.hashes} probes${
    shape.layout === "blocked" ? ", blocked" : ""
  })`;
}

/**
 * A Bloom filter: `bits` bits and `hashes` probes per item, sized from a
 * capacity and a false-positive rate (default 10 000 items at 1%: 95 851
 * bits, about 12 KB, 7 probes). Each item is hashed once with MurmurHash64A
 * (seed `0x9747b28c`; strings as UTF-8) and the two 32-bit halves drive
 * enhanced double hashing (Dillinger and Manolios, 2004) to pick the probes.
 * With `layout: "blocked"` (see {@linkcode BloomLayout}) all of an item's
 * probes fall in one 64-byte block instead: about twice as fast once the
 * filter outgrows the CPU cache, for a few percent more bits.
 *
 * Filters merge by bitwise OR only when their shapes are identical; other
 * merges throw {@linkcode IncompatibleSketchError} instead of silently
 * keeping one side.
 *
 * @example Usage
 * ```ts
 * import { BloomFilter } from "@murmur/core/sketch/bloom";
 * import assert from "node:assert/strict";
 *
 * const a = new BloomFilter();
 * a.addAll(["x", "y"]);
 * const b = new BloomFilter();
 * b.add("z");
 * const both = a.merge(b);
 * assert.equal(both.has("x"), true);
 * assert.equal(both.has("z"), true);
 * assert.equal(both.count(), 3);
 * ```
 */
export class BloomFilter implements BloomFilterShape {
  /** The capacity the filter was sized for. */
  readonly capacity: number;
  /** The false-positive rate at `capacity` items. */
  readonly falsePositiveRate: number;
  /** Number of bits. */
  readonly bits: number;
  /** Number of probes per item. */
  readonly hashes: number;
  /** Where the probes fall; see {@linkcode BloomLayout}. */
  readonly layout: BloomLayout;
  #data: Uint8Array;
  // The number of 512-bit blocks of a blocked filter; 0 for a standard one.
  #blocks: number;
  // 1 / bits, for modOf().
  #inverse: number;

  /**
   * Creates an empty filter.
   *
   * @param options Capacity and false-positive rate; see {@linkcode BloomFilterOptions}.
   * @throws {RangeError} When the options are out of range (see {@linkcode bloomShape}).
   */
  constructor(options: BloomFilterOptions = {}) {
    const shape = restoring ?? bloomShape(options);
    restoring = undefined;
    this.capacity = shape.capacity;
    this.falsePositiveRate = shape.falsePositiveRate;
    this.bits = shape.bits;
    this.hashes = shape.hashes;
    this.layout = shape.layout;
    this.#blocks = shape.layout === "blocked" ? shape.bits / BLOCK_BITS : 0;
    this.#inverse = 1 / shape.bits;
    this.#data = new Uint8Array(Math.ceil(shape.bits / 8));
  }

  /** How many bytes the bit array takes (what {@linkcode BloomFilter.toBytes} adds to a small header). */
  get byteLength(): number {
    return this.#data.length;
  }

  /**
   * Adds an item (a string, hashed as UTF-8, or bytes).
   *
   * @example Usage
   * ```ts
   * import { BloomFilter } from "@murmur/core/sketch/bloom";
   * import assert from "node:assert/strict";
   * const filter = new BloomFilter();
   * assert.equal(filter.add("a"), true);
   * assert.equal(filter.add("a"), false);
   * ```
   *
   * @param item The item.
   * @returns `true` when a bit changed, i.e. the item was certainly new.
   * @throws {TypeError} When `item` is neither a string nor a Uint8Array.
   */
  add(item: string | Uint8Array): boolean {
    if (typeof item !== "string" && !(item instanceof Uint8Array)) {
      throw new TypeError(
        `bloom.add() takes a string or a Uint8Array, got ${typeof item}`,
      );
    }
    if (this.#blocks !== 0) return this.#addBlocked(item);
    const m = this.bits;
    const k = this.hashes;
    const data = this.#data;
    // Enhanced double hashing (Dillinger and Manolios): probe x, step y.
    const inverse = this.#inverse;
    let x = modOf(hashLow(item, SEED) >>> 0, m, inverse);
    let y = modOf(hashHighBits() >>> 0, m, inverse);
    // The positions first, then the bits: the loads of all k probes are
    // then queued back to back rather than between the arithmetic.
    const probes = PROBES;
    for (let i = 0;;) {
      probes[i] = x;
      if (++i === k) break;
      x = nextProbe(x, y, m);
      y += i;
      if (y >= m) y %= m;
    }
    let changed = 0;
    for (let i = 0; i < k; i++) {
      const p = probes[i]!;
      const byte = p >>> 3;
      const mask = 1 << (p & 7);
      const old = data[byte]!;
      changed |= ~old & mask;
      data[byte] = old | mask;
    }
    return changed !== 0;
  }

  // The blocked layout: the low hash half picks the block (blockOf(): a multiply, not a
  // division); the high half
  // seeds the probes in it, probe i at the top 9 bits of a mixed Weyl step
  // (high + i·WEYL). Not double hashing: inside one small block, arithmetic
  // progressions of two items overlap so often that at k = 10 the measured
  // rate doubled; mixed steps keep the Poisson model's rate.
  #addBlocked(item: string | Uint8Array): boolean {
    const k = this.hashes;
    const data = this.#data;
    const base = blockOf(hashLow(item, SEED) >>> 0, this.#blocks) * BLOCK_BITS;
    let x = hashHighBits();
    let changed = 0;
    for (let i = 0; i < k; i++) {
      x = (x + WEYL) | 0;
      const p = base + (Math.imul(x ^ (x >>> 16), MIX) >>> 23);
      const byte = p >>> 3;
      const mask = 1 << (p & 7);
      const old = data[byte]!;
      changed |= ~old & mask;
      data[byte] = old | mask;
    }
    return changed !== 0;
  }

  #hasBlocked(item: string | Uint8Array): boolean {
    const k = this.hashes;
    const data = this.#data;
    const base = blockOf(hashLow(item, SEED) >>> 0, this.#blocks) * BLOCK_BITS;
    let x = hashHighBits();
    for (let i = 0; i < k; i++) {
      x = (x + WEYL) | 0;
      const p = base + (Math.imul(x ^ (x >>> 16), MIX) >>> 23);
      if ((data[p >>> 3]! & (1 << (p & 7))) === 0) return false;
    }
    return true;
  }

  /**
   * Adds many items.
   *
   * @example Usage
   * ```ts
   * import { BloomFilter } from "@murmur/core/sketch/bloom";
   * import assert from "node:assert/strict";
   * const filter = new BloomFilter({ capacity: 100 });
   * assert.equal(filter.addAll(["a", "b", "a"]), 2);
   * ```
   *
   * @param items The items.
   * @returns How many of them were certainly new.
   * @throws {TypeError} When an item is neither a string nor a Uint8Array.
   */
  addAll(items: Iterable<string | Uint8Array>): number {
    let added = 0;
    for (const item of items) if (this.add(item)) added++;
    return added;
  }

  /**
   * Whether the item may have been added: `false` is certain, `true` is
   * wrong with probability about `falsePositiveRate` while at most
   * `capacity` items were added.
   *
   * @example Usage
   * ```ts
   * import { BloomFilter } from "@murmur/core/sketch/bloom";
   * import assert from "node:assert/strict";
   * const filter = new BloomFilter();
   * filter.add(new Uint8Array([1, 2, 3]));
   * assert.equal(filter.has(new Uint8Array([1, 2, 3])), true);
   * assert.equal(filter.has("nope"), false);
   * ```
   *
   * @param item The item.
   * @returns `false` when the item was certainly never added.
   * @throws {TypeError} When `item` is neither a string nor a Uint8Array.
   */
  has(item: string | Uint8Array): boolean {
    if (typeof item !== "string" && !(item instanceof Uint8Array)) {
      throw new TypeError(
        `bloom.has() takes a string or a Uint8Array, got ${typeof item}`,
      );
    }
    if (this.#blocks !== 0) return this.#hasBlocked(item);
    const m = this.bits;
    const k = this.hashes;
    const data = this.#data;
    const inverse = this.#inverse;
    let x = modOf(hashLow(item, SEED) >>> 0, m, inverse);
    let y = modOf(hashHighBits() >>> 0, m, inverse);
    for (let i = 1;; i++) {
      if ((data[x >>> 3]! & (1 << (x & 7))) === 0) return false;
      if (i === k) return true;
      x = nextProbe(x, y, m);
      y += i;
      if (y >= m) y %= m;
    }
  }

  /**
   * Estimates how many distinct items were added, from the share of bits
   * set (Swamidass and Baldi, 2007): −(m/k)·ln(1 − X/m). `Infinity` once
   * every bit is set.
   *
   * @example Usage
   * ```ts
   * import { BloomFilter } from "@murmur/core/sketch/bloom";
   * import assert from "node:assert/strict";
   * const filter = new BloomFilter();
   * for (let i = 0; i < 500; i++) filter.add(`id-${i}`);
   * assert.equal(Math.abs(filter.count() - 500) < 25, true);
   * ```
   *
   * @returns The estimated number of distinct items, rounded.
   */
  count(): number {
    const data = this.#data;
    let set = 0;
    for (let i = 0; i < data.length; i++) set += POPCOUNT[data[i]!]!;
    if (set === this.bits) return Infinity;
    return Math.round(
      -(this.bits / this.hashes) * Math.log1p(-set / this.bits),
    );
  }

  /**
   * Whether no item was added.
   *
   * @example Usage
   * ```ts
   * import { BloomFilter } from "@murmur/core/sketch/bloom";
   * import assert from "node:assert/strict";
   * assert.equal(new BloomFilter().isEmpty(), true);
   * ```
   *
   * @returns `true` when no bit is set.
   */
  isEmpty(): boolean {
    return this.#data.every((byte) => byte === 0);
  }

  /**
   * The union as a new filter (bitwise OR); both inputs are left alone.
   *
   * @example Usage
   * ```ts
   * import { BloomFilter } from "@murmur/core/sketch/bloom";
   * import assert from "node:assert/strict";
   * const a = new BloomFilter();
   * a.add("a");
   * const b = new BloomFilter();
   * b.add("b");
   * assert.equal(a.merge(b).has("b"), true);
   * assert.equal(a.has("b"), false);
   * ```
   *
   * @param other A filter of the same shape.
   * @returns The union.
   * @throws {IncompatibleSketchError} When the shapes differ.
   */
  merge(other: BloomFilter): BloomFilter {
    return this.clone().mergeInPlace(other);
  }

  /**
   * ORs `other` into this filter and returns this filter; `other` is not changed.
   *
   * @example Usage
   * ```ts
   * import { BloomFilter } from "@murmur/core/sketch/bloom";
   * import assert from "node:assert/strict";
   * const all = new BloomFilter();
   * for (const id of ["a", "b"]) {
   *   const one = new BloomFilter();
   *   one.add(id);
   *   all.mergeInPlace(one);
   * }
   * assert.equal(all.has("a") && all.has("b"), true);
   * ```
   *
   * @param other A filter of the same shape.
   * @returns This filter.
   * @throws {IncompatibleSketchError} When the shapes differ.
   */
  mergeInPlace(other: BloomFilter): this {
    if (!sameShape(this, other)) {
      throw new IncompatibleSketchError(
        `bloom: cannot merge a filter of ${describe(other)} into one of ${
          describe(this)
        }; size every filter of a pipeline alike`,
      );
    }
    const a = this.#data;
    const b = other.#data;
    for (let i = 0; i < a.length; i++) a[i]! |= b[i]!;
    return this;
  }

  /**
   * Whether both filters have the same shape and bits.
   *
   * @example Usage
   * ```ts
   * import { BloomFilter } from "@murmur/core/sketch/bloom";
   * import assert from "node:assert/strict";
   * const a = new BloomFilter();
   * a.add("x");
   * assert.equal(a.equals(a.clone()), true);
   * assert.equal(a.equals(new BloomFilter()), false);
   * ```
   *
   * @param other The filter to compare with.
   * @returns `true` when equal.
   */
  equals(other: BloomFilter): boolean {
    if (!sameShape(this, other)) return false;
    const a = this.#data;
    const b = other.#data;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  /**
   * An independent copy.
   *
   * @example Usage
   * ```ts
   * import { BloomFilter } from "@murmur/core/sketch/bloom";
   * import assert from "node:assert/strict";
   * const a = new BloomFilter();
   * const b = a.clone();
   * b.add("x");
   * assert.equal(a.has("x"), false);
   * assert.equal(b.has("x"), true);
   * ```
   *
   * @returns The copy.
   */
  clone(): BloomFilter {
    const copy = BloomFilter.#ofShape(this);
    copy.#data.set(this.#data);
    return copy;
  }

  /**
   * The bytes (format `"murmur.bloom.v1"`): `MBF`, a version byte naming
   * the layout (1 standard, 2 blocked), varint
   * capacity, the false-positive rate as a little-endian float64, varint bit
   * count, one byte of probe count, then the bit array (bit i is bit i % 8 of
   * byte i / 8; unused high bits of the last byte are zero).
   *
   * @example Usage
   * ```ts
   * import { BloomFilter } from "@murmur/core/sketch/bloom";
   * import assert from "node:assert/strict";
   * const filter = new BloomFilter();
   * filter.add("x");
   * assert.equal(BloomFilter.fromBytes(filter.toBytes()).has("x"), true);
   * ```
   *
   * @returns The bytes.
   */
  toBytes(): Uint8Array {
    const writer = new ByteWriter(this.#data.length + 24);
    writer.bytes(MAGIC);
    writer.bytes([this.#blocks !== 0 ? VERSION_BLOCKED : VERSION]);
    writer.varint(this.capacity);
    writer.f64(this.falsePositiveRate);
    writer.varint(this.bits);
    writer.bytes([this.hashes]);
    writer.bytes(this.#data);
    return writer.finish();
  }

  /**
   * Decodes {@linkcode BloomFilter.toBytes} output, checking the header,
   * every field's range and the exact length of the bit array.
   *
   * @example Usage
   * ```ts
   * import { BloomFilter } from "@murmur/core/sketch/bloom";
   * import assert from "node:assert/strict";
   * const bytes = new BloomFilter({ capacity: 50 }).toBytes();
   * assert.equal(BloomFilter.fromBytes(bytes).capacity, 50);
   * ```
   *
   * @param bytes The bytes.
   * @returns The filter.
   * @throws {CodecError} When the bytes are truncated, too long, have another
   * header or version, or a field is out of range.
   */
  static fromBytes(bytes: Uint8Array): BloomFilter {
    const reader = new ByteReader(bytes, FORMAT);
    const version = reader.headerVersion(
      MAGIC,
      [VERSION, VERSION_BLOCKED],
      'Bloom filter (they start with "MBF")',
    );
    const capacity = reader.varint("capacity");
    const falsePositiveRate = reader.f64("false-positive rate");
    const bits = reader.varint("bit count");
    const hashes = reader.take(1, "probe count")[0]!;
    const data = reader.take(Math.ceil(bits / 8), "bit array");
    reader.end();
    const layout = version === VERSION_BLOCKED ? "blocked" : "standard";
    return BloomFilter.#validated(
      { capacity, falsePositiveRate, bits, hashes, layout },
      data,
    );
  }

  static #validated(shape: BloomFilterShape, data: Uint8Array): BloomFilter {
    const { capacity, falsePositiveRate, bits, hashes } = shape;
    const fail = (message: string): never => {
      throw new CodecError(`${FORMAT}: ${message}`);
    };
    if (capacity < 1) fail("capacity must be at least 1");
    if (!(falsePositiveRate > 0 && falsePositiveRate < 1)) {
      fail(`false-positive rate ${falsePositiveRate} is not between 0 and 1`);
    }
    if (bits < 1 || bits > MAX_BITS) {
      fail(`bit count ${bits} is outside 1..2^31`);
    }
    if (hashes < 1) fail("probe count must be at least 1");
    if (shape.layout === "blocked" && bits % BLOCK_BITS !== 0) {
      fail(
        `bit count ${bits} of a blocked filter is not a multiple of ${BLOCK_BITS}`,
      );
    }
    if (data.length !== Math.ceil(bits / 8)) {
      fail(
        `bit array holds ${data.length} bytes, expected ${Math.ceil(bits / 8)}`,
      );
    }
    const spare = data.length * 8 - bits;
    if (spare > 0 && (data[data.length - 1]! >> (8 - spare)) !== 0) {
      fail("bits past the bit count are set");
    }
    const filter = BloomFilter.#ofShape(shape);
    filter.#data.set(data);
    return filter;
  }

  // A filter of exactly this shape, even one bloomShape() would not derive (e.g. decoded from elsewhere).
  static #ofShape(shape: BloomFilterShape): BloomFilter {
    restoring = shape;
    return new BloomFilter();
  }

  /**
   * The JSON form: `{ capacity, falsePositiveRate, bits, hashes, data }`
   * with the bit array in base64, plus `layout: "blocked"` for a blocked
   * filter (a standard one has no `layout` field, as before).
   *
   * @example Usage
   * ```ts
   * import { BloomFilter } from "@murmur/core/sketch/bloom";
   * import assert from "node:assert/strict";
   * const json = new BloomFilter({ capacity: 10 }).toJSON();
   * assert.equal(BloomFilter.fromJSON(json).bits, 96);
   * ```
   *
   * @returns A JSON-safe object.
   */
  toJSON(): JsonValue {
    return {
      capacity: this.capacity,
      falsePositiveRate: this.falsePositiveRate,
      bits: this.bits,
      hashes: this.hashes,
      ...(this.#blocks !== 0 ? { layout: "blocked" } : {}),
      data: toBase64(this.#data),
    };
  }

  /**
   * Reads the JSON form back, with the same checks as {@linkcode BloomFilter.fromBytes}.
   *
   * @example Usage
   * ```ts
   * import { BloomFilter } from "@murmur/core/sketch/bloom";
   * import assert from "node:assert/strict";
   * const filter = new BloomFilter({ capacity: 10 });
   * filter.add("a");
   * assert.equal(BloomFilter.fromJSON(filter.toJSON()).has("a"), true);
   * ```
   *
   * @param json The JSON form.
   * @returns The filter.
   * @throws {CodecError} When the JSON is malformed or a field is out of range.
   */
  static fromJSON(json: JsonValue): BloomFilter {
    const object = jsonObject(json, FORMAT);
    const rate = object["falsePositiveRate"];
    if (typeof rate !== "number") {
      throw new CodecError(
        `${FORMAT}: JSON field "falsePositiveRate" must be a number`,
      );
    }
    const hashes = jsonCount(object, "hashes", FORMAT);
    const layout = object["layout"] ?? "standard";
    if (layout !== "standard" && layout !== "blocked") {
      throw new CodecError(
        `${FORMAT}: JSON field "layout" must be "standard" or "blocked", got ${
          JSON.stringify(layout)
        }`,
      );
    }
    if (hashes > MAX_HASHES) {
      throw new CodecError(
        `${FORMAT}: probe count ${hashes} is above ${MAX_HASHES}`,
      );
    }
    return BloomFilter.#validated(
      {
        capacity: jsonCount(object, "capacity", FORMAT),
        falsePositiveRate: rate,
        bits: jsonCount(object, "bits", FORMAT),
        hashes,
        layout,
      },
      fromBase64(object["data"] ?? null, FORMAT, `JSON field "data"`),
    );
  }
}

function bloomCodecFor(
  shape: BloomFilterShape | undefined,
): Codec<BloomFilter> {
  const checked = (filter: BloomFilter): BloomFilter => {
    if (shape !== undefined && !sameShape(filter, shape)) {
      throw new CodecError(
        `${FORMAT}: filter has ${describe(filter)} but this monoid expects ${
          describe(shape)
        }`,
      );
    }
    return filter;
  };
  return Object.freeze({
    format: FORMAT,
    encode: (value: BloomFilter): Uint8Array => value.toBytes(),
    decode: (bytes: Uint8Array): BloomFilter =>
      checked(BloomFilter.fromBytes(bytes)),
    toJSON: (value: BloomFilter): JsonValue => value.toJSON(),
    fromJSON: (json: JsonValue): BloomFilter =>
      checked(BloomFilter.fromJSON(json)),
  });
}

/**
 * The codec of Bloom filters of any shape (format `"murmur.bloom.v1"`); see
 * {@linkcode BloomFilter.toBytes} and {@linkcode BloomFilter.toJSON}.
 *
 * @example Usage
 * ```ts
 * import { BloomFilter, bloomCodec } from "@murmur/core/sketch/bloom";
 * import assert from "node:assert/strict";
 * const filter = new BloomFilter({ capacity: 100 });
 * filter.add("a");
 * assert.equal(bloomCodec.decode(bloomCodec.encode(filter)).has("a"), true);
 * ```
 */
export const bloomCodec: Codec<BloomFilter> = bloomCodecFor(undefined);

/**
 * The Bloom filter monoid (kind `"bloom"`): identity is an empty filter of
 * the given shape, `combine` is the bitwise OR as a new filter (inputs
 * untouched); commutative and idempotent. Combining filters of another shape
 * throws {@linkcode IncompatibleSketchError}, and its codec refuses them.
 *
 * @example Usage
 * ```ts
 * import { bloom } from "@murmur/core/sketch/bloom";
 * import assert from "node:assert/strict";
 *
 * const seen = bloom({ capacity: 1000, falsePositiveRate: 0.001 });
 * const lift = (id: string) => {
 *   const filter = seen.identity();
 *   filter.add(id);
 *   return filter;
 * };
 * const all = seen.combineAll(["a", "b"].map(lift));
 * assert.equal(all.has("a"), true);
 * assert.equal(all.has("c"), false);
 * ```
 *
 * @param options Capacity and false-positive rate (defaults 10 000 and 0.01).
 * @returns The monoid.
 * @throws {RangeError} When the options are out of range (see {@linkcode bloomShape}).
 */
export function bloom(options: BloomFilterOptions = {}): Monoid<BloomFilter> {
  const shape = bloomShape(options);
  const settings = {
    capacity: shape.capacity,
    falsePositiveRate: shape.falsePositiveRate,
    layout: shape.layout,
  };
  return sketchMonoid({
    kind: "bloom",
    name: `bloom(capacity=${shape.capacity}, p=${shape.falsePositiveRate}${
      shape.layout === "blocked" ? ", layout=blocked" : ""
    })`,
    idempotent: true,
    empty: (): BloomFilter => new BloomFilter(settings),
    codec: bloomCodecFor(shape),
  });
}
