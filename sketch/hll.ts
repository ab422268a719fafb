// HyperLogLog whose bytes are exactly Redis / Valkey's `HYLL` strings, so PFADD, PFMERGE and PFCOUNT work on them.

/**
 * A HyperLogLog distinct counter that is byte-compatible with Redis and
 * Valkey: the same hash (MurmurHash64A, seed `0xadc83b19`), the same 16 384
 * six-bit registers, the same `HYLL` string in both its sparse and dense
 * encodings, and the same cardinality estimator, so {@linkcode HyperLogLog.count}
 * equals `PFCOUNT` on the same elements. Bytes from {@linkcode HyperLogLog.toBytes}
 * can be `SET` into Valkey and used with `PFADD` / `PFMERGE` / `PFCOUNT`; bytes
 * read with `GET` decode with {@linkcode HyperLogLog.fromBytes}.
 *
 * @example Count distinct visitors and hand the sketch to Valkey
 * ```ts
 * import { HyperLogLog } from "@murmur/core/sketch/hll";
 * import assert from "node:assert/strict";
 *
 * const visitors = new HyperLogLog();
 * visitors.addAll(["ann", "bob", "ann", "cy"]);
 * assert.equal(visitors.count(), 3);
 *
 * const bytes = visitors.toBytes(); // a Redis "HYLL" string: SET key bytes, then PFCOUNT key
 * assert.equal(new TextDecoder().decode(bytes.subarray(0, 4)), "HYLL");
 * assert.equal(HyperLogLog.fromBytes(bytes).count(), 3);
 * ```
 *
 * @module
 */

import { CodecError } from "../monoid/mod.ts";
import type { Codec, JsonValue, Monoid } from "../monoid/mod.ts";

export { CodecError } from "../monoid/mod.ts";
export type * from "../monoid/_types.ts";
import { sketchMonoid } from "./_monoid.ts";
import { fromBase64, toBase64 } from "./_bytes.ts";
import { hllPatLenOfBytes, hllPatLenOfString } from "./_murmurhash.ts";

const REGISTERS = 16384;
const INDEX_MASK = REGISTERS - 1;
const Q = 50;
const HEADER_BYTES = 16;
const DENSE_REGISTER_BYTES = (REGISTERS * 6) / 8;
const DENSE_BYTES = HEADER_BYTES + DENSE_REGISTER_BYTES;
const ENCODING_DENSE = 0;
const ENCODING_SPARSE = 1;
const SPARSE_VAL_MAX_VALUE = 32;
const SPARSE_VAL_MAX_LEN = 4;
const SPARSE_ZERO_MAX_LEN = 64;
const ALPHA_INF = 0.721347520444481703680;
const DEFAULT_SPARSE_MAX_BYTES = 3000;
const ANCHOR_SHIFT = 8;
const ANCHOR_BLOCKS = REGISTERS >> ANCHOR_SHIFT;
// Layout of the anchor table: offsets, then first registers, then previous-opcode offsets.
const ANCHOR_REGISTER = ANCHOR_BLOCKS;
const ANCHOR_PREVIOUS = 2 * ANCHOR_BLOCKS;
// Sparse strings shorter than this are scanned from the start: no anchor table for small sketches.
const ANCHOR_MIN_BYTES = 64;
const NO_OPTIONS: HyperLogLogOptions = Object.freeze({});
// The first sparse buffer of a sketch: room for the empty or any one-register string, and a few edits.
const INITIAL_SPARSE_BYTES = 16;

/** The number of registers (2^14) every Redis-compatible HyperLogLog has. */
export const HLL_REGISTERS: number = REGISTERS;

/** The relative standard error of a 16 384-register HyperLogLog: 1.04 / √16384 ≈ 0.81%. */
export const HLL_STANDARD_ERROR: number = 1.04 / Math.sqrt(REGISTERS);

/** Options for a {@linkcode HyperLogLog}. */
export interface HyperLogLogOptions {
  /**
   * The largest sparse string, header included, before the sketch switches
   * to the dense encoding, like Redis's `hll-sparse-max-bytes`. Keep it equal
   * to the server's setting when bytes must match `PFADD`'s exactly. While
   * sparse, each register change edits the run-length string as Redis does
   * (about 1.5-2 M adds/s instead of 7-10 M dense); `0` writes dense from
   * the first add, the fastest choice when 12 KB per sketch is acceptable.
   *
   * @default {3000}
   */
  readonly sparseMaxBytes?: number;
}

/** Options for {@linkcode HyperLogLog.toBytes}. */
export interface HyperLogLogBytesOptions {
  /**
   * Write the current cardinality into the header's cache, as `PFCOUNT` does,
   * so a later `PFCOUNT` answers without recomputing. With `false` the cache
   * is marked invalid (byte 15 = `0x80`), as `PFADD` leaves it.
   *
   * @default {true}
   */
  readonly cacheCardinality?: boolean;
}

/** Options for {@linkcode HyperLogLog.estimate}. */
export interface HyperLogLogEstimateOptions {
  /**
   * The two-sided confidence of the `[lower, upper]` interval, in (0, 1).
   *
   * @default {0.95}
   */
  readonly confidence?: number;
}

/** An approximate distinct count with a confidence interval. */
export interface CardinalityEstimate {
  /** The point estimate, equal to `PFCOUNT`. */
  readonly estimate: number;
  /** Lower end of the interval (never below 1 once anything was added). */
  readonly lower: number;
  /** Upper end of the interval. */
  readonly upper: number;
  /** The confidence the interval was built for, e.g. `0.95`. */
  readonly confidence: number;
}

/** The encoding a {@linkcode HyperLogLog} will be written in: Redis's sparse run-length form or its dense 6-bit form. */
export type HyperLogLogEncoding = "sparse" | "dense";

// An empty sparse stream is one XZERO opcode covering all 16384 registers: 0x7f 0xff.
const EMPTY_XZERO_HIGH = 0x7f;
const EMPTY_XZERO_LOW = 0xff;
const histogram = new Float64Array(64);
const splitScratch = new Uint8Array(5);
// Two register arrays for comparing sparse sketches without allocating; created on first use.
const scratchRegisters: (Uint8Array | undefined)[] = [undefined, undefined];
// Redis's hllPatLen() of an element, packed as (run length << 14) | register
// index; the run length of the 50 bits above the index, with a sentinel at
// bit 50, is 1..51. Throws the TypeError of `method` for anything else.
function patLen(item: unknown, method: string): number {
  if (typeof item === "string") return hllPatLenOfString(item);
  if (item instanceof Uint8Array) return hllPatLenOfBytes(item);
  throw new TypeError(
    `${method} takes a string or a Uint8Array, got ${typeof item}`,
  );
}

function scratch(slot: 0 | 1): Uint8Array {
  const registers = scratchRegisters[slot] ??= new Uint8Array(REGISTERS);
  registers.fill(0);
  return registers;
}

