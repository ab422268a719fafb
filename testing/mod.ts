/**
 * Testing helpers for users' own pipelines and backends: the shared store
 * conformance suite every {@linkcode Store} backend must pass.
 *
 * @example Check a backend
 * ```ts ignore
 * import { storeConformance } from "@murmur/core/testing";
 * import { MemoryStore } from "@murmur/core/state";
 *
 * storeConformance("memory", () => Promise.resolve(new MemoryStore()));
 * ```
 *
 * @module
 */

export {
  storeConformance,
  type StoreConformanceOptions,
} from "./store_conformance.ts";
