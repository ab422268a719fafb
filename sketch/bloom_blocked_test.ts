import assert from "node:assert/strict";
import fc from "fast-check";
import { CodecError } from "../monoid/mod.ts";
import { assertMonoidLaws } from "../monoid/laws.ts";
import {
  bloom,
  BloomFilter,
  bloomShape,
  IncompatibleSketchError,
} from "./bloom.ts";
import { blockedFalsePositiveRate } from "./_bloom_blocked.ts";

const BLOCK = 512;

function setBits(filter: BloomFilter): number[] {
  const bytes = filter.toBytes();
  const data = bytes.subarray(bytes.length - filter.byteLength);
  const bits: number[] = [];
  for (let i = 0; i < filter.bits; i++) {
    if ((data[i >>> 3]! & (1 << (i & 7))) !== 0) bits.push(i);
  }
  return bits;
}

Deno.test("bloomShape() sizes a blocked filter in whole 512-bit blocks, meeting the rate by the Poisson model", () => {
  for (
    const [capacity, rate] of [
      [1, 0.5],
      [50, 0.05],
      [10_000, 0.01],
      [1_000_000, 0.01],
      [1000, 1e-6],
    ] as const
  ) {
    const standard = bloomShape({ capacity, falsePositiveRate: rate });
    const shape = bloomShape({
      capacity,
      falsePositiveRate: rate,
      layout: "blocked",
    });
    assert.equal(shape.layout, "blocked");
    assert.equal(shape.bits % BLOCK, 0);
    assert.equal(shape.hashes, standard.hashes);
    assert.ok(shape.bits >= standard.bits, `${capacity} ${rate}`);
    assert.ok(
      blockedFalsePositiveRate(capacity, shape.bits, shape.hashes) <= rate,
    );
    // One block less would miss the rate (or it is the one-block minimum).
    if (shape.bits > BLOCK && shape.bits > standard.bits + BLOCK) {
      assert.ok(
        blockedFalsePositiveRate(capacity, shape.bits * 0.97, shape.hashes) >
          rate,
        `${capacity} ${rate}: ${shape.bits} is not the smallest`,
      );
    }
  }
  // At 1 % the price is a few percent of bits.
  const big = bloomShape({ capacity: 1_000_000, layout: "blocked" });
  assert.ok(big.bits < 9_585_059 * 1.06, `${big.bits}`);
  assert.throws(
    () => bloomShape({ layout: "striped" as "blocked" }),
    (error: unknown) =>
      error instanceof RangeError && /layout must be/.test(error.message),
  );
});

Deno.test("bloom (blocked): an item sets at most k bits, all in one 512-bit block", () => {
  fc.assert(
    fc.property(
      fc.oneof(fc.string(), fc.uint8Array({ maxLength: 40 })),
      fc.integer({ min: 1, max: 5000 }),
      (item, capacity) => {
        const filter = new BloomFilter({
          capacity,
          falsePositiveRate: 0.001,
          layout: "blocked",
        });
        filter.add(item);
        const bits = setBits(filter);
        assert.ok(bits.length >= 1 && bits.length <= filter.hashes);
        assert.equal(
          Math.floor(bits[0]! / BLOCK),
          Math.floor(bits.at(-1)! / BLOCK),
        );
        assert.ok(filter.has(item));
      },
    ),
  );
});

Deno.test("bloom (blocked): has() never forgets, and the measured false-positive rate stays within bound", () => {
  for (const [capacity, rate] of [[10_000, 0.01], [5000, 0.001]] as const) {
    const filter = new BloomFilter({
      capacity,
      falsePositiveRate: rate,
      layout: "blocked",
    });
    for (let i = 0; i < capacity; i++) filter.add(`member:${i}`);
    for (let i = 0; i < capacity; i++) assert.ok(filter.has(`member:${i}`));
    const probes = 200_000;
    let positives = 0;
    for (let i = 0; i < probes; i++) {
      if (filter.has(`stranger:${i}`)) positives++;
    }
    // Slack for sampling noise, as for the standard layout.
    assert.ok(
      positives / probes <= rate * 1.25,
      `capacity ${capacity}, rate ${rate}: measured ${positives / probes}`,
    );
    assert.ok(Math.abs(filter.count() - capacity) < capacity * 0.05);
  }
});

