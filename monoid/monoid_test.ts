import { deepEqual, equal, ok, throws } from "node:assert/strict";
import fc from "fast-check";
import { assertMonoidLaws } from "./laws.ts";
import {
  CodecError,
  count,
  defineMonoid,
  hasKind,
  isAdditive,
  jsonCodec,
  max,
  type Monoid,
  monotonic,
  set,
  stringCodec,
  sum,
  sumBigInt,
} from "./mod.ts";

Deno.test("defineMonoid() builds a frozen custom monoid", () => {
  const longest = defineMonoid<string>({
    name: "longest",
    identity: () => "",
    combine: (
      a,
      b,
    ) => (b.length > a.length || (b.length === a.length && b > a) ? b : a),
    codec: stringCodec,
    commutative: true,
    idempotent: true,
  });
  equal(longest.kind, "custom");
  equal(longest.additive, false);
  equal(Object.isFrozen(longest), true);
  equal(longest.combineAll(["ab", "abc", "x"]), "abc");
  assertMonoidLaws(longest, fc.string());
});

Deno.test("defineMonoid() defaults flags to false and refuses incomplete definitions", () => {
  const m = defineMonoid<string>({
    name: "concat",
    identity: () => "",
    combine: (a, b) => a + b,
    codec: stringCodec,
  });
  equal(m.commutative, false);
  equal(m.idempotent, false);
  throws(() => defineMonoid({ ...m, name: "" }), TypeError);
  throws(
    () =>
      defineMonoid({
        name: "x",
        identity: () => "",
        combine: undefined as never,
        codec: stringCodec,
      }),
    TypeError,
  );
  throws(
    () =>
      defineMonoid({
        name: "x",
        identity: () => "",
        combine: (a: string) => a,
        codec: undefined as never,
      }),
    TypeError,
  );
});

Deno.test("isAdditive() is true only for sum and count", () => {
  const additive: Monoid<unknown>[] = [sum(), sumBigInt(), count()];
  const others: Monoid<unknown>[] = [max(), monotonic(), set()];
  for (const m of additive) ok(isAdditive(m), m.name);
  for (const m of others) ok(!isAdditive(m), m.name);
  ok(hasKind(max(), "min", "max"));
  ok(!hasKind(max(), "sum"));
});

Deno.test("jsonCodec encodes canonically and refuses non-JSON values", () => {
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  equal(
    text(jsonCodec.encode({ b: [1, { d: 1, c: 2 }], a: "x" })),
    '{"a":"x","b":[1,{"c":2,"d":1}]}',
  );
  deepEqual(jsonCodec.decode(new TextEncoder().encode(' { "a" : 1 } ')), {
    a: 1,
  });
  throws(() => jsonCodec.encode({ a: NaN }), TypeError);
  throws(() => jsonCodec.encode({ a: undefined } as never), TypeError);
  throws(() => jsonCodec.encode(1n as never), TypeError);
  throws(() => jsonCodec.decode(new TextEncoder().encode("{")), CodecError);
  throws(() => jsonCodec.decode(Uint8Array.of(0xff)), CodecError);
  throws(() => jsonCodec.toJSON(Infinity), TypeError);
  deepEqual(jsonCodec.fromJSON([1]), [1]);
});

Deno.test("stringCodec round-trips UTF-8 and refuses what cannot", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary" }), (s) => {
      equal(stringCodec.decode(stringCodec.encode(s)), s);
    }),
  );
  throws(() => stringCodec.encode("\udc00"), TypeError);
  throws(() => stringCodec.encode(5 as never), TypeError);
  throws(() => stringCodec.decode(Uint8Array.of(0xe2, 0x82)), CodecError);
  throws(() => stringCodec.decode("x" as never), CodecError);
  throws(() => stringCodec.fromJSON(1), CodecError);
});
