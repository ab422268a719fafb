// DynamoDBStore against DynamoDB Local: the shared conformance suite, then the backend's own paths.

import assert from "node:assert/strict";
import {
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  GetItemCommand,
  ProvisionedThroughputExceededException,
} from "@aws-sdk/client-dynamodb";
import { hll } from "../sketch/hll.ts";
import {
  count,
  daily,
  days,
  max,
  min,
  monotonic,
  sum,
  sumBigInt,
} from "../monoid/mod.ts";
import {
  DeltaRejectedError,
  entityProblem,
  EntityRejectedError,
  MarkConflictError,
  type Scope,
  type StateKey,
  StoreUnavailableError,
} from "../state/mod.ts";
import {
  DynamoDBStore,
  type DynamoDBStoreOptions,
  DynamoDBUnavailableError,
  ensureTable,
} from "../state/dynamodb.ts";
import { storeConformance } from "../testing/mod.ts";
import { awsConfig, service, uniqueName } from "./_stack.ts";
import { seededRandom } from "../internal/prng.ts";
import { serviceTest } from "./_service.ts";

const endpoint = await service("dynamodb");
const TABLE = "murmur_h5_tests";

function client(): DynamoDBClient {
  return new DynamoDBClient({ ...awsConfig(endpoint), maxAttempts: 1 });
}

const shared = client();
await ensureTable(shared, TABLE);

storeConformance(
  "dynamodb",
  () => Promise.resolve(new DynamoDBStore(shared, TABLE)),
  { sanitize: false },
);

function scopeOf<V>(monoid: Scope<V>["monoid"]): Scope<V> {
  return { namespace: uniqueName("h5"), monoid };
}

async function rawItem(scope: Scope<unknown>, key: StateKey) {
  const out = await shared.send(
    new GetItemCommand({
      TableName: TABLE,
      Key: {
        pk: { S: `${scope.namespace}#${key.entity}` },
        sk: {
          S: key.bucket === null ? "all" : String(key.bucket).padStart(16, "0"),
        },
      },
      ConsistentRead: true,
    }),
  );
  return out.Item;
}

/** A store whose client runs `hook` on every command, before DynamoDB sees it or after it answered. */
function hooked(
  hook: (command: string, run: () => Promise<unknown>) => Promise<unknown>,
  options: DynamoDBStoreOptions = {},
): { store: DynamoDBStore; client: DynamoDBClient } {
  const c = client();
  c.middlewareStack.add(
    (next, context) => (args) =>
      hook(context.commandName ?? "", () => next(args)) as ReturnType<
        typeof next
      >,
    { step: "initialize", name: "h5TestHook" },
  );
  return { store: new DynamoDBStore(c, TABLE, options), client: c };
}

/**
 * A store whose BatchGetItem answers only the first `answered(n)` of the `n`
 * items DynamoDB returned and hands the rest back as UnprocessedKeys.
 */
function partialBatchGets(
  answered: (n: number) => number,
  options: DynamoDBStoreOptions,
): { store: DynamoDBStore; client: DynamoDBClient; calls: () => number } {
  let calls = 0;
  const hooks = hooked(async (command, run) => {
    const out = await run() as {
      output: {
        Responses?: Record<string, Record<string, unknown>[]>;
        UnprocessedKeys?: Record<string, { Keys: unknown[] }>;
      };
    };
    if (command !== "BatchGetItemCommand") return out;
    calls++;
    const items = out.output.Responses?.[TABLE] ?? [];
    const keep = items.slice(0, answered(items.length));
    const rest = items.slice(keep.length).map((i) => ({ pk: i.pk, sk: i.sk }));
    out.output.Responses = { [TABLE]: keep };
    if (rest.length > 0) {
      out.output.UnprocessedKeys = { [TABLE]: { Keys: rest } };
    }
    return out;
  }, options);
  return { ...hooks, calls: () => calls };
}

/** A test against a new DynamoDBStore on the shared table. */
function storeTest(
  name: string,
  fn: (store: DynamoDBStore) => Promise<void>,
): void {
  serviceTest(name, () => fn(new DynamoDBStore(shared, TABLE)));
}

serviceTest(
  "ensureTable() creates the table with TTL on `ttl` and is idempotent",
  async () => {
    const table = uniqueName("h5-ensure");
    await ensureTable(shared, table);
    await ensureTable(shared, table);
    const ttl = await shared.send(
      new DescribeTimeToLiveCommand({ TableName: table }),
    );
    assert.equal(ttl.TimeToLiveDescription?.AttributeName, "ttl");
    assert.match(
      ttl.TimeToLiveDescription?.TimeToLiveStatus ?? "",
      /ENABL/,
    );
  },
);

