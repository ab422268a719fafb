import {
  assertMonoidFlags,
  assertRefusesBytes,
  type BadBytesCase,
} from "./_test_helpers.ts";
import assert from "node:assert/strict";
import fc from "fast-check";
import { CodecError, type JsonValue } from "../monoid/mod.ts";
import { assertMonoidLaws } from "../monoid/laws.ts";
import {
  bloom,
  bloomCodec,
  BloomFilter,
  bloomShape,
  IncompatibleSketchError,
} from "./bloom.ts";

Deno.test("bloomShape() sizes the default at about 12 KB: 95 851 bits and 7 probes", () => {
  assert.deepEqual(bloomShape(), {
    capacity: 10_000,
    falsePositiveRate: 0.01,
    bits: 95_851,
    hashes: 7,
    layout: "standard",
  });
  const filter = new BloomFilter();
  assert.equal(filter.byteLength, 11_982);
  assert.equal(filter.toBytes().length, 12_000);
  assert.deepEqual(
    bloomShape({ capacity: 1_000_000, falsePositiveRate: 0.001 }).hashes,
    10,
  );
});

Deno.test("bloomShape() refuses out-of-range options with a RangeError", () => {
  const bad = [
    { capacity: 0 },
    { capacity: -5 },
    { capacity: 1.5 },
    { falsePositiveRate: 0 },
    { falsePositiveRate: 1 },
    { falsePositiveRate: Number.NaN },
    { capacity: 2 ** 40 },
    { falsePositiveRate: 1e-300 },
  ];
  for (const options of bad) {
    assert.throws(
      () => bloomShape(options),
      RangeError,
      JSON.stringify(options),
    );
    assert.throws(() => new BloomFilter(options), RangeError);
    assert.throws(() => bloom(options), RangeError);
  }
});

Deno.test("bloom.has() never forgets an added item", () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.string(), fc.uint8Array({ maxLength: 20 })), {
        maxLength: 200,
      }),
      fc.integer({ min: 1, max: 300 }),
      (items, capacity) => {
        const filter = new BloomFilter({ capacity });
        filter.addAll(items);
        for (const item of items) assert.ok(filter.has(item));
      },
    ),
  );
});

Deno.test("bloom: the measured false-positive rate stays within the configured bound", () => {
  for (
    const [capacity, rate] of [[10_000, 0.01], [5000, 0.001], [
      2000,
      0.05,
    ]] as const
  ) {
    const filter = new BloomFilter({ capacity, falsePositiveRate: rate });
    for (let i = 0; i < capacity; i++) filter.add(`member:${i}`);
    const probes = 200_000;
    let positives = 0;
    for (let i = 0; i < probes; i++) {
      if (filter.has(`stranger:${i}`)) positives++;
    }
    const measured = positives / probes;
    // Slack for sampling noise (about 3 standard deviations) and rounding of m and k.
    assert.ok(
      measured <= rate * 1.25,
      `capacity ${capacity}, rate ${rate}: measured ${measured}`,
    );
    // Below capacity the rate is far lower.
    const half = new BloomFilter({ capacity, falsePositiveRate: rate });
    for (let i = 0; i < capacity / 2; i++) half.add(`member:${i}`);
    let halfPositives = 0;
    for (let i = 0; i < probes; i++) {
      if (half.has(`stranger:${i}`)) halfPositives++;
    }
    assert.ok(
      halfPositives / probes < rate / 4,
      `half full: ${halfPositives / probes}`,
    );
  }
});

Deno.test("bloom.add() reports new items and checks its argument", () => {
  const filter = new BloomFilter({ capacity: 100 });
  assert.equal(filter.add("a"), true);
  assert.equal(filter.add("a"), false);
  assert.equal(filter.addAll(["a", "b", "c"]), 2);
  assert.equal(filter.has(new TextEncoder().encode("b")), true);
  assert.throws(() => filter.add(1 as unknown as string), TypeError);
  assert.throws(() => filter.has(null as unknown as string), TypeError);
});

Deno.test("bloom.count() estimates the number of distinct items", () => {
  const filter = new BloomFilter();
  assert.equal(filter.count(), 0);
  let added = 0;
  for (const n of [100, 1000, 5000, 10_000]) {
    while (added < n) filter.add(`x${added++}`);
    const estimate = filter.count();
    assert.ok(Math.abs(estimate - n) / n < 0.05, `n = ${n}: ${estimate}`);
  }
  const tiny = new BloomFilter({ capacity: 1 });
  for (let i = 0; i < 200; i++) tiny.add(`flood${i}`);
  assert.equal(tiny.count(), Infinity);
});

