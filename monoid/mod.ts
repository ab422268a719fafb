/**
 * The algebra: monoids with honest identities, structural kinds that stores
 * dispatch on, versioned codecs, and UTC time windows.
 *
 * A monoid folds values: `combine(a, b)` is associative and `identity()` is
 * a true neutral element (`min`/`max`/`first`/`last` use `null` for "not
 * set", never a fake zero). Its `kind` and flags tell backends which write
 * path is correct: `additive` monoids (`sum`, `count`) become an atomic ADD,
 * everything else a read-combine-write. Every built-in passes the laws in
 * `@murmur/core/laws`.
 *
 * | factory | kind | value | identity | flags |
 * |---|---|---|---|---|
 * | `sum()` / `sumBigInt()` | `sum` | `number` / `bigint` | `0` / `0n` | additive, commutative |
 * | `count()` | `count` | safe integer | `0` | additive, commutative |
 * | `min()` / `max()` | `min` / `max` | `number \| null` | `null` | commutative, idempotent |
 * | `first()` / `last()` | `first` / `last` | `{ value, time } \| null` | `null` | commutative, idempotent |
 * | `set({ maxSize? })` | `set` | `ReadonlySet<string>` | empty set | commutative, idempotent |
 * | `monotonic()` | `monotonic` | `number >= 0` | `0` | commutative, idempotent |
 * | `decayedSum({ halfLife })` | `decayed` | `{ value, time }` | `{ value: 0, time: -Infinity }` | commutative |
 * | `mapMerge(inner)` | `map` | `ReadonlyMap<string, V>` | empty map | as `inner` |
 * | `tuple(...monoids)` | `tuple` | readonly tuple | tuple of identities | all components' |
 * | `defineMonoid({...})` | `custom` | yours | yours | yours |
 *
 * **Codecs.** Plain numbers are decimal text (`"decimal"`, `"decimal-integer"`:
 * what Valkey `INCRBY`/`INCRBYFLOAT` and DynamoDB numbers read natively, and
 * exact for bigints of any size); in JSON a bigint is a decimal string.
 * Structured values use versioned binary formats named `murmur.<name>.v1`
 * (one leading version byte; numbers inside are big-endian float64, lengths
 * big-endian u32). Decoding is bounds-checked and throws `CodecError`, never
 * returning a truncated value.
 *
 * Windows key values by the start of their UTC bucket in epoch ms, expire
 * them at the bucket's end plus retention, and say exactly which interval a
 * "last 7 days" answer covers.
 *
 * @example Folding a day of page views
 * ```ts
 * import { count, daily, days, max, mergeBuckets } from "@murmur/core/monoid";
 * import assert from "node:assert/strict";
 *
 * const window = daily({ retention: days(30) });
 * const now = Date.UTC(2024, 2, 10, 15, 0);
 * const bucket = window.bucketOf(now);
 * assert.equal(new Date(bucket).toISOString(), "2024-03-10T00:00:00.000Z");
 *
 * const views = count().combineAll([1, 1, 1]);
 * assert.equal(views, 3);
 *
 * // Merging buckets skips the ones holding nothing.
 * const peak = mergeBuckets(max(), [12, undefined, 40]);
 * assert.equal(peak, 40);
 * ```
 *
 * @module
 */

export * from "./monoid.ts";
export * from "./codecs.ts";
export * from "./sum.ts";
export * from "./count.ts";
export * from "./min.ts";
export * from "./max.ts";
export * from "./window.ts";
export * from "./first.ts";
export * from "./last.ts";
export * from "./set.ts";
export * from "./monotonic.ts";
export * from "./decayed_sum.ts";
export * from "./map_merge.ts";
export * from "./tuple.ts";
