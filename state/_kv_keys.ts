// Deno KV key sizes: the exact encoded length of a key, and the room the entity limit leaves.

import { utf8Length } from "../internal/utf8.ts";

/** Deno KV's largest key, in encoded bytes (reads and writes alike). */
export const MAX_KEY_BYTES = 2048;

/** Namespace bytes the entity limit leaves room for (longer ones still work with shorter entities). */
export const NAMESPACE_RESERVE = 128;
/** Claim-id bytes the entity limit leaves room for. */
export const CLAIM_RESERVE = 128;

/** A key part's length in Deno KV's tuple encoding: a type byte, the payload (NUL bytes escaped), a terminator. */
export function partBytes(part: Deno.KvKeyPart): number {
  if (typeof part === "string") {
    let nuls = 0;
    for (
      let i = part.indexOf("\u0000");
      i >= 0;
      i = part.indexOf("\u0000", i + 1)
    ) {
      nuls++;
    }
    return 2 + utf8Length(part) + nuls;
  }
  if (part instanceof Uint8Array) {
    return 2 + part.length + part.filter((b) => b === 0).length;
  }
  if (typeof part === "number") return 9;
  if (typeof part === "boolean") return 1;
  if (typeof part === "bigint") {
    // A type byte, a length byte and the magnitude's bytes, at most.
    const magnitude = part < 0n ? -part : part;
    return 2 + Math.ceil(magnitude.toString(16).length / 2);
  }
  return 0;
}

/** A key's length in Deno KV's encoding, which must stay within {@linkcode MAX_KEY_BYTES}. */
export function keyBytes(key: Deno.KvKey): number {
  let bytes = 0;
  for (const part of key) bytes += partBytes(part);
  return bytes;
}
