import { deepEqual, equal, throws } from "node:assert/strict";
import fc from "fast-check";
import {
  count,
  coverage,
  daily,
  days,
  hourly,
  hours,
  max,
  MAX_BUCKETS,
  mergeBuckets,
  minutely,
  minutes,
  sum,
  trailing,
} from "./mod.ts";

const DAY = 86_400_000;
const HOUR = 3_600_000;
const MINUTE = 60_000;

Deno.test("minutes()/hours()/days() convert to ms", () => {
  equal(minutes(1), MINUTE);
  equal(hours(1), HOUR);
  equal(days(90), 90 * DAY);
  throws(() => days(Infinity), RangeError);
});

Deno.test("window factories expose granularity, size and retention", () => {
  const w = daily({ retention: days(90) });
  equal(w.granularity, "day");
  equal(w.size, DAY);
  equal(w.retention, days(90));
  equal(hourly().retention, null);
  equal(minutely().size, MINUTE);
  throws(() => daily({ retention: -1 }), RangeError);
  throws(() => daily({ retention: NaN }), RangeError);
  equal(Object.isFrozen(w), true);
});

Deno.test("window.bucketOf() floors to UTC bucket starts, also before 1970", () => {
  const d = daily();
  equal(
    d.bucketOf(Date.UTC(2024, 0, 1, 23, 59, 59, 999)),
    Date.UTC(2024, 0, 1),
  );
  equal(d.bucketOf(Date.UTC(2024, 0, 2)), Date.UTC(2024, 0, 2));
  equal(d.bucketOf(0), 0);
  equal(Object.is(d.bucketOf(-0), 0), true);
  equal(d.bucketOf(-1), -DAY);
  equal(d.bucketOf(-DAY), -DAY);
  equal(d.bucketOf(-DAY - 1), -2 * DAY);
  equal(minutely().bucketOf(1.5), 0);
  equal(hourly().bucketOf(-0.5), -HOUR);
  throws(() => d.bucketOf(NaN), RangeError);
  throws(() => d.bucketOf(9e15), RangeError);
});

Deno.test("window.bucketOf() agrees with floor division for every granularity", () => {
  for (const w of [minutely(), hourly(), daily()]) {
    fc.assert(
      fc.property(fc.integer({ min: -8.64e15, max: 8.64e15 }), (t) => {
        const b = w.bucketOf(t);
        equal(b <= t && t < b + w.size, true);
        equal(b % w.size === 0, true);
        equal(
          BigInt(b),
          (BigInt(t) / BigInt(w.size) - (t < 0 && t % w.size !== 0 ? 1n : 0n)) *
            BigInt(w.size),
        );
      }),
    );
  }
});

Deno.test("window.bucketEnd() and expiresAt() count from the bucket's end", () => {
  const w = hourly({ retention: days(1) });
  const b = Date.UTC(2024, 5, 1, 10);
  equal(w.bucketEnd(b), b + HOUR);
  equal(w.expiresAt(b), b + HOUR + DAY);
  equal(hourly().expiresAt(b), undefined);
  equal(daily({ retention: 0 }).expiresAt(0), DAY);
  throws(() => w.bucketEnd(b + 1), RangeError);
  throws(() => w.expiresAt(123), RangeError);
});

Deno.test("window.lastN() lists the current bucket and the n-1 before, oldest first", () => {
  const w = daily();
  const now = Date.UTC(2024, 2, 10, 15);
  deepEqual(w.lastN(3, now), [
    Date.UTC(2024, 2, 8),
    Date.UTC(2024, 2, 9),
    Date.UTC(2024, 2, 10),
  ]);
  deepEqual(w.lastN(1, now), [Date.UTC(2024, 2, 10)]);
  deepEqual(w.lastN(2, 1000), [-DAY, 0]);
  throws(() => w.lastN(0, now), RangeError);
  throws(() => w.lastN(1.5, now), RangeError);
  throws(() => w.lastN(MAX_BUCKETS + 1, now), RangeError);
  equal(minutely().lastN(MAX_BUCKETS, now).length, MAX_BUCKETS);
});

Deno.test("window.range() lists buckets intersecting [start, end)", () => {
  const w = hourly();
  const t = Date.UTC(2024, 0, 1);
  deepEqual(w.range(t, t + 2 * HOUR), [t, t + HOUR]);
  deepEqual(w.range(t + 1, t + 2 * HOUR + 1), [t, t + HOUR, t + 2 * HOUR]);
  deepEqual(w.range(t + 10, t + 20), [t]);
  deepEqual(w.range(t, t), []);
  deepEqual(w.range(t + HOUR, t), []);
  deepEqual(w.range(-HOUR - 1, 0), [-2 * HOUR, -HOUR]);
  throws(() => minutely().range(0, days(365)), /limit of 100000/);
  throws(() => w.range(NaN, t), RangeError);
});

