import { equal, ok, throws } from "node:assert/strict";
import fc from "fast-check";
import { assertMonoidLaws } from "./laws.ts";
import {
  count,
  defineMonoid,
  hasKind,
  isAdditive,
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