storeTest("DynamoDBStore writes the documented item layout", async (store) => {
  const window = daily({ retention: days(90) });
  const bucket = window.bucketOf(Date.UTC(2026, 0, 15, 13));
  const scope = scopeOf(count());
  await store.merge(scope, [{
    key: { entity: "post:1", bucket },
    value: 3,
    expiresAt: window.expiresAt(bucket)!,
    marks: [{ stream: "kafka:pv:2", from: 40n, to: 44n }],
  }, { key: { entity: "post:1", bucket: null }, value: 1 }]);
  const item = await rawItem(scope, { entity: "post:1", bucket });
  assert.equal(item?.pk?.S, `${scope.namespace}#post:1`);
  assert.equal(item?.sk?.S, String(bucket).padStart(16, "0"));
  assert.equal(item?.v?.N, "3");
  assert.equal(item?.["m:kafka:pv:2"]?.S, "0244"); // length-prefixed: 2 digits, 44
  // TTL = bucket end + retention, in epoch seconds.
  const expected = (bucket + days(1) + days(90)) / 1000;
  assert.equal(item?.ttl?.N, String(expected));
  const allTime = await rawItem(scope, { entity: "post:1", bucket: null });
  assert.equal(allTime?.sk?.S, "all");
  assert.equal(allTime?.ttl, undefined);
});

storeTest(
  "DynamoDBStore keeps bigints beyond 2^53 exact and refuses them for number monoids",
  async (store) => {
    const big = scopeOf(sumBigInt());
    const key = { entity: "e", bucket: null };
    const huge = 2n ** 100n + 7n;
    await store.merge(big, [{ key, value: huge }, {
      key,
      value: -(2n ** 60n),
    }]);
    assert.equal(await store.get(big, key), huge - 2n ** 60n);
    assert.deepEqual(await store.getMany(big, [key]), [huge - 2n ** 60n]);

    const small = scopeOf(sum());
    const max = Number.MAX_SAFE_INTEGER;
    await store.merge(small, [{ key, value: max }, { key, value: max }]);
    await assert.rejects(store.get(small, key), RangeError);
    await assert.rejects(store.getMany(small, [key]), /sumBigInt/);
    // 2^53 - 1 itself stays a number.
    const edge = scopeOf(sum());
    await store.merge(edge, [{ key, value: max }]);
    assert.equal(await store.get(edge, key), max);
  },
);

storeTest(
  "DynamoDBStore refuses deltas it cannot write before writing any",
  async (store) => {
    const scope = scopeOf(sum());
    const ok = { key: { entity: "fine", bucket: null }, value: 1 };
    await assert.rejects(
      store.merge(scope, [ok, {
        key: { entity: "x", bucket: null },
        value: Infinity,
      }]),
      (error: unknown) =>
        error instanceof DeltaRejectedError && error.index === 1,
    );
    const claims = Array.from({ length: 100 }, (_, i) => `ev-${i}`);
    await assert.rejects(
      store.merge(scope, [ok, { key: ok.key, value: 1, claims }]),
      /99/,
    );
    assert.equal(await store.get(scope, ok.key), undefined);
    await assert.rejects(
      store.merge({ namespace: "a#b", monoid: sum() }, [ok]),
      TypeError,
    );
  },
);

storeTest(
  "DynamoDBStore max, monotonic and min set only when the value wins, recording marks either way",
  async (store) => {
    const key = { entity: "sensor", bucket: 0 };
    const mark = (n: bigint) => [{ stream: "p", from: n, to: n }];
    const peak = scopeOf(max());
    await store.merge(peak, [{ key, value: 5, marks: mark(1n) }]);
    await store.merge(peak, [{ key, value: 3, marks: mark(2n) }]);
    assert.equal(await store.get(peak, key), 5);
    assert.deepEqual(
      (await store.merge(peak, [{ key, value: 3, marks: mark(2n) }])).skipped,
      [0],
    );
    assert.equal((await rawItem(peak, key))?.["m:p"]?.S, "012");
    await store.merge(peak, [{ key, value: null }, { key, value: -1.5 }]);
    assert.equal(await store.get(peak, key), 5);

    const low = scopeOf(min());
    await store.merge(low, [{ key, value: 5 }, { key, value: -2 }, {
      key,
      value: 7,
    }]);
    assert.equal(await store.get(low, key), -2);

    const followers = scopeOf(monotonic());
    await store.merge(followers, [{ key, value: 120 }, { key, value: 135 }, {
      key,
      value: 130,
    }]);
    assert.equal(await store.get(followers, key), 135);
  },
);

