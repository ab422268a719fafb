// Top-K heavy hitters: a mergeable Space-Saving summary with per-key error bounds.

/**
 * Heavy hitters in bounded memory: {@linkcode TopK} keeps at most `k` keys
 * with counts that never understate, a per-key error that bounds how much
 * they may overstate, and a `threshold` that bounds every key it dropped.
 *
 * @example The most viewed pages
 * ```ts
 * import { TopK } from "@murmur/core/sketch/topk";
 * import assert from "node:assert/strict";
 *
 * const pages = new TopK({ k: 2 });
 * for (const page of ["/", "/about", "/", "/pricing", "/", "/about"]) pages.add(page);
 * assert.deepEqual(pages.top(1), [ { key: "/", count: 3, error: 0 } ]);
 * ```
 *
 * @module
 */

import { CodecError } from "../monoid/mod.ts";
import type { Codec, JsonValue, Monoid } from "../monoid/mod.ts";

export { CodecError } from "../monoid/mod.ts";
export type * from "../monoid/_types.ts";
import { sketchMonoid } from "./_monoid.ts";
import { ByteReader, ByteWriter, jsonCount, jsonObject } from "./_bytes.ts";
import { IncompatibleSketchError } from "./_errors.ts";

export { IncompatibleSketchError } from "./_errors.ts";

const MAGIC = [0x4d, 0x54, 0x4b] as const; // "MTK"
const VERSION = 1;
const FORMAT = "murmur.topk.v1";
const DEFAULT_K = 10;
const MAX_K = 1 << 20;

/** Options for a {@linkcode TopK} sketch. */
export interface TopKOptions {
  /**
   * How many keys the sketch keeps (its capacity), 1 to 1 048 576. A larger
   * `k` tightens the error bound `total / k`.
   *
   * @default {10}
   */
  readonly k?: number;
}

/** One heavy hitter as reported by {@linkcode TopK.top}. */
export interface TopKItem {
  /** The key. */
  readonly key: string;
  /** An upper bound of the key's true weight (exact while nothing was evicted). */
  readonly count: number;
  /** How much `count` may overstate: the true weight is in `[count - error, count]`. */
  readonly error: number;
}

/** Guaranteed bounds of one key's true weight, from {@linkcode TopK.frequency}. */
export interface FrequencyBounds {
  /** The true weight is at least this. */
  readonly lower: number;
  /** The true weight is at most this. */
  readonly upper: number;
}

function checkK(k: number): number {
  if (!Number.isSafeInteger(k) || k < 1 || k > MAX_K) {
    throw new RangeError(
      `topk: k must be an integer from 1 to ${MAX_K}, got ${k}`,
    );
  }
  return k;
}

function checkWeight(weight: number): void {
  if (!Number.isSafeInteger(weight) || weight < 1) {
    throw new RangeError(
      `topk.add(): weight must be a positive integer, got ${weight}`,
    );
  }
}

function checkKey(key: string): void {
  if (typeof key !== "string") {
    throw new TypeError(`topk: keys are strings, got ${typeof key}`);
  }
  if (!key.isWellFormed()) {
    throw new TypeError(
      "topk: key holds a lone UTF-16 surrogate, which cannot be stored as UTF-8; clean it before counting",
    );
  }
}

function overflow(what: string): never {
  throw new RangeError(
    `topk: ${what} would pass 2^53 - 1 and lose precision; split the stream or scale the weights down`,
  );
}

// Reporting order: larger count first, then key in ascending code-unit order.
function before(
  countA: number,
  keyA: string,
  countB: number,
  keyB: string,
): boolean {
  return countA > countB || (countA === countB && keyA < keyB);
}

