// Ready-made codecs for values that first()/last() and custom monoids carry: canonical JSON and UTF-8 strings.

import { describe, fromUtf8, utf8 } from "./_codec.ts";
import { type Codec, CodecError, type JsonValue } from "./monoid.ts";

function canonical(value: unknown, path: string): string {
  switch (typeof value) {
    case "string":
    case "boolean":
      return JSON.stringify(value);
    case "number":
      if (!Number.isFinite(value)) {
        throw new TypeError(
          `json codec: ${value} at ${path} is not representable in JSON; use a finite number or a string`,
        );
      }
      return JSON.stringify(value);
    case "object": {
      if (value === null) return "null";
      if (Array.isArray(value)) {
        return `[${
          value.map((item, i) => canonical(item, `${path}[${i}]`)).join(",")
        }]`;
      }
      const keys = Object.keys(value).sort();
      const record = value as Record<string, unknown>;
      return `{${
        keys.map((key) =>
          `${JSON.stringify(key)}:${canonical(record[key], `${path}.${key}`)}`
        ).join(",")
      }}`;
    }
    default:
      throw new TypeError(
        `json codec: ${typeof value} at ${path} is not a JSON value`,
      );
  }
}

/**
 * Canonical JSON in UTF-8 (format `"json"`): object keys sorted by UTF-16
 * code units, no whitespace, so equal values always give equal bytes. That
 * makes it fit for tie-breaks such as those of `first()` and `last()`.
 *
 * `encode` throws a `TypeError` on values JSON cannot hold (`NaN`,
 * `Infinity`, `undefined`, functions, bigints); `decode` throws
 * {@linkcode CodecError} on invalid UTF-8 or JSON, and `fromJSON` on any
 * value `encode` would refuse.
 *
 * @example Usage
 * ```ts
 * import { jsonCodec } from "@murmur/core/monoid";
 * import assert from "node:assert/strict";
 *
 * const bytes = jsonCodec.encode({ b: 1, a: [true, null] });
 * assert.equal(new TextDecoder().decode(bytes), '{"a":[true,null],"b":1}');
 * assert.deepEqual(jsonCodec.decode(bytes), { a: [true, null], b: 1 });
 * assert.throws(() => jsonCodec.fromJSON(NaN));
 * ```
 */
export const jsonCodec: Codec<JsonValue> = Object.freeze({
  format: "json",
  encode(value: JsonValue): Uint8Array {
    return utf8(canonical(value, "$"), "json codec");
  },
  decode(bytes: Uint8Array): JsonValue {
    const text = fromUtf8(bytes, "json");
    try {
      return JSON.parse(text) as JsonValue;
    } catch (error) {
      throw new CodecError(`json: ${describe(text)} is not valid JSON`, {
        cause: error,
      });
    }
  },
  toJSON(value: JsonValue): JsonValue {
    canonical(value, "$");
    return value;
  },
  fromJSON(json: JsonValue): JsonValue {
    // Refuse what encode would: NaN, Infinity, undefined, lone surrogates, too deep.
    try {
      utf8(canonical(json, "$"), "json");
    } catch (error) {
      throw new CodecError(
        `json: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
    return json;
  },
});

/**
 * Strings as UTF-8 bytes (format `"utf8"`) and as JSON strings.
 *
 * `encode` throws a `TypeError` for strings holding a lone surrogate (they
 * cannot round-trip through UTF-8); `decode` throws {@linkcode CodecError}
 * on invalid UTF-8 and `fromJSON` on anything but a string.
 *
 * @example Usage
 * ```ts
 * import { stringCodec } from "@murmur/core/monoid";
 * import assert from "node:assert/strict";
 *
 * const bytes = stringCodec.encode("héllo");
 * assert.equal(bytes.length, 6);
 * assert.equal(stringCodec.decode(bytes), "héllo");
 * ```
 */
export const stringCodec: Codec<string> = Object.freeze({
  format: "utf8",
  encode(value: string): Uint8Array {
    if (typeof value !== "string") {
      throw new TypeError(`utf8 codec: expected a string, got ${typeof value}`);
    }
    return utf8(value, "utf8 codec");
  },
  decode(bytes: Uint8Array): string {
    if (!(bytes instanceof Uint8Array)) {
      throw new CodecError("utf8: expected a Uint8Array");
    }
    return fromUtf8(bytes, "utf8");
  },
  toJSON(value: string): JsonValue {
    return value;
  },
  fromJSON(json: JsonValue): string {
    if (typeof json !== "string") {
      throw new CodecError(`utf8: ${describe(json)} is not a string`);
    }
    return json;
  },
});
