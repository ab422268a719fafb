// Private test helpers shared by the monoid and sketch unit tests.

import assert from "node:assert/strict";
import type { Monoid } from "./monoid.ts";

/** An algebraic flag of a monoid. */
export type MonoidFlag = "commutative" | "idempotent" | "additive";

const FLAGS: readonly MonoidFlag[] = ["commutative", "idempotent", "additive"];

/**
 * Asserts a monoid's kind, exactly which of its flags are true (the others
 * must be false) and, when given, its codec format, in one comparison.
 */
export function assertMonoidFlags(
  monoid: Monoid<unknown>,
  kind: string,
  flags: readonly MonoidFlag[],
  format?: string,
): void {
  assert.deepEqual(
    {
      kind: monoid.kind,
      flags: FLAGS.filter((flag) => monoid[flag]),
      format: format === undefined ? undefined : monoid.codec.format,
    },
    { kind, flags: FLAGS.filter((flag) => flags.includes(flag)), format },
  );
}