/**
 * A Top-K heavy-hitters sketch: Space-Saving (Metwally, Agrawal, El Abbadi,
 * 2005) in the mergeable form of Agarwal et al., "Mergeable Summaries" (2012).
 *
 * **Why Space-Saving.** Misra-Gries keeps counts that *underestimate* and
 * decrements every counter on overflow, so its merge subtracts a threshold
 * from all keys and can empty the sketch (the Go original did exactly that).
 * Space-Saving keeps counts that *overestimate*, never lowers a count, and
 * carries per-key errors, so a merge never drops below `k` keys once it has
 * seen `k`, and answers stay bounded from both sides.
 *
 * **State.** At most `k` keys, each with `count` and `error`, the total
 * weight `total` (N) of everything added, and a `threshold` t: every key not
 * kept had a true weight of at most t. Adding a key it does not hold gives
 * it `t + weight` (error `t`); if that is not more than the smallest kept
 * count, the key is not kept and t becomes `t + weight`, otherwise it
 * replaces the smallest key (ties broken by key order) and t becomes that
 * key's count.
 *
 * **Guarantees** (hold for any mix of adds and merges, in any order or
 * grouping):
 * - for a kept key, its true weight is in `[count - error, count]`;
 * - for any other key, its true weight is in `[0, threshold]`;
 * - `error ≤ N / k` and `threshold ≤ N / k`, so every key heavier than
 *   `N / k` is kept;
 * - the sum of kept counts never exceeds N.
 *
 * **Merge.** The union of two sketches sums, key by key, the count each
 * side knows, using the other side's `threshold` (and adding it to the
 * error) where it does not hold the key; then it keeps the `k` largest with
 * a deterministic tie-break and sets `threshold` to the largest count left
 * out. It is commutative, never empties the sketch, and adding a key with
 * weight w is exactly merging the one-key sketch `{key: w}`. It is
 * associative exactly while the keys involved number at most `k` (no key is
 * dropped); past that, different groupings give different but equally valid
 * answers: every guarantee above holds for each of them.
 *
 * @example Mergeable heavy hitters
 * ```ts
 * import { TopK } from "@murmur/core/sketch/topk";
 * import assert from "node:assert/strict";
 *
 * const a = new TopK({ k: 3 });
 * a.add("x", 5).add("y", 2);
 * const b = new TopK({ k: 3 });
 * b.add("x", 1).add("z", 4);
 * assert.deepEqual(a.merge(b).top(), [ { key: "x", count: 6, error: 0 }, { key: "z", count: 4, error: 0 }, { key: "y", count: 2, error: 0 } ]);
 * ```
 */
export class TopK {
  /** The capacity: how many keys the sketch keeps. */
  readonly k: number;
  #total = 0;
  #threshold = 0;
  // A binary min-heap ordered worst first (smallest count, then largest key).
  #keys: string[] = [];
  #counts: number[] = [];
  #errors: number[] = [];
  #slots = new Map<string, number>();

  /**
   * Creates an empty sketch.
   *
   * @param options The capacity; see {@linkcode TopKOptions}.
   * @throws {RangeError} When `k` is not an integer from 1 to 1 048 576.
   */
  constructor(options: TopKOptions = {}) {
    this.k = checkK(options.k ?? DEFAULT_K);
  }

  /** The total weight added (N), including weight of keys no longer kept. */
  get total(): number {
    return this.#total;
  }

  /** Every key not kept had a true weight of at most this; 0 until the sketch first overflows. */
  get threshold(): number {
    return this.#threshold;
  }

  /** How many keys are kept (at most `k`). */
  get size(): number {
    return this.#keys.length;
  }

  /**
   * Adds `weight` occurrences of `key`.
   *
   * @example Usage
   * ```ts
   * import { TopK } from "@murmur/core/sketch/topk";
   * import assert from "node:assert/strict";
   * const hits = new TopK({ k: 5 });
   * hits.add("/home").add("/home", 3);
   * assert.deepEqual(hits.frequency("/home"), { lower: 4, upper: 4 });
   * ```
   *
   * @param key The key (a well-formed string).
   * @param weight A positive integer.
   * @returns This sketch.
   * @throws {RangeError} When `weight` is not a positive integer or the total passes 2^53 - 1.
   * @throws {TypeError} When `key` is not a string or holds a lone surrogate.
   */
  add(key: string, weight = 1): this {
    checkWeight(weight);
    const total = this.#total + weight;
    if (total > Number.MAX_SAFE_INTEGER) overflow("the total weight");
    this.#offer(key, weight, 0);
    this.#total = total;
    return this;
  }

