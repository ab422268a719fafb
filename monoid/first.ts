// first(): the value with the earliest event time, ties broken by its encoding.

import { type Stamped, stampedMonoid } from "./_stamped.ts";
import { jsonCodec } from "./codecs.ts";
import type { Codec, JsonValue, Monoid } from "./monoid.ts";

export type { Stamped };

/**
 * Options for {@linkcode first} and `last()`.
 *
 * @typeParam T The value type.
 */
export interface StampedOptions<T> {
  /**
   * Encodes values to bytes and JSON. Its bytes also break time ties, so it
   * must be canonical: equal values give equal bytes.
   */
  readonly codec: Codec<T>;
}

/**
 * Keeps the value observed at the earliest event time.
 *
 * Values are `{ value, time }` (time in epoch ms) or `null` ("not set", the
 * identity). On equal times the value whose codec bytes are smaller
 * (lexicographically) wins, so the result never depends on arrival order:
 * the monoid is commutative and idempotent, which makes retries and
 * out-of-order delivery harmless. Times must be finite numbers (`NaN` is
 * refused with a `TypeError`).
 *
 * Without options values are JSON, encoded as canonical JSON (sorted keys);
 * pass `{ codec }` for other types, e.g. `stringCodec`.
 *
 * Codec: `murmur.stamped.v1(<value format>)` — version byte `1`, then `0`
 * ("not set") or `1`, the time as a big-endian float64 and the value's bytes.
 * JSON: `null` or `{ "value": …, "time": … }`.
 *
 * @returns A frozen `first` monoid over JSON values.
 *
 * @example Usage
 * ```ts
 * import { first } from "@murmur/core/monoid";
 * import assert from "node:assert/strict";
 * const m = first();
 * const seen = m.combineAll([
 *   { value: "checkout", time: 2000 },
 *   { value: "landing", time: 1000 },
 *   null,
 * ]);
 * assert.deepEqual(seen, { value: "landing", time: 1000 });
 * ```
 */
export function first(): Monoid<Stamped<JsonValue> | null>;
/**
 * Keeps the earliest-stamped value, with values encoded by `options.codec`.
 *
 * @typeParam T The value type.
 * @param options The value codec; its bytes break time ties.
 * @returns A frozen `first` monoid.
 *
 * @example Usage
 * ```ts
 * import { first, stringCodec } from "@murmur/core/monoid";
 * import assert from "node:assert/strict";
 * const m = first({ codec: stringCodec });
 * assert.equal(m.combine({ value: "b", time: 5 }, { value: "a", time: 5 })?.value, "a");
 * ```
 */
export function first<T>(
  options: StampedOptions<T>,
): Monoid<Stamped<T> | null>;
export function first<T>(
  options?: StampedOptions<T>,
): Monoid<Stamped<T> | null> {
  return stampedMonoid(
    "first",
    options?.codec ?? (jsonCodec as unknown as Codec<T>),
  );
}
