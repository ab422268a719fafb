/**
 * The monoid laws as a library: run them on your own monoids in your tests.
 *
 * {@linkcode assertMonoidLaws} draws random values with
 * [fast-check](https://fast-check.dev) and checks associativity, left and
 * right identity, commutativity and idempotence where the monoid claims
 * them, that `combineAll` equals a left fold, that `combine` leaves its
 * operands alone, that additive monoids really add, and that the codec round
 * trips through bytes (canonically) and through JSON text. A broken law
 * throws a {@linkcode MonoidLawError} naming the law and the smallest
 * counterexample found.
 *
 * @example Checking a custom monoid
 * ```ts
 * import fc from "fast-check";
 * import { defineMonoid, stringCodec } from "@murmur/core/monoid";
 * import { assertMonoidLaws } from "@murmur/core/laws";
 *
 * const concat = defineMonoid<string>({
 *   name: "concat",
 *   identity: () => "",
 *   combine: (a, b) => a + b,
 *   codec: stringCodec,
 * });
 * assertMonoidLaws(concat, fc.string());
 * ```
 *
 * @module
 */

import fc, { type Arbitrary } from "fast-check";
import type { Monoid } from "./monoid.ts";

export type * from "./_types.ts";

/**
 * A fast-check arbitrary of `T`, e.g. `fc.integer()` or
 * `fc.array(fc.string())`. Declared structurally so that this module's public
 * types stand alone; pass any `fc.Arbitrary<T>`.
 *
 * @typeParam T The generated value type.
 */
export interface ArbitraryLike<T> {
  /** Derives an arbitrary by mapping generated values (as `fc.Arbitrary.map`). */
  map<U>(mapper: (value: T) => U): unknown;
}

/**
 * Options for {@linkcode assertMonoidLaws}.
 *
 * @typeParam T The value type.
 */
export interface LawOptions<T> {
  /**
   * How to compare values. Default: {@linkcode structuralEquals}. Pass an
   * approximate comparison (see {@linkcode closeTo}) for floating-point
   * monoids, or compare sketches by their canonical bytes.
   */
  readonly equals?: (a: T, b: T) => boolean;
  /** Random cases per law. Default: `100`. */
  readonly numRuns?: number;
  /** A fixed seed, to replay a failure. Default: random. */
  readonly seed?: number;
}

/**
 * Thrown by {@linkcode assertMonoidLaws} when a law fails.
 *
 * @example Usage
 * ```ts
 * import { MonoidLawError } from "@murmur/core/laws";
 * import assert from "node:assert/strict";
 * const error = new MonoidLawError("avg", "associativity", [1, 2, 3], "results differ");
 * assert.equal(error.law, "associativity");
 * ```
 */
export class MonoidLawError extends Error {
  /** The monoid's name. */
  readonly monoid: string;
  /** The law that failed, e.g. `"associativity"`. */
  readonly law: string;
  /** The (shrunk) input that broke it. */
  readonly counterexample: unknown;

  /**
   * Creates the error.
   *
   * @param monoid The monoid's name.
   * @param law The law that failed.
   * @param counterexample The input that broke it.
   * @param detail What went wrong.
   */
  constructor(
    monoid: string,
    law: string,
    counterexample: unknown,
    detail: string,
  ) {
    super(
      `monoid "${monoid}" breaks ${law}: counterexample ${
        fc.stringify(counterexample)
      }: ${detail}`,
    );
    this.name = "MonoidLawError";
    this.monoid = monoid;
    this.law = law;
    this.counterexample = counterexample;
  }
}

type NumberEquals = (a: number, b: number) => boolean;

const sameValueZero: NumberEquals = (a, b) => a === b || (a !== a && b !== b);

// Object literals and null-prototype records (as JSON.parse and fast-check build them) compare alike.
function isPlain(proto: unknown): boolean {
  return proto === Object.prototype || proto === null;
}

function deepEquals(a: unknown, b: unknown, numbers: NumberEquals): boolean {
  if (typeof a === "number" && typeof b === "number") return numbers(a, b);
  if (a === b) return true;
  if (
    typeof a !== "object" || typeof b !== "object" || a === null ||
    b === null
  ) {
    return false;
  }
  const protoA = Object.getPrototypeOf(a);
  const protoB = Object.getPrototypeOf(b);
  if (protoA !== protoB && !(isPlain(protoA) && isPlain(protoB))) return false;
  if (a instanceof Uint8Array) {
    const other = b as Uint8Array;
    if (a.length !== other.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== other[i]) return false;
    return true;
  }
  if (Array.isArray(a)) {
    const other = b as unknown[];
    if (a.length !== other.length) return false;
    for (let i = 0; i < a.length; i++) {
      if (!deepEquals(a[i], other[i], numbers)) return false;
    }
    return true;
  }
  if (a instanceof Map) {
    const other = b as Map<unknown, unknown>;
    if (a.size !== other.size) return false;
    for (const [key, value] of a) {
      if (!other.has(key) || !deepEquals(value, other.get(key), numbers)) {
        return false;
      }
    }
    return true;
  }
  if (a instanceof Set) {
    const other = b as Set<unknown>;
    if (a.size !== other.size) return false;
    for (const value of a) if (!other.has(value)) return false;
    return true;
  }
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  if (keysA.length !== keysB.length) return false;
  const recordA = a as Record<string, unknown>;
  const recordB = b as Record<string, unknown>;
  for (const key of keysA) {
    if (!Object.hasOwn(recordB, key)) return false;
    if (!deepEquals(recordA[key], recordB[key], numbers)) return false;
  }
  return true;
}