  // Adds `weight` (with `error`) to `key`; a key not held starts from the threshold. Validates before changing anything.
  #offer(key: string, weight: number, error: number): void {
    const slot = this.#slots.get(key);
    if (slot !== undefined) {
      this.#counts[slot]! += weight;
      this.#errors[slot]! += error;
      this.#siftDown(slot);
      return;
    }
    checkKey(key);
    const count = this.#threshold + weight;
    const keys = this.#keys;
    if (keys.length < this.k) {
      keys.push(key);
      this.#counts.push(count);
      this.#errors.push(this.#threshold + error);
      this.#slots.set(key, keys.length - 1);
      this.#siftUp(keys.length - 1);
      return;
    }
    const smallest = this.#counts[0]!;
    if (!before(count, key, smallest, keys[0]!)) {
      this.#threshold = count;
      return;
    }
    this.#slots.delete(keys[0]!);
    keys[0] = key;
    this.#counts[0] = count;
    this.#errors[0] = this.#threshold + error;
    this.#slots.set(key, 0);
    this.#threshold = smallest;
    this.#siftDown(0);
  }

  #worse(i: number, j: number): boolean {
    const ci = this.#counts[i]!;
    const cj = this.#counts[j]!;
    return ci < cj || (ci === cj && this.#keys[i]! > this.#keys[j]!);
  }

  #swap(i: number, j: number): void {
    const keys = this.#keys;
    const counts = this.#counts;
    const errors = this.#errors;
    const key = keys[i]!;
    keys[i] = keys[j]!;
    keys[j] = key;
    const count = counts[i]!;
    counts[i] = counts[j]!;
    counts[j] = count;
    const error = errors[i]!;
    errors[i] = errors[j]!;
    errors[j] = error;
    this.#slots.set(keys[i]!, i);
    this.#slots.set(key, j);
  }

  #siftUp(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#worse(i, parent)) return;
      this.#swap(i, parent);
      i = parent;
    }
  }

  #siftDown(i: number): void {
    const n = this.#keys.length;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) return;
      const right = left + 1;
      const child = right < n && this.#worse(right, left) ? right : left;
      if (!this.#worse(child, i)) return;
      this.#swap(i, child);
      i = child;
    }
  }

  /**
   * The `n` heaviest kept keys, heaviest first (ties by key order).
   *
   * @example Usage
   * ```ts
   * import { TopK } from "@murmur/core/sketch/topk";
   * import assert from "node:assert/strict";
   * const words = new TopK({ k: 3 });
   * for (const word of "a b a c a b d".split(" ")) words.add(word);
   * assert.deepEqual(words.top(2).map((item) => item.key), [ "a", "b" ]);
   * ```
   *
   * @param n How many to return; defaults to all kept keys (at most `k`).
   * @returns The heavy hitters with their counts and errors.
   * @throws {RangeError} When `n` is negative or not an integer.
   */
  top(n: number = this.k): TopKItem[] {
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new RangeError(
        `topk.top(): n must be a non-negative integer, got ${n}`,
      );
    }
    return this.#sorted().slice(0, n);
  }

  #sorted(): TopKItem[] {
    const items: TopKItem[] = this.#keys.map((key, i) => ({
      key,
      count: this.#counts[i]!,
      error: this.#errors[i]!,
    }));
    return items.sort((a, b) =>
      a.count !== b.count ? b.count - a.count : a.key < b.key ? -1 : 1
    );
  }

  /**
   * Guaranteed bounds of a key's true weight: `[count - error, count]` for a
   * kept key, `[0, threshold]` for any other.
   *
   * @example Usage
   * ```ts
   * import { TopK } from "@murmur/core/sketch/topk";
   * import assert from "node:assert/strict";
   *
   * const sketch = new TopK({ k: 1 });
   * sketch.add("a", 5).add("b", 2);
   * assert.deepEqual(sketch.frequency("a"), { lower: 5, upper: 5 });
   * assert.deepEqual(sketch.frequency("b"), { lower: 0, upper: 2 });
   * ```
   *
   * @param key The key.
   * @returns Its lower and upper bound.
   */
  frequency(key: string): FrequencyBounds {
    const slot = this.#slots.get(key);
    if (slot === undefined) return { lower: 0, upper: this.#threshold };
    const count = this.#counts[slot]!;
    return { lower: count - this.#errors[slot]!, upper: count };
  }

  /**
   * The union of two sketches as a new sketch; both inputs are left alone.
   * See the class documentation for how counts, errors and the threshold
   * combine.
   *
   * @example Usage
   * ```ts
   * import { TopK } from "@murmur/core/sketch/topk";
   * import assert from "node:assert/strict";
   * const monday = new TopK({ k: 2 });
   * monday.add("a", 3);
   * const tuesday = new TopK({ k: 2 });
   * tuesday.add("a", 1).add("b", 2);
   * assert.deepEqual(monday.merge(tuesday).top().map(({ key, count }) => `${key}=${count}`), [ "a=4", "b=2" ]);
   * ```
   *
   * @param other A sketch with the same `k`.
   * @returns The merged sketch.
   * @throws {IncompatibleSketchError} When the sketches have different `k`.
   * @throws {RangeError} When the total weight would pass 2^53 - 1.
   */
  merge(other: TopK): TopK {
    return this.clone().mergeInPlace(other);
  }

  /**
   * Merges `other` into this sketch and returns this sketch; `other` is not
   * changed. The result is the same as {@linkcode TopK.merge}.
   *
   * @example Usage
   * ```ts
   * import { TopK } from "@murmur/core/sketch/topk";
   * import assert from "node:assert/strict";
   * const total = new TopK({ k: 2 });
   * for (const key of ["a", "b", "a"]) total.mergeInPlace(new TopK({ k: 2 }).add(key));
   * assert.deepEqual(total.top(1), [ { key: "a", count: 2, error: 0 } ]);
   * ```
   *
   * @param other A sketch with the same `k`.
   * @returns This sketch.
   * @throws {IncompatibleSketchError} When the sketches have different `k`.
   * @throws {RangeError} When the total weight would pass 2^53 - 1.
   */
  mergeInPlace(other: TopK): this {
    if (other.k !== this.k) {
      throw new IncompatibleSketchError(
        `topk: cannot merge a sketch of k=${other.k} into one of k=${this.k}; keep one k per pipeline`,
      );
    }
    const total = this.#total + other.#total;
    if (total > Number.MAX_SAFE_INTEGER) overflow("the total weight");
    // A one-key sketch that never overflowed is an add: the fast path for folding lifted events.
    if (other.#threshold === 0 && other.#keys.length === 1 && other !== this) {
      this.#offer(other.#keys[0]!, other.#counts[0]!, other.#errors[0]!);
      this.#total = total;
      return this;
    }
    const mine = this.#threshold;
    const theirs = other.#threshold;
    const counts = new Map<string, number>();
    const errors = new Map<string, number>();
    for (let i = 0; i < this.#keys.length; i++) {
      const key = this.#keys[i]!;
      const slot = other.#slots.get(key);
      counts.set(
        key,
        this.#counts[i]! + (slot === undefined ? theirs : other.#counts[slot]!),
      );
      errors.set(
        key,
        this.#errors[i]! + (slot === undefined ? theirs : other.#errors[slot]!),
      );
    }
    for (let i = 0; i < other.#keys.length; i++) {
      const key = other.#keys[i]!;
      if (counts.has(key)) continue;
      counts.set(key, other.#counts[i]! + mine);
      errors.set(key, other.#errors[i]! + mine);
    }
    const items: TopKItem[] = [];
    for (const [key, count] of counts) {
      items.push({ key, count, error: errors.get(key)! });
    }
    items.sort((a, b) =>
      a.count !== b.count ? b.count - a.count : a.key < b.key ? -1 : 1
    );
    let threshold = mine + theirs;
    if (items.length > this.k) {
      threshold = items[this.k]!.count;
      items.length = this.k;
    }
    this.#total = total;
    this.#threshold = threshold;
    this.#load(items);
    return this;
  }

  // Replaces the kept keys with `items` sorted best first (reversed, that is a valid worst-first heap).
  #load(items: readonly TopKItem[]): void {
    const n = items.length;
    this.#keys = new Array(n);
    this.#counts = new Array(n);
    this.#errors = new Array(n);
    this.#slots = new Map();
    for (let i = 0; i < n; i++) {
      const item = items[n - 1 - i]!;
      this.#keys[i] = item.key;
      this.#counts[i] = item.count;
      this.#errors[i] = item.error;
      this.#slots.set(item.key, i);
    }
  }

  /**
   * An independent copy.
   *
   * @example Usage
   * ```ts
   * import { TopK } from "@murmur/core/sketch/topk";
   * import assert from "node:assert/strict";
   * const a = new TopK().add("x");
   * const b = a.clone().add("x");
   * assert.equal(a.frequency("x").upper, 1);
   * assert.equal(b.frequency("x").upper, 2);
   * ```
   *
   * @returns The copy.
   */
  clone(): TopK {
    const copy = new TopK({ k: this.k });
    copy.#total = this.#total;
    copy.#threshold = this.#threshold;
    copy.#keys = this.#keys.slice();
    copy.#counts = this.#counts.slice();
    copy.#errors = this.#errors.slice();
    copy.#slots = new Map(this.#slots);
    return copy;
  }

  /**
   * Whether both sketches hold the same state: same `k`, total, threshold and
   * kept keys with the same counts and errors.
   *
   * @example Usage
   * ```ts
   * import { TopK } from "@murmur/core/sketch/topk";
   * import assert from "node:assert/strict";
   * assert.equal(new TopK().add("a").add("b").equals(new TopK().add("b").add("a")), true);
   * ```
   *
   * @param other The sketch to compare with.
   * @returns `true` when equal.
   */
  equals(other: TopK): boolean {
    if (
      this.k !== other.k || this.#total !== other.#total ||
      this.#threshold !== other.#threshold ||
      this.#keys.length !== other.#keys.length
    ) return false;
    for (let i = 0; i < this.#keys.length; i++) {
      const slot = other.#slots.get(this.#keys[i]!);
      if (
        slot === undefined || other.#counts[slot] !== this.#counts[i] ||
        other.#errors[slot] !== this.#errors[i]
      ) return false;
    }
    return true;
  }

  /**
   * The canonical bytes (format `"murmur.topk.v1"`): the header `MTK` and
   * version byte 1, then varints `k`, `total`, `threshold` and the number of
   * keys, then each key (varint length, UTF-8) with its count and error,
   * heaviest first, ties by key. Equal sketches give equal bytes.
   *
   * @example Usage
   * ```ts
   * import { TopK } from "@murmur/core/sketch/topk";
   * import assert from "node:assert/strict";
   * const sketch = new TopK({ k: 3 }).add("a", 2);
   * const copy = TopK.fromBytes(sketch.toBytes());
   * assert.equal(copy.equals(sketch), true);
   * ```
   *
   * @returns The bytes.
   */
  toBytes(): Uint8Array {
    const writer = new ByteWriter(32 + this.#keys.length * 16);
    writer.bytes(MAGIC);
    writer.bytes([VERSION]);
    writer.varint(this.k);
    writer.varint(this.#total);
    writer.varint(this.#threshold);
    const items = this.#sorted();
    writer.varint(items.length);
    for (const item of items) {
      writer.string(item.key);
      writer.varint(item.count);
      writer.varint(item.error);
    }
    return writer.finish();
  }

  /**
   * Decodes {@linkcode TopK.toBytes} output, checking every length and the
   * sketch's invariants (keys in canonical order, no duplicates, errors
   * within counts, counts within the total).
   *
   * @example Usage
   * ```ts
   * import { TopK } from "@murmur/core/sketch/topk";
   * import assert from "node:assert/strict";
   * const bytes = new TopK({ k: 2 }).add("a").toBytes();
   * assert.deepEqual(TopK.fromBytes(bytes).top(), [ { key: "a", count: 1, error: 0 } ]);
   * ```
   *
   * @param bytes The bytes.
   * @returns The sketch.
   * @throws {CodecError} When the bytes are truncated, carry trailing bytes,
   * have another header or version, or break an invariant.
   */
  static fromBytes(bytes: Uint8Array): TopK {
    const reader = new ByteReader(bytes, FORMAT);
    reader.header(MAGIC, VERSION, 'Top-K sketch (they start with "MTK")');
    const k = reader.varint("k");
    const total = reader.varint("total");
    const threshold = reader.varint("threshold");
    const n = reader.varint("key count");
    if (n > k) reader.fail(`holds ${n} keys, more than k=${k}`);
    const items: TopKItem[] = [];
    for (let i = 0; i < n; i++) {
      const key = reader.string(`key ${i}`);
      const count = reader.varint(`count of key ${i}`);
      const error = reader.varint(`error of key ${i}`);
      items.push({ key, count, error });
    }
    reader.end();
    return TopK.#validated(k, total, threshold, items, FORMAT);
  }

  static #validated(
    k: number,
    total: number,
    threshold: number,
    items: readonly TopKItem[],
    format: string,
  ): TopK {
    const fail = (message: string): never => {
      throw new CodecError(`${format}: ${message}`);
    };
    if (k < 1 || k > MAX_K) fail(`k=${k} is outside 1..${MAX_K}`);
    if (items.length > k) fail(`holds ${items.length} keys, more than k=${k}`);
    if (items.length < k && threshold !== 0) {
      fail(
        `a sketch with fewer than k keys must have threshold 0, got ${threshold}`,
      );
    }
    if (threshold * k > total) {
      fail(`threshold ${threshold} is more than total/k (${total}/${k})`);
    }
    let sum = 0;
    for (let i = 0; i < items.length; i++) {
      const { key, count, error } = items[i]!;
      if (!key.isWellFormed()) fail(`key ${i} holds a lone surrogate`);
      if (error > count) {
        fail(
          `key ${
            JSON.stringify(key)
          } has error ${error} above its count ${count}`,
        );
      }
      if (error * k > total) {
        fail(`key ${JSON.stringify(key)} has error ${error} above total/k`);
      }
      if (count < threshold) {
        fail(
          `key ${
            JSON.stringify(key)
          } has count ${count} below the threshold ${threshold}`,
        );
      }
      const previous = items[i - 1];
      if (
        previous !== undefined &&
        !before(previous.count, previous.key, count, key)
      ) {
        fail(
          `keys are not in canonical order (heaviest first, then by key) at key ${i}`,
        );
      }
      sum += count;
    }
    if (sum > total) {
      fail(`kept counts add up to ${sum}, more than the total ${total}`);
    }
    const sketch = new TopK({ k });
    sketch.#total = total;
    sketch.#threshold = threshold;
    sketch.#load(items);
    return sketch;
  }

  /**
   * The JSON form: `{ k, total, threshold, items: [{ key, count, error }] }`,
   * items heaviest first.
   *
   * @example Usage
   * ```ts
   * import { TopK } from "@murmur/core/sketch/topk";
   * import assert from "node:assert/strict";
   * assert.deepEqual(new TopK({ k: 2 }).add("a").toJSON(), { k: 2, total: 1, threshold: 0, items: [ { key: "a", count: 1, error: 0 } ] });
   * ```
   *
   * @returns A JSON-safe object.
   */
  toJSON(): JsonValue {
    return {
      k: this.k,
      total: this.#total,
      threshold: this.#threshold,
      items: this.#sorted().map(({ key, count, error }) => ({
        key,
        count,
        error,
      })),
    };
  }

  /**
   * Reads the JSON form back, with the same checks as {@linkcode TopK.fromBytes}.
   *
   * @example Usage
   * ```ts
   * import { TopK } from "@murmur/core/sketch/topk";
   * import assert from "node:assert/strict";
   * const sketch = TopK.fromJSON({ k: 2, total: 3, threshold: 0, items: [{ key: "a", count: 3, error: 0 }] });
   * assert.deepEqual(sketch.frequency("a"), { lower: 3, upper: 3 });
   * ```
   *
   * @param json The JSON form.
   * @returns The sketch.
   * @throws {CodecError} When the JSON is malformed or breaks an invariant.
   */
  static fromJSON(json: JsonValue): TopK {
    const object = jsonObject(json, FORMAT);
    const list = object["items"];
    if (!Array.isArray(list)) {
      throw new CodecError(`${FORMAT}: JSON field "items" must be an array`);
    }
    const items = (list as readonly JsonValue[]).map((entry, i) => {
      const item = jsonObject(entry, FORMAT);
      const key = item["key"];
      if (typeof key !== "string") {
        throw new CodecError(`${FORMAT}: items[${i}].key must be a string`);
      }
      return {
        key,
        count: jsonCount(item, "count", FORMAT),
        error: jsonCount(item, "error", FORMAT),
      };
    });
    return TopK.#validated(
      jsonCount(object, "k", FORMAT),
      jsonCount(object, "total", FORMAT),
      jsonCount(object, "threshold", FORMAT),
      items,
      FORMAT,
    );
  }
}

