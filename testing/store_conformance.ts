// The shared test suite every Store backend must pass: values, keys, expiry, concurrency, marks and claims.

import assert from "node:assert/strict";
import {
  type Codec,
  CodecError,
  count,
  defineMonoid,
  first,
  type JsonValue,
  last,
  max,
  min,
  type Monoid,
  set,
  sum,
  sumBigInt,
} from "../monoid/mod.ts";
import { hll, type HyperLogLog } from "../sketch/hll.ts";
import { type TopK, topK } from "../sketch/topk.ts";
import {
  DeltaRejectedError,
  entityProblem,
  EntityRejectedError,
  MarkConflictError,
} from "../state/mod.ts";
import type { Delta, Scope, StateKey, Store } from "../state/mod.ts";

/** Options for {@linkcode storeConformance}. */
export interface StoreConformanceOptions {
  /**
   * Whether the backend honours `expiresAt` on reads (an entry whose expiry
   * has passed reads as absent). Default: `true`.
   */
  readonly expiry?: boolean;
  /** How many merges run in parallel in the lost-update test. Default: 24. */
  readonly parallelMerges?: number;
  /**
   * Whether Deno's op and resource sanitizers run. Turn them off for
   * backends whose client library keeps timers or sockets between calls.
   * Default: `true`.
   */
  readonly sanitize?: boolean;
  /** A prefix for the namespaces the suite writes, so runs never collide. Default: a random one. */
  readonly namespacePrefix?: string;
}

/** A custom (read-combine-write) monoid over sorted string lists, so lost CAS updates show. */
const union: Monoid<readonly string[]> = defineMonoid<readonly string[]>({
  name: "conformance-union",
  identity: () => [],
  combine: (a, b) => [...new Set([...a, ...b])].sort(),
  commutative: true,
  idempotent: true,
  codec: {
    format: "json-string-list",
    encode: (v) => new TextEncoder().encode(JSON.stringify(v)),
    decode: (bytes) => parseList(new TextDecoder().decode(bytes)),
    toJSON: (v) => [...v],
    fromJSON: (json) => checkList(json),
  } satisfies Codec<readonly string[]>,
});

function parseList(text: string): readonly string[] {
  let json: JsonValue;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new CodecError(`json-string-list: ${text.slice(0, 40)} is not JSON`, {
      cause: error,
    });
  }
  return checkList(json);
}

function checkList(json: JsonValue): readonly string[] {
  if (!Array.isArray(json) || json.some((x) => typeof x !== "string")) {
    throw new CodecError("json-string-list: expected an array of strings");
  }
  return json as string[];
}

/** One merge-then-get case: deltas merged in separate calls, compared with a local left fold. */
interface ValueCase {
  readonly label: string;
  readonly monoid: Monoid<unknown>;
  readonly values: readonly unknown[];
  /** Value equality; by default the codec's bytes are compared. */
  readonly equals?: (a: unknown, b: unknown) => boolean;
}

function valueCases(): ValueCase[] {
  const of = <T>(
    label: string,
    monoid: Monoid<T>,
    values: T[],
    equals?: (a: T, b: T) => boolean,
  ): ValueCase => ({
    label,
    monoid: monoid as Monoid<unknown>,
    values,
    ...(equals === undefined
      ? {}
      : { equals: equals as (a: unknown, b: unknown) => boolean }),
  });
  const h = hll();
  const sketches = [0, 1, 2].map((batch) => {
    const sketch = h.identity();
    for (let i = 0; i < 300; i++) sketch.add(`visitor-${batch * 200 + i}`);
    return sketch;
  });
  const t = topK({ k: 5 });
  const tops = [["a", "b", "a"], ["c", "a"], ["b", "d", "e", "f"]].map(
    (items) => {
      const sketch = t.identity();
      for (const item of items) sketch.add(item);
      return sketch;
    },
  );
  return [
    of("sum of integers", sum(), [2, 3, 40]),
    of("sum with negatives and fractions", sum(), [2.5, -7, 0.25, -1]),
    of("sum of bigints beyond 2^64", sumBigInt(), [2n ** 70n, -5n, 2n ** 64n]),
    of("count", count(), [1, 1, 5]),
    of("max", max(), [3, 11, -2, 7]),
    of("min", min(), [3, 11, -2, 7]),
    of("set", set(), [
      new Set(["a", "b"]),
      new Set(["b", "c"]),
      new Set(["z"]),
    ]),
    of("first", first(), [
      { value: "late", time: 2_000 },
      { value: "early", time: 1_000 },
      { value: { page: "middle" }, time: 1_500 },
    ]),
    of("last", last(), [
      { value: "middle", time: 1_500 },
      { value: ["late", 1], time: 2_000 },
      { value: "early", time: 1_000 },
    ]),
    of("hll", h, sketches, (a: HyperLogLog, b: HyperLogLog) => a.equals(b)),
    of("topk", t, tops, (a: TopK, b: TopK) => a.equals(b)),
    of("custom (read-combine-write)", union, [["b"], ["a"], ["c", "a"]]),
  ];
}

