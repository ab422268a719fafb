// Private byte helpers shared by the monoid codecs: bounds-checked readers, writers, decimal text.

import { concatBytes } from "../internal/bytes.ts";
import { CodecError, type JsonValue } from "./monoid.ts";

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true });

/** The version byte every versioned murmur format starts with. */
export const FORMAT_VERSION = 1;

/** Encodes a well-formed string as UTF-8; lone surrogates would not round-trip, so they are refused. */
export function utf8(text: string, what: string): Uint8Array {
  if (!text.isWellFormed()) {
    throw new TypeError(
      `${what}: string holds a lone UTF-16 surrogate, which cannot be stored as UTF-8; clean it before folding`,
    );
  }
  return encoder.encode(text);
}

/** Decodes UTF-8, refusing invalid sequences. */
export function fromUtf8(bytes: Uint8Array, format: string): string {
  try {
    return strictDecoder.decode(bytes);
  } catch (error) {
    throw new CodecError(`${format}: bytes are not valid UTF-8`, {
      cause: error,
    });
  }
}

/** Accumulates bytes for a versioned binary format. */
export class ByteWriter {
  #chunks: Uint8Array[] = [];
  #length = 0;
  #scratch = new DataView(new ArrayBuffer(8));

  /** Starts a writer with the format's version byte. */
  constructor() {
    this.u8(FORMAT_VERSION);
  }

  u8(value: number): void {
    this.#push(Uint8Array.of(value));
  }

  u32(value: number): void {
    this.#scratch.setUint32(0, value);
    this.#push(new Uint8Array(this.#scratch.buffer.slice(0, 4)));
  }

  f64(value: number): void {
    this.#scratch.setFloat64(0, value);
    this.#push(new Uint8Array(this.#scratch.buffer.slice(0, 8)));
  }

  /** Writes a u32 length then the bytes. */
  chunk(bytes: Uint8Array): void {
    this.u32(bytes.length);
    this.#push(bytes);
  }

  bytes(bytes: Uint8Array): void {
    this.#push(bytes);
  }

  finish(): Uint8Array {
    return concatBytes(this.#chunks, this.#length);
  }

  #push(bytes: Uint8Array): void {
    this.#chunks.push(bytes);
    this.#length += bytes.length;
  }
}

/** Reads a versioned binary format, throwing {@linkcode CodecError} on any overrun. */
export class ByteReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #format: string;
  #offset = 0;

  /** Opens `bytes` and checks the version byte. */
  constructor(bytes: Uint8Array, format: string) {
    if (!(bytes instanceof Uint8Array)) {
      throw new CodecError(`${format}: expected a Uint8Array`);
    }
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    this.#format = format;
    const version = this.u8("version");
    if (version !== FORMAT_VERSION) {
      throw new CodecError(
        `${format}: unknown version ${version} (this build reads version ${FORMAT_VERSION})`,
      );
    }
  }

  get remaining(): number {
    return this.#bytes.length - this.#offset;
  }

  u8(what: string): number {
    this.#need(1, what);
    return this.#view.getUint8(this.#offset++);
  }

  u32(what: string): number {
    this.#need(4, what);
    const value = this.#view.getUint32(this.#offset);
    this.#offset += 4;
    return value;
  }

  f64(what: string): number {
    this.#need(8, what);
    const value = this.#view.getFloat64(this.#offset);
    this.#offset += 8;
    return value;
  }

  /** Reads `length` bytes as a view (no copy). */
  take(length: number, what: string): Uint8Array {
    this.#need(length, what);
    const out = this.#bytes.subarray(this.#offset, this.#offset + length);
    this.#offset += length;
    return out;
  }

  /** Reads a u32 length then that many bytes. */
  chunk(what: string): Uint8Array {
    return this.take(this.u32(`${what} length`), what);
  }

  /** Reads everything left. */
  rest(): Uint8Array {
    return this.take(this.remaining, "rest");
  }

  /** Throws unless every byte was consumed. */
  end(): void {
    if (this.remaining !== 0) {
      throw new CodecError(
        `${this.#format}: ${this.remaining} unexpected trailing byte(s) after the value`,
      );
    }
  }

  fail(message: string): never {
    throw new CodecError(`${this.#format}: ${message}`);
  }

  #need(length: number, what: string): void {
    if (length > this.#bytes.length - this.#offset) {
      throw new CodecError(
        `${this.#format}: truncated ${what} (needs ${length} byte(s) at offset ${this.#offset}, ${
          this.#bytes.length - this.#offset
        } left)`,
      );
    }
  }
}

/** The longest decimal text the codecs read; longer input is refused before parsing. */
export const MAX_DECIMAL_LENGTH = 4096;

const DECIMAL = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;
const INTEGER = /^-?(?:0|[1-9][0-9]*)$/;

/** Reads finite decimal text as a number (JavaScript's shortest round-trip form or any plain decimal). */
export function parseDecimal(text: string, format: string): number {
  if (text.length > MAX_DECIMAL_LENGTH || !DECIMAL.test(text)) {
    throw new CodecError(
      `${format}: ${describe(text)} is not a decimal number`,
    );
  }
  const value = Number(text);
  if (!Number.isFinite(value)) {
    throw new CodecError(`${format}: ${describe(text)} is out of range`);
  }
  return value;
}

/** Reads decimal integer text as a bigint. */
export function parseBigInt(text: string, format: string): bigint {
  if (text.length > MAX_DECIMAL_LENGTH || !INTEGER.test(text)) {
    throw new CodecError(
      `${format}: ${
        describe(text)
      } is not a decimal integer (at most ${MAX_DECIMAL_LENGTH} characters)`,
    );
  }
  return BigInt(text);
}

/** Decodes decimal text bytes to a string, refusing anything but ASCII digits and signs. */
export function decimalText(bytes: Uint8Array, format: string): string {
  if (!(bytes instanceof Uint8Array)) {
    throw new CodecError(`${format}: expected a Uint8Array`);
  }
  if (bytes.length === 0) throw new CodecError(`${format}: empty input`);
  if (bytes.length > MAX_DECIMAL_LENGTH) {
    throw new CodecError(
      `${format}: ${bytes.length} bytes is longer than the ${MAX_DECIMAL_LENGTH}-byte limit for a number`,
    );
  }
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return text;
}

/** Encodes ASCII text. */
export function ascii(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

/** A short, safe rendering of untrusted input for error messages. */
export function describe(value: unknown): string {
  let text: string;
  try {
    text = typeof value === "bigint"
      ? `${value}n`
      : JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Narrows a JSON value to a plain object. */
export function isJsonObject(
  json: JsonValue,
): json is { readonly [key: string]: JsonValue } {
  return typeof json === "object" && json !== null && !Array.isArray(json);
}

/** Encodes a non-NaN number for JSON, spelling the infinities as strings. */
export function numberToJSON(value: number): JsonValue {
  return Number.isFinite(value) ? value : String(value);
}

/** Reads a number written by {@linkcode numberToJSON}. */
export function numberFromJSON(json: JsonValue, format: string): number {
  if (typeof json === "number" && Number.isFinite(json)) return json;
  if (json === "Infinity") return Infinity;
  if (json === "-Infinity") return -Infinity;
  throw new CodecError(`${format}: ${describe(json)} is not a number`);
}

/** Reads a finite JSON number. */
export function finiteFromJSON(json: JsonValue, format: string): number {
  if (typeof json === "number" && Number.isFinite(json)) return json;
  throw new CodecError(`${format}: ${describe(json)} is not a finite number`);
}

/** Compares byte arrays lexicographically. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** Compares strings by UTF-16 code units (the order of `Array.prototype.sort`). */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
