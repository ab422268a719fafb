import { deepEqual, equal, throws } from "node:assert/strict";
import fc from "fast-check";
import { assertMonoidLaws } from "./laws.ts";
import { CodecError, count, first, max, sumBigInt, tuple } from "./mod.ts";
import type { Monoid } from "./mod.ts";

Deno.test("tuple(count(), max(), sumBigInt()) obeys the monoid laws", () => {
  assertMonoidLaws(
    tuple(count(), max(), sumBigInt()),
    fc.tuple(
      fc.integer({ min: -1e9, max: 1e9 }),
      fc.option(fc.double({ noNaN: true }), { nil: null }),
      fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }),
    ),
  );
});

Deno.test("tuple() flags are the conjunction of its components'", () => {
  const a = tuple(count(), max());
  equal(a.kind, "tuple");
  equal(a.commutative, true);
  equal(a.idempotent, false);
  equal(a.additive, false);
  equal(tuple(max(), first()).idempotent, true);
  equal(a.name, "tuple(count, max)");
  deepEqual(a.identity(), [0, null]);
});

Deno.test("tuple() folds componentwise with typed values", () => {
  const m = tuple(count(), max());
  const folded: readonly [number, number | null] = m.combineAll([[1, 5], [
    2,
    null,
  ], [3, 9]]);
  deepEqual(folded, [6, 9]);
  deepEqual(m.combine([1, null], [1, 2]), [2, 2]);
  throws(
    () => m.combine([1] as unknown as [number, number], [1, 2]),
    TypeError,
  );
  throws(() => tuple(), TypeError);
  const many = Array.from({ length: 256 }, () => count()) as Monoid<number>[];
  throws(() => tuple(...many), TypeError);
});

Deno.test("tuple codec checks arity and component bounds", () => {
  const { codec } = tuple(count(), max());
  equal(codec.format, "murmur.tuple.v1(decimal-integer,murmur.bounded.v1)");
  const bytes = codec.encode([3, 1.5]);
  deepEqual(codec.decode(bytes), [3, 1.5]);
  throws(() => codec.decode(bytes.subarray(0, bytes.length - 2)), /truncated/);
  throws(() => codec.decode(Uint8Array.of(1, 3)), /arity/);
  throws(
    () =>
      codec.decode(Uint8Array.of(1, 2, 0, 0, 0, 1, 0x31, 0, 0, 0, 2, 1, 0, 9)),
    /trailing/,
  );
  deepEqual(codec.toJSON([3, -Infinity]), [3, "-Infinity"]);
  throws(() => codec.fromJSON([1]), CodecError);
  throws(() => codec.fromJSON({ 0: 1, 1: 2 }), CodecError);
});