serviceTest(
  "DynamoDBStore.getMany() retries UnprocessedKeys until every key is read",
  async () => {
    // DynamoDB may answer part of a batch: hand back a third, defer the rest.
    const { store, client: c, calls } = partialBatchGets(
      (n) => Math.ceil(n / 3),
      { retry: { baseDelayMs: 1, maxDelayMs: 5 } },
    );
    const scope = scopeOf(sum());
    const keys = Array.from({ length: 250 }, (_, i) => ({
      entity: `e${i}`,
      bucket: null,
    }));
    await store.merge(scope, keys.map((key, i) => ({ key, value: i + 1 })));
    const values = await store.getMany(scope, [...keys, keys[0]!]);
    assert.deepEqual(values, [...keys.map((_, i) => i + 1), 1]);
    assert.ok(
      calls() > 3,
      `expected several BatchGetItem calls, got ${calls()}`,
    );
    assert.ok(store.stats().unprocessedKeys > 0);
    c.destroy();
  },
);

serviceTest(
  "DynamoDBStore.getMany() gives up on keys that stay unprocessed",
  async () => {
    const { store, client: c } = partialBatchGets(() => 0, {
      retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 },
    });
    const scope = scopeOf(sum());
    const key = { entity: "e", bucket: null };
    await store.merge(scope, [{ key, value: 1 }]);
    await assert.rejects(
      store.getMany(scope, [key]),
      (error: unknown) =>
        error instanceof DynamoDBUnavailableError &&
        error.operation === "BatchGetItem",
    );
    c.destroy();
  },
);

function throttle(): Error {
  return new ProvisionedThroughputExceededException({
    message:
      "The level of configured provisioned throughput for the table was exceeded",
    $metadata: { httpStatusCode: 400 },
  });
}

/** An error shaped as the SDK throws it for a service answer. */
function awsError(name: string, message: string, status = 400): Error {
  return Object.assign(new Error(message), {
    name,
    $metadata: { httpStatusCode: status },
  });
}

/** A store whose UpdateItem calls all fail with `error()`; `calls()` counts them. */
function failingUpdates(
  error: () => Error,
  options: DynamoDBStoreOptions = {},
): { store: DynamoDBStore; client: DynamoDBClient; calls: () => number } {
  let calls = 0;
  const hooks = hooked((command, run) => {
    if (command !== "UpdateItemCommand") return run();
    calls++;
    return Promise.reject(error());
  }, options);
  return { ...hooks, calls: () => calls };
}

/** What a promise rejected with, or `undefined` when it resolved. */
function failureOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(() => undefined, (e: unknown) => e);
}

const one = (entity = "e") => [{ key: { entity, bucket: null }, value: 1 }];

serviceTest(
  "DynamoDBStore retries throttling, then surfaces DynamoDBUnavailableError",
  async () => {
    const { store, client: c, calls } = failingUpdates(throttle, {
      retry: { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 4 },
    });
    const error = await failureOf(store.merge(scopeOf(sum()), one()));
    assert.ok(error instanceof DynamoDBUnavailableError, String(error));
    assert.equal(error.attempts, 4);
    assert.equal(error.operation, "UpdateItem");
    assert.match(error.message, /ProvisionedThroughputExceeded/);
    assert.match(error.message, /raise its capacity/);
    assert.equal(calls(), 4);
    assert.equal(store.stats().transientRetries, 3);
    c.destroy();
  },
);

serviceTest(
  "DynamoDBStore rides out brief throttling and 5xx answers",
  async () => {
    let failures = 0;
    const { store, client: c } = hooked((command, run) => {
      if (command === "UpdateItemCommand" && failures < 3) {
        failures++;
        if (failures === 2) {
          return Promise.reject(
            awsError("InternalServerError", "Internal server error", 500),
          );
        }
        return Promise.reject(throttle());
      }
      return run();
    }, { retry: { baseDelayMs: 1, maxDelayMs: 4 } });
    const scope = scopeOf(sum());
    const key = { entity: "e", bucket: null };
    assert.equal((await store.merge(scope, [{ key, value: 2 }])).applied, 1);
    assert.equal(await store.get(scope, key), 2);
    assert.equal(store.stats().transientRetries, 3);
    c.destroy();
  },
);

