// MurmurHash64A (Austin Appleby's 64-bit MurmurHash2), as Redis hashes HLL elements, on a tiny embedded WebAssembly core.
//
// JavaScript has no 64-bit integer multiply; WebAssembly does, so the hash
// runs there (tools/wasm/murmurhash.wat, assembled into _murmurhash_wasm.ts).
// Items are written into the module's memory at INPUT and hashed in place.

import { WASM_BASE64 } from "./_murmurhash_wasm.ts";

/** The seed Redis and Valkey use for HyperLogLog elements. */
export const REDIS_HLL_SEED = 0xadc83b19;

// Input bytes start here; bytes 0..8 receive the 64-bit result.
const INPUT = 16;
// The core reads the tail as one 8-byte word: keep that much slack after an input.
const SLACK = 8;
const PAGE = 65536;

interface Core {
  readonly memory: WebAssembly.Memory;
  hash(length: number, seed: number): number;
  hll(length: number): number;
}

const core = new WebAssembly.Instance(
  new WebAssembly.Module(
    Uint8Array.from(atob(WASM_BASE64), (c) => c.charCodeAt(0)),
  ),
).exports as unknown as Core;

let bytes = new Uint8Array(core.memory.buffer);
let words = new Uint32Array(core.memory.buffer, 0, 2);

// Grows the module's memory so an input of `length` bytes fits.
function reserve(length: number): void {
  const need = INPUT + length + SLACK;
  if (need <= bytes.length) return;
  core.memory.grow(Math.ceil((need - bytes.length) / PAGE));
  bytes = new Uint8Array(core.memory.buffer);
  words = new Uint32Array(core.memory.buffer, 0, 2);
}

/** Returns the high 32 bits (unsigned) of the hash whose low 32 bits the last call returned. */
export function hashHigh(): number {
  return words[1]!;
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

const encoder = new TextEncoder();

// Writes an item's bytes (a string as UTF-8) at INPUT and returns how many.
function load(item: string | Uint8Array): number {
  if (typeof item !== "string") {
    reserve(item.length);
    bytes.set(item, INPUT);
    return item.length;
  }
  const n = item.length;
  reserve(n * 3);
  const buf = bytes;
  for (let i = 0; i < n; i++) {
    const c = item.charCodeAt(i);
    if (c >= 0x80) return encoder.encodeInto(item, buf.subarray(INPUT)).written;
    buf[INPUT + i] = c;
  }
  return n;
}

/**
 * Writes the UTF-8 bytes of `text` into the shared input buffer and returns
 * how many were written. ASCII takes a copy loop with no allocation; other
 * text goes through `TextEncoder.encodeInto` (lone surrogates become U+FFFD,
 * as with every UTF-8 encoder). The buffer is reused by the next call.
 */
export function utf8IntoScratch(text: string): number {
  return load(text);
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
  return core.hash(load(item), seed) >>> 0;
}

/**
 * Redis's `hllPatLen()` of an item: `(runLength << 14) | registerIndex`, with
 * the register index in the low 14 bits and the run length (1..51) above.
 */
export function hllPatLen(item: string | Uint8Array): number {
  return core.hll(load(item));
}
