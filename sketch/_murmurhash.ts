// MurmurHash64A (Austin Appleby's 64-bit MurmurHash2), as Redis hashes HLL elements, on a tiny embedded WebAssembly core.
//
// JavaScript has no 64-bit integer multiply; WebAssembly does, so the hash
// runs there (tools/wasm/murmurhash.wat, assembled into _murmurhash_wasm.ts).
//
// Getting the bytes in costs more than the hash. An item of at most 16 bytes
// (most keys and ids) is read into four 32-bit words in JavaScript and passed
// as arguments, with no store into memory; a longer one is written into the
// module's memory at INPUT, an ASCII string four characters per store. Only
// a string with a character at or above U+0080 goes through TextEncoder.

import { WASM_BASE64 } from "./_murmurhash_wasm.ts";

/** The seed Redis and Valkey use for HyperLogLog elements. */
export const REDIS_HLL_SEED = 0xadc83b19;

// Input bytes start here; bytes 0..8 receive the 64-bit result.
const INPUT = 16;
// The core reads the tail as one 8-byte word: keep that much slack after an input.
const SLACK = 8;
const PAGE = 65536;
// Inputs up to this many bytes go to the core as four word arguments.
const SHORT = 16;
// What word() returns for a non-ASCII character; no ASCII word has these bits.
const NOT_ASCII = 0x80;
const HIGH_BITS = 0x80808080 | 0;
// Int32Array stores are little-endian here, as the core reads memory.
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

interface Core {
  readonly memory: WebAssembly.Memory;
  hash(length: number, seed: number): number;
  hash16(
    length: number,
    seed: number,
    w0: number,
    w1: number,
    w2: number,
    w3: number,
  ): number;
  hll(length: number): number;
  hll16(length: number, w0: number, w1: number, w2: number, w3: number): number;
}

const core = new WebAssembly.Instance(
  new WebAssembly.Module(
    Uint8Array.from(atob(WASM_BASE64), (c) => c.charCodeAt(0)),
  ),
).exports as unknown as Core;

let bytes = new Uint8Array(core.memory.buffer);
let memoryWords = new Int32Array(core.memory.buffer);

// Grows the module's memory so an input of `length` bytes fits.
function reserve(length: number): void {
  const need = INPUT + length + SLACK;
  if (need <= bytes.length) return;
  core.memory.grow(Math.ceil((need - bytes.length) / PAGE));
  bytes = new Uint8Array(core.memory.buffer);
  memoryWords = new Int32Array(core.memory.buffer);
}

/** Returns the high 32 bits (unsigned) of the hash whose low 32 bits the last call returned. */
export function hashHigh(): number {
  return memoryWords[1]! >>> 0;
}

/** {@linkcode hashHigh} as a signed 32-bit integer (the same bits). */
export function hashHighBits(): number {
  return memoryWords[1]!;
}

// Characters i..i+3 of `s` that lie below `n`, as a little-endian word of
// their bytes (zero past `n`); NOT_ASCII when one of them is not ASCII.
function word(s: string, i: number, n: number): number {
  if (i + 4 <= n) {
    const a = s.charCodeAt(i);
    const b = s.charCodeAt(i + 1);
    const c = s.charCodeAt(i + 2);
    const d = s.charCodeAt(i + 3);
    if ((a | b | c | d) >= 0x80) return NOT_ASCII;
    return a | (b << 8) | (c << 16) | (d << 24);
  }
  return i < n ? tailWord(s, i, n) : 0;
}

// word() of the last one to three characters, kept apart so word() stays small enough to inline.
function tailWord(s: string, i: number, n: number): number {
  let w = 0;
  for (let shift = 0; i < n; i++, shift += 8) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return NOT_ASCII;
    w |= c << shift;
  }
  return w;
}

// The same for bytes.
function byteWord(b: Uint8Array, i: number, n: number): number {
  if (i + 4 <= n) {
    return b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);
  }
  let w = 0;
  for (let shift = 0; i < n; i++, shift += 8) w |= b[i]! << shift;
  return w;
}

const encoder = new TextEncoder();

// Writes bytes at INPUT and returns how many.
function loadBytes(item: Uint8Array): number {
  reserve(item.length);
  bytes.set(item, INPUT);
  return item.length;
}

