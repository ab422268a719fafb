import assert from "node:assert/strict";
import fc from "fast-check";
import { AckTracker } from "./ack_tracker.ts";

Deno.test("AckTracker.committable() is undefined before any ack", () => {
  const t = new AckTracker();
  assert.equal(t.committable("s"), undefined);
  t.delivered("s", 0n);
  assert.equal(t.committable("s"), undefined);
});

Deno.test("AckTracker.ack() out of order never commits past an unfinished record", () => {
  const t = new AckTracker();
  for (let p = 1n; p <= 5n; p++) t.delivered("s", p);
  t.ack("s", 5n);
  t.ack("s", 3n);
  t.ack("s", 2n);
  assert.equal(t.committable("s"), undefined);
  t.ack("s", 1n);
  assert.equal(t.committable("s"), 3n);
  t.ack("s", 4n);
  assert.equal(t.committable("s"), 5n);
  assert.equal(t.pending("s"), 0);
});

Deno.test("AckTracker handles gaps between delivered positions", () => {
  const t = new AckTracker();
  for (const p of [10n, 11n, 15n, 20n, 21n]) t.delivered("s", p);
  assert.equal(t.ack("s", 12n), false, "12 was never delivered");
  t.ack("s", 15n);
  t.ack("s", 10n);
  assert.equal(t.committable("s"), 10n);
  t.ack("s", 11n);
  assert.equal(t.committable("s"), 15n);
  t.ack("s", 21n);
  assert.equal(t.committable("s"), 15n);
  t.ack("s", 20n);
  assert.equal(t.committable("s"), 21n);
});

Deno.test("AckTracker ignores duplicate deliveries and duplicate acks", () => {
  const t = new AckTracker();
  assert.equal(t.delivered("s", 1n), true);
  assert.equal(t.delivered("s", 2n), true);
  assert.equal(t.delivered("s", 2n), false);
  assert.equal(t.delivered("s", 1n), false);
  assert.equal(t.ack("s", 2n), true);
  assert.equal(t.ack("s", 2n), false);
  assert.equal(t.committable("s"), undefined);
  assert.equal(t.ack("s", 1n), true);
  assert.equal(t.ack("s", 1n), false);
  assert.equal(t.committable("s"), 2n);
  assert.equal(t.ack("other", 1n), false);
});

Deno.test("AckTracker keeps many streams apart", () => {
  const t = new AckTracker();
  const streams = Array.from({ length: 50 }, (_, i) => `kafka:t:${i}`);
  for (let p = 0n; p < 100n; p++) {
    for (const s of streams) t.delivered(s, p);
  }
  streams.forEach((s, i) => {
    for (let p = 0n; p < BigInt(i); p++) t.ack(s, p);
  });
  streams.forEach((s, i) => {
    assert.equal(t.committable(s), i === 0 ? undefined : BigInt(i - 1));
  });
  assert.equal(t.committableAll().size, 49);
  assert.deepEqual(t.streams(), streams);
  assert.equal(t.forget(streams[0]!), true);
  assert.equal(t.streams().length, 49);
});

Deno.test("AckTracker stays correct across queue compaction", () => {
  const t = new AckTracker();
  const n = 10_000;
  for (let p = 0; p < n; p++) t.delivered("s", BigInt(p * 2));
  // Ack in windows of 100 in reverse order inside each window.
  for (let w = 0; w < n; w += 100) {
    for (let p = w + 99; p >= w; p--) {
      assert.equal(t.ack("s", BigInt(p * 2)), true);
    }
    assert.equal(t.committable("s"), BigInt((w + 99) * 2));
  }
  t.delivered("s", BigInt(n * 2));
  assert.equal(t.pending("s"), 1);
  t.ack("s", BigInt(n * 2));
  assert.equal(t.committable("s"), BigInt(n * 2));
});

Deno.test("AckTracker.committable() matches a model for any ack order", () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.integer({ min: 0, max: 500 }), {
        minLength: 1,
        maxLength: 60,
      }),
      fc.func(fc.integer()),
      (raw, order) => {
        const positions = [...raw].sort((a, b) => a - b);
        const shuffled = positions
          .map((p, i) => ({ p, k: order(i) }))
          .sort((a, b) => a.k - b.k)
          .map((x) => x.p);
        const t = new AckTracker();
        for (const p of positions) t.delivered("s", BigInt(p));
        const acked = new Set<number>();
        for (const p of shuffled) {
          t.ack("s", BigInt(p));
          acked.add(p);
          let expected: bigint | undefined;
          for (const q of positions) {
            if (!acked.has(q)) break;
            expected = BigInt(q);
          }
          assert.equal(t.committable("s"), expected);
        }
      },
    ),
  );
});
