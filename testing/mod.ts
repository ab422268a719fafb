/**
 * Testing helpers for your own pipelines and backends: a
 * {@linkcode TestDriver} that runs a pipeline on a virtual clock without a
 * source or services, a {@linkcode FaultyStore} that fails on command, and
 * {@linkcode storeConformance}, the suite every `Store` backend must pass.
 *
 * @example Test a pipeline
 * ```ts
 * import { TestDriver } from "@murmur/core/testing";
 * import { counter } from "@murmur/core/pipeline";
 * import { MemoryStore } from "@murmur/core/state";
 * import assert from "node:assert/strict";
 *
 * const p = counter<{ page?: string }>("views").key((e) => e.page!).storeIn(new MemoryStore()).build();
 * const driver = new TestDriver(p);
 * await driver.send({ page: "home" }, { page: "home" }, {});
 * assert.equal(await driver.get("home"), 2);
 * assert.equal(driver.deadLetters[0]?.error.stage, "key");
 * ```
 *
 * @module
 */

export {
  type DeadLetter,
  TestDriver,
  type TestDriverOptions,
  VirtualClock,
} from "./driver.ts";
export {
  FaultyStore,
  type FaultyStoreOptions,
  InjectedFailure,
  type MergeCall,
} from "./faulty_store.ts";
export {
  storeConformance,
  type StoreConformanceOptions,
} from "./store_conformance.ts";
