// DynamoDBStore's grouped writes against DynamoDB Local: deltas share transactions, refused ones are decided alone, exactly once either way.

import assert from "node:assert/strict";
import { DynamoDBClient, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { max, sum, sumBigInt } from "../monoid/mod.ts";
import {
  type Delta,
  DeltaRejectedError,
  MarkConflictError,
  type Scope,
} from "../state/mod.ts";
import { DynamoDBStore, ensureTable } from "../state/dynamodb.ts";
import { storeConformance } from "../testing/mod.ts";
import { awsConfig, service, uniqueName } from "./_stack.ts";
import { serviceTest } from "./_service.ts";

const endpoint = await service("dynamodb");
const TABLE = "murmur_tx_tests";
const shared = new DynamoDBClient({ ...awsConfig(endpoint), maxAttempts: 1 });
await ensureTable(shared, TABLE);

// The default store groups writes (tests/dynamodb_store_test.ts); this runs the suite on single writes.
storeConformance(
  "dynamodb (one write per delta)",
  () =>
    Promise.resolve(new DynamoDBStore(shared, TABLE, { transactionSize: 1 })),
  { sanitize: false },
);

function scopeOf<V>(monoid: Scope<V>["monoid"]): Scope<V> {
  return { namespace: uniqueName("tx"), monoid };
}

/** One delta per key `k0..k(n-1)`, value 1, marked at its own position of stream `s`. */
function marked(from: number, to: number, value = 1): Delta<number>[] {
  return Array.from({ length: to - from }, (_, i) => ({
    key: { entity: `k${from + i}`, bucket: null },
    value,
    marks: [{ stream: "s", from: BigInt(from + i), to: BigInt(from + i) }],
  }));
}

/** A store on the shared table (transactions of the default size) and a fresh scope. */
function fresh<V>(monoid: Scope<V>["monoid"]) {
  return { store: new DynamoDBStore(shared, TABLE), scope: scopeOf(monoid) };
}

/** Checks that keys `k0..k(n-1)` each hold 1: every delta landed exactly once. */
async function assertOnes(
  store: DynamoDBStore,
  scope: Scope<number>,
  n: number,
): Promise<void> {
  assert.deepEqual(await values(store, scope, n), Array(n).fill(1));
}

async function values(
  store: DynamoDBStore,
  scope: Scope<number>,
  n: number,
): Promise<(number | undefined)[]> {
  return await store.getMany(
    scope,
    Array.from({ length: n }, (_, i) => ({ entity: `k${i}`, bucket: null })),
  );
}

serviceTest(
  "DynamoDBStore writes 250 deltas in three transactions",
  async () => {
    const { store, scope } = fresh(sum());
    const result = await store.merge(scope, marked(0, 250));
    assert.deepEqual(result, { applied: 250, skipped: [] });
    assert.equal(store.stats().writeRequests, 3);
    await assertOnes(store, scope, 250);
  },
);

serviceTest(
  "DynamoDBStore skips the replayed deltas of a transaction and applies the new ones once",
  async () => {
    const { store, scope } = fresh(sum());
    await store.merge(scope, marked(0, 150));
    // Replayed and new deltas interleaved in the same transactions.
    const again = [...marked(0, 150), ...marked(150, 300)]
      .sort((a, b) => (a.key.entity < b.key.entity ? -1 : 1));
    const result = await store.merge(scope, again);
    assert.equal(result.applied, 150);
    assert.equal(result.skipped.length, 150);
    for (const i of result.skipped) {
      assert.ok(Number(again[i]!.marks![0]!.from) < 150);
    }
    await assertOnes(store, scope, 300);
    // A full replay skips everything.
    const replay = await store.merge(scope, again);
    assert.equal(replay.applied, 0);
    assert.equal(replay.skipped.length, 300);
    await assertOnes(store, scope, 300);
  },
);

serviceTest(
  "DynamoDBStore keeps claims exact inside grouped transactions (replays skip, new ids apply)",
  async () => {
    const { store, scope } = fresh(sum());
    const claimed = (from: number, to: number) =>
      Array.from({ length: to - from }, (_, i) => ({
        key: { entity: `k${from + i}`, bucket: null },
        value: 1,
        claims: [`a${from + i}`, `b${from + i}`],
      }));
    const first = await store.merge(scope, claimed(0, 80));
    assert.equal(first.applied, 80);
    assert.ok(store.stats().writeRequests <= 3, "80 × 3 actions fit in 3");
    const result = await store.merge(scope, claimed(0, 160));
    assert.equal(result.applied, 80);
    assert.deepEqual(result.skipped, Array.from({ length: 80 }, (_, i) => i));
    await assertOnes(store, scope, 160);
  },
);

serviceTest(
  "DynamoDBStore refuses a partly applied delta in a transaction and writes its neighbours exactly once",
  async () => {
    const { store, scope } = fresh(sum());
    await store.merge(scope, [{
      key: { entity: "k5", bucket: null },
      value: 1,
      marks: [{ stream: "s", from: 5n, to: 10n }],
    }]);
    const deltas = marked(0, 40);
    deltas[5] = { ...deltas[5]!, marks: [{ stream: "s", from: 3n, to: 20n }] };
    await assert.rejects(store.merge(scope, deltas), MarkConflictError);
    // Whatever landed before the error, a retry without the conflicting delta lands the rest once.
    await store.merge(scope, deltas.filter((_, i) => i !== 5));
    const got = await values(store, scope, 40);
    assert.deepEqual(got, Array.from({ length: 40 }, () => 1));
  },
);

serviceTest(
  "DynamoDBStore finds the delta at fault when DynamoDB refuses a transaction's number",
  async () => {
    const { store, scope } = fresh(sumBigInt());
    const big = 10n ** 38n - 1n; // 38 nines: adding it again needs 39 digits
    const deltas: Delta<bigint>[] = marked(0, 20).map((d) => ({
      ...d,
      value: d.key.entity === "k7" ? big : 1n,
    }));
    await store.merge(scope, [{
      key: { entity: "k7", bucket: null },
      value: big,
    }]);
    const error = await store.merge(scope, deltas).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error instanceof DeltaRejectedError, String(error));
    assert.equal(error.index, 7);
    await store.merge(scope, deltas.filter((_, i) => i !== 7));
    const got = await store.getMany(
      scope,
      deltas.map((d) => d.key),
    );
    assert.deepEqual(got, got.map((_, i) => (i === 7 ? big : 1n)));
  },
);

