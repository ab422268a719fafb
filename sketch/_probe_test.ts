import assert from "node:assert/strict";
import fc from "fast-check";
import { modOf, nextProbe } from "./_probe.ts";
import { blockOf } from "./_bloom_blocked.ts";

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

Deno.test("blockOf() is floor((h >>> 1) * blocks / 2^31), exactly, for every block count up to 2^22", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      fc.integer({ min: 1, max: 2 ** 22 }),
      (h, blocks) => {
        assert.equal(
          blockOf(h, blocks),
          Number((BigInt(h >>> 1) * BigInt(blocks)) >> 31n),
        );
      },
    ),
    { numRuns: 20_000 },
  );
  assert.equal(blockOf(2 ** 32 - 1, 2 ** 22 - 1), 2 ** 22 - 2);
  assert.equal(blockOf(0, 7), 0);
});

Deno.test("modOf() is x % m for every 32-bit x and m up to 2^31", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      fc.integer({ min: 1, max: 2 ** 31 }),
      (x, m) => {
        assert.equal(modOf(x, m, 1 / m), x % m);
      },
    ),
    { numRuns: 50_000 },
  );
  // Near multiples of m, where a rounded quotient would be off by one.
  for (const m of [1, 3, 7, 9_585_059, 2 ** 31 - 1, 2 ** 31]) {
    for (let q = 0; q * m < 2 ** 32; q += Math.max(1, Math.floor(q / 2))) {
      for (const x of [q * m - 1, q * m, q * m + 1]) {
        if (x >= 0 && x < 2 ** 32) {
          assert.equal(modOf(x, m, 1 / m), x % m, `${x} ${m}`);
        }
      }
    }
  }
});