function checkSparseMaxBytes(value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(
      `hll: sparseMaxBytes must be a non-negative integer, got ${value}; Redis's default is 3000`,
    );
  }
  return value;
}

// Ertl's sigma and tau ("New cardinality estimation algorithms for HyperLogLog sketches"), as Redis computes them.
function sigma(x: number): number {
  if (x === 1) return Infinity;
  let zPrime: number;
  let y = 1;
  let z = x;
  do {
    x *= x;
    zPrime = z;
    z += x * y;
    y += y;
  } while (zPrime !== z);
  return z;
}

function tau(x: number): number {
  if (x === 0 || x === 1) return 0;
  let zPrime: number;
  let y = 1;
  let z = 1 - x;
  do {
    x = Math.sqrt(x);
    zPrime = z;
    y *= 0.5;
    const d = 1 - x;
    z -= d * d * y;
  } while (zPrime !== z);
  return z / 3;
}

function denseHistogram(registers: Uint8Array): Float64Array {
  const c = histogram;
  c.fill(0);
  for (let i = 0; i < REGISTERS; i++) c[registers[i]!]!++;
  return c;
}

// The same histogram read off the sparse opcodes, without unpacking them.
function sparseHistogram(sparse: Uint8Array, length: number): Float64Array {
  const c = histogram;
  c.fill(0);
  for (let p = 0; p < length; p++) {
    const op = sparse[p]!;
    if ((op & 0x80) !== 0) c[((op >> 2) & 0x1f) + 1]! += (op & 3) + 1;
    else if ((op & 0x40) !== 0) {
      c[0]! += (((op & 0x3f) << 8) | sparse[++p]!) + 1;
    } else c[0]! += (op & 0x3f) + 1;
  }
  return c;
}

// Writes the non-zero registers of sparse opcodes into `registers`, which must be all zeros.
function unpackSparse(
  sparse: Uint8Array,
  length: number,
  registers: Uint8Array,
): void {
  let index = 0;
  for (let p = 0; p < length; p++) {
    const op = sparse[p]!;
    if ((op & 0x80) !== 0) {
      const value = ((op >> 2) & 0x1f) + 1;
      const end = index + (op & 3) + 1;
      while (index < end) registers[index++] = value;
    } else if ((op & 0x40) !== 0) {
      index += (((op & 0x3f) << 8) | sparse[++p]!) + 1;
    } else index += (op & 0x3f) + 1;
  }
}

// Raises dense `registers` to the sparse opcodes' values; returns whether any register rose.
function maxFromSparse(
  registers: Uint8Array,
  sparse: Uint8Array,
  length: number,
): boolean {
  let changed = false;
  let index = 0;
  for (let p = 0; p < length; p++) {
    const op = sparse[p]!;
    if ((op & 0x80) !== 0) {
      const value = ((op >> 2) & 0x1f) + 1;
      const end = index + (op & 3) + 1;
      for (; index < end; index++) {
        if (value > registers[index]!) {
          registers[index] = value;
          changed = true;
        }
      }
    } else if ((op & 0x40) !== 0) {
      index += (((op & 0x3f) << 8) | sparse[++p]!) + 1;
    } else index += (op & 0x3f) + 1;
  }
  return changed;
}

// The estimate of a sketch whose only non-zero register holds `value`, by value (what HyperLogLog.of() caches).
const singleEstimates: number[] = [];

function singleEstimate(value: number): number {
  let estimate = singleEstimates[value];
  if (estimate === undefined) {
    const c = histogram;
    c.fill(0);
    c[0] = REGISTERS - 1;
    c[value] = 1;
    estimate = singleEstimates[value] = estimateFromHistogram(c);
  }
  return estimate;
}

function estimateFromHistogram(c: Float64Array): number {
  const m = REGISTERS;
  let z = m * tau((m - c[Q + 1]!) / m);
  for (let k = Q; k >= 1; k--) {
    z += c[k]!;
    z *= 0.5;
  }
  z += m * sigma(c[0]! / m);
  return Math.round(ALPHA_INF * m * m / z);
}