function sameValue(c: ValueCase, actual: unknown, expected: unknown): void {
  assert.notEqual(actual, undefined, "expected a stored value");
  if (c.equals !== undefined) {
    assert.ok(
      c.equals(actual, expected),
      `${c.label}: stored value differs from the local fold`,
    );
  } else {
    assert.deepEqual(
      c.monoid.codec.encode(actual),
      c.monoid.codec.encode(expected),
    );
  }
}

/**
 * Registers the shared `Deno.test` cases every {@linkcode Store} backend must
 * pass: reads of missing keys, merge-then-get for every built-in monoid kind
 * (compared byte for byte with a local fold), `getMany` order with missing
 * and repeated keys, all-time (`null`) vs epoch (`0`) buckets, namespaces,
 * expiry, parallel merges to one key (no lost update, which catches a broken
 * compare-and-set), exactly-once marks and claims, entity limits (for a
 * store that declares {@linkcode Store.limits}) and edge cases such as an
 * empty merge. Each case gets a fresh store from `makeStore` and closes it.
 *
 * @param name The backend's name, prefixed to every test name.
 * @param makeStore Creates a store for one test case.
 * @param options Expiry support, parallelism, sanitizers and namespace prefix.
 *
 * @example Run it for your own backend (in a `_test.ts` file)
 * ```ts ignore
 * import { storeConformance } from "@murmur/core/testing";
 * import { MemoryStore } from "@murmur/core/state";
 *
 * storeConformance("memory", () => Promise.resolve(new MemoryStore()));
 * ```
 */
