import {
  assertMonoidFlags,
  assertRefusesBytes,
  type BadBytesCase,
} from "./_test_helpers.ts";
import assert from "node:assert/strict";
import fc from "fast-check";
import { CodecError } from "../monoid/mod.ts";
import { assertMonoidLaws } from "../monoid/laws.ts";
import { hll, HLL_STANDARD_ERROR, hyllCodec, HyperLogLog } from "./hll.ts";
import { hashHigh, hashItem, REDIS_HLL_SEED } from "./_murmurhash.ts";
import { seededRandom as seeded } from "../internal/prng.ts";

// Register index and run length of an element, via BigInt, as Redis's hllPatLen() defines them.
function patLen(item: string): { index: number; count: number } {
  const lo = hashItem(item, REDIS_HLL_SEED);
  const hash = (BigInt(hashHigh()) << 32n) | BigInt(lo);
  const index = Number(hash & 16383n);
  let rest = (hash >> 14n) | (1n << 50n);
  let count = 1;
  while ((rest & 1n) === 0n) {
    count++;
    rest >>= 1n;
  }
  return { index, count };
}

/**
 * A deliberately naive port of Redis's sparse editing (hllSparseSet): scans
 * from the first opcode every time and splices a plain array. The oracle for
 * the anchored, in-place implementation.
 */
class NaiveRedisHll {
  ops: number[] = [0x7f, 0xff];
  registers = new Uint8Array(16384);
  dense = false;
  constructor(readonly sparseMaxBytes = 3000) {}

  add(item: string): void {
    const { index, count } = patLen(item);
    if (count <= this.registers[index]!) return;
    this.registers[index] = count;
    if (!this.dense) this.#set(index, count);
  }

  bytes(): Uint8Array {
    const header = [0x48, 0x59, 0x4c, 0x4c, this.dense ? 0 : 1, 0, 0, 0];
    header.push(0, 0, 0, 0, 0, 0, 0, 0x80);
    if (!this.dense) return Uint8Array.from([...header, ...this.ops]);
    const out = new Uint8Array(12304);
    out.set(header);
    for (let i = 0; i < 16384; i++) {
      const bit = i * 6;
      const value = this.registers[i]! << (bit & 7);
      out[16 + (bit >> 3)]! |= value & 0xff;
      if (value > 0xff) out[16 + (bit >> 3) + 1]! |= value >> 8;
    }
    return out;
  }

  #set(index: number, count: number): void {
    const ops = this.ops;
    if (count > 32) {
      this.dense = true;
      return;
    }
    const val = (v: number, n: number) => 0x80 | ((v - 1) << 2) | (n - 1);
    const zeros = (n: number) =>
      n > 64 ? [0x40 | ((n - 1) >> 8), (n - 1) & 0xff] : [n - 1];
    let p = 0;
    let first = 0;
    let prev = -1;
    let span = 0;
    for (;;) {
      const op = ops[p]!;
      span = (op & 0xc0) === 0
        ? (op & 63) + 1
        : op & 0x80
        ? (op & 3) + 1
        : (((op & 63) << 8) | ops[p + 1]!) + 1;
      if (index < first + span) break;
      prev = p;
      p += (op & 0xc0) === 0x40 ? 2 : 1;
      first += span;
    }
    const op = ops[p]!;
    const xzero = (op & 0xc0) === 0x40;
    if (!xzero && span === 1) {
      ops[p] = val(count, 1);
    } else {
      const last = first + span - 1;
      let seq: number[];
      if ((op & 0x80) === 0) {
        seq = [
          ...(index > first ? zeros(index - first) : []),
          val(count, 1),
          ...(index < last ? zeros(last - index) : []),
        ];
      } else {
        const current = ((op >> 2) & 31) + 1;
        seq = [
          ...(index > first ? [val(current, index - first)] : []),
          val(count, 1),
          ...(index < last ? [val(current, last - index)] : []),
        ];
      }
      const delta = seq.length - (xzero ? 2 : 1);
      if (delta > 0 && 16 + ops.length + delta > this.sparseMaxBytes) {
        this.dense = true;
        return;
      }
      ops.splice(p, xzero ? 2 : 1, ...seq);
    }
    let q = prev >= 0 ? prev : 0;
    let scan = 5;
    while (q < ops.length && scan-- > 0) {
      const a = ops[q]!;
      if ((a & 0xc0) === 0x40) {
        q += 2;
        continue;
      }
      if ((a & 0xc0) === 0) {
        q++;
        continue;
      }
      const b = ops[q + 1];
      if (b !== undefined && (b & 0x80) && (a & 0x7c) === (b & 0x7c)) {
        const length = (a & 3) + (b & 3) + 2;
        if (length <= 4) {
          ops.splice(q, 2, val(((a >> 2) & 31) + 1, length));
          continue;
        }
      }
      q++;
    }
  }
}

