// MurmurHash64A (Austin Appleby's 64-bit MurmurHash2) in 32-bit halves, without BigInt, as Redis hashes HLL elements.

/** The seed Redis and Valkey use for HyperLogLog elements. */
export const REDIS_HLL_SEED = 0xadc83b19;

// The multiplier 0xc6a4a7935bd1e995 as two 32-bit halves, the low half also as 16-bit limbs.
const M_HI = 0xc6a4a793;
const M_LO = 0x5bd1e995;
const M_LO_0 = M_LO & 0xffff;
const M_LO_1 = M_LO >>> 16;

// High 32 bits of the last result; read right after a call returns the low half.
let resultHi = 0;

/** Returns the high 32 bits (unsigned) of the hash whose low 32 bits the last call returned. */
export function hashHigh(): number {
  return resultHi >>> 0;
}

// High 32 bits of (hi, lo) * M mod 2^64; the low 32 bits are Math.imul(lo, M_LO).
function mulHigh(hi: number, lo: number): number {
  const a0 = lo & 0xffff;
  const a1 = lo >>> 16;
  // 32x32 -> 64 product of lo * M_LO from 16-bit limbs; every partial product is exact in a double.
  const p01 = a0 * M_LO_1;
  const p10 = a1 * M_LO_0;
  const mid = ((a0 * M_LO_0) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  const carry = a1 * M_LO_1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16);
  return (carry + Math.imul(hi, M_LO) + Math.imul(lo, M_HI)) | 0;
}

/**
 * MurmurHash64A of `bytes[0..length)` with a 32-bit seed, endian-neutral like
 * Redis's `MurmurHash64A`. Returns the low 32 bits (unsigned); read the high
 * 32 bits with {@linkcode hashHigh} before hashing again.
 */
export function murmurHash64A(
  bytes: Uint8Array,
  length: number,
  seed: number,
): number {
  // h = seed ^ (len * m)
  let hHi = mulHigh(0, length);
  let hLo = Math.imul(length, M_LO) ^ seed;
  const blocks = length - (length & 7);
  let i = 0;
  while (i < blocks) {
    let kLo = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) |
      (bytes[i + 3]! << 24);
    let kHi = bytes[i + 4]! | (bytes[i + 5]! << 8) | (bytes[i + 6]! << 16) |
      (bytes[i + 7]! << 24);
    // k *= m; k ^= k >> 47; k *= m
    kHi = mulHigh(kHi, kLo);
    kLo = Math.imul(kLo, M_LO) ^ (kHi >>> 15);
    const kh = mulHigh(kHi, kLo);
    kLo = Math.imul(kLo, M_LO);
    // h ^= k; h *= m
    hHi ^= kh;
    hLo ^= kLo;
    hHi = mulHigh(hHi, hLo);
    hLo = Math.imul(hLo, M_LO);
    i += 8;
  }
  const tail = length & 7;
  if (tail !== 0) {
    switch (tail) {
      case 7:
        hHi ^= bytes[i + 6]! << 16;
      // falls through
      case 6:
        hHi ^= bytes[i + 5]! << 8;
      // falls through
      case 5:
        hHi ^= bytes[i + 4]!;
      // falls through
      case 4:
        hLo ^= bytes[i + 3]! << 24;
      // falls through
      case 3:
        hLo ^= bytes[i + 2]! << 16;
      // falls through
      case 2:
        hLo ^= bytes[i + 1]! << 8;
      // falls through
      case 1:
        hLo ^= bytes[i]!;
    }
    hHi = mulHigh(hHi, hLo);
    hLo = Math.imul(hLo, M_LO);
  }
  // h ^= h >> 47; h *= m; h ^= h >> 47
  hLo ^= hHi >>> 15;
  hHi = mulHigh(hHi, hLo);
  hLo = Math.imul(hLo, M_LO) ^ (hHi >>> 15);
  resultHi = hHi;
  return hLo >>> 0;
}

const encoder = new TextEncoder();
let scratch = new Uint8Array(256);

/**
 * Writes the UTF-8 bytes of `text` into a shared scratch buffer and returns
 * how many were written. ASCII takes a copy loop with no allocation; other
 * text goes through `TextEncoder.encodeInto` (lone surrogates become U+FFFD,
 * as with every UTF-8 encoder). The buffer is reused by the next call.
 */
export function utf8IntoScratch(text: string): number {
  const n = text.length;
  if (n * 3 > scratch.length) scratch = new Uint8Array(n * 3 + 64);
  const buf = scratch;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) return encoder.encodeInto(text, buf).written;
    buf[i] = c;
  }
  return n;
}

/** The shared scratch buffer {@linkcode utf8IntoScratch} last wrote to. */
export function scratchBuffer(): Uint8Array {
  return scratch;
}

/**
 * Hashes a string (as its UTF-8 bytes) or bytes with MurmurHash64A; returns
 * the low 32 bits, the high half is then in {@linkcode hashHigh}.
 */
export function hashItem(item: string | Uint8Array, seed: number): number {
  if (typeof item === "string") {
    const length = utf8IntoScratch(item);
    return murmurHash64A(scratch, length, seed);
  }
  return murmurHash64A(item, item.length, seed);
}
