import { assertMonoidFlags } from "./_test_helpers.ts";
import { equal, throws } from "node:assert/strict";
import fc from "fast-check";
import { assertMonoidLaws } from "./laws.ts";
import { CodecError, count } from "./mod.ts";

// Ten of these (combineAll law) still sum within the safe range.
const LARGE = Math.floor(Number.MAX_SAFE_INTEGER / 16);

Deno.test("count() obeys the monoid laws", () => {
  assertMonoidLaws(
    count(),
    fc.oneof(fc.nat(1000), fc.integer({ min: -LARGE, max: LARGE })),
  );
});

Deno.test("count() is additive and commutative", () => {
  const m = count();
  assertMonoidFlags(m, "count", ["commutative", "additive"]);
  equal(m.combineAll([1, 1, 1, -1]), 2);
});

Deno.test("count.combine() refuses fractions and totals beyond the safe range", () => {
  const m = count();
  throws(() => m.combine(1, 0.5), TypeError);
  throws(() => m.combine(0.5, 0.5), TypeError);
  throws(() => m.combineAll([1, 0.5]), TypeError);
  throws(() => m.combine(Number.MAX_SAFE_INTEGER, 1), RangeError);
});

Deno.test("count codec refuses non-integers", () => {
  const { codec } = count();
  const ascii = (s: string) => new TextEncoder().encode(s);
  equal(codec.decode(ascii("123")), 123);
  throws(() => codec.decode(ascii("1.5")), CodecError);
  throws(() => codec.decode(ascii("1e300")), CodecError);
  throws(() => codec.fromJSON(2.5), CodecError);
  throws(() => codec.encode(0.5), TypeError);
});