serviceTest(
  "DynamoDBStore turns a ValidationException into DeltaRejectedError, never retried",
  async () => {
    const { store, client: c, calls } = failingUpdates(() =>
      awsError(
        "ValidationException",
        "Hash primary key values must be under 2048 bytes, and range primary key values must be under 1024 bytes",
      )
    );
    const error = await failureOf(store.merge(scopeOf(sum()), one()));
    assert.ok(error instanceof DeltaRejectedError, String(error));
    assert.equal(error.index, 0);
    assert.deepEqual(error.key, { entity: "e", bucket: null });
    assert.match(error.message, /under 2048 bytes/);
    assert.equal(calls(), 1);
    c.destroy();
  },
);

serviceTest(
  "DynamoDBStore keeps a schema ValidationException an error (not the delta's fault)",
  async () => {
    const { store, client: c } = failingUpdates(() =>
      awsError(
        "ValidationException",
        "The provided key element does not match the schema",
      )
    );
    const error = await failureOf(store.merge(scopeOf(sum()), one()));
    assert.ok(
      error instanceof Error && !(error instanceof DeltaRejectedError),
      String(error),
    );
    assert.match(error.message, /does not match the schema/);
    c.destroy();
  },
);

serviceTest(
  "DynamoDBStore refuses over-long keys by bytes before any call, and holds every entity up to its limit",
  async () => {
    let calls = 0;
    const { store, client: c } = hooked((_, run) => {
      calls++;
      return run();
    });
    const max = store.limits.maxEntityBytes;
    assert.equal(max, 2048 - 128 - 1);
    const scope = scopeOf(sum());
    // 1 000 characters but 2 000 bytes: within a character limit, over DynamoDB's once prefixed.
    const long = { entity: "é".repeat(1000), bucket: null };
    assert.match(entityProblem(store, long.entity) ?? "", /2000 bytes/);
    await assert.rejects(
      store.merge(scope, [{ key: { entity: "ok", bucket: null }, value: 1 }, {
        key: long,
        value: 1,
      }]),
      (e: unknown) => e instanceof DeltaRejectedError && e.index === 1,
    );
    await assert.rejects(store.get(scope, long), EntityRejectedError);
    await assert.rejects(store.getMany(scope, [long]), EntityRejectedError);
    assert.equal(calls, 0, "nothing reached DynamoDB");
    // Exactly at the limit, a 127-byte namespace and a claim id: DynamoDB takes it.
    const wide = {
      namespace: `${scope.namespace}-`.padEnd(127, "n"),
      monoid: sum(),
    };
    for (const unit of ["x", "€", "😀"]) {
      const units = Math.floor(max / new TextEncoder().encode(unit).length);
      const key = { entity: unit.repeat(units), bucket: 1_700_000_000_000 };
      await store.merge(wide, [{ key, value: 2, claims: ["c".repeat(900)] }]);
      assert.equal(await store.get(wide, key), 2);
      assert.deepEqual(await store.getMany(wide, [key]), [2]);
    }
    // A namespace beyond the reserve: refused by exact bytes, before DynamoDB.
    const before = calls;
    const huge = { namespace: "n".repeat(400), monoid: sum() };
    const entity = "x".repeat(max);
    await assert.rejects(
      store.merge(huge, [{ key: { entity, bucket: null }, value: 1 }]),
      (e: unknown) =>
        e instanceof DeltaRejectedError && /partition key/.test(e.message),
    );
    await assert.rejects(
      store.merge(scope, [{
        key: { entity: "e", bucket: null },
        value: 1,
        claims: ["c".repeat(1100)],
      }]),
      (e: unknown) =>
        e instanceof DeltaRejectedError && /claim/.test(e.message),
    );
    assert.equal(calls, before);
    c.destroy();
  },
);

serviceTest(
  "DynamoDBUnavailableError on a refused connection asks whether DynamoDB runs, not for capacity",
  async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const { port } = listener.addr;
    listener.close();
    const c = new DynamoDBClient({
      ...awsConfig({ ...endpoint, port, url: `http://127.0.0.1:${port}` }),
      maxAttempts: 1,
    });
    const store = new DynamoDBStore(c, TABLE, {
      retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 },
    });
    const error = await failureOf(
      store.get(scopeOf(sum()), { entity: "e", bucket: null }),
    );
    assert.ok(error instanceof DynamoDBUnavailableError, String(error));
    assert.ok(
      error instanceof StoreUnavailableError,
      "the runtime does not retry it again",
    );
    assert.match(error.message, /ECONNREFUSED/);
    assert.match(error.message, /is DynamoDB running/);
    assert.doesNotMatch(error.message, /capacity/);
    c.destroy();
  },
);