export function storeConformance(
  name: string,
  makeStore: () => Promise<Store>,
  options: StoreConformanceOptions = {},
): void {
  const sanitize = options.sanitize ?? true;
  const prefix = options.namespacePrefix ??
    `conformance-${crypto.randomUUID().slice(0, 8)}`;
  const parallel = options.parallelMerges ?? 24;
  let n = 0;
  const ns = (label: string) => `${prefix}/${label}/${n++}`;

  const test = (label: string, fn: (store: Store) => Promise<void>) => {
    Deno.test({
      name: `${name}: ${label}`,
      sanitizeOps: sanitize,
      sanitizeResources: sanitize,
      fn: async () => {
        const store = await makeStore();
        try {
          await fn(store);
        } finally {
          await store.close();
        }
      },
    });
  };

  const counter = (label: string): Scope<number> => ({
    namespace: ns(label),
    monoid: sum(),
  });
  const k = (entity: string, bucket: number | null = null): StateKey => ({
    entity,
    bucket,
  });

  test("limits: an entity at the byte limit works, a longer or empty one is refused before any write", async (store) => {
    // A store that declares no limits is only held to what entityProblem assumes.
    if (store.limits === undefined) return;
    const scope = counter("limits");
    const max = store.limits.maxEntityBytes;
    // Two-byte characters, so a character-counting check would let it through.
    const atLimit = "é".repeat(Math.floor(max / 2)) +
      (max % 2 === 1 ? "x" : "");
    assert.equal(entityProblem(store, atLimit), undefined);
    await store.merge(scope, [{ key: k(atLimit, 0), value: 2, claims: ["c"] }]);
    assert.equal(await store.get(scope, k(atLimit, 0)), 2);
    const over = `${atLimit}x`;
    assert.notEqual(entityProblem(store, over), undefined);
    await assert.rejects(
      store.merge(scope, [{ key: k("fine"), value: 1 }, {
        key: k(over),
        value: 1,
      }]),
      (e: unknown) => e instanceof DeltaRejectedError && e.index === 1,
    );
    assert.equal(await store.get(scope, k("fine")), undefined);
    await assert.rejects(store.get(scope, k(over)), EntityRejectedError);
    await assert.rejects(
      store.getMany(scope, [k("fine"), k(over)]),
      EntityRejectedError,
    );
    await assert.rejects(
      store.merge(scope, [{ key: k(""), value: 1 }]),
      DeltaRejectedError,
    );
    await assert.rejects(store.get(scope, k("")), EntityRejectedError);
  });

  test("get() of a missing key is undefined", async (store) => {
    const scope = counter("missing");
    assert.equal(await store.get(scope, k("nobody")), undefined);
    assert.deepEqual(await store.getMany(scope, [k("a"), k("b", 0)]), [
      undefined,
      undefined,
    ]);
    assert.deepEqual(await store.getMany(scope, []), []);
  });

  for (const c of valueCases()) {
    test(`merge() then get() folds ${c.label}`, async (store) => {
      const scope: Scope<unknown> = {
        namespace: ns(c.label),
        monoid: c.monoid,
      };
      const key = k("entity:1", 86_400_000);
      for (const value of c.values) {
        await store.merge(scope, [{ key, value }]);
      }
      const expected = c.values.reduce(
        (acc, v) => c.monoid.combine(acc, v),
        c.monoid.identity(),
      );
      sameValue(c, await store.get(scope, key), expected);
      const [many] = await store.getMany(scope, [key]);
      sameValue(c, many, expected);
    });
  }

  test("merge() of several deltas for one key in one call applies them all", async (store) => {
    const scope = counter("same-key");
    const key = k("hot");
    const result = await store.merge(scope, [
      { key, value: 1 },
      { key, value: 2 },
      { key, value: -0.5 },
    ]);
    assert.equal(result.applied, 3);
    assert.equal(await store.get(scope, key), 2.5);
  });

  test("merge() of an identity value creates the entry", async (store) => {
    const scope = counter("identity");
    await store.merge(scope, [{ key: k("zero"), value: 0 }]);
    assert.equal(await store.get(scope, k("zero")), 0);
  });

  test("merge() of no deltas does nothing", async (store) => {
    const scope = counter("empty");
    assert.deepEqual(await store.merge(scope, []), { applied: 0, skipped: [] });
  });

  test("merge() and getMany() handle more keys than one backend batch", async (store) => {
    const scope = counter("wide");
    const keys = Array.from(
      { length: 260 },
      (_, i) => k(`e${i}`, i % 2 === 0 ? null : 60_000),
    );
    const result = await store.merge(
      scope,
      keys.map((key, i) => ({ key, value: i })),
    );
    assert.equal(result.applied, 260);
    const reversed = [...keys].reverse();
    assert.deepEqual(
      await store.getMany(scope, reversed),
      reversed.map((_, i) => 259 - i),
    );
  });

  test("getMany() answers in request order with missing and repeated keys", async (store) => {
    const scope = counter("order");
    await store.merge(scope, [
      { key: k("a"), value: 1 },
      { key: k("b"), value: 2 },
      { key: k("c", 0), value: 3 },
    ]);
    assert.deepEqual(
      await store.getMany(scope, [
        k("c", 0),
        k("missing"),
        k("a"),
        k("b"),
        k("a"),
        k("c"),
      ]),
      [3, undefined, 1, 2, 1, undefined],
    );
  });

  test("bucket null (all-time) and bucket 0 (1970) are different keys", async (store) => {
    const scope = counter("buckets");
    await store.merge(scope, [
      { key: k("e", null), value: 1 },
      { key: k("e", 0), value: 10 },
      { key: k("e", -86_400_000), value: 100 },
    ]);
    assert.deepEqual(
      await store.getMany(scope, [
        k("e", null),
        k("e", 0),
        k("e", -86_400_000),
      ]),
      [1, 10, 100],
    );
  });

  test("entities with separators and unicode stay distinct", async (store) => {
    const scope = counter("entities");
    const entities = [
      "a:b",
      "a",
      "a|b",
      "a/b",
      "a b",
      "ü-✓-😀",
      "a:b:0",
      "x".repeat(300),
    ];
    await store.merge(
      scope,
      entities.map((entity, i) => ({ key: k(entity, 0), value: i + 1 })),
    );
    assert.deepEqual(
      await store.getMany(scope, entities.map((e) => k(e, 0))),
      entities.map((_, i) => i + 1),
    );
  });

  test("namespaces are kept apart", async (store) => {
    const a = counter("ns-a");
    const b = counter("ns-b");
    await store.merge(a, [{ key: k("x"), value: 1 }]);
    await store.merge(b, [{ key: k("x"), value: 2 }]);
    assert.equal(await store.get(a, k("x")), 1);
    assert.equal(await store.get(b, k("x")), 2);
  });

  if (options.expiry ?? true) {
    test("expiresAt in the past reads as absent, in the future as present", async (store) => {
      const scope = counter("expiry");
      const now = Date.now();
      await store.merge(scope, [
        { key: k("old", 0), value: 1, expiresAt: now - 60_000 },
        { key: k("new", 0), value: 2, expiresAt: now + 3_600_000 },
        { key: k("forever", 0), value: 3 },
      ]);
      assert.deepEqual(
        await store.getMany(scope, [k("old", 0), k("new", 0), k("forever", 0)]),
        [undefined, 2, 3],
      );
      assert.equal(await store.get(scope, k("old", 0)), undefined);
    });
  }

  test(`${parallel} parallel merges to one key all apply (additive path)`, async (store) => {
    const scope = counter("parallel-add");
    await Promise.all(
      Array.from(
        { length: parallel },
        () => store.merge(scope, [{ key: k("hot"), value: 1 }]),
      ),
    );
    assert.equal(await store.get(scope, k("hot")), parallel);
  });

  test(`${parallel} parallel merges to one key all apply (read-combine-write path)`, async (store) => {
    const scope: Scope<readonly string[]> = {
      namespace: ns("parallel-cas"),
      monoid: union,
    };
    await Promise.all(
      Array.from(
        { length: parallel },
        (_, i) =>
          store.merge(scope, [{
            key: k("hot"),
            value: [`item-${String(i).padStart(3, "0")}`],
          }]),
      ),
    );
    const stored = await store.get(scope, k("hot"));
    assert.equal(stored?.length, parallel, "a concurrent update was lost");
  });

  test(`${parallel} parallel merges with fractions all apply (non-integer sum)`, async (store) => {
    const scope = counter("parallel-frac");
    await Promise.all(
      Array.from(
        { length: parallel },
        () => store.merge(scope, [{ key: k("hot"), value: -0.5 }]),
      ),
    );
    assert.equal(await store.get(scope, k("hot")), -0.5 * parallel);
  });

  const mark = (stream: string, from: bigint, to: bigint) => ({
    stream,
    from,
    to,
  });

  test("marks: a delta is applied once and a replay is skipped", async (store) => {
    const scope = counter("marks-apply");
    const delta: Delta<number> = {
      key: k("e"),
      value: 5,
      marks: [mark("s", 10n, 20n)],
    };
    assert.deepEqual(await store.merge(scope, [delta]), {
      applied: 1,
      skipped: [],
    });
    assert.deepEqual(await store.merge(scope, [delta]), {
      applied: 0,
      skipped: [0],
    });
    const older = { ...delta, marks: [mark("s", 1n, 9n)] };
    const newer = { ...delta, value: 1, marks: [mark("s", 21n, 21n)] };
    assert.deepEqual(await store.merge(scope, [older, newer]), {
      applied: 1,
      skipped: [0],
    });
    assert.equal(await store.get(scope, k("e")), 6);
  });

  test("marks: a partial overlap throws MarkConflictError and changes nothing", async (store) => {
    const scope = counter("marks-conflict");
    await store.merge(scope, [{
      key: k("e"),
      value: 5,
      marks: [mark("s", 10n, 20n)],
    }]);
    await assert.rejects(
      store.merge(scope, [{
        key: k("e"),
        value: 7,
        marks: [mark("s", 15n, 30n)],
      }]),
      MarkConflictError,
    );
    assert.equal(await store.get(scope, k("e")), 5);
    await store.merge(scope, [{
      key: k("e"),
      value: 1,
      marks: [mark("s", 30n, 30n)],
    }]);
    assert.equal(await store.get(scope, k("e")), 6);
  });

  test("marks: streams and keys are tracked separately", async (store) => {
    const scope = counter("marks-streams");
    await store.merge(scope, [
      {
        key: k("e"),
        value: 1,
        marks: [mark("s1", 1n, 5n), mark("s2", 100n, 100n)],
      },
      { key: k("f"), value: 1, marks: [mark("s1", 1n, 1n)] },
    ]);
    // Another key has its own positions.
    await store.merge(scope, [{
      key: k("f"),
      value: 1,
      marks: [mark("s1", 3n, 3n)],
    }]);
    // A stream new to the entry applies.
    await store.merge(scope, [{
      key: k("e"),
      value: 1,
      marks: [mark("s3", 0n, 0n)],
    }]);
    // Every stream past: apply; every stream done: skip; mixed: conflict.
    await store.merge(scope, [{
      key: k("e"),
      value: 1,
      marks: [mark("s1", 6n, 9n), mark("s2", 101n, 101n)],
    }]);
    const skipped = await store.merge(scope, [{
      key: k("e"),
      value: 1,
      marks: [mark("s1", 2n, 9n), mark("s2", 50n, 101n)],
    }]);
    assert.deepEqual(skipped.skipped, [0]);
    await assert.rejects(
      store.merge(scope, [{
        key: k("e"),
        value: 1,
        marks: [mark("s1", 10n, 10n), mark("s2", 99n, 99n)],
      }]),
      MarkConflictError,
    );
    assert.deepEqual(await store.getMany(scope, [k("e"), k("f")]), [3, 2]);
  });

  test("marks: survive on read-combine-write kinds too", async (store) => {
    const scope: Scope<readonly string[]> = {
      namespace: ns("marks-cas"),
      monoid: union,
    };
    await store.merge(scope, [{
      key: k("e", 0),
      value: ["a"],
      marks: [mark("s", 1n, 1n)],
    }]);
    const again = await store.merge(scope, [{
      key: k("e", 0),
      value: ["b"],
      marks: [mark("s", 1n, 1n)],
    }]);
    assert.deepEqual(again.skipped, [0]);
    assert.deepEqual(await store.get(scope, k("e", 0)), ["a"]);
  });

  test("claims: applied once, replay skipped, partial overlap refused", async (store) => {
    const scope = counter("claims");
    const once = [{ key: k("e"), value: 1, claims: ["p|ev-1"] }];
    assert.equal((await store.merge(scope, once)).applied, 1);
    assert.deepEqual((await store.merge(scope, once)).skipped, [0]);
    await assert.rejects(
      store.merge(scope, [{
        key: k("e"),
        value: 1,
        claims: ["p|ev-1", "p|ev-2"],
      }]),
      MarkConflictError,
    );
    await store.merge(scope, [{
      key: k("e"),
      value: 1,
      claims: ["p|ev-2", "p|ev-3"],
    }]);
    assert.equal(await store.get(scope, k("e")), 2);
  });

  test("claims: the same id is claimed once per key and once per scope", async (store) => {
    const a = counter("claims-a");
    const b = counter("claims-b");
    await store.merge(a, [
      { key: k("x"), value: 1, claims: ["ev"] },
      { key: k("y"), value: 1, claims: ["ev"] },
      { key: k("x", 0), value: 1, claims: ["ev"] },
    ]);
    await store.merge(b, [{ key: k("x"), value: 1, claims: ["ev"] }]);
    assert.deepEqual(await store.getMany(a, [k("x"), k("y"), k("x", 0)]), [
      1,
      1,
      1,
    ]);
    assert.equal(await store.get(b, k("x")), 1);
  });

  test("claims: parallel merges of one claim apply exactly once", async (store) => {
    const scope = counter("claims-parallel");
    const results = await Promise.allSettled(
      Array.from(
        { length: parallel },
        () =>
          store.merge(scope, [{ key: k("hot"), value: 1, claims: ["once"] }]),
      ),
    );
    for (const r of results) assert.equal(r.status, "fulfilled");
    assert.equal(await store.get(scope, k("hot")), 1);
  });
}
