import { assertMonoidFlags } from "./_test_helpers.ts";
import { equal, throws } from "node:assert/strict";
import fc from "fast-check";
import { assertMonoidLaws } from "./laws.ts";
import { CodecError, monotonic } from "./mod.ts";

Deno.test("monotonic() obeys the monoid laws", () => {
  assertMonoidLaws(
    monotonic(),
    fc.oneof(
      fc.nat(),
      fc.double({ min: 0, max: Number.MAX_VALUE, noNaN: true }),
      fc.constantFrom(0, Number.MAX_SAFE_INTEGER, Number.MAX_VALUE),
    ),
  );
});

Deno.test("monotonic() keeps the highest reading whatever the order", () => {
  const m = monotonic();
  assertMonoidFlags(m, "monotonic", ["commutative", "idempotent"]);
  equal(m.combineAll([10, 30, 20]), 30);
  equal(m.combineAll([]), 0);
  equal(m.combine(5, 3), 5);
});

Deno.test("monotonic() refuses negative, NaN and infinite readings", () => {
  const m = monotonic();
  for (const bad of [-1, NaN, Infinity]) {
    throws(() => m.combine(bad, 1), TypeError);
    throws(() => m.combine(1, bad), TypeError);
    throws(() => m.combineAll([1, bad]), TypeError);
    throws(() => m.codec.encode(bad), TypeError);
  }
  const ascii = (s: string) => new TextEncoder().encode(s);
  throws(() => m.codec.decode(ascii("-5")), CodecError);
  throws(() => m.codec.fromJSON(-5), CodecError);
  equal(m.codec.decode(ascii("12.5")), 12.5);
});
