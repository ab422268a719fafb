import { equal, ok, throws } from "node:assert/strict";
import fc from "fast-check";
import {
  type Buckets,
  hysteresis,
  linearBuckets,
  logBuckets,
  manualBuckets,
} from "./mod.ts";

const value = fc.double({ min: -1e9, max: 1e9, noNaN: true });

// Every family, with generated parameters.
const anyBuckets: fc.Arbitrary<Buckets> = fc.oneof(
  fc.record({
    base: fc.double({ min: 1.1, max: 100, noNaN: true }),
    start: fc.double({ min: 1e-3, max: 1e3, noNaN: true }),
  }).map((o) => logBuckets(o)),
  fc.record({
    width: fc.double({ min: 1e-2, max: 1e6, noNaN: true }),
    offset: fc.double({ min: -1e6, max: 1e6, noNaN: true }),
  }).map((o) => linearBuckets(o)),
  fc.uniqueArray(fc.integer({ min: -1e6, max: 1e6 }), {
    minLength: 1,
    maxLength: 12,
  }).map((t) => manualBuckets(t.sort((a, b) => a - b))),
);

Deno.test("bucketOf() is monotone for log, linear and manual buckets", () => {
  fc.assert(
    fc.property(anyBuckets, value, value, (buckets, a, b) => {
      const [lo, hi] = a <= b ? [a, b] : [b, a];
      ok(buckets.bucketOf(lo) <= buckets.bucketOf(hi));
    }),
  );
});

Deno.test("bucketOf() lands inside its bucket's bounds", () => {
  fc.assert(
    fc.property(anyBuckets, value, (buckets, v) => {
      const b = buckets.bucketOf(v);
      ok(buckets.lowerBound(b) <= v, `${v} below lower bound of ${b}`);
      ok(v < buckets.upperBound(b), `${v} at or above upper bound of ${b}`);
      const next = buckets.upperBound(b);
      if (Number.isFinite(next)) equal(buckets.bucketOf(next), b + 1);
    }),
  );
});

Deno.test("hysteresis.next() is monotone in the value for a fixed current bucket", () => {
  fc.assert(
    fc.property(
      anyBuckets,
      fc.double({ min: 0, max: 0.99, noNaN: true }),
      value,
      value,
      value,
      (buckets, band, start, a, b) => {
        const h = hysteresis(buckets, { band });
        const current = buckets.bucketOf(start);
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        ok(h.next(current, lo) <= h.next(current, hi));
      },
    ),
  );
});

Deno.test("hysteresis never flaps inside its band", () => {
  fc.assert(
    fc.property(
      anyBuckets,
      fc.double({ min: 0.01, max: 0.99, noNaN: true }),
      value,
      fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 50 }),
      (buckets, band, start, moves) => {
        const h = hysteresis(buckets, { band });
        const current = h.next(undefined, start);
        const { stayFrom, stayBelow } = h.bandOf(current);
        const lo = Math.max(stayFrom, -1e12);
        const hi = Math.min(stayBelow, 1e12);
        let facet = current;
        for (const t of moves) {
          const v = lo + t * (hi - lo);
          if (v < stayFrom || v >= stayBelow) continue;
          facet = h.next(facet, v);
          equal(facet, current);
        }
      },
    ),
  );
});

Deno.test("hysteresis moves once per boundary a steadily rising counter crosses", () => {
  const h = hysteresis(logBuckets(), { band: 0.25 });
  let facet: number | undefined;
  let moves = 0;
  for (let v = 0; v <= 1_300_000; v += 7) {
    const next = h.next(facet, v);
    if (next !== facet) moves++;
    facet = next;
  }
  equal(moves, 8);
  equal(facet, 7);
});

Deno.test("hysteresis.next() follows a jump across several buckets at once", () => {
  const h = hysteresis(logBuckets());
  equal(h.next(1, 50_000), 5);
  equal(h.next(5, 3), 1);
});

Deno.test("bucket functions refuse bad parameters and values", () => {
  throws(() => logBuckets({ base: 1 }), RangeError);
  throws(() => logBuckets({ start: 0 }), RangeError);
  throws(() => linearBuckets({ width: 0 }), RangeError);
  throws(() => manualBuckets([]), RangeError);
  throws(() => manualBuckets([2, 1]), RangeError);
  throws(() => manualBuckets([1, 2], { labels: ["a"] }), RangeError);
  throws(() => hysteresis(logBuckets(), { band: 1 }), RangeError);
  throws(() => logBuckets().bucketOf(NaN), RangeError);
  throws(() => linearBuckets({ width: 1 }).bucketOf(Infinity), RangeError);
});

Deno.test("buckets read bigint counters", () => {
  equal(logBuckets().bucketOf(12_345n), 5);
  equal(manualBuckets([10n, 100n].map(Number)).bucketOf(10n), 1);
});

Deno.test("labels name the range", () => {
  const log = logBuckets();
  equal(log.label(0), "<1");
  equal(log.label(1), "1-10");
  equal(log.label(7), "1M-10M");
  equal(manualBuckets([10, 100]).label(2), "100+");
  equal(linearBuckets({ width: 1500 }).label(1), "1.5k-3k");
});