function sketchOf(items: Iterable<string>): HyperLogLog {
  const sketch = new HyperLogLog();
  sketch.addAll(items);
  return sketch;
}

function header(
  encoding: number,
  cache: number[] = [0, 0, 0, 0, 0, 0, 0, 0x80],
): number[] {
  return [0x48, 0x59, 0x4c, 0x4c, encoding, 0, 0, 0, ...cache];
}

Deno.test("hll: an empty sketch is Redis's 18-byte sparse string", () => {
  const empty = new HyperLogLog();
  assert.equal(empty.count(), 0);
  assert.equal(empty.encoding, "sparse");
  assert.ok(empty.isEmpty());
  assert.deepEqual(
    empty.toBytes(),
    Uint8Array.from([...header(1, [0, 0, 0, 0, 0, 0, 0, 0]), 0x7f, 0xff]),
  );
  assert.deepEqual(
    empty.toBytes({ cacheCardinality: false }),
    Uint8Array.from([...header(1), 0x7f, 0xff]),
  );
});

Deno.test("hll.isEmpty() and the JSON form work for any valid encoding", () => {
  // Valkey never writes it, but two XZERO runs of 8192 are a valid empty sparse string.
  const split = HyperLogLog.fromBytes(
    Uint8Array.from([...header(1), 0x5f, 0xff, 0x5f, 0xff]),
  );
  assert.ok(split.isEmpty());
  assert.equal(split.count(), 0);
  assert.deepEqual(split.estimate(), {
    estimate: 0,
    lower: 0,
    upper: 0,
    confidence: 0.95,
  });
  split.add("x");
  assert.ok(!split.isEmpty());
  const text = JSON.stringify({ sketch: split });
  assert.ok(HyperLogLog.fromJSON(JSON.parse(text).sketch).equals(split));
  assert.throws(() => HyperLogLog.fromJSON({}), CodecError);
});

Deno.test("hll.add() reports register changes like PFADD and hashes strings as UTF-8", () => {
  const sketch = new HyperLogLog();
  assert.equal(sketch.add("héllo"), true);
  assert.equal(sketch.add("héllo"), false);
  assert.equal(sketch.add(new TextEncoder().encode("héllo")), false);
  assert.equal(sketch.count(), 1);
  const { index, count } = patLen("héllo");
  assert.equal(sketch.registers()[index], count);
  assert.throws(
    () => sketch.add(42 as unknown as string),
    TypeError,
  );
});

Deno.test("hll sparse edits match a naive port of Redis's hllSparseSet byte for byte", () => {
  // [seed, sparseMaxBytes]: the default, small limits that promote early, 0, and a roomy one.
  const runs: [number, number][] = [
    [1, 3000],
    [2, 3000],
    [3, 400],
    [4, 0],
    [5, 12000],
    [6, 64],
  ];
  for (const [seed, max] of runs) {
    const random = seeded(seed);
    const ours = new HyperLogLog({ sparseMaxBytes: max });
    const oracle = new NaiveRedisHll(max);
    // Small pools make repeated and adjacent registers, so VAL runs split and merge.
    const pool = 200 + Math.floor(random() * 3000);
    for (let step = 0; step < 3500; step++) {
      const item = `e${Math.floor(random() * pool)}:${seed}`;
      ours.add(item);
      oracle.add(item);
      assert.equal(
        ours.encoding,
        oracle.dense ? "dense" : "sparse",
        `seed ${seed} step ${step}`,
      );
      if (!oracle.dense) {
        assert.deepEqual(
          ours.toBytes({ cacheCardinality: false }),
          oracle.bytes(),
          `seed ${seed} step ${step}`,
        );
      }
    }
    assert.deepEqual(ours.toBytes({ cacheCardinality: false }), oracle.bytes());
  }
});