/**
 * Deep structural equality: primitives by SameValueZero (`0` equals `-0`,
 * `NaN` equals `NaN`), then arrays, plain objects, `Map`s, `Set`s and
 * `Uint8Array`s element by element. Objects of different prototypes differ,
 * except that plain and null-prototype objects compare alike.
 *
 * @param a One value.
 * @param b The other value.
 * @returns Whether they are structurally equal.
 *
 * @example Usage
 * ```ts
 * import { structuralEquals } from "@murmur/core/laws";
 * import assert from "node:assert/strict";
 * assert.equal(structuralEquals(new Map([["a", [1, 2]]]), new Map([["a", [1, 2]]])), true);
 * assert.equal(structuralEquals({ value: 0 }, { value: -0 }), true);
 * ```
 */
export function structuralEquals(a: unknown, b: unknown): boolean {
  return deepEquals(a, b, sameValueZero);
}

/** Tolerances for {@linkcode closeTo}. */
export interface CloseToOptions {
  /** Allowed difference relative to the larger magnitude. Default: `1e-9`. */
  readonly relative?: number;
  /** Allowed absolute difference (for values near zero). Default: `1e-12`. */
  readonly absolute?: number;
}

/**
 * Structural equality where numbers may differ by a small tolerance:
 * `|a - b| <= max(absolute, relative * max(|a|, |b|))`. Infinities must match
 * exactly. Use it for floating-point monoids such as `decayedSum`.
 *
 * @param options The tolerances.
 * @returns A comparison function for {@linkcode LawOptions.equals}.
 *
 * @example Usage
 * ```ts
 * import { closeTo } from "@murmur/core/laws";
 * import assert from "node:assert/strict";
 * const equals = closeTo({ relative: 1e-9 });
 * assert.equal(equals({ value: 0.1 + 0.2 }, { value: 0.3 }), true);
 * ```
 */
