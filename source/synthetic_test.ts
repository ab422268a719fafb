import assert from "node:assert/strict";
import { seededRandom, SyntheticSource, Zipf } from "./synthetic.ts";
import type { SourceRecord } from "./source.ts";
import { seededRandom as internalSeededRandom } from "../internal/prng.ts";

async function take<T>(source: SyntheticSource<T>): Promise<SourceRecord<T>[]> {
  const out: SourceRecord<T>[] = [];
  for await (const batch of source) for (const r of batch) out.push(r);
  return out;
}

// Determinism and range are internal/prng's tests; the public function must be that generator.
Deno.test("seededRandom() is deterministic and in [0, 1): the sequence of internal/prng", () => {
  for (const seed of [5, 6]) {
    const ours = seededRandom(seed);
    const shared = internalSeededRandom(seed);
    const xs = Array.from({ length: 1000 }, () => ours());
    assert.deepEqual(xs, Array.from({ length: 1000 }, () => shared()));
    assert.ok(xs.every((x) => x >= 0 && x < 1));
  }
});

Deno.test("Zipf draws follow the skew: rank 0 is the most frequent", () => {
  const zipf = new Zipf(100, 1.1, seededRandom(1));
  const counts = new Array(100).fill(0);
  for (let i = 0; i < 50_000; i++) counts[zipf.next()]++;
  assert.ok(
    counts[0] > counts[1] && counts[1] > counts[9] && counts[9] > counts[99],
  );
  // P(0) / P(1) = 2^1.1 ≈ 2.14
  const ratio = counts[0] / counts[1];
  assert.ok(ratio > 1.9 && ratio < 2.4, `ratio ${ratio}`);
  const uniform = new Zipf(10, 0, seededRandom(2));
  const u = new Array(10).fill(0);
  for (let i = 0; i < 20_000; i++) u[uniform.next()]++;
  assert.ok(Math.min(...u) > 1700 && Math.max(...u) < 2300);
  assert.throws(() => new Zipf(0, 1, Math.random), RangeError);
  assert.throws(() => new Zipf(10, -1, Math.random), RangeError);
});

Deno.test("SyntheticSource generates the same events for the same seed, with positions", async () => {
  const opts = {
    entities: 50,
    seed: 9,
    total: 1200,
    batchSize: 500,
    startTime: 1_000,
    timeStep: 10,
  } as const;
  const a = await take(new SyntheticSource(opts));
  const b = await take(new SyntheticSource(opts));
  assert.equal(a.length, 1200);
  assert.deepEqual(a.map((r) => r.value), b.map((r) => r.value));
  assert.equal(a[3]!.time, 1_030);
  assert.equal(a[3]!.position, 3n);
  assert.equal(a[3]!.stream, "synthetic:synthetic");
  assert.equal(a[3]!.id, "synthetic:3");
});

Deno.test("SyntheticSource builds custom events and tracks acks", async () => {
  const source = new SyntheticSource({
    total: 10,
    make: (d) => ({
      page: `p${d.rank}`,
      visitor: Math.floor(d.random() * 100),
    }),
  });
  const records = await take(source);
  assert.ok(records.every((r) => r.value!.page.startsWith("p")));
  records[1]!.ack();
  assert.equal(source.committable(), undefined);
  records[0]!.ack();
  records[0]!.ack();
  assert.equal(source.committable(), 1n);
  assert.equal(source.acked, 2);
});

Deno.test("SyntheticSource paces itself to the rate and stops on close()", async () => {
  const source = new SyntheticSource({ rate: 1000, batchSize: 50 });
  const started = Date.now();
  let n = 0;
  for await (const batch of source) {
    n += batch.length;
    if (n >= 200) await source.close();
  }
  assert.equal(n, 200);
  assert.ok(
    Date.now() - started >= 100,
    "200 events at 1000/s take at least ~150 ms",
  );
});