Deno.test("hll sparse edits keep matching the oracle through dense-packed neighbourhoods", () => {
  // Element sets chosen so that many registers sit next to each other with equal values.
  const random = seeded(99);
  const byIndex = new Map<number, string[]>();
  for (let i = 0; byIndex.size < 400 && i < 200_000; i++) {
    const item = `n${i}`;
    const { index, count } = patLen(item);
    if (index < 600 && count <= 3) {
      const list = byIndex.get(index) ?? [];
      list.push(item);
      byIndex.set(index, list);
    }
  }
  const items = [...byIndex.values()].flat();
  let nonCanonical = 0;
  for (let round = 0; round < 5; round++) {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    const ours = new HyperLogLog();
    const oracle = new NaiveRedisHll();
    for (const item of items) {
      ours.add(item);
      oracle.add(item);
      assert.deepEqual(
        ours.toBytes({ cacheCardinality: false }),
        oracle.bytes(),
      );
    }
    // Writing the same registers in index order gives the canonical layout.
    const canonical = new HyperLogLog().mergeInPlace(ours);
    assert.ok(canonical.equals(ours));
    if (
      canonical.toBytes().some((byte, i) => byte !== ours.toBytes()[i])
    ) nonCanonical++;
  }
  // Some orders leave VAL runs split in a way only Redis's edit history explains.
  assert.ok(nonCanonical > 0);
});

Deno.test("hll.add() of an element with a run over 32 turns a sparse sketch dense, as Redis does", () => {
  // Found by search: this 8-byte little-endian integer hashes to register 3655 with a run of 33.
  const deep = new Uint8Array(8);
  new DataView(deep.buffer).setBigUint64(0, 3130853818n, true);
  const sketch = sketchOf(["a", "b"]);
  assert.equal(sketch.encoding, "sparse");
  assert.equal(sketch.add(deep), true);
  assert.equal(sketch.encoding, "dense");
  assert.equal(sketch.registers()[3655], 33);
  assert.equal(sketch.count(), 3);
  assert.ok(!sketch.isEmpty());
  assert.ok(!sketch.equals(sketchOf(["a", "b"])));
});

Deno.test("hll.count() equals PFCOUNT values measured on redis-server 7.0.15", () => {
  const items = (n: number) =>
    Array.from({ length: n }, (_, i) => `item-${i}-${n}`);
  const expected = new Map([
    [1, 1],
    [10, 10],
    [100, 100],
    [1000, 1002],
    [1500, 1499],
    [2000, 1979],
    [5000, 4972],
    [100_000, 98689],
  ]);
  for (const [n, pfcount] of expected) {
    const sketch = sketchOf(items(n));
    assert.equal(sketch.count(), pfcount, `n = ${n}`);
    assert.equal(sketch.encoding, n <= 1500 ? "sparse" : "dense");
  }
});

Deno.test("hll.count() stays within 3 standard errors from 100 to 200 000 distinct items", () => {
  const sketch = new HyperLogLog();
  let added = 0;
  for (const n of [100, 1000, 10_000, 50_000, 200_000]) {
    while (added < n) sketch.add(`user:${added++}`);
    const error = Math.abs(sketch.count() - n) / n;
    assert.ok(error <= 3 * HLL_STANDARD_ERROR, `n = ${n}, error ${error}`);
  }
});

Deno.test("hll.estimate() brackets the estimate and checks the confidence", () => {
  const empty = new HyperLogLog().estimate();
  assert.deepEqual(empty, {
    estimate: 0,
    lower: 0,
    upper: 0,
    confidence: 0.95,
  });
  const sketch = sketchOf(Array.from({ length: 50_000 }, (_, i) => `v${i}`));
  const narrow = sketch.estimate({ confidence: 0.5 });
  const wide = sketch.estimate({ confidence: 0.999 });
  assert.ok(wide.lower < narrow.lower && narrow.upper < wide.upper);
  assert.ok(wide.lower <= 50_000 && 50_000 <= wide.upper);
  // 95%: about ±1.96 standard errors.
  const { estimate, lower, upper } = sketch.estimate();
  assert.ok(
    Math.abs((upper - estimate) / estimate - 1.96 * HLL_STANDARD_ERROR) < 1e-4,
  );
  assert.ok(lower < estimate);
  assert.equal(sketchOf(["one"]).estimate().lower, 1);
  for (const confidence of [0, 1, -1, 2, Number.NaN]) {
    assert.throws(() => sketch.estimate({ confidence }), RangeError);
  }
});

