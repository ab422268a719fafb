// Private test helpers shared by the monoid and sketch unit tests.

import assert from "node:assert/strict";
import type { Monoid } from "./monoid.ts";

/** The descriptive fields of a monoid a test may pin down. */
export interface MonoidFlags {
  kind: string;
  format?: string;
  commutative: boolean;
  idempotent: boolean;
  additive: boolean;
}

/**
 * Asserts a monoid's kind and algebraic flags (and its codec format, when
 * `expected.format` is given) in one comparison.
 */
export function assertMonoidFlags(
  // deno-lint-ignore no-explicit-any
  monoid: Monoid<any>,
  expected: MonoidFlags,
): void {
  const actual: MonoidFlags = {
    kind: monoid.kind,
    commutative: monoid.commutative,
    idempotent: monoid.idempotent,
    additive: monoid.additive,
  };
  if (expected.format !== undefined) actual.format = monoid.codec.format;
  assert.deepEqual(actual, expected);
}
