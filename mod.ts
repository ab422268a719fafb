/**
 * Streaming aggregation with monoid-typed state, for Deno.
 *
 * Describe what to count once — a key, a value, a monoid, a window — and run
 * it live, as a bootstrap over a snapshot, or as a replay over an archive.
 * This module re-exports the core of every concern; the heavier integrations
 * (Kafka, DynamoDB, Valkey, the query and admin servers) have their own entry
 * points (`@murmur/core/source/kafka`, `@murmur/core/state/dynamodb`, …) so
 * you load only what you import.
 *
 * @example Count page views per page, exactly, on the in-memory store
 * ```ts
 * import { MemorySource, MemoryStore, pipeline, run, sum } from "@murmur/core";
 *
 * const store = new MemoryStore();
 * const views = pipeline<{ page: string }>("views")
 *   .from(MemorySource.of([{ page: "/" }, { page: "/about" }, { page: "/" }]))
 *   .key((e) => e.page)
 *   .value(() => 1)
 *   .aggregate(sum())
 *   .storeIn(store)
 *   .build();
 *
 * await run(views);
 * console.log(await store.get(views.scope, { entity: "/", bucket: null })); // 2
 * ```
 *
 * @module
 */

export * from "./monoid/mod.ts";
export * from "./sketch/mod.ts";
export * from "./pipeline/mod.ts";
export * from "./streaming/mod.ts";
export * from "./source/mod.ts";
export * from "./state/mod.ts";