Deno.test("hll.toBytes() and HyperLogLog.fromBytes() round trip sparse and dense strings exactly", () => {
  for (const n of [0, 1, 7, 300, 1400, 1700, 30_000]) {
    const sketch = sketchOf(Array.from({ length: n }, (_, i) => `rt${i}`));
    const bytes = sketch.toBytes();
    const decoded = HyperLogLog.fromBytes(bytes);
    assert.equal(decoded.encoding, sketch.encoding);
    assert.ok(decoded.equals(sketch));
    assert.equal(decoded.count(), sketch.count());
    assert.deepEqual(decoded.toBytes(), bytes);
    assert.equal(bytes[4], sketch.encoding === "dense" ? 0 : 1);
    assert.equal(
      bytes.length,
      sketch.encoding === "dense" ? 12304 : bytes.length,
    );
    // The cached cardinality is little-endian in bytes 8..15.
    let cached = 0;
    for (let i = 15; i >= 8; i--) cached = cached * 256 + bytes[i]!;
    assert.equal(cached, sketch.count());
  }
});

Deno.test("HyperLogLog.fromBytes() keeps decoding after the header's cache is marked invalid", () => {
  const sketch = sketchOf(["a", "b", "c"]);
  const bytes = sketch.toBytes();
  bytes[15]! |= 0x80;
  assert.equal(HyperLogLog.fromBytes(bytes).count(), 3);
});

Deno.test("HyperLogLog.fromBytes() rejects malformed strings with a CodecError", () => {
  const dense = sketchOf(Array.from({ length: 3000 }, (_, i) => `d${i}`))
    .toBytes();
  const cases: BadBytesCase[] = [
    ["empty", [], /truncated header \(0 of 16 bytes\)/],
    ["short header", [0x48, 0x59, 0x4c], /truncated header/],
    ["bad magic", [
      ...header(1).slice(0, 3),
      0x58,
      ...header(1).slice(4),
      0x7f,
      0xff,
    ], /bad magic/],
    ["raw encoding", [...header(255), 0x7f, 0xff], /unknown encoding byte 255/],
    ["encoding 2", [...header(2), 0x7f, 0xff], /unknown encoding byte 2/],
    ["sparse, no opcodes", header(1), /cover 0 of 16384/],
    [
      "sparse, truncated XZERO",
      [...header(1), 0x7f],
      /XZERO opcode at offset 0 is truncated/,
    ],
    [
      "sparse, short by one",
      [...header(1), 0x7f, 0xfe],
      /cover 16383 of 16384/,
    ],
    [
      "sparse, VAL past the end",
      [...header(1), 0x7f, 0xff, 0x80],
      /offset 2 covers registers 16384\.\.16384/,
    ],
    [
      "sparse, ZERO past the end",
      [...header(1), 0x7f, 0xfe, 0x01],
      /offset 2 covers registers 16383\.\.16384/,
    ],
    [
      "sparse, XZERO past the end",
      [...header(1), 0x00, 0x7f, 0xff],
      /offset 1 covers registers 1\.\.16384/,
    ],
    [
      "sparse, trailing opcode",
      [...header(1), 0x7f, 0xff, 0x00],
      /offset 2 covers/,
    ],
    [
      "sparse, VAL run past the end",
      [...header(1), 0x7f, 0xfd, 0x83],
      /covers registers 16382\.\.16385/,
    ],
    [
      "dense, one byte short",
      dense.subarray(0, 12303),
      /exactly 12304 bytes, got 12303/,
    ],
    ["dense, one byte long", [...dense, 0], /exactly 12304 bytes, got 12305/],
  ];
  assertRefusesBytes((bytes) => HyperLogLog.fromBytes(bytes), cases);
  assert.throws(
    () => HyperLogLog.fromBytes("HYLL" as unknown as Uint8Array),
    CodecError,
  );
});

