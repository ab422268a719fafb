import assert from "node:assert/strict";
import fc from "fast-check";
import { delay, forEachLimit } from "./async.ts";
import { backoff, retry } from "./retry.ts";
import { fnv1a32 } from "./hash.ts";
import {
  parseStateKey,
  scopedKeyString,
  stateKeyString,
  uniqueStateKeys,
} from "./state_key.ts";
import { seededRandom, seededUint32 } from "./prng.ts";
import { utf8Length } from "./utf8.ts";
import { packByWeight } from "./pack.ts";
import { definedOnly } from "./defined.ts";
import { concatBytes } from "./bytes.ts";

Deno.test("delay() resolves after the time and rejects at once when aborted", async () => {
  const started = performance.now();
  await delay(5);
  assert.ok(performance.now() - started >= 4);
  const controller = new AbortController();
  const pending = delay(60_000, controller.signal);
  controller.abort(new Error("stop"));
  await assert.rejects(pending, /stop/);
  await assert.rejects(
    delay(1, AbortSignal.abort(new Error("early"))),
    /early/,
  );
});

Deno.test("forEachLimit() keeps at most limit in flight and stops after a failure", async () => {
  let inFlight = 0;
  let most = 0;
  const seen: number[] = [];
  await forEachLimit([1, 2, 3, 4, 5, 6, 7], 3, async (item) => {
    inFlight++;
    most = Math.max(most, inFlight);
    await delay(1);
    seen.push(item);
    inFlight--;
  });
  assert.equal(most, 3);
  assert.deepEqual(seen.sort(), [1, 2, 3, 4, 5, 6, 7]);
  const started: number[] = [];
  await assert.rejects(
    forEachLimit([0, 1, 2, 3, 4, 5], 1, async (item) => {
      started.push(item);
      await Promise.resolve();
      if (item === 1) throw new Error("boom");
    }),
    /boom/,
  );
  assert.deepEqual(started, [0, 1]);
});

Deno.test("backoff() draws under a doubling ceiling capped at maxDelayMs", () => {
  const policy = { baseDelayMs: 10, maxDelayMs: 100 };
  assert.equal(backoff(policy, 0, () => 0.999_999) < 10, true);
  assert.ok(backoff(policy, 2, () => 0.5) === 20);
  assert.ok(backoff(policy, 50, () => 0.5) === 50);
});

Deno.test("retry() retries retryable errors, stops on others and when attempts run out", async () => {
  const policy = { maxAttempts: 3, baseDelayMs: 0, maxDelayMs: 0 };
  let calls = 0;
  assert.equal(
    await retry(() => {
      calls++;
      return calls < 3
        ? Promise.reject(new Error("flaky"))
        : Promise.resolve(7);
    }, { policy }),
    7,
  );
  calls = 0;
  await assert.rejects(
    retry(() => {
      calls++;
      return Promise.reject(new TypeError("permanent"));
    }, { policy, retryable: (e) => !(e instanceof TypeError) }),
    TypeError,
  );
  assert.equal(calls, 1);
  const failures: number[] = [];
  await assert.rejects(
    retry(() => Promise.reject(new Error("down")), {
      policy,
      onFailure: (_, attempt) => failures.push(attempt),
      exhausted: (error, attempts) =>
        new Error(`gave up after ${attempts}`, { cause: error }),
    }),
    /gave up after 3/,
  );
  assert.deepEqual(failures, [1, 2, 3]);
});

Deno.test("fnv1a32() matches the published FNV-1a test vectors", () => {
  assert.equal(fnv1a32(""), 0x811c9dc5);
  assert.equal(fnv1a32("a"), 0xe40c292c);
  assert.equal(fnv1a32("foobar"), 0xbf9cf968);
});

Deno.test("stateKeyString() is one-to-one and parseStateKey() reads it back", () => {
  const keys = [
    { entity: "a", bucket: null },
    { entity: "a", bucket: 0 },
    { entity: "a\u00000", bucket: null },
    { entity: "", bucket: 1_700_000_000_000 },
  ];
  const strings = keys.map(stateKeyString);
  assert.equal(new Set(strings).size, keys.length);
  assert.deepEqual(strings.map(parseStateKey), keys);
  assert.notEqual(
    scopedKeyString("x", keys[0]!),
    scopedKeyString("y", keys[0]!),
  );
  assert.deepEqual(uniqueStateKeys([keys[0]!, keys[1]!, { ...keys[0]! }]), [
    keys[0],
    keys[1],
  ]);
});

Deno.test("seededRandom() repeats per seed and stays in [0, 1)", () => {
  const a = seededRandom(9);
  const b = seededRandom(9);
  const c = seededRandom(10);
  const xs = Array.from({ length: 1000 }, () => a());
  assert.deepEqual(xs, Array.from({ length: 1000 }, () => b()));
  assert.notEqual(xs[0], c());
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const u = seededUint32(1);
  assert.ok(Number.isInteger(u()) && u() < 2 ** 32);
});

Deno.test("utf8Length() equals the encoder's byte count for any string, lone surrogates included", () => {
  const encoder = new TextEncoder();
  fc.assert(
    fc.property(
      fc.oneof(fc.string({ unit: "binary" }), fc.string({ unit: "grapheme" })),
      (text) => utf8Length(text) === encoder.encode(text).length,
    ),
    { numRuns: 2000 },
  );
  assert.equal(utf8Length("\ud800x"), 4);
  assert.equal(utf8Length("😀"), 4);
});

Deno.test("packByWeight() keeps order, stays within the limit and never leaves an item out", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 1, max: 12 }), { maxLength: 60 }),
      fc.integer({ min: 1, max: 20 }),
      (weights, limit) => {
        const groups = packByWeight(weights, (w) => w, limit);
        assert.deepEqual(groups.flat(), weights);
        for (const group of groups) {
          const load = group.reduce((a, b) => a + b, 0);
          assert.ok(group.length > 0);
          assert.ok(load <= limit || group.length === 1);
        }
      },
    ),
  );
  assert.deepEqual(packByWeight([2, 2, 2], (w) => w, 4), [[2, 2], [2]]);
});

Deno.test("definedOnly() drops undefined properties and keeps every other value", () => {
  const out = definedOnly({ a: 1, b: undefined, c: null, d: 0, e: "" });
  assert.deepEqual(out, { a: 1, c: null, d: 0, e: "" });
  assert.equal("b" in out, false);
});

Deno.test("concatBytes() joins chunks in order, with or without a counted size", () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 20 })), (parts) => {
      const flat = parts.flatMap((p) => [...p]);
      assert.deepEqual([...concatBytes(parts)], flat);
      assert.deepEqual([...concatBytes(parts, flat.length)], flat);
    }),
  );
});
