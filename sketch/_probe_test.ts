import assert from "node:assert/strict";
import fc from "fast-check";
import { nextProbe } from "./_probe.ts";

Deno.test("nextProbe() is (x + y) mod m for every m up to 2^31", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 2 ** 31 }),
      fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
      fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
      (m, a, b) => {
        const x = Math.floor(a * m);
        const y = Math.floor(b * m);
        assert.equal(nextProbe(x, y, m), (x + y) % m);
      },
    ),
    { numRuns: 20_000 },
  );
  for (const m of [1, 2, 3, 2 ** 31 - 1, 2 ** 31]) {
    for (const x of [0, m - 1, m >>> 1]) {
      for (const y of [0, m - 1, (m >>> 1) + 1]) {
        if (y < m) {
          assert.equal(nextProbe(x, y, m), (x + y) % m, `${x} ${y} ${m}`);
        }
      }
    }
  }
});