Deno.test("HyperLogLog.fromBytes() never throws anything but CodecError on mutated bytes", () => {
  const samples = [
    sketchOf(Array.from({ length: 60 }, (_, i) => `m${i}`)).toBytes(),
    sketchOf(Array.from({ length: 900 }, (_, i) => `m${i}`)).toBytes(),
  ];
  fc.assert(
    fc.property(
      fc.constantFrom(...samples),
      fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), {
        minLength: 1,
        maxLength: 4,
      }),
      fc.nat(),
      (sample, edits, cut) => {
        const bytes = sample.slice(0, sample.length - (cut % 4));
        for (const [at, value] of edits) {
          bytes[16 + (at % (bytes.length - 16))] = value;
        }
        try {
          const decoded = HyperLogLog.fromBytes(bytes);
          // Accepted bytes are a complete sketch: adding to it and re-encoding works.
          decoded.add("after");
          assert.ok(Number.isSafeInteger(decoded.count()));
          HyperLogLog.fromBytes(decoded.toBytes());
        } catch (error) {
          if (!(error instanceof CodecError)) throw error;
        }
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("hll.merge() keeps the larger register and leaves both inputs unchanged", () => {
  const a = sketchOf(["a", "b", "c"]);
  const b = sketchOf(["c", "d"]);
  const before = [a.toBytes(), b.toBytes()];
  const union = a.merge(b);
  assert.equal(union.count(), 4);
  assert.deepEqual([a.toBytes(), b.toBytes()], before);
  assert.ok(union.equals(sketchOf(["a", "b", "c", "d"])));
  const ra = a.registers();
  const rb = b.registers();
  const ru = union.registers();
  for (let i = 0; i < 16384; i++) assert.equal(ru[i], Math.max(ra[i]!, rb[i]!));
});

Deno.test("hll.mergeInPlace() goes dense when either side is dense, like PFMERGE", () => {
  const small = sketchOf(["x"]);
  const big = sketchOf(Array.from({ length: 5000 }, (_, i) => `b${i}`));
  assert.equal(big.encoding, "dense");
  const target = small.clone().mergeInPlace(big);
  assert.equal(target.encoding, "dense");
  assert.ok(target.equals(big.merge(small)));
  assert.equal(target.count(), big.merge(small).count());
  // Two sparse inputs stay sparse while the result fits.
  const sparse = sketchOf(["p", "q"]).mergeInPlace(sketchOf(["r"]));
  assert.equal(sparse.encoding, "sparse");
  assert.equal(sparse.count(), 3);
  assert.equal(sparse.mergeInPlace(sparse).count(), 3);
});

Deno.test("hll.mergeInPlace() of sparse sketches writes registers in index order, like PFMERGE", () => {
  const random = seeded(5);
  const parts = [0, 1, 2].map((p) =>
    Array.from({ length: 300 }, () => `pm${p}:${Math.floor(random() * 5000)}`)
  );
  const merged = sketchOf(parts[0]!);
  merged.mergeInPlace(sketchOf(parts[1]!)).mergeInPlace(sketchOf(parts[2]!));
  assert.ok(merged.equals(sketchOf(parts.flat())));
  // Writing registers in index order into an empty sketch gives the canonical encoding.
  const canonical = new HyperLogLog().mergeInPlace(merged);
  const oracle = new NaiveRedisHll();
  const registers = merged.registers();
  const elementFor = new Map<number, string>();
  for (const item of parts.flat()) {
    const { index, count } = patLen(item);
    if (registers[index] === count) elementFor.set(index, item);
  }
  for (const index of [...elementFor.keys()].sort((x, y) => x - y)) {
    oracle.add(elementFor.get(index)!);
  }
  assert.deepEqual(
    canonical.toBytes({ cacheCardinality: false }),
    oracle.bytes(),
  );
});

Deno.test("hll.clone() is independent of the original", () => {
  const original = sketchOf(["a"]);
  const copy = original.clone();
  copy.addAll(["b", "c"]);
  assert.equal(original.count(), 1);
  assert.equal(copy.count(), 3);
  const dense = sketchOf(Array.from({ length: 4000 }, (_, i) => `c${i}`));
  const denseCopy = dense.clone();
  denseCopy.add("extra-1");
  denseCopy.add("extra-2");
  assert.equal(dense.encoding, "dense");
  assert.deepEqual(
    HyperLogLog.fromBytes(dense.toBytes()).toBytes(),
    dense.toBytes(),
  );
});

Deno.test("hll: sparseMaxBytes is validated and decides when to go dense", () => {
  for (const bad of [-1, 1.5, Number.NaN]) {
    assert.throws(() => new HyperLogLog({ sparseMaxBytes: bad }), RangeError);
    assert.throws(() => hll({ sparseMaxBytes: bad }), RangeError);
  }
  const eager = new HyperLogLog({ sparseMaxBytes: 0 });
  assert.equal(eager.sparseMaxBytes, 0);
  eager.add("a");
  assert.equal(eager.encoding, "dense");
  const roomy = new HyperLogLog({ sparseMaxBytes: 20_000 });
  roomy.addAll(Array.from({ length: 2500 }, (_, i) => `r${i}`));
  assert.equal(roomy.encoding, "sparse");
  assert.ok(roomy.toBytes().length > 3000);
});

Deno.test("hll() is a commutative, idempotent monoid of kind hll", () => {
  const monoid = hll();
  assertMonoidFlags(monoid, "hll", ["commutative", "idempotent"], "hyll");
  const a = sketchOf(["a"]);
  const all = monoid.combineAll([a, sketchOf(["b"]), sketchOf(["a", "c"])]);
  assert.equal(all.count(), 3);
  assert.equal(a.count(), 1);
  assert.ok(monoid.combineAll([]).equals(monoid.identity()));
});

Deno.test("hll() passes the monoid laws on sparse and dense sketches", () => {
  const sketches = fc.tuple(
    fc.array(fc.string({ maxLength: 6 }), { maxLength: 30 }),
    fc.constantFrom(0, 0, 0, 2500),
    fc.nat(),
  ).map(([items, bulk, salt]) => {
    const sketch = new HyperLogLog();
    sketch.addAll(items);
    for (let i = 0; i < bulk; i++) sketch.add(`bulk:${salt % 7}:${i}`);
    return sketch;
  });
  assertMonoidLaws(hll(), sketches, {
    equals: (a, b) => a.equals(b),
    numRuns: 40,
  });
});

Deno.test("hyllCodec: JSON is base64 of the HYLL string and bad JSON is a CodecError", () => {
  const sketch = sketchOf(["j1", "j2"]);
  const json = hyllCodec.toJSON(sketch);
  assert.equal(typeof json, "string");
  assert.ok(hyllCodec.fromJSON(json).equals(sketch));
  assert.deepEqual(hyllCodec.encode(sketch), sketch.toBytes());
  assert.throws(() => hyllCodec.fromJSON(3), CodecError);
  assert.throws(() => hyllCodec.fromJSON(null), CodecError);
  assert.throws(() => hyllCodec.fromJSON("not base64!"), CodecError);
  assert.throws(() => hyllCodec.fromJSON(btoa("HYLL")), CodecError);
});

// Elements whose registers sit next to each other in [0, 64) with small values, keyed by register.
function packedElements(): string[] {
  const byIndex = new Map<number, string>();
  for (let i = 0; byIndex.size < 64 && i < 400_000; i++) {
    const item = `k${i}`;
    const { index, count } = patLen(item);
    if (index < 64 && count <= 2 && !byIndex.has(index)) {
      byIndex.set(index, item);
    }
  }
  return [...byIndex.values()];
}

Deno.test("HyperLogLog.of() is new HyperLogLog() plus add(), byte for byte", () => {
  // The deep element has a run of 33 (dense at once); 16..22 bytes bracket every one-element string.
  const deep = new Uint8Array(8);
  new DataView(deep.buffer).setBigUint64(0, 3130853818n, true);
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ maxLength: 8 }),
        fc.uint8Array({ maxLength: 8 }),
        fc.constant(deep),
      ),
      fc.constantFrom(0, 16, 18, 19, 20, 21, 22, 3000),
      (item, sparseMaxBytes) => {
        const one = HyperLogLog.of(item, { sparseMaxBytes });
        const added = new HyperLogLog({ sparseMaxBytes });
        added.add(item);
        assert.equal(one.encoding, added.encoding);
        assert.equal(one.sparseMaxBytes, sparseMaxBytes);
        assert.deepEqual(one.toBytes(), added.toBytes());
        assert.deepEqual(one.registers(), added.registers());
        assert.equal(one.count(), 1);
        assert.ok(!one.isEmpty());
        assert.ok(one.equals(added) && added.equals(one));
        // Still an ordinary sketch afterwards.
        assert.equal(one.add(item), false);
        assert.equal(one.add("another"), added.add("another"));
        assert.deepEqual(one.toBytes(), added.toBytes());
      },
    ),
    { numRuns: 300 },
  );
  assert.throws(
    () => HyperLogLog.of(7 as unknown as string),
    TypeError,
  );
  assert.throws(() => HyperLogLog.of("x", { sparseMaxBytes: -1 }), RangeError);
});