// Writes a string's UTF-8 bytes at INPUT and returns how many.
function loadString(item: string): number {
  const n = item.length;
  reserve(n * 3);
  if (LITTLE_ENDIAN) {
    const w = memoryWords;
    let high = 0;
    for (let i = 0, j = INPUT >> 2; i < n; i += 4, j++) {
      const v = word(item, i, n);
      high |= v;
      w[j] = v;
    }
    if ((high & HIGH_BITS) === 0) return n;
  } else {
    let ascii = true;
    for (let i = 0; i < n && ascii; i++) {
      const c = item.charCodeAt(i);
      bytes[INPUT + i] = c;
      ascii = c < 0x80;
    }
    if (ascii) return n;
  }
  return encoder.encodeInto(item, bytes.subarray(INPUT)).written;
}

/**
 * MurmurHash64A of `data[0..length)` with a 32-bit seed, endian-neutral like
 * Redis's `MurmurHash64A`. Returns the low 32 bits (unsigned); read the high
 * 32 bits with {@linkcode hashHigh} before hashing again.
 */
export function murmurHash64A(
  data: Uint8Array,
  length: number,
  seed: number,
): number {
  reserve(length);
  bytes.set(length === data.length ? data : data.subarray(0, length), INPUT);
  return core.hash(length, seed) >>> 0;
}

/**
 * Writes the UTF-8 bytes of `text` into the shared input buffer and returns
 * how many were written. ASCII takes a copy loop with no allocation; other
 * text goes through `TextEncoder.encodeInto` (lone surrogates become U+FFFD,
 * as with every UTF-8 encoder). The buffer is reused by the next call.
 */
export function utf8IntoScratch(text: string): number {
  return loadString(text);
}

/** The shared input buffer {@linkcode utf8IntoScratch} last wrote to. */
export function scratchBuffer(): Uint8Array {
  return bytes.subarray(INPUT);
}

/**
 * Hashes a string (as its UTF-8 bytes) or bytes with MurmurHash64A; returns
 * the low 32 bits, the high half is then in {@linkcode hashHigh}.
 */
export function hashItem(item: string | Uint8Array, seed: number): number {
  return hashLow(item, seed) >>> 0;
}

/**
 * {@linkcode hashItem} with the low 32 bits as a signed 32-bit integer (the
 * same bits): a small integer, which hot callers take without boxing.
 */
export function hashLow(item: string | Uint8Array, seed: number): number {
  return typeof item === "string"
    ? hashString(item, seed)
    : hashBytes(item, seed);
}

function hashString(s: string, seed: number): number {
  const n = s.length;
  if (n <= SHORT) {
    const w0 = word(s, 0, n);
    const w1 = word(s, 4, n);
    const w2 = word(s, 8, n);
    const w3 = word(s, 12, n);
    if (((w0 | w1 | w2 | w3) & HIGH_BITS) === 0) {
      return core.hash16(n, seed, w0, w1, w2, w3);
    }
  }
  return core.hash(loadString(s), seed);
}

function hashBytes(b: Uint8Array, seed: number): number {
  const n = b.length;
  if (n > SHORT) return core.hash(loadBytes(b), seed);
  const w0 = byteWord(b, 0, n);
  const w1 = byteWord(b, 4, n);
  const w2 = byteWord(b, 8, n);
  const w3 = byteWord(b, 12, n);
  return core.hash16(n, seed, w0, w1, w2, w3);
}

/**
 * Redis's `hllPatLen()` of an item: `(runLength << 14) | registerIndex`, with
 * the register index in the low 14 bits and the run length (1..51) above.
 */
export function hllPatLen(item: string | Uint8Array): number {
  return typeof item === "string"
    ? hllPatLenOfString(item)
    : hllPatLenOfBytes(item);
}

/** {@linkcode hllPatLen} of a string (as its UTF-8 bytes). */
export function hllPatLenOfString(s: string): number {
  const n = s.length;
  if (n <= SHORT) {
    const w0 = word(s, 0, n);
    const w1 = word(s, 4, n);
    const w2 = word(s, 8, n);
    const w3 = word(s, 12, n);
    if (((w0 | w1 | w2 | w3) & HIGH_BITS) === 0) {
      return core.hll16(n, w0, w1, w2, w3);
    }
  }
  return core.hll(loadString(s));
}

/** {@linkcode hllPatLen} of bytes. */
export function hllPatLenOfBytes(b: Uint8Array): number {
  const n = b.length;
  if (n > SHORT) return core.hll(loadBytes(b));
  const w0 = byteWord(b, 0, n);
  const w1 = byteWord(b, 4, n);
  const w2 = byteWord(b, 8, n);
  const w3 = byteWord(b, 12, n);
  return core.hll16(n, w0, w1, w2, w3);
}
