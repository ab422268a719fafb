// The error sketches throw when asked to merge values of different shapes.

/**
 * Thrown when two sketches cannot be merged because their shapes differ:
 * Top-K sketches with different `k`, Bloom filters with different capacity,
 * false-positive rate, bit count or hash count. Merging them anyway would
 * silently break the sketch's guarantees, so the merge refuses.
 *
 * @example Usage
 * ```ts
 * import { BloomFilter, IncompatibleSketchError } from "@murmur/core/sketch";
 * import assert from "node:assert/strict";
 *
 * const small = new BloomFilter({ capacity: 100 });
 * const large = new BloomFilter({ capacity: 1000 });
 * try {
 *   small.merge(large);
 * } catch (error) {
 *   assert.equal(error instanceof IncompatibleSketchError, true);
 * }
 * ```
 */
export class IncompatibleSketchError extends Error {
  /** Creates the error with a message naming both shapes. */
  constructor(message: string) {
    super(message);
    this.name = "IncompatibleSketchError";
  }
}
