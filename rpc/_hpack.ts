// HPACK (RFC 7541) for the gRPC listener: a decoder with the dynamic table and Huffman strings, and an encoder that writes literals only (it never indexes, so the peer's table stays empty).

import {
  HUFFMAN_CODES,
  HUFFMAN_LENGTHS,
  STATIC_TABLE,
} from "./_hpack_tables.ts";

/** A header block that does not decode: a connection error (COMPRESSION_ERROR). */
export class HpackError extends Error {
  /**
   * Creates the error.
   *
   * @param message What is wrong with the block.
   */
  constructor(message: string) {
    super(`HPACK: ${message}`);
    this.name = "HpackError";
  }
}

/** A header field: `[name, value]`. */
export type HeaderField = [name: string, value: string];

// The Huffman code as a binary tree over flat arrays: node n's children are
// TREE[2n] (bit 0) and TREE[2n + 1] (bit 1); a leaf is -(symbol + 1), 0 is
// "no child yet" (the root, node 0, is never anyone's child).
const EOS = 256;
const TREE = (() => {
  const tree = new Int32Array(2 * 512);
  let nodes = 1;
  for (let symbol = 0; symbol <= EOS; symbol++) {
    const code = symbol === EOS ? 0x3fffffff : HUFFMAN_CODES[symbol]!;
    const length = symbol === EOS ? 30 : HUFFMAN_LENGTHS[symbol]!;
    let node = 0;
    for (let bit = length - 1; bit > 0; bit--) {
      const slot = 2 * node + ((code >>> bit) & 1);
      if (tree[slot] === 0) tree[slot] = nodes++;
      node = tree[slot]!;
    }
    tree[2 * node + (code & 1)] = -(symbol + 1);
  }
  return tree;
})();

/** Decodes a Huffman-coded string (RFC 7541 §5.2) from `bytes[start, end)`. */
export function huffmanDecode(
  bytes: Uint8Array,
  start: number,
  end: number,
): string {
  const out: number[] = [];
  let node = 0;
  // Bits read since the last whole symbol, and whether all were ones: what
  // is left at the end must be at most 7 one bits (a prefix of EOS).
  let pending = 0;
  let ones = true;
  for (let i = start; i < end; i++) {
    const byte = bytes[i]!;
    for (let bit = 7; bit >= 0; bit--) {
      const b = (byte >>> bit) & 1;
      const next = TREE[2 * node + b]!;
      pending++;
      if (b === 0) ones = false;
      if (next < 0) {
        const symbol = -next - 1;
        if (symbol === EOS) throw new HpackError("EOS inside a Huffman string");
        out.push(symbol);
        node = 0;
        pending = 0;
        ones = true;
      } else {
        node = next;
      }
    }
  }
  if (pending > 7 || !ones) {
    throw new HpackError("a Huffman string ends in bad padding");
  }
  return latin1(out, 0, out.length);
}

/** Encodes `text` (Latin-1) with the Huffman code; used by tests and peers. */
export function huffmanEncode(text: string): Uint8Array {
  let bits = 0;
  for (let i = 0; i < text.length; i++) {
    bits += HUFFMAN_LENGTHS[text.charCodeAt(i) & 0xff]!;
  }
  const out = new Uint8Array(Math.ceil(bits / 8)).fill(0xff);
  let at = 0;
  for (let i = 0; i < text.length; i++) {
    const symbol = text.charCodeAt(i) & 0xff;
    const code = HUFFMAN_CODES[symbol]!;
    const length = HUFFMAN_LENGTHS[symbol]!;
    for (let bit = length - 1; bit >= 0; bit--, at++) {
      const mask = 0x80 >>> (at & 7);
      if (((code >>> bit) & 1) === 1) out[at >>> 3]! |= mask;
      else out[at >>> 3]! &= ~mask;
    }
  }
  return out;
}

function latin1(
  codes: ArrayLike<number>,
  start: number,
  end: number,
): string {
  let text = "";
  for (let i = start; i < end; i += 4096) {
    text += String.fromCharCode.apply(
      null,
      Array.prototype.slice.call(codes, i, Math.min(end, i + 4096)),
    );
  }
  return text;
}

/**
 * Decodes header blocks of one connection, keeping its dynamic table. Every
 * block the peer sends must pass through here, in order, even for refused
 * streams: the table is shared by the whole connection.
 */
export class HpackDecoder {
  #table: HeaderField[] = []; // newest last
  #size = 0;
  #max: number;
  readonly #limit: number;

  /**
   * Creates a decoder.
   *
   * @param limit The table size this side announced (SETTINGS_HEADER_TABLE_SIZE).
   */
  constructor(limit = 4096) {
    this.#limit = limit;
    this.#max = limit;
  }