Deno.test("hll() combineAll of one-element sketches writes what the same adds write", () => {
  const random = seeded(17);
  const packed = packedElements();
  for (const sparseMaxBytes of [3000, 200, 40]) {
    const items = Array.from(
      { length: 1500 },
      (_, i) =>
        i % 3 === 0
          ? packed[Math.floor(random() * packed.length)]!
          : `c${Math.floor(random() * 900)}`,
    );
    const lifted = items.map((item) => HyperLogLog.of(item));
    const before = lifted.map((sketch) => sketch.toBytes());
    const monoid = hll({ sparseMaxBytes });
    const folded = monoid.combineAll(lifted);
    assert.deepEqual(
      folded.toBytes(),
      lifted.reduce((a, b) => monoid.combine(a, b), monoid.identity())
        .toBytes(),
    );
    const oracle = new NaiveRedisHll(sparseMaxBytes);
    for (const item of items) oracle.add(item);
    assert.equal(folded.encoding, oracle.dense ? "dense" : "sparse");
    assert.deepEqual(
      folded.toBytes({ cacheCardinality: false }),
      oracle.bytes(),
    );
    assert.ok(folded.equals(sketchOf(items)));
    assert.deepEqual(lifted.map((sketch) => sketch.toBytes()), before);
  }
});