function topKCodecFor(k: number | undefined): Codec<TopK> {
  const checked = (sketch: TopK): TopK => {
    if (k !== undefined && sketch.k !== k) {
      throw new CodecError(
        `${FORMAT}: sketch has k=${sketch.k} but this monoid expects k=${k}`,
      );
    }
    return sketch;
  };
  return Object.freeze({
    format: FORMAT,
    encode: (value: TopK): Uint8Array => value.toBytes(),
    decode: (bytes: Uint8Array): TopK => checked(TopK.fromBytes(bytes)),
    toJSON: (value: TopK): JsonValue => value.toJSON(),
    fromJSON: (json: JsonValue): TopK => checked(TopK.fromJSON(json)),
  });
}

/**
 * The codec of {@linkcode TopK} sketches of any `k` (format
 * `"murmur.topk.v1"`); see {@linkcode TopK.toBytes} and {@linkcode TopK.toJSON}.
 *
 * @example Usage
 * ```ts
 * import { TopK, topKCodec } from "@murmur/core/sketch/topk";
 * import assert from "node:assert/strict";
 * const bytes = topKCodec.encode(new TopK({ k: 4 }).add("x", 2));
 * assert.deepEqual(topKCodec.decode(bytes).top(), [ { key: "x", count: 2, error: 0 } ]);
 * ```
 */
