/**
 * Sketches: small, mergeable summaries of big streams, each one a monoid.
 *
 * - {@linkcode HyperLogLog} counts distinct items in 12 KB with 0.81%
 *   standard error, byte for byte in Redis / Valkey's `HYLL` format: bytes
 *   written here work with `PFADD`, `PFMERGE` and `PFCOUNT`, and `count()`
 *   equals `PFCOUNT`. Monoid: {@linkcode hll}.
 * - {@linkcode TopK} finds heavy hitters (Space-Saving) with per-key error
 *   bounds and a merge that never empties the sketch. Monoid: {@linkcode topK}.
 * - {@linkcode BloomFilter} answers "seen before?" with a bounded
 *   false-positive rate, 12 KB for 10 000 items at 1% by default. Monoid:
 *   {@linkcode bloom}.
 *
 * Every sketch's monoid has an empty sketch as identity and a `combine` that
 * returns a new sketch without touching its inputs; `combineAll` folds into
 * one fresh sketch. Codecs are versioned (`murmur.topk.v1`,
 * `murmur.bloom.v1`) or standard (`hyll`), and decoding bounds-checks every
 * field, throwing `CodecError` on malformed bytes.
 *
 * @example Distinct users, top pages and a seen-set over one stream
 * ```ts
 * import { bloom, hll, topK } from "@murmur/core/sketch";
 * import assert from "node:assert/strict";
 *
 * const events = [
 *   { user: "ann", page: "/" },
 *   { user: "bob", page: "/pricing" },
 *   { user: "ann", page: "/" },
 *   { user: "cy", page: "/" },
 * ];
 * const users = hll().identity();
 * const pages = topK({ k: 2 }).identity();
 * const seen = bloom({ capacity: 1000 }).identity();
 * for (const { user, page } of events) {
 *   users.add(user);
 *   pages.add(page);
 *   seen.add(user);
 * }
 * assert.equal(users.count(), 3);
 * assert.deepEqual(pages.top(1), [ { key: "/", count: 3, error: 0 } ]);
 * assert.equal(seen.has("bob"), true);
 * assert.equal(seen.has("dan"), false);
 * ```
 *
 * @module
 */

export * from "./hll.ts";
export * from "./topk.ts";
export * from "./bloom.ts";
