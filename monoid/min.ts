// min(): the smallest number seen, with "not set" (null) as a true identity.

import { boundedMonoid, unordered } from "./_bounded.ts";
import type { Monoid } from "./monoid.ts";

function combine(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  if (a <= b) return a;
  if (b < a) return b;
  throw unordered("min", a, b);
}

function combineAll(values: Iterable<number | null>): number | null {
  let m: number | null = null;
  if (Array.isArray(values)) {
    const array = values as readonly (number | null)[];
    const n = array.length;
    let i = 0;
    for (; i < n && m === null; i++) m = array[i]!;
    if (m === null) return null;
    let best: number = m;
    for (; i < n; i++) {
      const v = array[i]!;
      if (v === null) continue;
      if (v < best) best = v;
      else if (!(v >= best)) throw unordered("min", best, v);
    }
    return best;
  }
  for (const v of values) m = combine(m, v);
  return m;
}

const MIN = boundedMonoid("min", combine, combineAll);

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