Deno.test("window.range() matches a brute-force intersection", () => {
  const w = minutely();
  fc.assert(
    fc.property(
      fc.integer({ min: -1e9, max: 1e9 }),
      fc.integer({ min: -600_000, max: 3_000_000 }),
      (start, length) => {
        const end = start + length;
        const got = w.range(start, end);
        const expected: number[] = [];
        for (
          let b = w.bucketOf(start - MINUTE);
          b < end + MINUTE;
          b += MINUTE
        ) {
          if (start < end && b < end && b + MINUTE > start) expected.push(b);
        }
        deepEqual(got, expected);
      },
    ),
  );
});

Deno.test("coverage() reports the [start, end) interval of bucket lists", () => {
  const w = daily();
  const now = Date.UTC(2024, 2, 10, 15);
  deepEqual(coverage(w, w.lastN(7, now)), {
    start: Date.UTC(2024, 2, 4),
    end: Date.UTC(2024, 2, 11),
  });
  equal(coverage(w, []), null);
  throws(() => coverage(w, [0, 2 * DAY]), /gaps/);
  throws(() => coverage(w, [5]), RangeError);
});

Deno.test("trailing() on one window over-covers by less than one bucket", () => {
  const now = Date.UTC(2024, 2, 10, 15, 30);
  const plan = trailing(daily(), days(7), { now });
  equal(plan.parts.length, 1);
  deepEqual(
    plan.parts[0]!.buckets,
    daily().range(Date.UTC(2024, 2, 3), Date.UTC(2024, 2, 11)),
  );
  deepEqual(plan.requested, { start: now - days(7), end: now });
  deepEqual(plan.coverage, {
    start: Date.UTC(2024, 2, 3),
    end: Date.UTC(2024, 2, 11),
  });
  equal(plan.exact, false);
  const under = trailing(daily(), days(7), { now, edge: "exclude" });
  deepEqual(under.coverage, {
    start: Date.UTC(2024, 2, 4),
    end: Date.UTC(2024, 2, 11),
  });
});

Deno.test("trailing() combines coarse and fine windows without overlap", () => {
  const now = Date.UTC(2024, 2, 10, 15, 30, 12);
  const plan = trailing([minutely(), daily(), hourly()], days(2), { now });
  const grains = plan.parts.map((p) => p.window.granularity);
  deepEqual(grains, ["day", "hour", "minute"]);
  const intervals = plan.parts.flatMap((p) =>
    p.buckets.map((b) => [b, b + p.window.size] as const)
  ).sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < intervals.length; i++) {
    equal(
      intervals[i]![0],
      intervals[i - 1]![1],
      "parts are contiguous and disjoint",
    );
  }
  equal(intervals[0]![0], plan.coverage!.start);
  equal(plan.coverage!.start, Date.UTC(2024, 2, 8, 15, 30));
  equal(plan.coverage!.end, Date.UTC(2024, 2, 11));
  equal(plan.exact, false);
  const aligned = trailing([daily(), hourly()], hours(24), {
    now: Date.UTC(2024, 2, 10, 15),
  });
  equal(aligned.exact, true);
  deepEqual(aligned.parts.map((p) => p.buckets.length), [1, 9]);
});

Deno.test("trailing() covers the requested start within one finest bucket", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 4e12 }),
      fc.integer({ min: 1, max: days(40) }),
      fc.constantFrom<"include" | "exclude">("include", "exclude"),
      (now, duration, edge) => {
        const plan = trailing([daily(), hourly(), minutely()], duration, {
          now,
          edge,
        });
        const start = now - duration;
        if (plan.coverage === null) {
          equal(edge, "exclude");
          return;
        }
        if (edge === "include") {
          equal(
            plan.coverage.start <= start &&
              start - plan.coverage.start < MINUTE,
            true,
          );
        } else {
          equal(
            plan.coverage.start >= start &&
              plan.coverage.start - start < MINUTE,
            true,
          );
        }
        equal(plan.exact, plan.coverage.start === start);
        equal(plan.coverage.end > now, true);
      },
    ),
  );
});

Deno.test("trailing() refuses bad durations and oversized plans", () => {
  throws(() => trailing(daily(), 0), RangeError);
  throws(() => trailing([], days(1)), RangeError);
  throws(() => trailing(minutely(), days(365), { now: 0 }), /limit of 100000/);
});

Deno.test("mergeBuckets() skips missing buckets instead of folding a fake zero", () => {
  equal(mergeBuckets(max(), [-3, undefined, -7]), -3);
  equal(mergeBuckets(max(), [undefined]), undefined);
  equal(mergeBuckets(sum(), []), undefined);
  equal(mergeBuckets(count(), [1, undefined, 2]), 3);
});
