/**
 * Sketches: compact, mergeable summaries that are monoids.
 *
 * @example Usage
 * ```ts
 * import { HyperLogLog } from "@murmur/core/sketch";
 * const hll = new HyperLogLog();
 * hll.add("x");
 * console.log(hll.count()); // 1
 * ```
 *
 * @module
 */

export * from "./hll.ts";