Deno.test("bloom.merge() ORs filters of one shape and leaves both alone", () => {
  const a = new BloomFilter({ capacity: 500 });
  a.addAll(["a1", "a2"]);
  const b = new BloomFilter({ capacity: 500 });
  b.addAll(["b1"]);
  const before = [a.toBytes(), b.toBytes()];
  const union = a.merge(b);
  for (const item of ["a1", "a2", "b1"]) assert.ok(union.has(item));
  assert.deepEqual([a.toBytes(), b.toBytes()], before);
  assert.ok(union.equals(b.merge(a)));
  assert.ok(union.merge(union).equals(union));
  assert.ok(!union.isEmpty() && new BloomFilter().isEmpty());
});

Deno.test("bloom.merge() refuses filters of another shape with IncompatibleSketchError", () => {
  const base = new BloomFilter({ capacity: 1000, falsePositiveRate: 0.01 });
  for (
    const other of [
      new BloomFilter({ capacity: 2000, falsePositiveRate: 0.01 }),
      new BloomFilter({ capacity: 1000, falsePositiveRate: 0.02 }),
    ]
  ) {
    assert.throws(
      () => base.merge(other),
      (error: unknown) =>
        error instanceof IncompatibleSketchError &&
        /cannot merge a filter of capacity/.test(error.message),
    );
    assert.equal(base.equals(other), false);
  }
  assert.throws(
    () =>
      bloom({ capacity: 10 }).combine(
        new BloomFilter({ capacity: 10 }),
        new BloomFilter(),
      ),
    IncompatibleSketchError,
  );
});

Deno.test("bloom.clone() is independent and keeps a decoded shape", () => {
  const a = new BloomFilter({ capacity: 50 });
  const b = a.clone();
  b.add("only-b");
  assert.ok(!a.has("only-b") && b.has("only-b"));
  // A shape this build would not derive (bits from another implementation) survives clone and merge.
  const foreign = BloomFilter.fromJSON({
    capacity: 50,
    falsePositiveRate: 0.01,
    bits: 500,
    hashes: 3,
    data: new Uint8Array(63).toBase64(),
  });
  foreign.add("f");
  const copy = foreign.clone();
  assert.equal(copy.bits, 500);
  assert.ok(copy.has("f"));
  assert.ok(copy.merge(foreign).equals(foreign));
});

Deno.test("bloom() is a commutative, idempotent monoid of kind bloom", () => {
  const monoid = bloom({ capacity: 300, falsePositiveRate: 0.02 });
  assertMonoidFlags(
    monoid,
    "bloom",
    ["commutative", "idempotent"],
    "murmur.bloom.v1",
  );
  const filters = fc.array(fc.string({ maxLength: 5 }), { maxLength: 40 }).map(
    (items) => {
      const filter = monoid.identity();
      filter.addAll(items);
      return filter;
    },
  );
  assertMonoidLaws(monoid, filters, { equals: (a, b) => a.equals(b) });
  assert.throws(
    () =>
      monoid.codec.decode(
        new BloomFilter({ capacity: 301, falsePositiveRate: 0.02 }).toBytes(),
      ),
    (error: unknown) =>
      error instanceof CodecError &&
      /monoid expects capacity 300/.test(error.message),
  );
  assert.throws(
    () => monoid.codec.fromJSON(new BloomFilter().toJSON()),
    CodecError,
  );
});

Deno.test("bloom: the bits an item sets are fixed by format v1 (filters written before stay readable)", () => {
  // Written by the implementation of December 2026 before its hashing was
  // rewritten: the same items must keep setting the same bits.
  const items: (string | Uint8Array)[] = [
    "",
    "a",
    "order-17",
    "exactly16chars!!",
    "seventeen chars!!",
    "h\u00e9llo",
    "\u65e5\u672c",
    "\u{1f995}",
    "x".repeat(40),
    new Uint8Array([0, 1, 2, 255]),
    new Uint8Array(20).fill(7),
  ];
  const golden = [
    [50, 0.05, "AEgAEABAAAQVAAQAAAIEkQAgBAAAIARKCUAgKhEiBAIACAAAAMgQ"],
    [
      20,
      0.0001,
      "GREoWiXuxEQwAQrcItHM4DgebIwAUzgDKAIEQ4UQyUFnBUAAIS50hCAQnAAwEUpA",
    ],
    [3, 0.000001, "/v///7/3+///338="],
  ] as const;
  for (const [capacity, falsePositiveRate, data] of golden) {
    const filter = new BloomFilter({ capacity, falsePositiveRate });
    filter.addAll(items);
    assert.equal((filter.toJSON() as { data: string }).data, data);
    const stored = BloomFilter.fromJSON({
      ...(filter.toJSON() as Record<string, JsonValue>),
      data,
    });
    for (const item of items) assert.equal(stored.has(item), true);
  }
});

