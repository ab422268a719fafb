// Private: joining byte chunks into one array.

/**
 * Joins `parts` into one new array.
 *
 * @param parts The chunks, in order.
 * @param size Their total length, when the caller already counted it.
 * @returns The bytes of every part, one after another.
 */
export function concatBytes(
  parts: readonly Uint8Array[],
  size?: number,
): Uint8Array<ArrayBuffer> {
  let total = size ?? 0;
  if (size === undefined) { for (const part of parts) total += part.length; }
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
