import { deepEqual, equal, throws } from "node:assert/strict";
import fc from "fast-check";
import { assertMonoidLaws } from "./laws.ts";
import { CodecError, count, mapMerge, max, set, sumBigInt } from "./mod.ts";

const keys = fc.constantFrom(
  "a",
  "b",
  "c",
  "__proto__",
  "constructor",
  "é",
  "",
);
const maps = <V>(values: fc.Arbitrary<V>) =>
  fc.array(fc.tuple(keys, values), { maxLength: 6 }).map((entries) =>
    new Map(entries) as ReadonlyMap<string, V>
  );

Deno.test("mapMerge(count()) obeys the monoid laws, incl. awkward keys", () => {
  assertMonoidLaws(
    mapMerge(count()),
    maps(fc.integer({ min: -1e6, max: 1e6 })),
  );
});

Deno.test("mapMerge(max()) is idempotent and lawful", () => {
  const m = mapMerge(max());
  equal(m.idempotent, true);
  assertMonoidLaws(
    m,
    maps(fc.option(fc.double({ noNaN: true }), { nil: null })),
  );
});

Deno.test("mapMerge(sumBigInt()) keeps bigints beyond 2^64 exact in bytes and JSON", () => {
  const m = mapMerge(sumBigInt());
  assertMonoidLaws(m, maps(fc.bigInt({ min: -(2n ** 100n), max: 2n ** 100n })));
  const v = new Map([["x", 2n ** 70n]]);
  deepEqual(m.codec.toJSON(v), { x: (2n ** 70n).toString() });
});

Deno.test("mapMerge(set()) nests collections", () => {
  assertMonoidLaws(
    mapMerge(set()),
    maps(
      fc.array(fc.string(), { maxLength: 3 }).map((xs) =>
        new Set(xs) as ReadonlySet<string>
      ),
    ),
    { numRuns: 60 },
  );
});

Deno.test("mapMerge() combines colliding keys with the inner monoid", () => {
  const m = mapMerge(count());
  equal(m.kind, "map");
  equal(m.name, "map(count)");
  equal(m.commutative, true);
  equal(m.idempotent, false);
  const out = m.combine(new Map([["fr", 2], ["de", 1]]), new Map([["fr", 3]]));
  deepEqual(out, new Map([["fr", 5], ["de", 1]]));
  throws(() => mapMerge(undefined as unknown as typeof m), TypeError);
});

Deno.test("mapMerge JSON keeps __proto__ as a plain key", () => {
  const m = mapMerge(count());
  const json = m.codec.toJSON(new Map([["__proto__", 1]]));
  equal(Object.getPrototypeOf(json), Object.prototype);
  equal(JSON.stringify(json), '{"__proto__":1}');
  deepEqual(
    m.codec.fromJSON(JSON.parse('{"__proto__":4}')),
    new Map([["__proto__", 4]]),
  );
  equal(({} as Record<string, unknown>).polluted, undefined);
});

Deno.test("mapMerge codec refuses malformed bytes", () => {
  const { codec } = mapMerge(count());
  const good = codec.encode(new Map([["b", 1], ["a", 2]]));
  deepEqual(codec.decode(good), new Map([["a", 2], ["b", 1]]));
  equal(codec.format, "murmur.map.v1(decimal-integer)");
  throws(() => codec.decode(good.subarray(0, good.length - 1)), /truncated/);
  throws(() => codec.decode(Uint8Array.of(1, 0x10, 0, 0, 0)), /count/);
  throws(
    () =>
      codec.decode(
        Uint8Array.of(
          1,
          0,
          0,
          0,
          2,
          0,
          0,
          0,
          1,
          98,
          0,
          0,
          0,
          1,
          49,
          0,
          0,
          0,
          1,
          97,
          0,
          0,
          0,
          1,
          49,
        ),
      ),
    /sorted/,
  );
  throws(
    () =>
      codec.decode(
        Uint8Array.of(1, 0, 0, 0, 1, 0, 0, 0, 1, 97, 0, 0, 0, 1, 120),
      ),
    CodecError,
  );
  throws(() => codec.fromJSON([1]), CodecError);
  throws(() => codec.fromJSON({ a: 1.5 }), CodecError);
});
