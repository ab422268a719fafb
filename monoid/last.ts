// last(): the value with the latest event time, ties broken by its encoding.

import { type Stamped, stampedMonoid } from "./_stamped.ts";
import { jsonCodec } from "./codecs.ts";
import type { StampedOptions } from "./first.ts";
import type { Codec, JsonValue, Monoid } from "./monoid.ts";

/**
 * Keeps the value observed at the latest event time — by event time, not
 * arrival, so a late event never overwrites a newer one.
 *
 * Values are `{ value, time }` (time in epoch ms) or `null` ("not set", the
 * identity). On equal times the value whose codec bytes are larger
 * (lexicographically) wins, so the monoid is commutative and idempotent.
 * Times must be finite numbers (`NaN` is refused with a `TypeError`).
 *
 * Without options values are JSON, encoded as canonical JSON (sorted keys);
 * pass `{ codec }` for other types.
 *
 * Codec: `murmur.stamped.v1(<value format>)`, as for `first()`.
 *
 * @returns A frozen `last` monoid over JSON values.
 *
 * @example Usage
 * ```ts
 * import { last } from "@murmur/core/monoid";
 * import assert from "node:assert/strict";
 * const m = last();
 * const status = m.combineAll([
 *   { value: { state: "shipped" }, time: 3000 },
 *   { value: { state: "paid" }, time: 2000 }, // arrived late
 * ]);
 * assert.deepEqual(status, { value: { state: "shipped" }, time: 3000 });
 * ```
 */
export function last(): Monoid<Stamped<JsonValue> | null>;
/**
 * Keeps the latest-stamped value, with values encoded by `options.codec`.
 *
 * @typeParam T The value type.
 * @param options The value codec; its bytes break time ties.
 * @returns A frozen `last` monoid.
 *
 * @example Usage
 * ```ts
 * import { last, stringCodec } from "@murmur/core/monoid";
 * import assert from "node:assert/strict";
 * const m = last({ codec: stringCodec });
 * assert.equal(m.combine({ value: "b", time: 5 }, { value: "a", time: 5 })?.value, "b");
 * ```
 */
export function last<T>(
  options: StampedOptions<T>,
): Monoid<Stamped<T> | null>;
export function last<T>(
  options?: StampedOptions<T>,
): Monoid<Stamped<T> | null> {
  return stampedMonoid(
    "last",
    options?.codec ?? (jsonCodec as unknown as Codec<T>),
  );
}
