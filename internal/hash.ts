// FNV-1a, the package's one cheap non-cryptographic string hash (lane routing, ETags).

/**
 * 32-bit FNV-1a over the UTF-16 code units of `text`.
 *
 * @param text The text to hash.
 * @param from The state to continue from (the hash of a prefix): `fnv1a32(b, fnv1a32(a))` equals `fnv1a32(a + b)`. Default: FNV's offset basis.
 * @returns An unsigned 32-bit hash.
 */
export function fnv1a32(text: string, from = 0x811c9dc5): number {
  let hash = from;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