/** Splits 0..n-1 into random consecutive runs, as differently timed batch windows would. */
function runs(n: number, seed: number): [number, number][] {
  const random = seededRandom(seed);
  const out: [number, number][] = [];
  for (let from = 0; from < n;) {
    const to = Math.min(n - 1, from + Math.floor(random() * 5));
    out.push([from, to]);
    from = to + 1;
  }
  return out;
}

serviceTest(
  "DynamoDBStore applies each record once when replays race (marks)",
  async () => {
    const store = new DynamoDBStore(shared, TABLE, { concurrency: 8 });
    const h = hll();
    const counters = scopeOf(sum());
    const visitors = scopeOf(h);
    const keys: StateKey[] = [
      { entity: "a", bucket: null },
      { entity: "b", bucket: 0 },
    ];
    const n = 40;
    // Record i of partition p adds i+1 to key i % 2 and visitor `v<i>` to its sketch.
    const replay = async (seed: number) => {
      for (const [from, to] of runs(n, seed)) {
        const sums = new Map<number, number>();
        const sketches = new Map<number, ReturnType<typeof h.identity>>();
        for (let i = from; i <= to; i++) {
          sums.set(i % 2, (sums.get(i % 2) ?? 0) + i + 1);
          const sketch = sketches.get(i % 2) ?? h.identity();
          sketch.add(`v${i}`);
          sketches.set(i % 2, sketch);
        }
        const marks = [{
          stream: "kafka:t:0",
          from: BigInt(from),
          to: BigInt(to),
        }];
        for (;;) {
          try {
            await store.merge(
              counters,
              [...sums].map(([k, value]) => ({ key: keys[k]!, value, marks })),
            );
            await store.merge(
              visitors,
              [...sketches].map(([k, value]) => ({
                key: keys[k]!,
                value,
                marks,
              })),
            );
            break;
          } catch (error) {
            // Another replayer covered part of this run: split it per record, as the runtime does.
            if (!(error instanceof MarkConflictError)) throw error;
            for (let i = from; i <= to; i++) {
              const one = [{
                stream: "kafka:t:0",
                from: BigInt(i),
                to: BigInt(i),
              }];
              const sketch = h.identity();
              sketch.add(`v${i}`);
              await store.merge(counters, [{
                key: keys[i % 2]!,
                value: i + 1,
                marks: one,
              }]);
              await store.merge(visitors, [{
                key: keys[i % 2]!,
                value: sketch,
                marks: one,
              }]);
            }
            break;
          }
        }
      }
    };
    await Promise.all([1, 2, 3, 4].map(replay));
    const expected = [0, 1].map((k) => {
      let total = 0;
      for (let i = k; i < n; i += 2) total += i + 1;
      return total;
    });
    assert.deepEqual(await store.getMany(counters, keys), expected);
    const sketches = await store.getMany(visitors, keys);
    assert.deepEqual(sketches.map((s) => s?.count()), [n / 2, n / 2]);
  },
);

storeTest(
  "DynamoDBStore claims and marks together decide one delta",
  async (store) => {
    const scope = scopeOf(hll());
    const key = { entity: "page", bucket: null };
    const sketch = scope.monoid.identity();
    sketch.add("ann");
    const delta = {
      key,
      value: sketch,
      claims: ["ev-1"],
      marks: [{ stream: "s", from: 1n, to: 1n }],
    };
    assert.equal((await store.merge(scope, [delta])).applied, 1);
    assert.deepEqual((await store.merge(scope, [delta])).skipped, [0]);
    await assert.rejects(
      store.merge(scope, [{
        ...delta,
        marks: [{ stream: "s", from: 2n, to: 2n }],
      }]),
      MarkConflictError,
    );
    assert.equal((await store.get(scope, key))?.count(), 1);
  },
);

storeTest(
  "DynamoDBStore.merge() stops between calls when aborted",
  async (store) => {
    const controller = new AbortController();
    controller.abort(new Error("shutting down"));
    await assert.rejects(
      store.merge(scopeOf(sum()), [{
        key: { entity: "e", bucket: null },
        value: 1,
      }], {
        signal: controller.signal,
      }),
      /shutting down/,
    );
  },
);
