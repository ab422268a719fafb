// min(): the smallest number seen, with "not set" (null) as a true identity.

import { boundedMonoid } from "./_bounded.ts";
import type { Monoid } from "./monoid.ts";

const MIN = boundedMonoid("min");

/**
 * Keeps the smallest number. The identity is `null` ("not set"), never a fake
 * zero or `Infinity`, so an empty window reads as "no value" and positive
 * minima stay correct.
 *
 * Commutative and idempotent (a semilattice). `±Infinity` are ordinary
 * values; `NaN` cannot be ordered and is refused with a `TypeError` when it
 * meets another value. `0` and `-0` compare equal; on a tie the left operand
 * is kept.
 *
 * Codec: `murmur.bounded.v1` — version byte `1`, then `0` ("not set") or `1`
 * and a big-endian float64. JSON: `null`, the number, or `"Infinity"` /
 * `"-Infinity"`.
 *
 * @returns The frozen `min` monoid over `number | null`.
 *
 * @example Usage
 * ```ts
 * import { min } from "@murmur/core/monoid";
 * import assert from "node:assert/strict";
 * const m = min();
 * assert.equal(m.combineAll([3, -1, 7, null]), -1);
 * assert.equal(m.combineAll([]), null);
 * assert.equal(m.combine(5, m.identity()), 5);
 * ```
 */
export function min(): Monoid<number | null> {
  return MIN;
}
