// Bounds-checked byte reading and writing for the versioned sketch formats (LEB128 varints up to 2^53 - 1).

import { CodecError, type JsonValue } from "../monoid/mod.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Appends bytes to a growing buffer. */
export class ByteWriter {
  #buffer: Uint8Array;
  #length = 0;

  constructor(initial = 64) {
    this.#buffer = new Uint8Array(initial);
  }

  #reserve(n: number): void {
    if (this.#length + n <= this.#buffer.length) return;
    const grown = new Uint8Array(
      Math.max(this.#buffer.length * 2, this.#length + n),
    );
    grown.set(this.#buffer.subarray(0, this.#length));
    this.#buffer = grown;
  }

  bytes(values: ArrayLike<number>): void {
    this.#reserve(values.length);
    this.#buffer.set(values, this.#length);
    this.#length += values.length;
  }

  /** An unsigned integer up to 2^53 - 1 as LEB128. */
  varint(value: number): void {
    this.#reserve(8);
    let v = value;
    while (v >= 0x80) {
      this.#buffer[this.#length++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.#buffer[this.#length++] = v;
  }

  f64(value: number): void {
    this.#reserve(8);
    new DataView(this.#buffer.buffer, this.#buffer.byteOffset + this.#length, 8)
      .setFloat64(0, value, true);
    this.#length += 8;
  }

  /** A length-prefixed UTF-8 string. */
  string(value: string): void {
    const utf8 = encoder.encode(value);
    this.varint(utf8.length);
    this.bytes(utf8);
  }

  finish(): Uint8Array {
    return this.#buffer.slice(0, this.#length);
  }
}

/** Reads a byte array front to back; every read is bounds-checked and fails with a CodecError naming the format. */
export class ByteReader {
  #offset = 0;

  constructor(readonly bytes: Uint8Array, readonly format: string) {
    if (!(bytes instanceof Uint8Array)) {
      throw new CodecError(`${format}: expected a Uint8Array`);
    }
  }

  get offset(): number {
    return this.#offset;
  }

  get remaining(): number {
    return this.bytes.length - this.#offset;
  }

  fail(message: string): never {
    throw new CodecError(`${this.format}: ${message}`);
  }

  take(n: number, what: string): Uint8Array {
    if (n > this.remaining) {
      this.fail(
        `truncated ${what} at byte ${this.#offset}: needs ${n} bytes, ${this.remaining} left`,
      );
    }
    const out = this.bytes.subarray(this.#offset, this.#offset + n);
    this.#offset += n;
    return out;
  }

  varint(what: string): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if (this.#offset >= this.bytes.length) {
        this.fail(`truncated ${what} at byte ${this.#offset}`);
      }
      const byte = this.bytes[this.#offset++]!;
      value += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) {
        if (i > 0 && byte === 0) {
          this.fail(
            `${what} at byte ${this.#offset - 1} has a redundant varint byte`,
          );
        }
        if (!Number.isSafeInteger(value)) {
          this.fail(`${what} ${value} is larger than 2^53 - 1`);
        }
        return value;
      }
      scale *= 0x80;
    }
    return this.fail(
      `${what} at byte ${this.#offset} is not a varint of at most 8 bytes`,
    );
  }

  f64(what: string): number {
    const bytes = this.take(8, what);
    return new DataView(bytes.buffer, bytes.byteOffset, 8).getFloat64(0, true);
  }

  string(what: string): string {
    const length = this.varint(`${what} length`);
    const bytes = this.take(length, what);
    try {
      return decoder.decode(bytes);
    } catch (error) {
      throw new CodecError(`${this.format}: ${what} is not valid UTF-8`, {
        cause: error,
      });
    }
  }

  /** Reads the magic bytes, then the version byte, failing on either mismatch. */
  header(magic: readonly number[], version: number, name: string): void {
    const got = this.take(magic.length, "header");
    for (let i = 0; i < magic.length; i++) {
      if (got[i] !== magic[i]) {
        this.fail(`bad header: these bytes are not a ${name}`);
      }
    }
    const gotVersion = this.take(1, "version")[0];
    if (gotVersion !== version) {
      this.fail(
        `unsupported version ${gotVersion}; this build reads version ${version}`,
      );
    }
  }

  /** Like {@linkcode ByteReader.header}, accepting any of `versions`; returns the one read. */
  headerVersion(
    magic: readonly number[],
    versions: readonly number[],
    name: string,
  ): number {
    const got = this.take(magic.length, "header");
    for (let i = 0; i < magic.length; i++) {
      if (got[i] !== magic[i]) {
        this.fail(`bad header: these bytes are not a ${name}`);
      }
    }
    const version = this.take(1, "version")[0]!;
    if (!versions.includes(version)) {
      this.fail(
        `unsupported version ${version}; this build reads versions ${
          versions.join(", ")
        }`,
      );
    }
    return version;
  }

  end(): void {
    if (this.remaining !== 0) {
      this.fail(
        `${this.remaining} unexpected bytes after the end at byte ${this.#offset}`,
      );
    }
  }
}

/** Base64 of bytes, for the JSON forms. */
export function toBase64(bytes: Uint8Array): string {
  return bytes.toBase64();
}

/** Bytes from base64, failing with a CodecError. */
export function fromBase64(
  text: JsonValue,
  format: string,
  what: string,
): Uint8Array {
  if (typeof text !== "string") {
    throw new CodecError(`${format}: ${what} must be a base64 string`);
  }
  try {
    return Uint8Array.fromBase64(text);
  } catch (error) {
    throw new CodecError(`${format}: ${what} is not valid base64`, {
      cause: error,
    });
  }
}

/** A JSON object's field, or a CodecError when the value is not an object. */
export function jsonObject(
  json: JsonValue,
  format: string,
): { readonly [key: string]: JsonValue } {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new CodecError(`${format}: JSON form must be an object`);
  }
  return json as { readonly [key: string]: JsonValue };
}

/** A non-negative safe integer field of a JSON object, or a CodecError. */
export function jsonCount(
  object: { readonly [key: string]: JsonValue },
  field: string,
  format: string,
): number {
  const value = object[field];
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new CodecError(
      `${format}: JSON field "${field}" must be a non-negative integer`,
    );
  }
  return value;
}
