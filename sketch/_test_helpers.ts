// Private test helpers shared by the sketch unit tests.

import assert from "node:assert/strict";
import { CodecError } from "../monoid/mod.ts";

export { assertMonoidFlags } from "../monoid/_test_helpers.ts";

/** A malformed-bytes case: its name, the bytes, and what the error must say. */
export type BadBytesCase = readonly [string, ArrayLike<number>, RegExp];

/**
 * Asserts that `decode` refuses every case with a {@linkcode CodecError}
 * whose message matches the case's pattern.
 */
export function assertRefusesBytes(
  decode: (bytes: Uint8Array) => unknown,
  cases: readonly BadBytesCase[],
): void {
  for (const [name, bytes, message] of cases) {
    assert.throws(
      () => decode(Uint8Array.from(bytes)),
      (error: unknown) =>
        error instanceof CodecError && message.test(error.message),
      name,
    );
  }
}
