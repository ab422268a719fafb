// The algebra's contracts: semigroups, monoids, their structural kinds and codecs.

/** A JSON value, as produced by {@linkcode Codec.toJSON}. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | readonly JsonValue[]
  | { readonly [key: string]: JsonValue };

/**
 * The structural tag that stores, caches, queries and the runtime dispatch on.
 *
 * A DynamoDB store applies `sum` and `count` as an atomic `ADD`, a Valkey
 * cache applies `hll` with `PFMERGE`, and so on; `custom` always takes the
 * generic read-combine-write path.
 */
export type MonoidKind =
  | "sum"
  | "count"
  | "min"
  | "max"
  | "first"
  | "last"
  | "set"
  | "monotonic"
  | "decayed"
  | "map"
  | "tuple"
  | "hll"
  | "topk"
  | "bloom"
  | "custom";

/**
 * Turns values into bytes and JSON and back.
 *
 * `decode` and `fromJSON` throw a {@linkcode CodecError} on malformed input;
 * they never return a silently truncated value.
 *
 * @typeParam T The value type.
 */
export interface Codec<T> {
  /** A stable identifier of the byte format, e.g. `"f64"`, `"hyll"`, `"murmur.topk.v1"`. */
  readonly format: string;
  /** Encodes a value to its canonical bytes. */
  encode(value: T): Uint8Array;
  /** Decodes canonical bytes; throws {@linkcode CodecError} when they are malformed. */
  decode(bytes: Uint8Array): T;
  /** Converts a value to a JSON-safe form. */
  toJSON(value: T): JsonValue;
  /** Converts the JSON form back; throws {@linkcode CodecError} when it is malformed. */
  fromJSON(json: JsonValue): T;
}

/**
 * An associative binary operation.
 *
 * @typeParam T The value type.
 */
export interface Semigroup<T> {
  /** Combines two values; must be associative. */
  combine(a: T, b: T): T;
  /** Folds many values at once; must equal a left fold of {@linkcode Semigroup.combine}. Returns `undefined` for no values. */
  combineAll?(values: Iterable<T>): T | undefined;
}

/**
 * A semigroup with a true identity, a structural kind, algebraic flags and a codec.
 *
 * Values handed to a monoid are never mutated by it, and a result may share
 * structure with (or be) one of its operands: treat values as immutable.
 *
 * @typeParam T The value type.
 */
export interface Monoid<T> extends Semigroup<T> {
  /** The structural tag backends dispatch on. */
  readonly kind: MonoidKind;
  /** A short human name, e.g. `"sum"`, `"max"`, `"hll(p=14)"`. */
  readonly name: string;
  /** Safe to pre-aggregate and to apply as an atomic numeric ADD (values are `number` or `bigint`). */
  readonly additive: boolean;
  /** `combine(a, b)` equals `combine(b, a)`. */
  readonly commutative: boolean;
  /** `combine(a, a)` equals `a`. */
  readonly idempotent: boolean;
  /** Returns a fresh identity value: `combine(identity(), x)` equals `x`. */
  identity(): T;
  /** Combines two values; must be associative. */
  combine(a: T, b: T): T;
  /** Folds many values at once; equals a left fold of `combine` from `identity()`. */
  combineAll(values: Iterable<T>): T;
  /** The codec for this monoid's values. */
  readonly codec: Codec<T>;
}

/**
 * Thrown when bytes or JSON cannot be decoded into a value.
 *
 * @example Usage
 * ```ts
 * import { CodecError } from "@murmur/core/monoid";
 * import assert from "node:assert/strict";
 * const error = new CodecError("hyll: truncated header (3 of 16 bytes)");
 * assert.equal(error.name, "CodecError");
 * ```
 */
