import { equal, match, ok, throws } from "node:assert/strict";
import fc from "fast-check";
import {
  assertMonoidLaws,
  closeTo,
  MonoidLawError,
  structuralEquals,
} from "./laws.ts";
import { defineMonoid, jsonCodec, stringCodec, sum } from "./mod.ts";
import type { Codec, JsonValue, Monoid } from "./mod.ts";

const numberJson: Codec<number> = {
  format: "test-json",
  encode: (v) => new TextEncoder().encode(JSON.stringify(v)),
  decode: (b) => JSON.parse(new TextDecoder().decode(b)),
  toJSON: (v) => v,
  fromJSON: (j) => j as number,
};

function caught(run: () => void): MonoidLawError {
  try {
    run();
  } catch (error) {
    if (error instanceof MonoidLawError) return error;
    throw error;
  }
  throw new Error("expected a MonoidLawError");
}

Deno.test("assertMonoidLaws() reports a non-associative operation with a counterexample", () => {
  const minus = defineMonoid<number>({
    name: "minus",
    identity: () => 0,
    combine: (a, b) => a - b,
    codec: numberJson,
  });
  const error = caught(() =>
    assertMonoidLaws(minus, fc.integer({ min: -100, max: 100 }))
  );
  equal(error.law, "associativity");
  equal(error.monoid, "minus");
  ok(Array.isArray(error.counterexample));
  match(
    error.message,
    /monoid "minus" breaks associativity: counterexample \[/,
  );
  match(error.message, /replay with seed/);
});

/** A monoid that breaks one law, the values to probe it with, and the law the check must name. */
interface Breach {
  readonly what: string;
  readonly law: string;
  check(): void;
}

function breach<T>(
  what: string,
  monoid: Monoid<T>,
  values: fc.Arbitrary<T>,
  law: string,
): Breach {
  return { what, law, check: () => assertMonoidLaws(monoid, values) };
}

const plus = (a: number, b: number) => a + b;

const BREACHES: Breach[] = [
  breach(
    "a false identity",
    defineMonoid<number>({
      name: "plus-one-identity",
      identity: () => 1,
      combine: plus,
      codec: numberJson,
    }),
    fc.integer(),
    "left identity",
  ),
  breach(
    "a false commutativity claim",
    defineMonoid<string>({
      name: "concat",
      identity: () => "",
      combine: (a, b) => a + b,
      codec: stringCodec,
      commutative: true,
    }),
    fc.string(),
    "commutativity",
  ),
  breach(
    "a false idempotence claim",
    defineMonoid<number>({
      name: "sum-claims-idempotent",
      identity: () => 0,
      combine: plus,
      codec: numberJson,
      commutative: true,
      idempotent: true,
    }),
    fc.integer({ min: -9, max: 9 }),
    "idempotence",
  ),
  breach(
    "a combineAll that disagrees with the fold",
    defineMonoid<number>({
      name: "bad-bulk",
      identity: () => 0,
      combine: plus,
      combineAll: (values) => [...values].length,
      codec: numberJson,
    }),
    fc.integer({ min: 2, max: 9 }),
    "combineAll equals a left fold",
  ),
];

for (const { what, law, check } of BREACHES) {
  Deno.test(`assertMonoidLaws() catches ${what}`, () => {
    equal(caught(check).law, law);
  });
}

Deno.test("assertMonoidLaws() catches a combine that mutates its operand", () => {
  const m = defineMonoid<{ n: number }>({
    name: "add-in-place",
    identity: () => ({ n: 0 }),
    combine: (a, b) => {
      a.n += b.n;
      return a;
    },
    codec: jsonCodec as unknown as Codec<{ n: number }>,
  });
  const error = caught(() =>
    assertMonoidLaws(m, fc.record({ n: fc.integer({ min: -99, max: 99 }) }))
  );
  ok(
    ["purity (combine leaves its operands unchanged)", "associativity"]
      .includes(error.law),
    error.law,
  );
});

Deno.test("assertMonoidLaws() catches a lossy codec", () => {
  const lossy: Codec<number> = {
    ...numberJson,
    decode: (b) => Math.round(numberJson.decode(b)),
  };
  const m = defineMonoid<number>({
    name: "lossy",
    identity: () => 0,
    combine: (a, b) => Math.max(a, b),
    codec: lossy,
    commutative: true,
    idempotent: true,
  });
  equal(
    caught(() =>
      assertMonoidLaws(m, fc.double({ min: 0, max: 10, noNaN: true }))
    ).law,
    'codec "test-json" bytes round trip',
  );
});

Deno.test("assertMonoidLaws() catches JSON forms that are not JSON-safe", () => {
  const m = defineMonoid<bigint>({
    name: "bigint-json",
    identity: () => 0n,
    combine: (a, b) => a + b,
    codec: {
      format: "x",
      encode: (v) => new TextEncoder().encode(String(v)),
      decode: (b) => BigInt(new TextDecoder().decode(b)),
      toJSON: (v) => v as unknown as JsonValue,
      fromJSON: (j) => BigInt(j as string),
    },
  });
  match(caught(() => assertMonoidLaws(m, fc.bigInt())).law, /JSON round trip/);
});

Deno.test("assertMonoidLaws() reports a throwing combine as a failure", () => {
  const error = caught(() =>
    assertMonoidLaws(sum(), fc.constant(Number.MAX_SAFE_INTEGER))
  );
  match(error.message, /RangeError: sum/);
});

Deno.test("assertMonoidLaws() refuses a non-arbitrary", () => {
  throws(
    () =>
      assertMonoidLaws(
        sum(),
        { map: () => 0 } as unknown as fc.Arbitrary<number>,
      ),
    TypeError,
  );
});

Deno.test("assertMonoidLaws() checks additive monoids really add", () => {
  const fakeAdd: Monoid<number> = {
    ...sum(),
    combine: (a, b) => Math.max(a, b),
    combineAll: (v) => Math.max(0, ...v),
  };
  equal(
    caught(() => assertMonoidLaws(fakeAdd, fc.nat(100))).law,
    "additivity (identity is zero, combine is +)",
  );
});

Deno.test("structuralEquals() compares deeply with SameValueZero", () => {
  ok(structuralEquals(NaN, NaN));
  ok(structuralEquals(0, -0));
  ok(structuralEquals(new Set(["a", "b"]), new Set(["b", "a"])));
  ok(structuralEquals(Uint8Array.of(1, 2), Uint8Array.of(1, 2)));
  ok(structuralEquals(Object.assign(Object.create(null), { a: 1 }), { a: 1 }));
  ok(!structuralEquals([1], { 0: 1 }));
  ok(!structuralEquals(new Map([["a", 1]]), new Map([["a", 2]])));
  ok(!structuralEquals({ a: 1 }, { a: 1, b: undefined }));
  ok(!structuralEquals(1n, 1));
});

Deno.test("closeTo() tolerates rounding but not real differences", () => {
  const eq = closeTo({ relative: 1e-9 });
  ok(eq(0.1 + 0.2, 0.3));
  ok(eq({ value: 1e20 }, { value: 1e20 + 1e5 }));
  ok(!eq(1, 1.001));
  ok(!eq(Infinity, 1e308));
  ok(eq(Infinity, Infinity));
  ok(closeTo()(1e-13, 0));
});