Deno.test("hll.mergeInPlace() into an empty sketch goes dense exactly where index-order adds would", () => {
  const random = seeded(23);
  const packed = packedElements();
  const items = [
    ...packed,
    ...Array.from({ length: 60 }, () => `m${Math.floor(random() * 1e6)}`),
  ];
  const source = new HyperLogLog({ sparseMaxBytes: 100_000 });
  source.addAll(items);
  const registers = source.registers();
  const inIndexOrder = items
    .filter((item) => {
      const { index, count } = patLen(item);
      return registers[index] === count;
    })
    .sort((a, b) => patLen(a).index - patLen(b).index);
  const length = source.toBytes().length;
  for (let limit = 16; limit <= length + 2; limit++) {
    const merged = new HyperLogLog({ sparseMaxBytes: limit }).mergeInPlace(
      source,
    );
    const oracle = new NaiveRedisHll(limit);
    for (const item of inIndexOrder) oracle.add(item);
    assert.equal(
      merged.encoding,
      oracle.dense ? "dense" : "sparse",
      `${limit}`,
    );
    assert.deepEqual(
      merged.toBytes({ cacheCardinality: false }),
      oracle.bytes(),
      `${limit}`,
    );
    assert.ok(merged.equals(source));
  }
});

Deno.test("hll: every operation agrees across empty, one-element, sparse and dense sketches", () => {
  const shapes = (): HyperLogLog[] => [
    new HyperLogLog(),
    HyperLogLog.of("solo"),
    HyperLogLog.of("solo", { sparseMaxBytes: 0 }),
    sketchOf(["solo", "duo"]),
    sketchOf(Array.from({ length: 400 }, (_, i) => `s${i}`)),
    sketchOf(Array.from({ length: 5000 }, (_, i) => `d${i}`)),
  ];
  const dense = (sketch: HyperLogLog) =>
    new HyperLogLog({ sparseMaxBytes: 0 }).mergeInPlace(sketch);
  for (const a of shapes()) {
    const expected = a.registers();
    assert.equal(a.count(), dense(a).count());
    assert.equal(a.isEmpty(), expected.every((r) => r === 0));
    assert.ok(a.equals(dense(a)) && dense(a).equals(a));
    assert.ok(HyperLogLog.fromBytes(a.toBytes()).equals(a));
    assert.deepEqual(a.clone().toBytes(), a.toBytes());
    for (const b of shapes()) {
      const before = [a.toBytes(), b.toBytes()];
      const union = a.merge(b);
      assert.deepEqual([a.toBytes(), b.toBytes()], before);
      const theirs = b.registers();
      assert.deepEqual(
        union.registers(),
        expected.map((r, i) => Math.max(r, theirs[i]!)),
      );
      assert.equal(union.count(), dense(union).count());
      assert.deepEqual(
        hll().combineAll([a, b]).toBytes(),
        new HyperLogLog().mergeInPlace(a).mergeInPlace(b).toBytes(),
      );
    }
  }
});
