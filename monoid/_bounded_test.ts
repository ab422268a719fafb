// The bounded machinery max() and min() share: laws, semilattice flags, NaN refusal, codec bounds.

import { equal, throws } from "node:assert/strict";
import fc from "fast-check";
import { assertMonoidLaws } from "./laws.ts";
import { CodecError, max, min } from "./mod.ts";

const values = fc.option(
  fc.oneof(
    fc.double({ noNaN: true }),
    fc.integer(),
    fc.constantFrom(Infinity, -Infinity, Number.MAX_VALUE, -Number.MAX_VALUE),
  ),
  { nil: null, freq: 4 },
);

for (const m of [max(), min()]) {
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
