import assert from "node:assert/strict";
import {
  hashHigh,
  hashItem,
  hllPatLen,
  murmurHash64A,
  REDIS_HLL_SEED,
  scratchBuffer,
  utf8IntoScratch,
} from "./_murmurhash.ts";
import { seededRandom as seeded } from "../internal/prng.ts";

const M = 0xc6a4a7935bd1e995n;
const MASK = (1n << 64n) - 1n;

// Straight from the definition, in BigInt: the oracle for the 32-bit-limb version.
function reference(bytes: Uint8Array, seed: bigint): bigint {
  let h = (seed ^ (BigInt(bytes.length) * M)) & MASK;
  const blocks = bytes.length - (bytes.length & 7);
  for (let i = 0; i < blocks; i += 8) {
    let k = 0n;
    for (let j = 7; j >= 0; j--) k = (k << 8n) | BigInt(bytes[i + j]!);
    k = (k * M) & MASK;
    k ^= k >> 47n;
    k = (k * M) & MASK;
    h ^= k;
    h = (h * M) & MASK;
  }
  const tail = bytes.length & 7;
  if (tail !== 0) {
    for (let j = tail - 1; j >= 0; j--) {
      h ^= BigInt(bytes[blocks + j]!) << BigInt(8 * j);
    }
    h = (h * M) & MASK;
  }
  h ^= h >> 47n;
  h = (h * M) & MASK;
  h ^= h >> 47n;
  return h;
}

function hash64(bytes: Uint8Array, seed: number): bigint {
  const lo = murmurHash64A(bytes, bytes.length, seed);
  return (BigInt(hashHigh()) << 32n) | BigInt(lo);
}

Deno.test("murmurHash64A() matches a BigInt reference for every length 0..300", () => {
  const random = seeded(7);
  for (let length = 0; length <= 300; length++) {
    for (let round = 0; round < 8; round++) {
      const bytes = Uint8Array.from(
        { length },
        () => Math.floor(random() * 256),
      );
      for (const seed of [0, REDIS_HLL_SEED, 0xffffffff]) {
        assert.equal(
          hash64(bytes, seed),
          reference(bytes, BigInt(seed)),
          `length ${length}, seed ${seed}`,
        );
      }
    }
  }
});

Deno.test("murmurHash64A() handles all-0xff blocks, where every carry propagates", () => {
  for (let length = 0; length <= 64; length++) {
    const bytes = new Uint8Array(length).fill(0xff);
    assert.equal(
      hash64(bytes, REDIS_HLL_SEED),
      reference(bytes, BigInt(REDIS_HLL_SEED)),
    );
  }
});

Deno.test("hashItem() hashes a string as its UTF-8 bytes", () => {
  const encoder = new TextEncoder();
  for (
    const text of [
      "",
      "a",
      "hello world!",
      "héllo",
      "日本語テキスト",
      "🦕🦕",
      "a\u0000b",
      "x".repeat(1000),
    ]
  ) {
    const lo = hashItem(text, REDIS_HLL_SEED);
    const fromString = (BigInt(hashHigh()) << 32n) | BigInt(lo);
    assert.equal(
      fromString,
      hash64(encoder.encode(text), REDIS_HLL_SEED),
      text,
    );
  }
});

Deno.test("utf8IntoScratch() writes lone surrogates as U+FFFD like TextEncoder", () => {
  const text = "a\ud800b";
  const written = utf8IntoScratch(text);
  assert.deepEqual(
    scratchBuffer().slice(0, written),
    new TextEncoder().encode(text),
  );
});

// Redis's hllPatLen() from a 64-bit hash: (run length << 14) | register index.
function patLenOf(hash: bigint): number {
  let bits = (hash >> 14n) | (1n << 50n);
  let run = 1;
  while ((bits & 1n) === 0n) {
    bits >>= 1n;
    run++;
  }
  return (run << 14) | Number(hash & 16383n);
}

Deno.test("hashItem() and hllPatLen() agree with the reference on every input path: short and long, string and bytes, ASCII or not", () => {
  const encoder = new TextEncoder();
  const random = seeded(11);
  const alphabets = [
    "abcdefghijklmnopqrstuvwxyz0123456789-_:/",
    "\u0000\u007f",
    "é\u0080ÿ",
    "日本語",
    "🦕",
    "\ud800",
  ];
  for (let length = 0; length <= 40; length++) {
    for (let round = 0; round < 6; round++) {
      let text = "";
      for (let i = 0; i < length; i++) {
        text += String.fromCharCode(97 + Math.floor(random() * 26));
      }
      // One odd character at a random place, every round but the first.
      const odd = alphabets[round]!;
      if (round > 0 && length > 0) {
        const at = Math.floor(random() * length);
        const c = odd[Math.floor(random() * odd.length)]!;
        text = text.slice(0, at) + c + text.slice(at + 1);
      }
      const utf8 = encoder.encode(text);
      const bytes = Uint8Array.from(
        { length },
        () => Math.floor(random() * 256),
      );
      for (const [item, raw] of [[text, utf8], [bytes, bytes]] as const) {
        for (const seed of [0, REDIS_HLL_SEED, 0x9747b28c, 0xffffffff]) {
          const lo = hashItem(item, seed);
          assert.equal(
            (BigInt(hashHigh()) << 32n) | BigInt(lo),
            reference(raw, BigInt(seed)),
            `${JSON.stringify(item)}, seed ${seed}`,
          );
        }
        assert.equal(
          hllPatLen(item),
          patLenOf(reference(raw, BigInt(REDIS_HLL_SEED))),
          JSON.stringify(item),
        );
      }
    }
  }
});

Deno.test("hashItem() is right for a long string after a short one and the reverse (no stale bytes)", () => {
  const encoder = new TextEncoder();
  for (
    const text of ["x".repeat(300), "ab", "é".repeat(20), "abc", "y".repeat(17)]
  ) {
    const lo = hashItem(text, REDIS_HLL_SEED);
    assert.equal(
      (BigInt(hashHigh()) << 32n) | BigInt(lo),
      reference(encoder.encode(text), BigInt(REDIS_HLL_SEED)),
      text,
    );
  }
});