  /**
   * Decodes one whole header block.
   *
   * @param block The block (all fragments joined).
   * @returns The fields in order, and their size as RFC 9113 counts it
   * (name + value + 32 each).
   * @throws {HpackError} When the block is malformed.
   */
  decode(block: Uint8Array): { fields: HeaderField[]; size: number } {
    const fields: HeaderField[] = [];
    let size = 0;
    let at = 0;
    const end = block.byteLength;
    const int = (prefix: number): number => {
      const mask = (1 << prefix) - 1;
      let value = block[at++]! & mask;
      if (value < mask) return value;
      let shift = 0;
      for (;;) {
        if (at >= end) throw new HpackError("an integer is cut off");
        const byte = block[at++]!;
        value += (byte & 0x7f) * 2 ** shift;
        shift += 7;
        if ((byte & 0x80) === 0) break;
        if (shift > 28) throw new HpackError("an integer is too large");
      }
      if (value > 0x7fffffff) throw new HpackError("an integer is too large");
      return value;
    };
    const str = (): string => {
      if (at >= end) throw new HpackError("a string is cut off");
      const huffman = (block[at]! & 0x80) !== 0;
      const length = int(7);
      if (length > end - at) throw new HpackError("a string is cut off");
      const start = at;
      at += length;
      return huffman
        ? huffmanDecode(block, start, at)
        : latin1(block, start, at);
    };
    const entry = (index: number): HeaderField => {
      if (index === 0) throw new HpackError("index 0");
      if (index <= STATIC_TABLE.length) {
        const [name, value] = STATIC_TABLE[index - 1]!;
        return [name, value];
      }
      const dynamic = index - STATIC_TABLE.length;
      if (dynamic > this.#table.length) {
        throw new HpackError(`index ${index} is past the table`);
      }
      const [name, value] = this.#table[this.#table.length - dynamic]!;
      return [name, value];
    };
    let sizeUpdates = true;
    while (at < end) {
      const first = block[at]!;
      let field: HeaderField;
      if ((first & 0x80) !== 0) {
        field = entry(int(7));
      } else if ((first & 0x40) !== 0) {
        const index = int(6);
        const name = index === 0 ? str() : entry(index)[0];
        field = [name, str()];
        this.#add(field);
      } else if ((first & 0x20) !== 0) {
        if (!sizeUpdates) {
          throw new HpackError("a table size update after a header field");
        }
        const max = int(5);
        if (max > this.#limit) {
          throw new HpackError(`a table size of ${max} over ${this.#limit}`);
        }
        this.#max = max;
        this.#evict(0);
        continue;
      } else {
        const index = int(4);
        const name = index === 0 ? str() : entry(index)[0];
        field = [name, str()];
      }
      sizeUpdates = false;
      size += field[0].length + field[1].length + 32;
      fields.push(field);
    }
    return { fields, size };
  }

  #add(field: HeaderField): void {
    const size = field[0].length + field[1].length + 32;
    if (size > this.#max) {
      this.#table.length = 0;
      this.#size = 0;
      return;
    }
    this.#evict(size);
    this.#table.push(field);
    this.#size += size;
  }

  #evict(room: number): void {
    let drop = 0;
    while (this.#size + room > this.#max && drop < this.#table.length) {
      const [name, value] = this.#table[drop++]!;
      this.#size -= name.length + value.length + 32;
    }
    if (drop > 0) this.#table.splice(0, drop);
  }
}

const STATIC_NAMES = new Map<string, number>();
STATIC_TABLE.forEach(([name], i) => {
  if (!STATIC_NAMES.has(name)) STATIC_NAMES.set(name, i + 1);
});
const STATUS_200 = 8;

function pushInt(out: number[], value: number, prefix: number, flags: number) {
  const mask = (1 << prefix) - 1;
  if (value < mask) {
    out.push(flags | value);
    return;
  }
  out.push(flags | mask);
  value -= mask;
  while (value >= 0x80) {
    out.push((value & 0x7f) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
}

function pushString(out: number[], text: string) {
  pushInt(out, text.length, 7, 0);
  for (let i = 0; i < text.length; i++) out.push(text.charCodeAt(i) & 0xff);
}

/**
 * Encodes header fields as literals without indexing (`:status: 200` as its
 * static index), so the peer's table is never touched. Names must be lower
 * case; values Latin-1 without CR, LF or NUL.
 */
export function encodeHeaders(fields: readonly HeaderField[]): Uint8Array {
  const out: number[] = [];
  for (const [name, value] of fields) {
    if (name === ":status" && value === "200") {
      out.push(0x80 | STATUS_200);
      continue;
    }
    const index = STATIC_NAMES.get(name);
    if (index !== undefined) {
      pushInt(out, index, 4, 0);
    } else {
      out.push(0);
      pushString(out, name);
    }
    pushString(out, value);
  }
  return Uint8Array.from(out);
}
