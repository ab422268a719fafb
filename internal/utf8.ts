// UTF-8 lengths without encoding: for byte limits on keys checked on every read and write.

/**
 * The UTF-8 length of a string, counted without allocating. A lone
 * surrogate counts 3 bytes, as the encoder writes U+FFFD for it.
 *
 * @param text The text.
 * @returns Its length in UTF-8 bytes.
 */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (
      c >= 0xd800 && c <= 0xdbff && i + 1 < text.length &&
      (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00
    ) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}