export class CodecError extends Error {
  /** Creates the error with a message that says what was malformed. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CodecError";
  }
}

/**
 * The value type a monoid folds.
 *
 * @typeParam M A monoid type.
 *
 * @example Usage
 * ```ts
 * import { max, type ValueOf } from "@murmur/core/monoid";
 * import assert from "node:assert/strict";
 * const m = max();
 * const v: ValueOf<typeof m> = m.combine(3, null);
 * assert.equal(v, 3);
 * ```
 */
export type ValueOf<M> = M extends Monoid<infer T> ? T : never;

/**
 * Tells whether a monoid's deltas may be applied as an atomic numeric ADD
 * (DynamoDB `ADD`, Valkey `INCRBY`, Deno KV `sum`). True only for `sum` and
 * `count` style monoids whose values are `number` or `bigint`.
 *
 * @param monoid The monoid to inspect.
 * @returns `true` when `monoid.additive` is set, narrowing its value type.
 *
 * @example Usage
 * ```ts
 * import { isAdditive, max, sum } from "@murmur/core/monoid";
 * import assert from "node:assert/strict";
 * assert.equal(isAdditive(sum()), true);
 * assert.equal(isAdditive(max()), false);
 * ```
 */
export function isAdditive(
  monoid: Monoid<unknown>,
): monoid is Monoid<number> | Monoid<bigint> {
  return monoid.additive;
}

/**
 * Tells whether a monoid has a given structural kind, narrowing nothing but
 * reading as intent at dispatch sites.
 *
 * @param monoid The monoid to inspect.
 * @param kinds The kinds to accept.
 * @returns `true` when `monoid.kind` is one of `kinds`.
 *
 * @example Usage
 * ```ts
 * import { hasKind, min } from "@murmur/core/monoid";
 * import assert from "node:assert/strict";
 * assert.equal(hasKind(min(), "min", "max"), true);
 * ```
 */
export function hasKind(
  monoid: Monoid<unknown>,
  ...kinds: readonly MonoidKind[]
): boolean {
  return kinds.includes(monoid.kind);
}

/**
 * What {@linkcode defineMonoid} needs to build a custom monoid.
 *
 * @typeParam T The value type.
 */
export interface MonoidDefinition<T> {
  /** A short human name shown in errors, metrics and the admin UI. */
  readonly name: string;
  /** Returns a fresh identity value. */
  identity(): T;
  /** Combines two values; must be associative and must not mutate its operands. */
  combine(a: T, b: T): T;
  /** An optional faster fold; must equal a left fold of `combine` from `identity()`. */
  combineAll?(values: Iterable<T>): T;
  /** The codec for values. */
  readonly codec: Codec<T>;
  /** Whether `combine(a, b)` equals `combine(b, a)`. Defaults to `false`. */
  readonly commutative?: boolean;
  /** Whether `combine(a, a)` equals `a`. Defaults to `false`. */
  readonly idempotent?: boolean;
}

/**
 * Builds a frozen monoid of kind `"custom"` from your own operations.
 *
 * Custom monoids always take the generic read-combine-write path in stores
 * (never an atomic ADD). Check them with `assertMonoidLaws` from
 * `@murmur/core/laws` in your tests.
 *
 * @typeParam T The value type.
 * @param definition The identity, combine, codec and flags.
 * @returns A frozen monoid.
 * @throws {TypeError} When `name` is empty or a function is missing.
 *
 * @example A monoid keeping the longest string
 * ```ts
 * import { defineMonoid, stringCodec } from "@murmur/core/monoid";
 * import assert from "node:assert/strict";
 * const longest = defineMonoid<string>({
 *   name: "longest",
 *   identity: () => "",
 *   combine: (a, b) => (b.length > a.length || (b.length === a.length && b > a) ? b : a),
 *   codec: stringCodec,
 *   commutative: true,
 *   idempotent: true,
 * });
 * assert.equal(longest.combineAll(["ab", "abc", "x"]), "abc");
 * ```
 */
export function defineMonoid<T>(definition: MonoidDefinition<T>): Monoid<T> {
  const { name, identity, combine, codec } = definition;
  if (typeof name !== "string" || name === "") {
    throw new TypeError("defineMonoid: give the monoid a non-empty name");
  }
  if (typeof identity !== "function" || typeof combine !== "function") {
    throw new TypeError(
      `defineMonoid("${name}"): identity and combine must be functions`,
    );
  }
  if (codec === undefined || typeof codec.encode !== "function") {
    throw new TypeError(`defineMonoid("${name}"): a codec is required`);
  }
  const fold = definition.combineAll ?? ((values: Iterable<T>): T => {
    let acc = identity();
    for (const value of values) acc = combine(acc, value);
    return acc;
  });
  return Object.freeze({
    kind: "custom" as const,
    name,
    additive: false,
    commutative: definition.commutative ?? false,
    idempotent: definition.idempotent ?? false,
    identity,
    combine,
    combineAll: fold,
    codec,
  });
}
