import { equal, throws } from "node:assert/strict";
import fc from "fast-check";
import { assertMonoidLaws } from "./laws.ts";
import { CodecError, min } from "./mod.ts";

const values = fc.option(
  fc.oneof(
    fc.double({ noNaN: true }),
    fc.integer(),
    fc.constantFrom(Infinity, -Infinity, Number.MAX_VALUE, -Number.MAX_VALUE),
  ),
  { nil: null, freq: 4 },
);

{
  const m = min();
  Deno.test(`${m.name}() obeys the monoid laws, incl. null and infinities`, () => {
    assertMonoidLaws(m, values);
  });

  Deno.test(`${m.name}() is a semilattice with a null identity`, () => {
    equal(m.kind, m.name);
    equal(m.additive, false);
    equal(m.commutative, true);
    equal(m.idempotent, true);
    equal(m.identity(), null);
    equal(m.combineAll([]), null);
    equal(m.combineAll([null, null]), null);
    equal(m.combineAll(new Set([null, 4])), 4);
  });

  Deno.test(`${m.name}.combine() refuses NaN`, () => {
    throws(() => m.combine(1, NaN), TypeError);
    throws(() => m.combine(NaN, 1), TypeError);
    throws(() => m.combineAll([1, 2, NaN]), TypeError);
    throws(() => m.combineAll([NaN, 1]), TypeError);
  });

  Deno.test(`${m.name} codec is bounds-checked`, () => {
    const { codec } = m;
    equal(codec.format, "murmur.bounded.v1");
    equal(codec.encode(null).length, 2);
    equal(codec.encode(1.5).length, 10);
    throws(() => codec.decode(new Uint8Array()), CodecError);
    throws(() => codec.decode(Uint8Array.of(2, 0)), /version 2/);
    throws(() => codec.decode(Uint8Array.of(1, 1, 0, 0)), /truncated/);
    throws(() => codec.decode(Uint8Array.of(1, 0, 0)), /trailing/);
    throws(() => codec.decode(Uint8Array.of(1, 7)), /set flag/);
    throws(
      () => codec.decode(Uint8Array.of(1, 1, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0)),
      /NaN/,
    );
    throws(() => codec.encode(NaN), TypeError);
    equal(codec.toJSON(-Infinity), "-Infinity");
    equal(codec.fromJSON("Infinity"), Infinity);
    throws(() => codec.fromJSON("5"), CodecError);
  });
}

Deno.test("min() keeps positive minima (no fake zero)", () => {
  equal(min().combineAll([5, 2, 9]), 2);
  equal(min().combineAll([null, 1, null]), 1);
});

Deno.test("min.combineAll() folds a million numbers like a loop", () => {
  const xs = Array.from({ length: 1_000_000 }, (_, i) => Math.cos(i) * 1e6);
  let best = Infinity;
  for (const x of xs) if (x < best) best = x;
  equal(min().combineAll(xs), best);
  equal(min().combineAll(new Set(xs)), best);
});
