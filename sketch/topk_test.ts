import {
  assertMonoidFlags,
  assertRefusesBytes,
  type BadBytesCase,
} from "./_test_helpers.ts";
import assert from "node:assert/strict";
import fc from "fast-check";
import { CodecError } from "../monoid/mod.ts";
import { assertMonoidLaws } from "../monoid/laws.ts";
import { IncompatibleSketchError, TopK, topK, topKCodec } from "./topk.ts";

type Stream = [string, number][];

function truth(stream: Stream): Map<string, number> {
  const counts = new Map<string, number>();
  for (const [key, weight] of stream) {
    counts.set(key, (counts.get(key) ?? 0) + weight);
  }
  return counts;
}

function sketchOf(stream: Stream, k: number): TopK {
  const sketch = new TopK({ k });
  for (const [key, weight] of stream) sketch.add(key, weight);
  return sketch;
}

// The guarantees documented on TopK, checked against the exact counts of the stream.
function assertGuarantees(sketch: TopK, stream: Stream, where: string): void {
  const exact = truth(stream);
  const total = stream.reduce((sum, [, weight]) => sum + weight, 0);
  assert.equal(sketch.total, total, where);
  assert.equal(sketch.size, Math.min(sketch.k, exact.size), `${where}: size`);
  assert.ok(sketch.threshold * sketch.k <= total, `${where}: threshold ≤ N/k`);
  let kept = 0;
  for (const item of sketch.top()) {
    assert.ok(item.error * sketch.k <= total, `${where}: error ≤ N/k`);
    assert.ok(item.count >= sketch.threshold, `${where}: count ≥ threshold`);
    kept += item.count;
  }
  assert.ok(kept <= total, `${where}: kept counts ≤ N`);
  for (const [key, count] of exact) {
    const { lower, upper } = sketch.frequency(key);
    assert.ok(
      lower <= count && count <= upper,
      `${where}: ${key}=${count} outside [${lower}, ${upper}]`,
    );
    if (count * sketch.k > total) {
      assert.ok(
        sketch.top().some((item) => item.key === key),
        `${where}: heavy ${key} missing`,
      );
    }
  }
}

// Every key's bounds overlap: both sketches could describe the same stream.
function consistent(a: TopK, b: TopK): boolean {
  if (a.k !== b.k || a.total !== b.total) return false;
  for (const { key } of [...a.top(), ...b.top()]) {
    const x = a.frequency(key);
    const y = b.frequency(key);
    if (x.lower > y.upper || y.lower > x.upper) return false;
  }
  return true;
}

const skewedStream = fc.array(
  fc.tuple(
    fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom("a", "b", "c") },
      {
        weight: 2,
        arbitrary: fc.integer({ min: 0, max: 40 }).map((i) => `k${i}`),
      },
    ),
    fc.oneof(
      { weight: 4, arbitrary: fc.constant(1) },
      { weight: 1, arbitrary: fc.integer({ min: 1, max: 50 }) },
    ),
  ),
  { maxLength: 120 },
);

type Tree = Stream | [Tree, Tree];

function split(stream: Stream, cuts: number[]): Stream[] {
  const parts: Stream[] = [];
  let start = 0;
  for (
    const cut of [...cuts].map((c) => c % (stream.length + 1)).sort((x, y) =>
      x - y
    )
  ) {
    parts.push(stream.slice(start, Math.max(start, cut)));
    start = Math.max(start, cut);
  }
  parts.push(stream.slice(start));
  return parts;
}

function combineTree(parts: Stream[], k: number, shape: number[]): TopK {
  let sketches = parts.map((part) => sketchOf(part, k));
  let s = 0;
  while (sketches.length > 1) {
    const i = (shape[s++ % Math.max(1, shape.length)] ?? 0) %
      (sketches.length - 1);
    const merged = sketches[i]!.merge(sketches[i + 1]!);
    sketches = [...sketches.slice(0, i), merged, ...sketches.slice(i + 2)];
  }
  return sketches[0]!;
}

