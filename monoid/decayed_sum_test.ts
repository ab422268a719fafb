import { assertMonoidFlags } from "./_test_helpers.ts";
import { deepEqual, equal, throws } from "node:assert/strict";
import fc from "fast-check";
import { assertMonoidLaws, closeTo } from "./laws.ts";
import { CodecError, type Decayed, decayedSum, hours, minutes } from "./mod.ts";

const HALF_LIFE = hours(1);

const decayed: fc.Arbitrary<Decayed> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      value: fc.double({ min: -1e6, max: 1e6, noNaN: true }),
      // Few distinct times so equal timestamps are common too.
      time: fc.oneof(
        fc.integer({ min: 0, max: 4 }).map((h) => 1.7e12 + h * hours(1)),
        fc.integer({ min: 1.7e12, max: 1.7e12 + hours(48) }),
      ),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ value: 0, time: -Infinity }) },
);

Deno.test("decayedSum() obeys the laws within a 1e-9 relative tolerance", () => {
  assertMonoidLaws(decayedSum({ halfLife: HALF_LIFE }), decayed, {
    equals: closeTo({ relative: 1e-9, absolute: 1e-6 }),
    numRuns: 300,
  });
});

Deno.test("decayedSum() obeys the laws for huge non-negative values", () => {
  assertMonoidLaws(
    decayedSum({ halfLife: minutes(1) }),
    fc.record({
      value: fc.oneof(
        fc.double({ min: 0, max: 1e300, noNaN: true }),
        fc.constantFrom(0, 1e300, Number.MIN_VALUE),
      ),
      time: fc.integer({ min: 0, max: hours(2) }),
    }),
    { equals: closeTo({ relative: 1e-9 }) },
  );
});

Deno.test("decayedSum() is exactly commutative and has an exact identity", () => {
  const m = decayedSum({ halfLife: minutes(7) });
  fc.assert(
    fc.property(decayed, decayed, (a, b) => {
      deepEqual(m.combine(a, b), m.combine(b, a));
      deepEqual(
        m.combine(m.identity(), a),
        a.time === -Infinity ? m.identity() : a,
      );
    }),
  );
});

Deno.test("decayedSum() halves a contribution every half-life", () => {
  const m = decayedSum({ halfLife: HALF_LIFE });
  assertMonoidFlags(m, "decayed", ["commutative"]);
  equal(m.halfLife, HALF_LIFE);
  const t = 1.7e12;
  deepEqual(
    m.combine({ value: 8, time: t }, { value: 1, time: t + hours(3) }),
    {
      value: 2,
      time: t + hours(3),
    },
  );
  deepEqual(m.combine({ value: 8, time: t }, { value: 1, time: t }), {
    value: 9,
    time: t,
  });
  equal(m.valueAt({ value: 8, time: t }, t + hours(2)), 2);
  equal(m.valueAt({ value: 8, time: t }, t - hours(1)), 16);
  equal(m.valueAt(m.identity(), t), 0);
  deepEqual(m.combineAll([]), { value: 0, time: -Infinity });
});

Deno.test("decayedSum() refuses bad half-lives, NaN times and overflow", () => {
  throws(() => decayedSum({ halfLife: 0 }), RangeError);
  throws(() => decayedSum({ halfLife: -1 }), RangeError);
  throws(() => decayedSum({ halfLife: Infinity }), RangeError);
  const m = decayedSum({ halfLife: HALF_LIFE });
  throws(
    () => m.combine({ value: 1, time: NaN }, { value: 1, time: 0 }),
    TypeError,
  );
  throws(
    () => m.combine({ value: NaN, time: 0 }, { value: 1, time: 0 }),
    TypeError,
  );
  throws(
    () =>
      m.combine({ value: Number.MAX_VALUE, time: 0 }, {
        value: Number.MAX_VALUE,
        time: 0,
      }),
    RangeError,
  );
});

Deno.test("decayedSum codec is 17 bytes and refuses invalid values", () => {
  const { codec } = decayedSum({ halfLife: HALF_LIFE });
  equal(codec.format, "murmur.decayed.v1");
  equal(codec.encode({ value: 1.5, time: 1000 }).length, 17);
  deepEqual(codec.decode(codec.encode({ value: 0, time: -Infinity })), {
    value: 0,
    time: -Infinity,
  });
  deepEqual(codec.toJSON({ value: 0, time: -Infinity }), {
    value: 0,
    time: null,
  });
  deepEqual(codec.fromJSON({ value: 0, time: null }), {
    value: 0,
    time: -Infinity,
  });
  throws(() => codec.fromJSON({ value: 1, time: null }), CodecError);
  throws(() => codec.fromJSON({ value: 1 }), CodecError);
  throws(
    () => codec.decode(Uint8Array.of(1, ...new Uint8Array(15))),
    /truncated/,
  );
  throws(
    () => codec.decode(Uint8Array.of(1, ...new Uint8Array(17))),
    /trailing/,
  );
  const bad = new Uint8Array(17);
  bad[0] = 1;
  new DataView(bad.buffer).setFloat64(1, NaN);
  throws(() => codec.decode(bad), CodecError);
  throws(() => codec.encode({ value: 1, time: -Infinity }), TypeError);
});