// Acklam's rational approximation of the standard normal quantile (relative error < 1.2e-9).
function normalQuantile(p: number): number {
  const a = [
    -39.69683028665376,
    220.9460984245205,
    -275.9285104469687,
    138.357751867269,
    -30.66479806614716,
    2.506628277459239,
  ] as const;
  const b = [
    -54.47609879822406,
    161.5858368580409,
    -155.6989798598866,
    66.80131188771972,
    -13.28068155288572,
  ] as const;
  const c = [
    -0.007784894002430293,
    -0.3223964580411365,
    -2.400758277161838,
    -2.549732539343734,
    4.374664141464968,
    2.938163982698783,
  ] as const;
  const d = [
    0.007784695709041462,
    0.3224671290700398,
    2.445134137142996,
    3.754408661907416,
  ] as const;
  const low = 0.02425;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q +
      c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - low) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r +
    a[5]) *
    q /
    (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

function valOpcode(value: number, length: number): number {
  return 0x80 | ((value - 1) << 2) | (length - 1);
}

/**
 * A HyperLogLog with Redis / Valkey's exact parameters and byte format
 * (spec: Valkey `src/hyperloglog.c`): 2^14 six-bit registers, elements hashed
 * with MurmurHash64A (seed `0xadc83b19`), strings hashed as their UTF-8 bytes
 * as Redis receives them.
 *
 * **Encodings.** Like Redis, a sketch starts sparse (run-length opcodes
 * ZERO / XZERO / VAL) and turns dense (12 288 bytes of packed registers) for
 * good once a register exceeds 32 or the sparse string would grow past
 * {@linkcode HyperLogLogOptions.sparseMaxBytes} (3000). While sparse, updates
 * follow Redis's own in-place edit rules, so a sketch fed the same elements
 * in the same order as `PFADD` produces the same bytes.
 *
 * **Memory.** A sparse sketch holds only its run-length string (a few bytes
 * to 3 KB); the 16 KB register array exists only once the sketch is dense.
 * An empty or one-element sketch ({@linkcode HyperLogLog.of}) allocates no
 * buffer at all until it is edited or written, so lifting every event of a
 * stream into a sketch and folding them with {@linkcode hll}'s `combineAll`
 * stays cheap.
 *
 * **Values.** Two sketches are equal ({@linkcode HyperLogLog.equals}) when
 * their registers are; their bytes may still differ in encoding or in how a
 * sparse run is split, exactly as two Redis keys with the same registers can.
 *
 * **Mutation.** {@linkcode HyperLogLog.add}, {@linkcode HyperLogLog.addAll}
 * and {@linkcode HyperLogLog.mergeInPlace} change the sketch;
 * {@linkcode HyperLogLog.merge} returns a new one and leaves both inputs alone.
 *
 * @example Union of two days, as PFMERGE would compute it
 * ```ts
 * import { HyperLogLog } from "@murmur/core/sketch/hll";
 * import assert from "node:assert/strict";
 *
 * const monday = new HyperLogLog();
 * monday.addAll(["a", "b", "c"]);
 * const tuesday = new HyperLogLog();
 * tuesday.addAll(["c", "d"]);
 *
 * const both = monday.merge(tuesday);
 * assert.equal(both.count(), 4);
 * assert.equal(monday.count(), 3);
 * assert.equal(both.estimate().lower <= 4 && 4 <= both.estimate().upper, true);
 * ```
 */
export class HyperLogLog {
  // Three states. Dense: the 16 384 registers. Sparse: the opcodes (registers
  // are read off them, never kept twice). Small, neither array set: empty when
  // #smallCount is 0, else only register #smallIndex holds #smallCount; its
  // sparse string ([zeros] VAL [zeros]) is written out when first needed, so
  // empty and one-element sketches (one per event in a pipeline) allocate no
  // buffer at all.
  #registers: Uint8Array | null = null;
  #sparse: Uint8Array | null = null;
  #sparseLength = 0;
  #smallIndex = 0;
  #smallCount = 0;
  #sparseMaxBytes: number;
  #cached = 0;
  // Block anchors of a long sparse string (see #sparseSet), created once it
  // reaches ANCHOR_MIN_BYTES; a plain array, much cheaper to create than a typed one.
  #anchors: number[] | null = null;

  /**
   * Creates an empty sketch (sparse, like a fresh Redis key).
   *
   * @param options Encoding options; see {@linkcode HyperLogLogOptions}.
   * @throws {RangeError} When `sparseMaxBytes` is not a non-negative integer.
   */
  constructor(options: HyperLogLogOptions = {}) {
    this.#sparseMaxBytes = checkSparseMaxBytes(
      options.sparseMaxBytes ?? DEFAULT_SPARSE_MAX_BYTES,
    );
  }

  /**
   * A sketch holding one element: the same sketch (and bytes) as
   * `new HyperLogLog(options)` followed by `add(item)`, built without the
   * general sparse edit and with its count already known. The cheap way to
   * lift one event into the {@linkcode hll} monoid.
   *
   * @example Usage
   * ```ts
   * import { hll, HyperLogLog } from "@murmur/core/sketch/hll";
   * import assert from "node:assert/strict";
   *
   * const visitors = hll().combineAll(["ann", "bob", "ann"].map((id) => HyperLogLog.of(id)));
   * assert.equal(visitors.count(), 2);
   * ```
   *
   * @param item The element: a string (hashed as its UTF-8 bytes) or raw bytes.
   * @param options Encoding options; see {@linkcode HyperLogLogOptions}.
   * @returns A new sketch with that one element.
   * @throws {TypeError} When `item` is neither a string nor a Uint8Array.
   * @throws {RangeError} When `sparseMaxBytes` is not a non-negative integer.
   */
  static of(
    item: string | Uint8Array,
    options: HyperLogLogOptions = {},
  ): HyperLogLog {
    const packed = patLen(item, "HyperLogLog.of()");
    const count = packed >>> 14;
    const hll = new HyperLogLog(options);
    hll.#setFirst(packed & INDEX_MASK, count);
    hll.#cached = singleEstimate(count);
    return hll;
  }

  /**
   * Decodes a Redis / Valkey `HYLL` string, sparse or dense, as `GET` returns
   * it. Every sparse run is bounds-checked: the opcodes must cover exactly
   * 16 384 registers, no more and no less, with nothing after them. The
   * cardinality cached in the header is not trusted; it is recomputed.
   *
   * @example Usage
   * ```ts
   * import { HyperLogLog } from "@murmur/core/sketch/hll";
   * import assert from "node:assert/strict";
   *
   * const empty = Uint8Array.of(0x48, 0x59, 0x4c, 0x4c, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x7f, 0xff);
   * const hll = HyperLogLog.fromBytes(empty);
   * assert.equal(hll.count(), 0);
   * assert.equal(hll.encoding, "sparse");
   * ```
   *
   * @param bytes The string's bytes.
   * @param options Encoding options for later updates.
   * @returns The decoded sketch.
   * @throws {CodecError} When the bytes are not a well-formed `HYLL` string
   * (short header, wrong magic, unknown encoding, dense size not 12 304
   * bytes, a sparse run past the last register, a truncated opcode, or runs
   * that do not add up to 16 384 registers).
   */
  static fromBytes(
    bytes: Uint8Array,
    options: HyperLogLogOptions = {},
  ): HyperLogLog {
    if (!(bytes instanceof Uint8Array)) {
      throw new CodecError("hyll: expected a Uint8Array of HYLL bytes");
    }
    if (bytes.length < HEADER_BYTES) {
      throw new CodecError(
        `hyll: truncated header (${bytes.length} of 16 bytes); this is not a Redis HyperLogLog`,
      );
    }
    if (
      bytes[0] !== 0x48 || bytes[1] !== 0x59 || bytes[2] !== 0x4c ||
      bytes[3] !== 0x4c
    ) {
      throw new CodecError(
        `hyll: bad magic ${
          Array.from(
            bytes.subarray(0, 4),
            (b) => b.toString(16).padStart(2, "0"),
          )
            .join(" ")
        }; a Redis HyperLogLog starts with "HYLL"`,
      );
    }
    const hll = new HyperLogLog(options);
    const encoding = bytes[4];
    if (encoding === ENCODING_DENSE) {
      if (bytes.length !== DENSE_BYTES) {
        throw new CodecError(
          `hyll: dense encoding must be exactly ${DENSE_BYTES} bytes, got ${bytes.length}`,
        );
      }
      const registers = new Uint8Array(REGISTERS);
      for (let i = 0, b = HEADER_BYTES; i < REGISTERS; i += 4, b += 3) {
        const b0 = bytes[b]!;
        const b1 = bytes[b + 1]!;
        const b2 = bytes[b + 2]!;
        registers[i] = b0 & 63;
        registers[i + 1] = ((b0 >> 6) | (b1 << 2)) & 63;
        registers[i + 2] = ((b1 >> 4) | (b2 << 4)) & 63;
        registers[i + 3] = b2 >> 2;
      }
      hll.#registers = registers;
      hll.#sparse = null;
      hll.#sparseLength = 0;
    } else if (encoding === ENCODING_SPARSE) {
      const streamLength = bytes.length - HEADER_BYTES;
      let index = 0;
      let p = HEADER_BYTES;
      while (p < bytes.length) {
        const op = bytes[p]!;
        const offset = p - HEADER_BYTES;
        let run: number;
        if ((op & 0xc0) === 0) {
          run = (op & 0x3f) + 1;
          p++;
        } else if ((op & 0x80) === 0) {
          if (p + 1 >= bytes.length) {
            throw new CodecError(
              `hyll: sparse XZERO opcode at offset ${offset} is truncated (needs 2 bytes, 1 left)`,
            );
          }
          run = (((op & 0x3f) << 8) | bytes[p + 1]!) + 1;
          p += 2;
        } else {
          run = (op & 3) + 1;
          p++;
        }
        if (index + run > REGISTERS) {
          throw new CodecError(
            `hyll: sparse run at offset ${offset} covers registers ${index}..${
              index + run - 1
            }, past the last register 16383`,
          );
        }
        index += run;
      }
      if (index !== REGISTERS) {
        throw new CodecError(
          `hyll: sparse opcodes cover ${index} of 16384 registers; the string is truncated or corrupt`,
        );
      }
      const sparse = new Uint8Array(Math.max(64, streamLength + 16));
      sparse.set(bytes.subarray(HEADER_BYTES));
      hll.#sparse = sparse;
      hll.#sparseLength = streamLength;
    } else {
      throw new CodecError(
        `hyll: unknown encoding byte ${encoding}; expected 0 (dense) or 1 (sparse)`,
      );
    }
    hll.#cached = -1;
    return hll;
  }

  /** The encoding {@linkcode HyperLogLog.toBytes} writes: `"sparse"` until Redis would switch to `"dense"`. */
  get encoding(): HyperLogLogEncoding {
    return this.#registers === null ? "sparse" : "dense";
  }

  /** The sparse size limit in bytes, header included; see {@linkcode HyperLogLogOptions.sparseMaxBytes}. */
  get sparseMaxBytes(): number {
    return this.#sparseMaxBytes;
  }

  /**
   * Adds one element: a string (hashed as its UTF-8 bytes, the bytes a Redis
   * client sends) or raw bytes.
   *
   * @example Usage
   * ```ts
   * import { HyperLogLog } from "@murmur/core/sketch/hll";
   * import assert from "node:assert/strict";
   * const hll = new HyperLogLog();
   * assert.equal(hll.add("page-1"), true);
   * assert.equal(hll.add("page-1"), false);
   * ```
   *
   * @param item The element.
   * @returns `true` when a register changed (what `PFADD` reports as 1).
   * @throws {TypeError} When `item` is neither a string nor a Uint8Array.
   */
  add(item: string | Uint8Array): boolean {
    const packed = patLen(item, "hll.add()");
    const count = packed >>> 14;
    const index = packed & INDEX_MASK;
    const registers = this.#registers;
    if (registers !== null) {
      if (count <= registers[index]!) return false;
      registers[index] = count;
    } else if (!this.#sparseSet(index, count)) return false;
    this.#cached = -1;
    return true;
  }

  /**
   * Adds many elements.
   *
   * @example Usage
   * ```ts
   * import { HyperLogLog } from "@murmur/core/sketch/hll";
   * import assert from "node:assert/strict";
   * const hll = new HyperLogLog();
   * hll.addAll(["a", "b", new Uint8Array([1, 2])]);
   * assert.equal(hll.count(), 3);
   * ```
   *
   * @param items The elements.
   * @returns `true` when any register changed.
   * @throws {TypeError} When an element is neither a string nor a Uint8Array.
   */
  addAll(items: Iterable<string | Uint8Array>): boolean {
    let changed = false;
    for (const item of items) {
      if (this.add(item)) changed = true;
    }
    return changed;
  }

  /**
   * The estimated number of distinct elements, computed exactly as `PFCOUNT`
   * does (Ertl's estimator over the register histogram, Redis ≥ 5), so it
   * equals `PFCOUNT` on the same elements. Cached until the sketch changes.
   *
   * @example Usage
   * ```ts
   * import { HyperLogLog } from "@murmur/core/sketch/hll";
   * import assert from "node:assert/strict";
   * const hll = new HyperLogLog();
   * for (let i = 0; i < 1000; i++) hll.add(`user-${i}`);
   * assert.equal(Math.abs(hll.count() - 1000) < 30, true);
   * ```
   *
   * @returns The cardinality estimate.
   */
  count(): number {
    if (this.#cached < 0) {
      const registers = this.#registers;
      const sparse = this.#sparse;
      this.#cached = registers !== null
        ? estimateFromHistogram(denseHistogram(registers))
        : sparse !== null
        ? estimateFromHistogram(sparseHistogram(sparse, this.#sparseLength))
        : this.#smallCount === 0
        ? 0
        : singleEstimate(this.#smallCount);
    }
    return this.#cached;
  }

  /**
   * The estimate with a normal-approximation interval of ± z·σ·estimate,
   * σ = {@linkcode HLL_STANDARD_ERROR} (0.81%).
   *
   * @example Usage
   * ```ts
   * import { HyperLogLog } from "@murmur/core/sketch/hll";
   * import assert from "node:assert/strict";
   * const hll = new HyperLogLog();
   * for (let i = 0; i < 10_000; i++) hll.add(String(i));
   * const { estimate, lower, upper, confidence } = hll.estimate({ confidence: 0.99 });
   * assert.equal(lower <= estimate && estimate <= upper, true);
   * assert.equal(confidence, 0.99);
   * ```
   *
   * @param options The confidence level; see {@linkcode HyperLogLogEstimateOptions}.
   * @returns Estimate, lower and upper bounds and the confidence used.
   * @throws {RangeError} When `confidence` is not strictly between 0 and 1.
   */
  estimate(options: HyperLogLogEstimateOptions = {}): CardinalityEstimate {
    const confidence = options.confidence ?? 0.95;
    if (!(confidence > 0 && confidence < 1)) {
      throw new RangeError(
        `hll.estimate(): confidence must be between 0 and 1 (exclusive), got ${confidence}`,
      );
    }
    const estimate = this.count();
    const margin = normalQuantile((1 + confidence) / 2) * HLL_STANDARD_ERROR *
      estimate;
    const floor = this.isEmpty() ? 0 : 1;
    return {
      estimate,
      lower: Math.max(floor, Math.floor(estimate - margin)),
      upper: Math.max(floor, Math.ceil(estimate + margin)),
      confidence,
    };
  }

  /**
   * Whether nothing was ever added (all registers are zero).
   *
   * @example Usage
   * ```ts
   * import { HyperLogLog } from "@murmur/core/sketch/hll";
   * import assert from "node:assert/strict";
   * assert.equal(new HyperLogLog().isEmpty(), true);
   * ```
   *
   * @returns `true` for an empty sketch.
   */
  isEmpty(): boolean {
    const sparse = this.#sparse;
    if (sparse !== null) {
      // Empty exactly when every opcode is a zero run (ZERO or two-byte XZERO).
      for (let p = 0; p < this.#sparseLength; p++) {
        const op = sparse[p]!;
        if ((op & 0x80) !== 0) return false;
        if ((op & 0x40) !== 0) p++;
      }
      return true;
    }
    const registers = this.#registers;
    if (registers === null) return this.#smallCount === 0;
    for (let i = 0; i < REGISTERS; i++) if (registers[i] !== 0) return false;
    return true;
  }

  /**
   * The union of two sketches as a new sketch, leaving both untouched
   * (register-wise maximum, as `PFMERGE this other` computes). The result is
   * dense when either input is, and keeps this sketch's options.
   *
   * @example Usage
   * ```ts
   * import { HyperLogLog } from "@murmur/core/sketch/hll";
   * import assert from "node:assert/strict";
   * const a = new HyperLogLog();
   * a.add("x");
   * const b = new HyperLogLog();
   * b.add("y");
   * assert.equal(a.merge(b).count(), 2);
   * assert.equal(a.count(), 1);
   * ```
   *
   * @param other The sketch to union with.
   * @returns A new sketch.
   */
  merge(other: HyperLogLog): HyperLogLog {
    return this.clone().mergeInPlace(other);
  }

  /**
   * Unions `other` into this sketch (register-wise maximum) and returns this
   * sketch; `other` is not changed. Follows `PFMERGE` with this sketch as
   * the destination: dense if either side is dense, otherwise registers are
   * written into the sparse form in index order.
   *
   * @example Usage
   * ```ts
   * import { HyperLogLog } from "@murmur/core/sketch/hll";
   * import assert from "node:assert/strict";
   * const total = new HyperLogLog();
   * for (const day of [["a", "b"], ["b", "c"]]) {
   *   const hll = new HyperLogLog();
   *   hll.addAll(day);
   *   total.mergeInPlace(hll);
   * }
   * assert.equal(total.count(), 3);
   * ```
   *
   * @param other The sketch to union in.
   * @returns This sketch.
   */
  mergeInPlace(other: HyperLogLog): this {
    if (other === this) return this;
    const theirs = other.#registers;
    let changed = false;
    if (theirs !== null) {
      if (this.#isBlank()) {
        // Raising zeros to `other`'s registers is a copy.
        this.#registers = theirs.slice();
        this.#sparse = null;
        this.#sparseLength = 0;
        changed = true;
      } else {
        const mine = this.#registers ?? this.#promote();
        for (let i = 0; i < REGISTERS; i++) {
          const v = theirs[i]!;
          if (v > mine[i]!) {
            mine[i] = v;
            changed = true;
          }
        }
      }
    } else if (other.#sparse === null) {
      // A small sketch holds at most one register: one #sparseSet, as PFMERGE would do.
      const count = other.#smallCount;
      if (count !== 0) {
        const index = other.#smallIndex;
        const mine = this.#registers;
        if (mine === null) changed = this.#sparseSet(index, count);
        else if (count > mine[index]!) {
          mine[index] = count;
          changed = true;
        }
      }
    } else if (this.#registers !== null) {
      changed = maxFromSparse(
        this.#registers,
        other.#sparse,
        other.#sparseLength,
      );
    } else if (this.#isBlank()) {
      changed = this.#fillFrom(other.#sparse, other.#sparseLength);
    } else {
      changed = this.#mergeSparse(other.#sparse, other.#sparseLength);
    }
    if (changed) this.#cached = -1;
    return this;
  }

  /**
   * Whether both sketches hold the same registers (the same value, whatever
   * their encodings).
   *
   * @example Usage
   * ```ts
   * import { HyperLogLog } from "@murmur/core/sketch/hll";
   * import assert from "node:assert/strict";
   * const a = new HyperLogLog();
   * a.addAll(["x", "y"]);
   * const b = new HyperLogLog();
   * b.addAll(["y", "x", "x"]);
   * assert.equal(a.equals(b), true);
   * ```
   *
   * @param other The sketch to compare with.
   * @returns `true` when every register is equal.
   */
  equals(other: HyperLogLog): boolean {
    if (other === this) return true;
    const a = this.#registers ?? this.#unpack(scratch(0));
    const b = other.#registers ?? other.#unpack(scratch(1));
    for (let i = 0; i < REGISTERS; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  /**
   * An independent copy with the same registers, encoding and options.
   *
   * @example Usage
   * ```ts
   * import { HyperLogLog } from "@murmur/core/sketch/hll";
   * import assert from "node:assert/strict";
   * const a = new HyperLogLog();
   * const b = a.clone();
   * b.add("x");
   * assert.equal(a.count(), 0);
   * assert.equal(b.count(), 1);
   * ```
   *
   * @returns The copy.
   */
  clone(): HyperLogLog {
    const copy = new HyperLogLog(NO_OPTIONS);
    copy.#sparseMaxBytes = this.#sparseMaxBytes;
    if (this.#registers !== null) copy.#registers = this.#registers.slice();
    else if (this.#sparse !== null) {
      copy.#sparse = this.#sparse.slice();
      copy.#sparseLength = this.#sparseLength;
    } else {
      copy.#smallIndex = this.#smallIndex;
      copy.#smallCount = this.#smallCount;
    }
    copy.#cached = this.#cached;
    return copy;
  }

  /**
   * The register values, one byte per register (a copy), for inspection.
   *
   * @example Usage
   * ```ts
   * import { HyperLogLog } from "@murmur/core/sketch/hll";
   * import assert from "node:assert/strict";
   * const hll = new HyperLogLog();
   * hll.add("x");
   * assert.equal(hll.registers().filter((r) => r > 0).length, 1);
   * ```
   *
   * @returns 16 384 register values, each 0..51.
   */
  registers(): Uint8Array {
    return this.#registers?.slice() ??
      this.#unpack(new Uint8Array(REGISTERS));
  }

  /**
   * The Redis `HYLL` string for this sketch: a 16-byte header (`HYLL`, the
   * encoding byte, three zero bytes, the cached cardinality as a 64-bit
   * little-endian integer) followed by the sparse opcodes or the 12 288 bytes
   * of packed 6-bit registers. `SET` it into Valkey and `PFCOUNT`, `PFADD`
   * and `PFMERGE` accept it.
   *
   * @example Usage
   * ```ts
   * import { HyperLogLog } from "@murmur/core/sketch/hll";
   * import assert from "node:assert/strict";
   * const hll = new HyperLogLog();
   * hll.add("a");
   * const bytes = hll.toBytes();
   * assert.equal(bytes[4], 1);
   * assert.equal(bytes[8], 1);
   * assert.equal(hll.toBytes({ cacheCardinality: false })[15], 128);
   * ```
   *
   * @param options Whether to fill the cardinality cache; see {@linkcode HyperLogLogBytesOptions}.
   * @returns A new byte array.
   */
  toBytes(options: HyperLogLogBytesOptions = {}): Uint8Array {
    let out: Uint8Array;
    if (this.#sparse !== null) {
      out = new Uint8Array(HEADER_BYTES + this.#sparseLength);
      out[4] = ENCODING_SPARSE;
      out.set(this.#sparse.subarray(0, this.#sparseLength), HEADER_BYTES);
    } else if (this.#registers === null) {
      const index = this.#smallIndex;
      const count = this.#smallCount;
      out = new Uint8Array(HEADER_BYTES + smallLength(index, count));
      out[4] = ENCODING_SPARSE;
      writeSmall(out, HEADER_BYTES, index, count);
    } else {
      out = new Uint8Array(DENSE_BYTES);
      out[4] = ENCODING_DENSE;
      const r = this.#registers!;
      for (let i = 0, b = HEADER_BYTES; i < REGISTERS; i += 4, b += 3) {
        const r1 = r[i + 1]!;
        const r2 = r[i + 2]!;
        out[b] = r[i]! | (r1 << 6);
        out[b + 1] = (r1 >> 2) | (r2 << 4);
        out[b + 2] = (r2 >> 4) | (r[i + 3]! << 2);
      }
    }
    out[0] = 0x48;
    out[1] = 0x59;
    out[2] = 0x4c;
    out[3] = 0x4c;
    if (options.cacheCardinality ?? true) {
      let card = this.count();
      for (let i = 8; i < 16; i++) {
        out[i] = card % 256;
        card = Math.floor(card / 256);
      }
    } else {
      out[15] = 0x80;
    }
    return out;
  }

  /**
   * The JSON form: the {@linkcode HyperLogLog.toBytes} string in base64
   * (cardinality cache filled), so `JSON.stringify` of a sketch works.
   *
   * @example Usage
   * ```ts
   * import { HyperLogLog } from "@murmur/core/sketch/hll";
   * import assert from "node:assert/strict";
   * const hll = new HyperLogLog();
   * hll.add("a");
   * const text = JSON.stringify({ visitors: hll });
   * assert.equal(HyperLogLog.fromJSON(JSON.parse(text).visitors).count(), 1);
   * ```
   *
   * @returns Base64 of the `HYLL` string.
   */
  toJSON(): string {
    return toBase64(this.toBytes());
  }

  /**
   * Reads the JSON form back (base64 of a `HYLL` string), with the checks of
   * {@linkcode HyperLogLog.fromBytes}.
   *
   * @example Usage
   * ```ts
   * import { HyperLogLog } from "@murmur/core/sketch/hll";
   * import assert from "node:assert/strict";
   * const empty = HyperLogLog.fromJSON("SFlMTAEAAAAAAAAAAAAAgH//");
   * assert.equal(empty.count(), 0);
   * ```
   *
   * @param json Base64 text.
   * @param options Encoding options for later updates.
   * @returns The sketch.
   * @throws {CodecError} When the JSON is not a base64 string or the bytes are malformed.
   */
  static fromJSON(
    json: JsonValue,
    options: HyperLogLogOptions = {},
  ): HyperLogLog {
    return HyperLogLog.fromBytes(
      fromBase64(json, "hyll", "JSON form (base64 of HYLL bytes)"),
      options,
    );
  }

  // Turns dense for good: unpacks the registers and returns them.
  #promote(): Uint8Array {
    const registers = this.#unpack(new Uint8Array(REGISTERS));
    this.#registers = registers;
    this.#smallCount = 0;
    this.#sparse = null;
    this.#sparseLength = 0;
    this.#anchors = null;
    return registers;
  }

  // Sets register `index` of an empty sketch to `count`, as #sparseSet would
  // on the empty string: small while its string fits, else dense.
  #setFirst(index: number, count: number): void {
    if (count <= SPARSE_VAL_MAX_VALUE) {
      const length = smallLength(index, count);
      // The split of the 2-byte empty string only grows it when longer than 2 bytes.
      if (length <= 2 || HEADER_BYTES + length <= this.#sparseMaxBytes) {
        this.#smallIndex = index;
        this.#smallCount = count;
        return;
      }
    }
    this.#smallCount = 0;
    this.#promote()[index] = count;
  }

  // Writes out a small sketch's sparse string and returns the buffer.
  #materialize(): Uint8Array {
    const sparse = new Uint8Array(INITIAL_SPARSE_BYTES);
    this.#sparseLength = writeSmall(
      sparse,
      0,
      this.#smallIndex,
      this.#smallCount,
    );
    this.#smallCount = 0;
    this.#sparse = sparse;
    return sparse;
  }

  // Whether this is the empty sparse string exactly as a fresh sketch holds it.
  #isBlank(): boolean {
    const sparse = this.#sparse;
    if (sparse === null) {
      return this.#registers === null && this.#smallCount === 0;
    }
    return this.#sparseLength === 2 && sparse[0] === EMPTY_XZERO_HIGH &&
      sparse[1] === EMPTY_XZERO_LOW;
  }

  // Writes this sketch's registers into `registers` (all zeros) and returns it.
  #unpack(registers: Uint8Array): Uint8Array {
    const dense = this.#registers;
    const sparse = this.#sparse;
    if (dense !== null) registers.set(dense);
    else if (sparse !== null) {
      unpackSparse(sparse, this.#sparseLength, registers);
    } else if (this.#smallCount !== 0) {
      registers[this.#smallIndex] = this.#smallCount;
    }
    return registers;
  }

  // PFMERGE into a sparse sketch: #sparseSet for each of the source's
  // non-zero registers in index order, going on densely if it turns dense.
  #mergeSparse(source: Uint8Array, length: number): boolean {
    let changed = false;
    let index = 0;
    for (let p = 0; p < length; p++) {
      const op = source[p]!;
      if ((op & 0x80) !== 0) {
        const value = ((op >> 2) & 0x1f) + 1;
        const end = index + (op & 3) + 1;
        for (; index < end; index++) {
          const registers = this.#registers;
          if (registers === null) {
            if (this.#sparseSet(index, value)) changed = true;
          } else if (value > registers[index]!) {
            registers[index] = value;
            changed = true;
          }
        }
      } else if ((op & 0x40) !== 0) {
        index += (((op & 0x3f) << 8) | source[++p]!) + 1;
      } else index += (op & 0x3f) + 1;
    }
    return changed;
  }

  // #mergeSparse into the blank string, in one pass. Inserting registers in
  // index order always splits the trailing zero run: the string becomes
  // [zeros] VAL ... [trailing zeros], a VAL joining the one before it when
  // adjacent, equal and shorter than 4. The length is tracked as #sparseSet
  // would check it, so the string goes dense at the same register.
  #fillFrom(source: Uint8Array, length: number): boolean {
    // The result is about as long as the source: size the buffer once.
    let buf = this.#sparse;
    if (buf === null || buf.length < length + 8) {
      buf = new Uint8Array(length + INITIAL_SPARSE_BYTES);
    }
    const limit = this.#sparseMaxBytes;
    let end = 0; // bytes written, not counting the trailing zero run
    let next = 0; // the first register of the trailing zero run
    let lastValue = 0; // value and length of the VAL at end - 1, when next follows it
    let lastLength = 0;
    let index = 0;
    for (let p = 0; p < length; p++) {
      const op = source[p]!;
      if ((op & 0x80) === 0) {
        index += (op & 0x40) !== 0
          ? (((op & 0x3f) << 8) | source[++p]!) + 1
          : (op & 0x3f) + 1;
        continue;
      }
      const value = ((op >> 2) & 0x1f) + 1;
      const stop = index + (op & 3) + 1;
      for (; index < stop; index++) {
        const span = REGISTERS - next;
        if (span > 1) {
          const trailing = zerosSize(span);
          const gap = index - next;
          const rest = INDEX_MASK - index;
          const written = (gap === 0 ? 0 : zerosSize(gap)) + 1 +
            (rest === 0 ? 0 : zerosSize(rest));
          const delta = written - trailing;
          if (delta > 0 && HEADER_BYTES + end + trailing + delta > limit) {
            // Dense from here on, and this was blank: the result is the source's registers.
            const registers = new Uint8Array(REGISTERS);
            unpackSparse(source, length, registers);
            this.#registers = registers;
            this.#sparse = null;
            this.#sparseLength = 0;
            this.#anchors = null;
            return true;
          }
        }
        if (buf.length < end + 5) {
          const grown = new Uint8Array(Math.max(end * 2, end + 64));
          grown.set(buf.subarray(0, end));
          buf = grown;
        }
        if (
          index === next && end > 0 && value === lastValue && lastLength < 4
        ) {
          buf[end - 1] = valOpcode(value, ++lastLength);
        } else {
          if (index !== next) end = writeZeros(buf, end, index - next);
          buf[end++] = valOpcode(value, 1);
          lastValue = value;
          lastLength = 1;
        }
        next = index + 1;
      }
    }
    if (next === 0) return false;
    if (next < REGISTERS) end = writeZeros(buf, end, REGISTERS - next);
    this.#sparse = buf;
    this.#sparseLength = end;
    this.#anchors = null;
    return true;
  }

  // Redis's hllSparseSet(): edit the sparse opcodes in place for register
  // `index` rising to `count` (nothing when it already holds as much),
  // promoting to dense exactly when Redis would; returns whether it rose.
  // Redis scans from the first opcode; on long strings, block anchors (the
  // first opcode that starts in each 256-register block) let the scan start
  // close to `index` and are shifted or dropped after each edit, so the bytes
  // stay identical.
  #sparseSet(index: number, count: number): boolean {
    if (count > SPARSE_VAL_MAX_VALUE) {
      // A VAL opcode holds at most 32, so the register rises.
      this.#promote()[index] = count;
      return true;
    }
    let buf = this.#sparse;
    if (buf === null) {
      const small = this.#smallCount;
      if (small === 0) {
        this.#setFirst(index, count);
        return true;
      }
      if (index === this.#smallIndex) {
        // The lone VAL opcode is rewritten in place; its zero neighbours never merge with it.
        if (count <= small) return false;
        this.#smallCount = count;
        return true;
      }
      buf = this.#materialize();
    }
    const endBefore = this.#sparseLength;
    let end = endBefore;
    let anchors = this.#anchors;
    if (anchors === null && end >= ANCHOR_MIN_BYTES) {
      anchors = this.#anchors = new Array<number>(3 * ANCHOR_BLOCKS).fill(-1);
    }

    // Step 1: find the opcode covering `index`, starting from the nearest anchor.
    let block = index >> ANCHOR_SHIFT;
    let p = 0;
    let first = 0;
    let prev = -1;
    let prevFirst = -1;
    let lastBlock = -1;
    if (anchors !== null) {
      while (
        block >= 0 &&
        (anchors[block]! < 0 || anchors[ANCHOR_REGISTER + block]! > index)
      ) block--;
      if (block >= 0) {
        p = anchors[block]!;
        first = anchors[ANCHOR_REGISTER + block]!;
        prev = anchors[ANCHOR_PREVIOUS + block]!;
        lastBlock = block;
      }
    }
    let span = 0;
    while (p < end) {
      const op = buf[p]!;
      let opLength = 1;
      if ((op & 0xc0) === 0) span = (op & 0x3f) + 1;
      else if ((op & 0x80) !== 0) span = (op & 3) + 1;
      else {
        span = (((op & 0x3f) << 8) | buf[p + 1]!) + 1;
        opLength = 2;
      }
      if (anchors !== null) {
        const opBlock = first >> ANCHOR_SHIFT;
        if (opBlock !== lastBlock) {
          if (anchors[opBlock]! < 0) {
            anchors[opBlock] = p;
            anchors[ANCHOR_REGISTER + opBlock] = first;
            anchors[ANCHOR_PREVIOUS + opBlock] = prev;
          }
          lastBlock = opBlock;
        }
      }
      if (index <= first + span - 1) break;
      prev = p;
      prevFirst = first;
      p += opLength;
      first += span;
    }
    if (span === 0 || p >= end) {
      throw new Error(
        `hll: internal sparse opcodes do not cover register ${index}`,
      );
    }
    const op = buf[p]!;
    const isXZero = (op & 0xc0) === 0x40;
    const isZero = (op & 0xc0) === 0;
    if (!isZero && !isXZero && ((op >> 2) & 0x1f) + 1 >= count) return false;
    if (buf.length < end + 3) {
      const grown = new Uint8Array(Math.max(end * 2, end + 64));
      grown.set(buf.subarray(0, end));
      buf = this.#sparse = grown;
    }
    const next = isXZero ? p + 2 : p + 1;
    let written: number;

    // Step 2: a single-register ZERO or VAL opcode is rewritten in place.
    if (!isXZero && span === 1) {
      buf[p] = valOpcode(count, 1);
      written = p + 1;
    } else {
      // General case: split the run into [left] VAL(count) [right].
      const seq = splitScratch;
      let n = 0;
      const last = first + span - 1;
      if (isZero || isXZero) {
        if (index !== first) n = writeZeros(seq, n, index - first);
        seq[n++] = valOpcode(count, 1);
        if (index !== last) n = writeZeros(seq, n, last - index);
      } else {
        const current = ((op >> 2) & 0x1f) + 1;
        if (index !== first) seq[n++] = valOpcode(current, index - first);
        seq[n++] = valOpcode(count, 1);
        if (index !== last) seq[n++] = valOpcode(current, last - index);
      }
      // Step 3: splice the new opcodes in, or go dense when the string would outgrow the limit.
      const delta = n - (isXZero ? 2 : 1);
      if (delta > 0 && HEADER_BYTES + end + delta > this.#sparseMaxBytes) {
        this.#promote()[index] = count;
        return true;
      }
      if (delta !== 0 && next < end) buf.copyWithin(next + delta, next, end);
      for (let k = 0; k < n; k++) buf[p + k] = seq[k]!;
      end += delta;
      written = p + n;
    }

    // Step 4: merge adjacent equal VAL opcodes, scanning up to five opcodes from the previous one.
    const start = prev >= 0 ? prev : 0;
    let q = start;
    let visited = start;
    let scan = 5;
    while (q < end && scan-- > 0) {
      visited = q;
      const a = buf[q]!;
      if ((a & 0xc0) === 0x40) {
        q += 2;
        continue;
      }
      if ((a & 0xc0) === 0) {
        q++;
        continue;
      }
      if (q + 1 < end) {
        const b = buf[q + 1]!;
        if ((b & 0x80) !== 0 && ((a >> 2) & 0x1f) === ((b >> 2) & 0x1f)) {
          const length = (a & 3) + (b & 3) + 2;
          if (length <= SPARSE_VAL_MAX_LEN) {
            buf[q + 1] = valOpcode(((a >> 2) & 0x1f) + 1, length);
            buf.copyWithin(q, q + 1, end);
            end--;
            continue;
          }
        }
      }
      q++;
    }
    this.#sparseLength = end;
    if (anchors === null) return true;

    // Anchors before the edit stand; those in the rewritten zone go; those after it shift.
    let untouched = visited < end
      ? visited + ((buf[visited]! & 0xc0) === 0x40 ? 2 : 1)
      : end;
    if (written > untouched) untouched = written;
    const shift = end - endBefore;
    // Anchors of blocks before the previous opcode's block (or before the
    // starting anchor's block) sit before `start`: skip them.
    const fromBlock = prevFirst >= 0
      ? prevFirst >> ANCHOR_SHIFT
      : Math.max(0, block - 1);
    for (let b = fromBlock; b < ANCHOR_BLOCKS; b++) {
      const offset = anchors[b]!;
      if (offset < start) continue;
      const previous = anchors[ANCHOR_PREVIOUS + b]!;
      if (
        offset < next || offset + shift < untouched || previous < next ||
        previous + shift < untouched
      ) {
        anchors[b] = -1;
      } else {
        anchors[b] = offset + shift;
        anchors[ANCHOR_PREVIOUS + b] = previous + shift;
      }
    }
    return true;
  }
}

// The size of a zero run's opcode: ZERO up to 64 registers, XZERO beyond.
function zerosSize(run: number): number {
  return run > SPARSE_ZERO_MAX_LEN ? 2 : 1;
}

// The length of the sparse string of a small sketch (see HyperLogLog's states).
function smallLength(index: number, count: number): number {
  if (count === 0) return 2;
  return (index > 0 ? zerosSize(index) : 0) + 1 +
    (index < INDEX_MASK ? zerosSize(INDEX_MASK - index) : 0);
}

// Writes a small sketch's sparse string at `offset`; returns the offset after it.
function writeSmall(
  out: Uint8Array,
  offset: number,
  index: number,
  count: number,
): number {
  if (count === 0) {
    out[offset] = EMPTY_XZERO_HIGH;
    out[offset + 1] = EMPTY_XZERO_LOW;
    return offset + 2;
  }
  let n = index > 0 ? writeZeros(out, offset, index) : offset;
  out[n++] = valOpcode(count, 1);
  return index < INDEX_MASK ? writeZeros(out, n, INDEX_MASK - index) : n;
}

// Writes a zero run as ZERO (1..64 registers) or XZERO (65..16384); returns the new length.
function writeZeros(seq: Uint8Array, n: number, run: number): number {
  if (run > SPARSE_ZERO_MAX_LEN) {
    seq[n] = 0x40 | ((run - 1) >> 8);
    seq[n + 1] = (run - 1) & 0xff;
    return n + 2;
  }
  seq[n] = run - 1;
  return n + 1;
}

/**
 * The codec of {@linkcode HyperLogLog} values: bytes are the Redis `HYLL`
 * string (format `"hyll"`, with the cardinality cache filled), JSON is that
 * string in base64.
 *
 * @example Usage
 * ```ts
 * import { HyperLogLog, hyllCodec } from "@murmur/core/sketch/hll";
 * import assert from "node:assert/strict";
 * const hll = new HyperLogLog();
 * hll.add("x");
 * const json = hyllCodec.toJSON(hll);
 * assert.equal(typeof json, "string");
 * assert.equal(hyllCodec.fromJSON(json).count(), 1);
 * ```
 */
export const hyllCodec: Codec<HyperLogLog> = hyllCodecWith({});

function hyllCodecWith(options: HyperLogLogOptions): Codec<HyperLogLog> {
  return Object.freeze({
    format: "hyll",
    encode: (value: HyperLogLog): Uint8Array => value.toBytes(),
    decode: (bytes: Uint8Array): HyperLogLog =>
      HyperLogLog.fromBytes(bytes, options),
    toJSON: (value: HyperLogLog): JsonValue => value.toJSON(),
    fromJSON: (json: JsonValue): HyperLogLog =>
      HyperLogLog.fromJSON(json, options),
  });
}

/**
 * The HyperLogLog monoid (kind `"hll"`): identity is an empty sketch,
 * `combine` is the union (register-wise maximum) and returns a new sketch
 * without touching its inputs; it is commutative and idempotent.
 * `combineAll` folds into one new sketch, PFMERGE by PFMERGE (the same bytes
 * as folding `combine` from the identity), so many one-element inputs cost
 * one register edit each. Values are
 * equal when {@linkcode HyperLogLog.equals} says so. Its codec writes Redis
 * `HYLL` bytes, so a Valkey cache can apply it with `PFMERGE`.
 *
 * @example Usage
 * ```ts
 * import { hll, HyperLogLog } from "@murmur/core/sketch/hll";
 * import assert from "node:assert/strict";
 *
 * const distinct = hll();
 * // One small sketch per event (HyperLogLog.of), folded in bulk.
 * const total = distinct.combineAll(["a", "b", "a"].map((id) => HyperLogLog.of(id)));
 * assert.equal(total.count(), 2);
 * assert.equal(total instanceof HyperLogLog, true);
 * ```
 *
 * @param options Encoding options for the sketches it creates.
 * @returns The monoid.
 * @throws {RangeError} When `sparseMaxBytes` is not a non-negative integer.
 */
export function hll(options: HyperLogLogOptions = {}): Monoid<HyperLogLog> {
  const settings: HyperLogLogOptions = {
    sparseMaxBytes: checkSparseMaxBytes(
      options.sparseMaxBytes ?? DEFAULT_SPARSE_MAX_BYTES,
    ),
  };
  return sketchMonoid({
    kind: "hll",
    name: "hll(p=14)",
    idempotent: true,
    empty: (): HyperLogLog => new HyperLogLog(settings),
    codec: hyllCodecWith(settings),
  });
}
