import { deepEqual, equal, throws } from "node:assert/strict";
import fc from "fast-check";
import { assertMonoidLaws, closeTo } from "./laws.ts";
import { CodecError, isAdditive, sum, sumBigInt } from "./mod.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const ascii = (s: string) => new TextEncoder().encode(s);
// Ten of these (combineAll law) still sum within the safe range.
const LARGE = Math.floor(Number.MAX_SAFE_INTEGER / 16);

Deno.test("sum() obeys the monoid laws over safe integers", () => {
  assertMonoidLaws(
    sum(),
    fc.oneof(
      fc.integer({ min: -LARGE, max: LARGE }),
      fc.constantFrom(0, -0, LARGE, -LARGE),
    ),
  );
});

Deno.test("sum() obeys the laws over fractions up to rounding", () => {
  assertMonoidLaws(
    sum(),
    fc.double({ min: -1e6, max: 1e6, noNaN: true }),
    { equals: closeTo({ relative: 1e-9, absolute: 1e-6 }) },
  );
});

Deno.test("sum() flags: additive and commutative, not idempotent", () => {
  const m = sum();
  equal(m.kind, "sum");
  equal(isAdditive(m), true);
  equal(m.commutative, true);
  equal(m.idempotent, false);
  equal(Object.isFrozen(m), true);
  equal(m.identity(), 0);
});

Deno.test("sum.combine() refuses integer results beyond the safe range", () => {
  const m = sum();
  throws(() => m.combine(Number.MAX_SAFE_INTEGER, 1), /sumBigInt/);
  throws(() => m.combine(-Number.MAX_SAFE_INTEGER, -1), RangeError);
  throws(() => m.combineAll([Number.MAX_SAFE_INTEGER, 1, -1]), RangeError);
  throws(() => m.combineAll(new Set([2 ** 60])), RangeError);
  equal(m.combine(Number.MAX_SAFE_INTEGER, 0), Number.MAX_SAFE_INTEGER);
});

Deno.test("sum.combine() adds fractions as doubles", () => {
  equal(sum().combine(0.1, 0.2), 0.1 + 0.2);
});

Deno.test("sum.combine() refuses NaN, Infinity and non-numbers", () => {
  const m = sum();
  throws(() => m.combine(1, NaN), RangeError);
  throws(() => m.combine(Infinity, 1), RangeError);
  throws(() => m.combineAll([1, NaN]), RangeError);
  throws(() => m.combine(1, "2" as unknown as number), TypeError);
  throws(() => m.combineAll([1, "2" as unknown as number]), TypeError);
});

Deno.test("sum.combineAll() folds arrays and other iterables alike", () => {
  const values = Array.from({ length: 1000 }, (_, i) => i - 300);
  equal(sum().combineAll(values), values.reduce((a, b) => a + b, 0));
  equal(sum().combineAll(new Set(values)), sum().combineAll(values));
  equal(sum().combineAll([]), 0);
});

Deno.test("sum codec writes decimal text and refuses malformed bytes", () => {
  const { codec } = sum();
  equal(codec.format, "decimal");
  equal(text(codec.encode(42)), "42");
  equal(text(codec.encode(-0.5)), "-0.5");
  equal(text(codec.encode(1e-7)), "1e-7");
  equal(codec.decode(ascii("1e-7")), 1e-7);
  equal(codec.decode(ascii("0.1")), 0.1);
  for (
    const bad of [
      "",
      " 1",
      "1 ",
      "01",
      "+1",
      "1.",
      ".5",
      "NaN",
      "Infinity",
      "0x10",
      "1e999",
      "--1",
    ]
  ) {
    throws(() => codec.decode(ascii(bad)), CodecError, bad);
  }
  throws(() => codec.decode(new Uint8Array(5000).fill(0x31)), CodecError);
  throws(() => codec.encode(NaN), TypeError);
  equal(codec.toJSON(7), 7);
  throws(() => codec.fromJSON("7"), CodecError);
});

Deno.test("sumBigInt() obeys the laws, including values beyond 2^64", () => {
  const huge = 2n ** 200n;
  assertMonoidLaws(
    sumBigInt(),
    fc.oneof(
      fc.bigInt({ min: -huge, max: huge }),
      fc.constantFrom(0n, 2n ** 64n, -(2n ** 64n) - 1n),
    ),
  );
});

Deno.test("sumBigInt() adds exactly and round-trips as decimal text and string JSON", () => {
  const m = sumBigInt();
  equal(m.kind, "sum");
  equal(m.additive, true);
  const big = 2n ** 64n + 12345n;
  equal(m.combineAll([big, big, -1n]), 2n * big - 1n);
  equal(text(m.codec.encode(-big)), `-${big}`);
  equal(m.codec.decode(m.codec.encode(-big)), -big);
  equal(m.codec.toJSON(big), big.toString());
  equal(m.codec.fromJSON(big.toString()), big);
  equal(m.codec.fromJSON(12), 12n);
  throws(() => m.codec.fromJSON(1.5), CodecError);
  throws(() => m.codec.decode(ascii("1.5")), CodecError);
  throws(() => m.codec.decode(ascii("-0x1")), CodecError);
  throws(() => m.combine(1n, 1 as unknown as bigint), TypeError);
  deepEqual(m.combineAll([]), 0n);
});

Deno.test("sum codec refuses 1e21 and every number beyond ±(2^53 − 1) at decode", () => {
  const { codec } = sum();
  for (const bad of [1e21, 2 ** 53, -(2 ** 53), 1e300, 2 ** 53 + 0.5]) {
    throws(() => codec.fromJSON(bad), CodecError, String(bad));
    throws(() => codec.decode(ascii(String(bad))), CodecError, String(bad));
    throws(() => codec.encode(bad), RangeError, String(bad));
  }
  equal(codec.fromJSON(Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER);
  // Property: a number decodes exactly when it is in range, and what decodes always folds.
  fc.assert(
    fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (x) => {
      const inRange = Math.abs(x) <= Number.MAX_SAFE_INTEGER;
      let decoded: number | undefined;
      try {
        decoded = codec.fromJSON(x);
      } catch (error) {
        if (!(error instanceof CodecError)) throw error;
      }
      equal(decoded !== undefined, inRange);
      if (decoded !== undefined) {
        equal(sum().combine(0, decoded), decoded);
        equal(codec.decode(codec.encode(decoded)), decoded);
      }
    }),
  );
});

Deno.test("sum.combine() refuses a fractional total beyond ±(2^53 − 1) too", () => {
  throws(() => sum().combine(Number.MAX_SAFE_INTEGER, 0.5), /sumBigInt/);
  throws(() => sum().combine(0, 1e21), RangeError);
  equal(sum().combine(1e15, 0.5), 1e15 + 0.5);
});