Deno.test("bloom (blocked): the bits an item sets are fixed (format version 2)", () => {
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
  const filter = new BloomFilter({
    capacity: 2000,
    falsePositiveRate: 0.01,
    layout: "blocked",
  });
  filter.addAll(items);
  assert.equal(filter.bits, 19_968);
  assert.equal(filter.hashes, 7);
  // deno-fmt-ignore
  assert.deepEqual(setBits(filter), [544, 601, 774, 823, 909, 924, 999, 1556, 1570, 1676, 1704, 1755, 1840, 1958, 2636, 2721, 2732, 2789, 2819, 2948, 2987, 4791, 4831, 4876, 4948, 4976, 5017, 5088, 7688, 7691, 7704, 7714, 7720, 7749, 7762, 7773, 7788, 7801, 7802, 7812, 7817, 7822, 7824, 7876, 7886, 7896, 7909, 7937, 7939, 7963, 7988, 8014, 8050, 8109, 8119, 8184, 10774, 10897, 10904, 11082, 11087, 11112, 11210, 16387, 16402, 16476, 16500, 16510, 16608, 16626, 16650, 16711, 16720, 16741, 16746, 16780, 16848]);
});

Deno.test("bloom (blocked): bytes (version 2) and JSON (layout field) round trip; bad ones are refused", () => {
  const filter = new BloomFilter({ capacity: 100, layout: "blocked" });
  filter.addAll(["x", "y"]);
  const bytes = filter.toBytes();
  assert.deepEqual([...bytes.subarray(0, 4)], [0x4d, 0x42, 0x46, 2]);
  const decoded = BloomFilter.fromBytes(bytes);
  assert.equal(decoded.layout, "blocked");
  assert.ok(decoded.equals(filter) && decoded.has("x") && !decoded.has("z"));
  const json = JSON.parse(JSON.stringify(filter.toJSON()));
  assert.equal(json.layout, "blocked");
  assert.ok(BloomFilter.fromJSON(json).equals(filter));
  // A standard filter's JSON and bytes are as before: no layout field, version 1.
  const standard = new BloomFilter({ capacity: 100 });
  assert.equal("layout" in (standard.toJSON() as object), false);
  assert.equal(standard.toBytes()[3], 1);
  assert.equal(BloomFilter.fromBytes(standard.toBytes()).layout, "standard");

  assert.throws(
    () => BloomFilter.fromJSON({ ...json, layout: "striped" }),
    (error: unknown) =>
      error instanceof CodecError && /"layout" must be/.test(error.message),
  );
  // A blocked filter whose bit count is no whole number of blocks.
  const odd = new BloomFilter({ capacity: 100 });
  const oddBytes = odd.toBytes();
  oddBytes[3] = 2;
  assert.throws(
    () => BloomFilter.fromBytes(oddBytes),
    (error: unknown) =>
      error instanceof CodecError &&
      /not a multiple of 512/.test(error.message),
  );
});

Deno.test("bloom (blocked): never merges with a standard filter; its monoid keeps the laws and refuses other layouts", () => {
  const blocked = new BloomFilter({ capacity: 100, layout: "blocked" });
  const standard = new BloomFilter({ capacity: 100 });
  assert.throws(
    () => blocked.merge(standard),
    (error: unknown) =>
      error instanceof IncompatibleSketchError &&
      /blocked/.test(error.message),
  );
  assert.equal(blocked.equals(standard), false);

  const monoid = bloom({
    capacity: 300,
    falsePositiveRate: 0.02,
    layout: "blocked",
  });
  assert.equal(monoid.name, "bloom(capacity=300, p=0.02, layout=blocked)");
  assert.equal(bloom({ capacity: 300 }).name, "bloom(capacity=300, p=0.01)");
  assert.equal(monoid.identity().layout, "blocked");
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
        new BloomFilter({ capacity: 300, falsePositiveRate: 0.02 }).toBytes(),
      ),
    CodecError,
  );
});