Deno.test("topk: the guarantees hold for every grouping of merges", () => {
  fc.assert(
    fc.property(
      skewedStream,
      fc.integer({ min: 1, max: 8 }),
      fc.array(fc.nat(), { maxLength: 5 }),
      fc.array(fc.nat(), { maxLength: 6 }),
      (stream, k, cuts, shape) => {
        assertGuarantees(sketchOf(stream, k), stream, "sequential");
        const merged = combineTree(split(stream, cuts), k, shape);
        assertGuarantees(merged, stream, "merged");
      },
    ),
    { numRuns: 400 },
  );
});

Deno.test("topk: merging is exact and associative while at most k keys are involved", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(
          fc.constantFrom("a", "b", "c", "d"),
          fc.integer({ min: 1, max: 9 }),
        ),
        { maxLength: 40 },
      ),
      fc.array(fc.nat(), { maxLength: 4 }),
      fc.array(fc.nat(), { maxLength: 4 }),
      (stream, cuts, shape) => {
        const parts = split(stream, cuts);
        const grouped = combineTree(parts, 4, shape);
        const sequential = sketchOf(stream, 4);
        assert.ok(grouped.equals(sequential));
        for (const [key, count] of truth(stream)) {
          assert.deepEqual(grouped.frequency(key), {
            lower: count,
            upper: count,
          });
        }
        assert.equal(grouped.threshold, 0);
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("topk.add() is the same as merging the one-key sketch", () => {
  fc.assert(
    fc.property(skewedStream, fc.integer({ min: 1, max: 6 }), (stream, k) => {
      const folded = new TopK({ k });
      const general = new TopK({ k });
      for (const [key, weight] of stream) {
        folded.mergeInPlace(new TopK({ k }).add(key, weight));
        // A merged sketch, so the general merge path (not the one-key shortcut) runs.
        general.mergeInPlace(
          new TopK({ k }).add(key, weight).merge(new TopK({ k })),
        );
      }
      const sequential = sketchOf(stream, k);
      assert.ok(folded.equals(sequential));
      assert.deepEqual(folded.toBytes(), sequential.toBytes());
      assert.ok(general.equals(sequential));
    }),
    { numRuns: 200 },
  );
});

Deno.test("topk.merge() is commutative and leaves both inputs alone", () => {
  fc.assert(
    fc.property(
      skewedStream,
      skewedStream,
      fc.integer({ min: 1, max: 5 }),
      (x, y, k) => {
        const a = sketchOf(x, k);
        const b = sketchOf(y, k);
        const before = [a.toBytes(), b.toBytes()];
        assert.deepEqual(a.merge(b).toBytes(), b.merge(a).toBytes());
        assert.deepEqual([a.toBytes(), b.toBytes()], before);
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("topk.merge() never empties the sketch (the Go original's truncating merge did)", () => {
  // Ten singletons then an eleventh: the Go merge subtracted the 11th count and left nothing.
  const monoid = topK({ k: 10 });
  const lifted = Array.from(
    { length: 11 },
    (_, i) => monoid.identity().add(`key${i}`),
  );
  const result = monoid.combineAll(lifted);
  assert.equal(result.size, 10);
  assert.equal(result.total, 11);
  assert.equal(result.threshold, 1);
  assert.ok(result.top().every((item) => item.count === 1 && item.error === 0));
  // Ties keep the smaller keys: "key10" sorts before "key2", so "key9" was the one left out.
  assert.deepEqual(result.frequency("key9"), { lower: 0, upper: 1 });
  // One more occurrence of it makes it the leader, with a known error.
  const next = monoid.combine(result, monoid.identity().add("key9"));
  assert.deepEqual(next.top(1), [{ key: "key9", count: 2, error: 1 }]);
  assert.equal(next.size, 10);
});

Deno.test("topk: a heavy hitter survives a flood of distinct keys", () => {
  const sketch = new TopK({ k: 5 });
  for (let i = 0; i < 10_000; i++) {
    sketch.add(`noise${i}`);
    if (i % 3 === 0) sketch.add("hot");
  }
  const [first] = sketch.top(1);
  assert.equal(first?.key, "hot");
  const { lower, upper } = sketch.frequency("hot");
  assert.ok(lower <= 3334 && 3334 <= upper);
  assert.ok(upper - lower <= sketch.total / 5);
});

Deno.test("topk.top() sorts by count then key and validates n", () => {
  const sketch = new TopK({ k: 4 }).add("b", 2).add("a", 2).add("c", 5);
  assert.deepEqual(sketch.top().map((item) => item.key), ["c", "a", "b"]);
  assert.deepEqual(sketch.top(0), []);
  assert.equal(sketch.top(10).length, 3);
  for (const n of [-1, 1.5, Number.NaN]) {
    assert.throws(() => sketch.top(n), RangeError);
  }
});

Deno.test("topk.add() validates keys and weights", () => {
  const sketch = new TopK({ k: 2 });
  for (const weight of [0, -1, 1.5, Number.NaN, Infinity]) {
    assert.throws(() => sketch.add("a", weight), RangeError);
  }
  assert.throws(() => sketch.add(5 as unknown as string), TypeError);
  assert.throws(() => sketch.add("bad\ud800"), TypeError);
  sketch.add("a", Number.MAX_SAFE_INTEGER - 1);
  assert.throws(() => sketch.add("a", 2), RangeError);
  assert.equal(sketch.total, Number.MAX_SAFE_INTEGER - 1);
  assert.throws(() => sketch.merge(sketch), RangeError);
  for (const k of [0, -1, 1.5, 2 ** 21]) {
    assert.throws(() => new TopK({ k }), RangeError);
    assert.throws(() => topK({ k }), RangeError);
  }
});

Deno.test("topk.merge() refuses sketches of another k", () => {
  assert.throws(
    () => new TopK({ k: 3 }).merge(new TopK({ k: 4 })),
    (error: unknown) =>
      error instanceof IncompatibleSketchError &&
      /k=4 into one of k=3/.test(error.message),
  );
});

Deno.test("topK() is a commutative, non-idempotent monoid of kind topk", () => {
  const monoid = topK({ k: 3 });
  assert.equal(monoid.name, "topk(k=3)");
  assertMonoidFlags(monoid, "topk", ["commutative"], "murmur.topk.v1");
  assert.equal(topK().identity().k, 10);
  assert.throws(
    () => monoid.codec.decode(new TopK({ k: 4 }).toBytes()),
    (error: unknown) =>
      error instanceof CodecError && /expects k=3/.test(error.message),
  );
  assert.throws(
    () => monoid.codec.fromJSON(new TopK({ k: 4 }).toJSON()),
    CodecError,
  );
});

const exactSketches = fc.array(
  fc.tuple(
    fc.constantFrom("a", "b", "c", "é", ""),
    fc.integer({ min: 1, max: 1000 }),
  ),
  { maxLength: 12 },
).map((stream) => sketchOf(stream, 5));

const truncatedSketches = skewedStream.map((stream) => sketchOf(stream, 3));

Deno.test("topK() passes the monoid laws exactly while at most k keys are involved", () => {
  assertMonoidLaws(topK({ k: 5 }), exactSketches, {
    equals: (a, b) => a.equals(b),
  });
});

Deno.test("topK() passes the monoid laws on truncated sketches, comparing their guarantees", () => {
  assertMonoidLaws(topK({ k: 3 }), truncatedSketches, {
    equals: consistent,
    numRuns: 150,
  });
});

Deno.test("topk.toBytes() is canonical and round trips through bytes and JSON", () => {
  fc.assert(
    fc.property(skewedStream, fc.integer({ min: 1, max: 6 }), (stream, k) => {
      const sketch = sketchOf(stream, k);
      const bytes = sketch.toBytes();
      const decoded = TopK.fromBytes(bytes);
      assert.ok(decoded.equals(sketch));
      assert.deepEqual(decoded.toBytes(), bytes);
      const json = JSON.parse(JSON.stringify(topKCodec.toJSON(sketch)));
      assert.ok(TopK.fromJSON(json).equals(sketch));
      // Decoded sketches keep working.
      decoded.add("later", 3);
      sketch.add("later", 3);
      assert.ok(decoded.equals(sketch));
    }),
    { numRuns: 200 },
  );
  const bytes = new TopK({ k: 2 }).add("é", 300).toBytes();
  assert.deepEqual(
    [...bytes],
    [0x4d, 0x54, 0x4b, 1, 2, 0xac, 0x02, 0, 1, 2, 0xc3, 0xa9, 0xac, 0x02, 0],
  );
});

Deno.test("TopK.fromBytes() rejects every truncation and malformed field with a CodecError", () => {
  const good = new TopK({ k: 2 }).add("a", 3).add("b", 2).add("c").toBytes();
  for (let length = 0; length < good.length; length++) {
    assert.throws(
      () => TopK.fromBytes(good.subarray(0, length)),
      CodecError,
      `length ${length}`,
    );
  }
  const head = [0x4d, 0x54, 0x4b, 1];
  const ones = (n: number) => new Array<number>(n).fill(0xff);
  const cases: BadBytesCase[] = [
    ["trailing byte", [...good, 0], /unexpected bytes after the end/],
    ["other magic", [0x4d, 0x54, 0x58, 1, 1, 0, 0, 0], /not a Top-K sketch/],
    ["version 2", [0x4d, 0x54, 0x4b, 2, 1, 0, 0, 0], /unsupported version 2/],
    ["k = 0", [...head, 0, 0, 0, 0], /k=0/],
    [
      "more keys than k",
      [...head, 1, 2, 0, 2, 1, 0x61, 1, 0, 1, 0x62, 1, 0],
      /more than k=1/,
    ],
    // Eight continuation bytes: one more than a varint may have.
    ["varint too long", [...head, ...ones(8), 0x01], /at most 8 bytes/],
    // Seven continuation bytes and 0x7f: 56 bits, past 2^53.
    ["varint past 2^53", [...head, ...ones(7), 0x7f], /larger than 2\^53/],
    ["redundant varint byte", [...head, 0x81, 0x00, 0, 0, 0], /redundant/],
    [
      "out of order",
      [...head, 3, 3, 0, 2, 1, 0x62, 1, 0, 1, 0x61, 2, 0],
      /canonical order/,
    ],
    [
      "duplicate key",
      [...head, 3, 2, 0, 2, 1, 0x61, 1, 0, 1, 0x61, 1, 0],
      /canonical order/,
    ],
    [
      "error above count",
      [...head, 3, 9, 0, 1, 1, 0x61, 1, 2],
      /error 2 above its count 1/,
    ],
    [
      "threshold without overflow",
      [...head, 3, 9, 1, 1, 1, 0x61, 1, 0],
      /threshold 0/,
    ],
    [
      "counts above total",
      [...head, 2, 3, 0, 2, 1, 0x61, 2, 0, 1, 0x62, 2, 0],
      /more than the total/,
    ],
    [
      "count below threshold",
      [...head, 1, 9, 2, 1, 1, 0x61, 1, 0],
      /below the threshold/,
    ],
    ["threshold above total/k", [
      ...head,
      2,
      4,
      3,
      2,
      1,
      0x61,
      3,
      0,
      1,
      0x62,
      3,
      0,
    ], /more than total\/k/],
    ["invalid UTF-8", [...head, 1, 1, 0, 1, 1, 0xff, 1, 0], /not valid UTF-8/],
    [
      "key longer than the bytes",
      [...head, 1, 1, 0, 1, 9, 0x61],
      /truncated key 0/,
    ],
  ];
  assertRefusesBytes((bytes) => TopK.fromBytes(bytes), cases);
  assert.throws(
    () => TopK.fromBytes([1, 2] as unknown as Uint8Array),
    CodecError,
  );
});

Deno.test("TopK.fromJSON() rejects malformed JSON with a CodecError", () => {
  const cases: unknown[] = [
    null,
    [],
    "x",
    { k: 2, total: 1, threshold: 0 },
    { k: 2, total: 1, threshold: 0, items: {} },
    { k: 2, total: 1, threshold: 0, items: [{ key: 1, count: 1, error: 0 }] },
    {
      k: 2,
      total: 1,
      threshold: 0,
      items: [{ key: "a", count: -1, error: 0 }],
    },
    { k: 2, total: 1.5, threshold: 0, items: [] },
    { k: "2", total: 1, threshold: 0, items: [] },
    { k: 2, total: 1, threshold: 0, items: [null] },
    {
      k: 2,
      total: 1,
      threshold: 0,
      items: [{ key: "a\ud800", count: 1, error: 0 }],
    },
  ];
  for (const json of cases) {
    assert.throws(
      () => TopK.fromJSON(json as never),
      CodecError,
      JSON.stringify(json),
    );
  }
});