Deno.test("bloom.toBytes() round trips through bytes and JSON", () => {
  const filter = new BloomFilter({ capacity: 100, falsePositiveRate: 0.05 });
  filter.addAll(["x", "y"]);
  const bytes = filter.toBytes();
  assert.deepEqual([...bytes.subarray(0, 5)], [0x4d, 0x42, 0x46, 1, 100]);
  const decoded = BloomFilter.fromBytes(bytes);
  assert.ok(decoded.equals(filter));
  assert.deepEqual(decoded.toBytes(), bytes);
  const json = JSON.parse(JSON.stringify(bloomCodec.toJSON(filter)));
  assert.ok(bloomCodec.fromJSON(json).equals(filter));
  assert.deepEqual(
    Object.keys(json).sort(),
    ["bits", "capacity", "data", "falsePositiveRate", "hashes"],
  );
});

Deno.test("BloomFilter.fromBytes() rejects truncated and malformed bytes with a CodecError", () => {
  const good = new BloomFilter({ capacity: 20 }).toBytes();
  for (let length = 0; length < good.length; length++) {
    assert.throws(
      () => BloomFilter.fromBytes(good.subarray(0, length)),
      CodecError,
      `length ${length}`,
    );
  }
  const header = (
    capacity: number,
    rate: number,
    bits: number,
    hashes: number,
  ) => {
    const out = [0x4d, 0x42, 0x46, 1, capacity];
    const f64 = new Uint8Array(8);
    new DataView(f64.buffer).setFloat64(0, rate, true);
    return [...out, ...f64, bits, hashes];
  };
  const cases: BadBytesCase[] = [
    ["trailing byte", [...good, 0], /unexpected bytes after the end/],
    ["other magic", [0x4d, 0x42, 0x47, 1], /not a Bloom filter/],
    ["version 9", [0x4d, 0x42, 0x46, 9], /unsupported version 9/],
    [
      "capacity 0",
      [...header(0, 0.01, 8, 1), 0],
      /capacity must be at least 1/,
    ],
    ["rate 0", [...header(5, 0, 8, 1), 0], /rate 0 is not between 0 and 1/],
    ["rate NaN", [...header(5, Number.NaN, 8, 1), 0], /rate NaN/],
    ["rate 1", [...header(5, 1, 8, 1), 0], /rate 1 is not/],
    ["zero bits", header(5, 0.01, 0, 1), /bit count 0/],
    [
      "zero probes",
      [...header(5, 0.01, 8, 0), 0],
      /probe count must be at least 1/,
    ],
    [
      "padding bit set",
      [...header(5, 0.01, 7, 1), 0x80],
      /bits past the bit count/,
    ],
    ["short bit array", [...header(5, 0.01, 16, 1), 0], /truncated bit array/],
  ];
  assertRefusesBytes((bytes) => BloomFilter.fromBytes(bytes), cases);
  const huge = [
    0x4d,
    0x42,
    0x46,
    1,
    5,
    ...new Uint8Array(8).fill(0x3f),
    0x81,
    0x80,
    0x80,
    0x80,
    0x10,
    1,
  ];
  assert.throws(() => BloomFilter.fromBytes(Uint8Array.from(huge)), CodecError);
  assert.throws(
    () => BloomFilter.fromBytes("MBF" as unknown as Uint8Array),
    CodecError,
  );
});

Deno.test("BloomFilter.fromJSON() rejects malformed JSON with a CodecError", () => {
  const good = new BloomFilter({ capacity: 10 }).toJSON() as Record<
    string,
    unknown
  >;
  const cases: unknown[] = [
    null,
    [],
    { ...good, data: 5 },
    { ...good, data: "%%%" },
    { ...good, data: undefined },
    { ...good, falsePositiveRate: "0.01" },
    { ...good, bits: -1 },
    { ...good, hashes: 256 },
    { ...good, capacity: 1.5 },
    { ...good, bits: 97 },
  ];
  for (const json of cases) {
    assert.throws(
      () => BloomFilter.fromJSON(json as never),
      CodecError,
      JSON.stringify(json),
    );
  }
});
