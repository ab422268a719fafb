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
 * @typeParam T The value type.
 */
export interface Monoid<T> {
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
 * const error = new CodecError("hyll: truncated header (3 of 16 bytes)");
 * console.log(error.name); // "CodecError"
 * ```
 */
export class CodecError extends Error {
  /** Creates the error with a message that says what was malformed. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CodecError";
  }
}
