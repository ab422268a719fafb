// The stamped machinery first() and last() share: laws, flags, codec bounds, JSON refusals.

import { deepEqual, equal, throws } from "node:assert/strict";
import fc from "fast-check";
import { assertMonoidLaws } from "./laws.ts";
import { CodecError, first, jsonCodec, last, stringCodec } from "./mod.ts";
import type { JsonValue } from "./mod.ts";

// Few distinct times so ties (and the tie-break) are common.
const time = fc.oneof(
  fc.integer({ min: -3, max: 3 }),
  fc.double({ min: -1e13, max: 1e13, noNaN: true }),
);
const json: fc.Arbitrary<JsonValue> = fc.jsonValue({
  maxDepth: 2,
}) as fc.Arbitrary<JsonValue>;
const stampedJson = fc.option(fc.record({ value: json, time }), {
  nil: null,
  freq: 5,
});
const stampedString = fc.option(
  fc.record({ value: fc.string({ unit: "binary", maxLength: 8 }), time }),
  { nil: null, freq: 5 },
);

for (const make of [first, last]) {
  const name = make.name;

  Deno.test(`${name}() obeys the laws over JSON values with many time ties`, () => {
    assertMonoidLaws(make(), stampedJson, { numRuns: 200 });
  });

  Deno.test(`${name}({ codec: stringCodec }) obeys the laws`, () => {
    assertMonoidLaws(make({ codec: stringCodec }), stampedString, {
      numRuns: 200,
    });
  });

  Deno.test(`${name}() flags: commutative, idempotent, not additive`, () => {
    const m = make();
    equal(m.kind, name);
    equal(m.commutative, true);
    equal(m.idempotent, true);
    equal(m.additive, false);
    equal(m.identity(), null);
    equal(m.combineAll([]), null);
  });

  Deno.test(`${name}.combine() refuses NaN times`, () => {
    const m = make();
    throws(
      () => m.combine({ value: 1, time: NaN }, { value: 2, time: 1 }),
      TypeError,
    );
  });

  Deno.test(`${name} codec is bounds-checked`, () => {
    const m = make({ codec: stringCodec });
    const { codec } = m;
    equal(codec.format, "murmur.stamped.v1(utf8)");
    deepEqual(codec.decode(codec.encode({ value: "héllo", time: 5 })), {
      value: "héllo",
      time: 5,
    });
    equal(codec.decode(Uint8Array.of(1, 0)), null);
    throws(() => codec.decode(Uint8Array.of(1, 0, 0)), /trailing/);
    throws(() => codec.decode(Uint8Array.of(1, 1, 0, 0)), /truncated/);
    throws(() => codec.decode(Uint8Array.of(1, 3)), /set flag/);
    throws(
      () => codec.decode(Uint8Array.of(1, 1, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0)),
      /not finite/,
    );
    throws(
      () => codec.decode(Uint8Array.of(1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xff)),
      /UTF-8/,
    );
    throws(() => codec.encode({ value: "x", time: Infinity }), TypeError);
    throws(() => codec.fromJSON({ value: "x" }), CodecError);
    throws(() => codec.fromJSON({ value: "x", time: "1" }), CodecError);
    throws(() => codec.fromJSON({ value: "x", time: 1, extra: 1 }), CodecError);
    throws(() => codec.fromJSON({ value: 1, time: 1 }), CodecError);
  });

  Deno.test(`${name}().fromJSON refuses NaN, Infinity and other values its codec cannot encode`, () => {
    const m = make();
    for (
      const bad of [NaN, Infinity, [1, NaN], { a: -Infinity }, undefined]
    ) {
      throws(
        () => m.codec.fromJSON({ value: bad as JsonValue, time: 1 }),
        CodecError,
        String(bad),
      );
    }
    throws(() => m.codec.fromJSON({ value: 1, time: NaN }), CodecError);
    throws(() => jsonCodec.fromJSON(NaN), CodecError);
    // Property: whatever fromJSON accepts, encode takes.
    fc.assert(
      fc.property(fc.jsonValue(), fc.integer(), (value, t) => {
        const decoded = m.codec.fromJSON({
          value: value as JsonValue,
          time: t,
        });
        deepEqual(m.codec.decode(m.codec.encode(decoded)), decoded);
      }),
    );
  });
}