export const topKCodec: Codec<TopK> = topKCodecFor(undefined);

/**
 * The Top-K monoid (kind `"topk"`): identity is an empty sketch of capacity
 * `k`, `combine` is {@linkcode TopK.merge} and never changes its inputs. It
 * is commutative but not idempotent (weights add up). It is associative
 * exactly while at most `k` distinct keys are involved; beyond that every
 * grouping keeps the guarantees documented on {@linkcode TopK} but the
 * counts may differ within those bounds. Its codec refuses sketches of
 * another `k`.
 *
 * @example Usage
 * ```ts
 * import { topK } from "@murmur/core/sketch/topk";
 * import assert from "node:assert/strict";
 *
 * const heavy = topK({ k: 2 });
 * const lift = (key: string) => heavy.identity().add(key);
 * const result = heavy.combineAll(["a", "b", "a", "c", "a"].map(lift));
 * assert.deepEqual(result.top(1), [ { key: "a", count: 3, error: 0 } ]);
 * ```
 *
 * @param options The capacity `k` (default 10).
 * @returns The monoid.
 * @throws {RangeError} When `k` is not an integer from 1 to 1 048 576.
 */
export function topK(options: TopKOptions = {}): Monoid<TopK> {
  const k = checkK(options.k ?? DEFAULT_K);
  return sketchMonoid({
    kind: "topk",
    name: `topk(k=${k})`,
    idempotent: false,
    empty: (): TopK => new TopK({ k }),
    codec: topKCodecFor(k),
  });
}