export function closeTo(
  options?: CloseToOptions,
): (a: unknown, b: unknown) => boolean {
  const relative = options?.relative ?? 1e-9;
  const absolute = options?.absolute ?? 1e-12;
  const numbers: NumberEquals = (a, b) => {
    if (sameValueZero(a, b)) return true;
    if (!Number.isFinite(a) || !Number.isFinite(b)) return false;
    const scale = Math.max(Math.abs(a), Math.abs(b));
    return Math.abs(a - b) <= Math.max(absolute, relative * scale);
  };
  return (a, b) => deepEquals(a, b, numbers);
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function show(value: unknown): string {
  return fc.stringify(value);
}

/**
 * Checks the monoid laws on random values and throws on the first broken one.
 *
 * Laws checked (each with `numRuns` random cases):
 * - **associativity**: `combine(combine(a, b), c)` equals `combine(a, combine(b, c))`;
 * - **left / right identity**: `combine(identity(), a)` and `combine(a, identity())` equal `a`;
 * - **commutativity** when `monoid.commutative`, **idempotence** when `monoid.idempotent`;
 * - **combineAll**: equals a left fold of `combine` from `identity()` (0 to 10 values);
 * - **purity**: `combine` does not change its operands' encoded bytes;
 * - **additivity** when `monoid.additive`: the identity is `0`/`0n` and `combine` is `+`;
 * - **codec bytes**: `decode(encode(a))` equals `a`, and re-encoding gives the same bytes;
 * - **codec JSON**: `fromJSON(JSON.parse(JSON.stringify(toJSON(a))))` equals `a`.
 *
 * The arbitrary should produce values the monoid accepts, including its edge
 * cases (its identity, empty collections, huge numbers). A combine that
 * throws counts as a failure.
 *
 * @typeParam T The value type.
 * @param monoid The monoid under test.
 * @param arbitrary A fast-check arbitrary of values.
 * @param options Equality, number of runs and seed.
 * @throws {MonoidLawError} When a law fails, with the shrunk counterexample.
 *
 * @example Every built-in passes
 * ```ts
 * import fc from "fast-check";
 * import { max } from "@murmur/core/monoid";
 * import { assertMonoidLaws } from "@murmur/core/laws";
 * assertMonoidLaws(max(), fc.option(fc.double({ noNaN: true }), { nil: null }));
 * ```
 */
export function assertMonoidLaws<T>(
  monoid: Monoid<T>,
  arbitrary: ArbitraryLike<T>,
  options?: LawOptions<T>,
): void {
  const candidate = arbitrary as Partial<Arbitrary<T>>;
  if (
    typeof candidate.generate !== "function" ||
    typeof candidate.shrink !== "function"
  ) {
    throw new TypeError(
      `assertMonoidLaws("${monoid.name}"): pass a fast-check arbitrary, e.g. fc.integer()`,
    );
  }
  const values = arbitrary as Arbitrary<T>;
  const equals = options?.equals ?? structuralEquals;
  const parameters = {
    numRuns: options?.numRuns ?? 100,
    ...(options?.seed === undefined ? {} : { seed: options.seed }),
  };
  const { codec } = monoid;

  function law<Ts extends [unknown, ...unknown[]]>(
    name: string,
    arbitraries: { [K in keyof Ts]: Arbitrary<Ts[K]> },
    predicate: (...args: Ts) => string | null,
  ): void {
    const details = fc.check(
      fc.property(...arbitraries, (...args: Ts) => {
        const problem = predicate(...args);
        if (problem !== null) throw new Error(problem);
      }),
      parameters,
    );
    if (!details.failed) return;
    const error = details.errorInstance;
    const detail = error instanceof Error
      ? `${error.name === "Error" ? "" : `${error.name}: `}${error.message}`
      : details.counterexample === null
      ? "fast-check could not generate enough values"
      : String(error);
    throw new MonoidLawError(
      monoid.name,
      name,
      details.counterexample === null
        ? undefined
        : details.counterexample.length === 1
        ? details.counterexample[0]
        : details.counterexample,
      `${detail} (replay with seed ${details.seed})`,
    );
  }

  const differ = (what: string, left: T, right: T): string | null =>
    equals(left, right)
      ? null
      : `${what}: ${show(left)} is not equal to ${show(right)}`;

  law<[T, T, T]>(
    "associativity",
    [values, values, values],
    (a, b, c) =>
      differ(
        "(a+b)+c vs a+(b+c)",
        monoid.combine(monoid.combine(a, b), c),
        monoid.combine(a, monoid.combine(b, c)),
      ),
  );
  law<[T]>(
    "left identity",
    [values],
    (a) => differ("identity+a vs a", monoid.combine(monoid.identity(), a), a),
  );
  law<[T]>(
    "right identity",
    [values],
    (a) => differ("a+identity vs a", monoid.combine(a, monoid.identity()), a),
  );
  if (monoid.commutative) {
    law<[T, T]>(
      "commutativity",
      [values, values],
      (a, b) =>
        differ("a+b vs b+a", monoid.combine(a, b), monoid.combine(b, a)),
    );
  }
  if (monoid.idempotent) {
    law<[T]>(
      "idempotence",
      [values],
      (a) => differ("a+a vs a", monoid.combine(a, a), a),
    );
  }
  law<[T[]]>(
    "combineAll equals a left fold",
    [fc.array(values, { maxLength: 10 })],
    (values) => {
      let folded = monoid.identity();
      for (const value of values) folded = monoid.combine(folded, value);
      return differ("combineAll vs fold", monoid.combineAll(values), folded);
    },
  );
  law<[T, T]>(
    "purity (combine leaves its operands unchanged)",
    [values, values],
    (a, b) => {
      const before = [codec.encode(a), codec.encode(b)] as const;
      monoid.combine(a, b);
      monoid.combineAll([a, b, a]);
      return bytesEqual(before[0], codec.encode(a)) &&
          bytesEqual(before[1], codec.encode(b))
        ? null
        : "an operand's bytes changed after combine";
    },
  );
  if (monoid.additive) {
    law<[T, T]>(
      "additivity (identity is zero, combine is +)",
      [values, values],
      (a, b) => {
        const zero = monoid.identity() as unknown;
        if (zero !== 0 && zero !== 0n) return `identity is ${show(zero)}`;
        const expected = (a as number) + (b as number);
        const actual = monoid.combine(a, b) as unknown;
        return actual === expected
          ? null
          : `combine gave ${show(actual)}, a + b is ${show(expected)}`;
      },
    );
  }
  law<[T]>(
    `codec "${codec.format}" bytes round trip`,
    [values],
    (a) => {
      const bytes = codec.encode(a);
      const decoded = codec.decode(bytes);
      const problem = differ("decode(encode(a)) vs a", decoded, a);
      if (problem !== null) return problem;
      return bytesEqual(codec.encode(decoded), bytes)
        ? null
        : "re-encoding the decoded value gave different bytes";
    },
  );
  law<[T]>(
    `codec "${codec.format}" JSON round trip`,
    [values],
    (a) => {
      const text = JSON.stringify(codec.toJSON(a));
      return differ(
        "fromJSON(parse(stringify(toJSON(a)))) vs a",
        codec.fromJSON(JSON.parse(text)),
        a,
      );
    },
  );
}
