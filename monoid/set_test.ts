import { assertMonoidFlags } from "./_test_helpers.ts";
import { deepEqual, equal, throws } from "node:assert/strict";
import fc from "fast-check";
import { assertMonoidLaws } from "./laws.ts";
import { CodecError, set } from "./mod.ts";

const strings = fc.string({ unit: "binary", maxLength: 6 });
const sets = (maxLength: number) =>
  fc.array(strings, { maxLength }).map((xs) =>
    new Set(xs) as ReadonlySet<string>
  );

Deno.test("set() obeys the monoid laws", () => {
  assertMonoidLaws(set(), sets(12));
});

Deno.test("set({ maxSize }) stays a lawful monoid while truncating", () => {
  for (const maxSize of [1, 3, 8]) {
    // Values of the bounded monoid hold at most maxSize elements.
    assertMonoidLaws(
      set({ maxSize }),
      sets(12).map((s) => set({ maxSize }).combine(s, new Set())),
      { numRuns: 150 },
    );
  }
});

Deno.test("set({ maxSize }) keeps the smallest elements in code-unit order", () => {
  const m = set({ maxSize: 3 });
  const out = m.combineAll([
    new Set(["e", "b"]),
    new Set(["a", "d"]),
    new Set(["c", "a"]),
  ]);
  deepEqual([...out].sort(), ["a", "b", "c"]);
  // Oversized inputs are cut to the bound even against the identity.
  deepEqual(
    [...m.combine(m.identity(), new Set(["z", "y", "x", "w"]))].sort(),
    ["w", "x", "y"],
  );
  equal(m.name, "set(maxSize=3)");
  throws(() => set({ maxSize: 0 }), RangeError);
  throws(() => set({ maxSize: 1.5 }), RangeError);
});

Deno.test("set() flags: commutative and idempotent", () => {
  const m = set();
  assertMonoidFlags(m, "set", ["commutative", "idempotent"]);
  equal(m.identity().size, 0);
  equal(m.identity() !== m.identity(), true);
});

Deno.test("set.combine() never mutates its operands", () => {
  const a = new Set(["a"]);
  const b = new Set(["b"]);
  set().combine(a, b);
  set({ maxSize: 1 }).combine(a, b);
  deepEqual([...a], ["a"]);
  deepEqual([...b], ["b"]);
});

Deno.test("set codec is canonical and refuses malformed bytes", () => {
  const { codec } = set({ maxSize: 2 });
  const bytes = codec.encode(new Set(["b", "a"]));
  deepEqual([...bytes], [1, 0, 0, 0, 2, 0, 0, 0, 1, 97, 0, 0, 0, 1, 98]);
  deepEqual(codec.toJSON(new Set(["b", "a"])), ["a", "b"]);
  throws(
    () =>
      codec.decode(
        Uint8Array.of(1, 0, 0, 0, 2, 0, 0, 0, 1, 98, 0, 0, 0, 1, 97),
      ),
    /sorted/,
  );
  throws(
    () =>
      codec.decode(
        Uint8Array.of(1, 0, 0, 0, 2, 0, 0, 0, 1, 97, 0, 0, 0, 1, 97),
      ),
    /unique/,
  );
  throws(
    () => codec.decode(Uint8Array.of(1, 0, 0, 0, 1, 0, 0, 0, 9, 97)),
    /truncated/,
  );
  throws(() => codec.decode(Uint8Array.of(1, 0xff, 0xff, 0xff, 0xff)), /count/);
  throws(
    () => codec.decode(Uint8Array.of(1, 0, 0, 0, 1, 0, 0, 0, 1, 0xc0)),
    /UTF-8/,
  );
  throws(() => codec.decode(Uint8Array.of(1, 0, 0)), CodecError);
  throws(
    () => codec.decode(set().codec.encode(new Set(["a", "b", "c"]))),
    /exceed maxSize/,
  );
  throws(() => codec.fromJSON(["a", "b", "c"]), /exceed maxSize/);
  throws(() => codec.fromJSON(["a", 1]), CodecError);
  throws(() => codec.encode(new Set(["\ud800"])), TypeError);
  throws(() => codec.encode(new Set([1 as unknown as string])), TypeError);
});