serviceTest(
  "DynamoDBStore max: losing deltas in a transaction keep the stored value and record their marks",
  async () => {
    const { store, scope } = fresh(max());
    const deltas = (value: (i: number) => number, from: number) =>
      Array.from({ length: 30 }, (_, i) => ({
        key: { entity: `k${i}`, bucket: null },
        value: value(i),
        marks: [{ stream: "s", from: BigInt(from), to: BigInt(from) }],
      }));
    await store.merge(scope, deltas((i) => i, 1));
    // Even keys lose (stored i beats i - 1), odd keys win (i + 1).
    const result = await store.merge(
      scope,
      deltas((i) => (i % 2 === 0 ? i - 1 : i + 1), 2),
    );
    assert.equal(result.applied, 30);
    const got = await store.getMany(
      scope,
      Array.from({ length: 30 }, (_, i) => ({ entity: `k${i}`, bucket: null })),
    );
    assert.deepEqual(got, got.map((_, i) => (i % 2 === 0 ? i : i + 1)));
    // The losers' marks were recorded: replaying position 2 skips all 30.
    const replay = await store.merge(
      scope,
      deltas((i) => (i % 2 === 0 ? i - 1 : i + 1), 2),
    );
    assert.equal(replay.skipped.length, 30);
  },
);

serviceTest(
  "DynamoDBStore keeps 56-digit (Kinesis) mark positions exact and still reads marks stored as numbers",
  async () => {
    const { store, scope } = fresh(sum());
    const at = 49590338271490256608559692538361571095921575989136588898n;
    const key = { entity: "kinesis", bucket: null };
    const delta = (from: bigint, to: bigint) => ({
      key,
      value: 1,
      marks: [{ stream: "kinesis:s:shardId-0", from, to }],
    });
    assert.equal((await store.merge(scope, [delta(at, at)])).applied, 1);
    // One past it applies, a replay of it skips, an overlap conflicts: exact at 56 digits.
    assert.equal(
      (await store.merge(scope, [delta(at + 1n, at + 1n)])).applied,
      1,
    );
    assert.deepEqual((await store.merge(scope, [delta(at, at)])).skipped, [0]);
    await assert.rejects(
      store.merge(scope, [delta(at + 1n, at + 2n)]),
      MarkConflictError,
    );
    assert.equal(await store.get(scope, key), 2);
    // An item whose mark an earlier version stored as N.
    const legacy = { entity: "legacy", bucket: null };
    await shared.send(
      new UpdateItemCommand({
        TableName: TABLE,
        Key: { pk: { S: `${scope.namespace}#legacy` }, sk: { S: "all" } },
        UpdateExpression: "SET #m = :m ADD #v :v",
        ExpressionAttributeNames: { "#m": "m:s", "#v": "v" },
        ExpressionAttributeValues: { ":m": { N: "100" }, ":v": { N: "1" } },
      }),
    );
    const old = (from: bigint, to: bigint) => ({
      key: legacy,
      value: 1,
      marks: [{ stream: "s", from, to }],
    });
    assert.deepEqual((await store.merge(scope, [old(90n, 100n)])).skipped, [0]);
    await assert.rejects(
      store.merge(scope, [old(99n, 101n)]),
      MarkConflictError,
    );
    assert.equal((await store.merge(scope, [old(101n, 120n)])).applied, 1);
    assert.equal((await store.merge(scope, [old(at, at)])).applied, 1);
    assert.deepEqual((await store.merge(scope, [old(110n, 110n)])).skipped, [
      0,
    ]);
    assert.equal(await store.get(scope, legacy), 3);
    await assert.rejects(
      store.merge(scope, [old(-1n, -1n)]),
      DeltaRejectedError,
    );
  },
);
