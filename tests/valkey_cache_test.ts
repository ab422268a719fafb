// ValkeyCache against a real redis-server: the lease protocol, write-through per kind, TTL, outages, auth and TLS.

import assert from "node:assert/strict";
import { Redis } from "iovalkey";
import {
  count,
  defineMonoid,
  max,
  min,
  sum,
  sumBigInt,
} from "../monoid/mod.ts";
import { hll, HyperLogLog } from "../sketch/hll.ts";
import {
  CachedStore,
  CacheUnavailableError,
  MemoryStore,
  type Scope,
  type StateKey,
} from "../state/mod.ts";
import { ValkeyCache, type ValkeyCacheOptions } from "../state/valkey.ts";
import { storeConformance } from "../testing/mod.ts";
import { service, uniqueName } from "./_stack.ts";
import { serviceTest } from "./_service.ts";

const endpoint = await service("valkey");

function cacheOf(options: ValkeyCacheOptions = {}): ValkeyCache {
  return new ValkeyCache({
    url: endpoint.url,
    keyPrefix: `${uniqueName("h5")}:`,
    ...options,
  });
}

/** A test on a fresh cache of the stack's Valkey (own key prefix), closed afterwards whatever happened. */
function cacheTest(
  name: string,
  ...args:
    | [body: (cache: ValkeyCache) => Promise<void>]
    | [
      options: ValkeyCacheOptions,
      body: (cache: ValkeyCache) => Promise<void>,
    ]
): void {
  const [options, body] = args.length === 1 ? [{}, args[0]] : args;
  serviceTest(name, async () => {
    const cache = cacheOf(options);
    try {
      await body(cache);
    } finally {
      await cache.close();
    }
  });
}

/**
 * A cache of a server that is not there (port 1), which reports each failed
 * operation into `errors`, and a CachedStore over memory in front of it
 * that retries failed invalidations once a minute.
 */
function downCache(outageCooldownMs: number) {
  const errors: string[] = [];
  const cache = new ValkeyCache({
    port: 1,
    host: "127.0.0.1",
    commandTimeoutMs: 200,
    outageCooldownMs,
    onError: (_, operation) => errors.push(operation),
  });
  const store = new CachedStore(new MemoryStore(), cache, {
    retryInvalidationsMs: 60_000,
  });
  return { errors, cache, store };
}

function scopeOf<V>(monoid: Scope<V>["monoid"]): Scope<V> {
  return { namespace: uniqueName("ns"), monoid };
}

const key: StateKey = { entity: "post:1", bucket: null };

async function fillOne<V>(
  cache: ValkeyCache,
  scope: Scope<V>,
  k: StateKey,
  value: V,
  expiresAt?: number,
): Promise<boolean> {
  const [lease] = await cache.lease(scope, [k]);
  const [ok] = await cache.fill(scope, [
    expiresAt === undefined
      ? { lease: lease!, value }
      : { lease: lease!, value, expiresAt },
  ]);
  return ok!;
}

async function writeThrough<V>(
  cache: ValkeyCache,
  scope: Scope<V>,
  deltas: { key: StateKey; value: V; expiresAt?: number }[],
) {
  const intent = await cache.beginWrite(scope, deltas.map((d) => d.key));
  return await cache.merge(scope, deltas, { intent });
}

/** A redis-server of our own on a free port, stopped when disposed. */
async function startRedis(
  ...args: string[]
): Promise<{ port: number } & AsyncDisposable> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const tls = args.includes("--tls-port");
  const child = new Deno.Command("redis-server", {
    args: [
      ...(tls ? ["--port", "0", "--tls-port", String(port)] : [
        "--port",
        String(port),
      ]),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      ...args.filter((a) => a !== "--tls-port"),
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  for (let i = 0;; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      break;
    } catch (error) {
      if (i > 100) {
        child.kill();
        throw error;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    port,
    async [Symbol.asyncDispose]() {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

storeConformance(
  "memory+valkey",
  () => Promise.resolve(new CachedStore(new MemoryStore(), cacheOf())),
  { sanitize: false },
);

cacheTest(
  "ValkeyCache fills under a lease and reads the value back",
  async (cache) => {
    const scope = scopeOf(sum());
    assert.equal(await cache.get(scope, key), undefined);
    assert.equal(await fillOne(cache, scope, key, 41), true);
    assert.equal(await cache.get(scope, key), 41);
    assert.equal(await fillOne(cache, scope, key, 99), false);
    assert.equal(await cache.get(scope, key), 41);
    const stats = cache.stats();
    assert.equal(stats.fills, 1);
    assert.equal(stats.fillsRefused, 1);
    assert.equal(stats.hits, 2);
  },
);

cacheTest(
  "ValkeyCache write-through leaves cold keys absent",
  async (cache) => {
    const scope = scopeOf(count());
    const result = await writeThrough(cache, scope, [{ key, value: 3 }]);
    assert.deepEqual(result, { applied: 0, skipped: [0] });
    assert.equal(await cache.get(scope, key), undefined);
    const raw = new Redis(endpoint.url);
    assert.equal(await raw.exists(cache.keyOf(scope.namespace, key)), 0);
    raw.disconnect();
  },
);

cacheTest("ValkeyCache refuses a fill raced by a write", async (cache) => {
  const scope = scopeOf(sum());
  // The write lands between the reader's lease and its fill.
  const [early] = await cache.lease(scope, [key]);
  await writeThrough(cache, scope, [{ key, value: 5 }]);
  assert.deepEqual(await cache.fill(scope, [{ lease: early!, value: 0 }]), [
    false,
  ]);
  // The write is in flight when the reader leases and fills.
  const intent = await cache.beginWrite(scope, [key]);
  const [during] = await cache.lease(scope, [key]);
  assert.deepEqual(await cache.fill(scope, [{ lease: during!, value: 5 }]), [
    false,
  ]);
  await cache.merge(scope, [{ key, value: 1 }], { intent });
  // ... and when it completes between the reader's lease and fill.
  assert.deepEqual(await cache.fill(scope, [{ lease: during!, value: 5 }]), [
    false,
  ]);
  assert.equal(await cache.get(scope, key), undefined);
  // A fresh lease after the writes fills.
  assert.equal(await fillOne(cache, scope, key, 6), true);
  assert.equal(cache.stats().fillsRefused, 3);
});

cacheTest("ValkeyCache refuses a fill whose lease is too old", {
  fillLeaseMs: 50,
}, async (cache) => {
  const scope = scopeOf(sum());
  const [lease] = await cache.lease(scope, [key]);
  await new Promise((r) => setTimeout(r, 120));
  assert.deepEqual(await cache.fill(scope, [{ lease: lease!, value: 1 }]), [
    false,
  ]);
});

cacheTest(
  "ValkeyCache write-through folds each kind or drops the key",
  async (cache) => {
    const k2: StateKey = { entity: "post:2", bucket: 86_400_000 };

    const counter = scopeOf(sum());
    await fillOne(cache, counter, key, 10);
    await fillOne(cache, counter, k2, 1);
    const r = await writeThrough(cache, counter, [
      { key, value: 2 },
      { key, value: 3 },
      { key: k2, value: 0.5 },
    ]);
    assert.deepEqual(r, { applied: 2, skipped: [2] });
    assert.deepEqual(await cache.getMany(counter, [key, k2]), [15, undefined]);

    const big = scopeOf(sumBigInt());
    await fillOne(cache, big, key, 2n ** 62n);
    await writeThrough(cache, big, [{ key, value: 2n ** 62n - 1n }]);
    assert.equal(await cache.get(big, key), 2n ** 63n - 1n);
    // INCRBY would overflow int64: the key is dropped, never wrapped.
    await writeThrough(cache, big, [{ key, value: 1n }]);
    assert.equal(await cache.get(big, key), undefined);

    const peak = scopeOf(max());
    await fillOne(cache, peak, key, 5);
    await writeThrough(cache, peak, [{ key, value: 3 }]);
    assert.equal(await cache.get(peak, key), 5);
    await writeThrough(cache, peak, [{ key, value: 7.25 }, {
      key,
      value: null,
    }]);
    assert.equal(await cache.get(peak, key), 7.25);
    await fillOne(cache, peak, k2, null);
    await writeThrough(cache, peak, [{ key: k2, value: -4 }]);
    assert.equal(await cache.get(peak, k2), -4);

    const low = scopeOf(min());
    await fillOne(cache, low, key, 5);
    await writeThrough(cache, low, [{ key, value: 8 }, { key, value: -1 }]);
    assert.equal(await cache.get(low, key), -1);

    const list = scopeOf(defineMonoid<string>({
      name: "concat",
      identity: () => "",
      combine: (a, b) => a + b,
      codec: {
        format: "utf8",
        encode: (v) => new TextEncoder().encode(v),
        decode: (b) => new TextDecoder().decode(b),
        toJSON: (v) => v,
        fromJSON: (j) => String(j),
      },
    }));
    await fillOne(cache, list, key, "ab");
    assert.equal(await cache.get(list, key), "ab");
    const dropped = await writeThrough(cache, list, [{ key, value: "c" }]);
    assert.deepEqual(dropped.skipped, [0]);
    assert.equal(await cache.get(list, key), undefined);
    assert.equal(await fillOne(cache, list, key, "abc"), true);
  },
);

cacheTest(
  "ValkeyCache HLL bytes answer PFCOUNT like our count",
  async (cache) => {
    const h = hll();
    const scope = scopeOf(h);
    const base = h.identity();
    for (let i = 0; i < 20_000; i++) base.add(`visitor-${i}`);
    assert.equal(await fillOne(cache, scope, key, base), true);
    const delta = h.identity();
    for (let i = 15_000; i < 26_000; i++) delta.add(`visitor-${i}`);
    assert.equal(
      (await writeThrough(cache, scope, [{ key, value: delta }])).applied,
      1,
    );
    const expected = h.combine(base, delta);
    const raw = new Redis(endpoint.url);
    const name = cache.keyOf(scope.namespace, key);
    assert.equal(await raw.pfcount(name), expected.count());
    const bytes = await raw.getBuffer(name);
    assert.ok(HyperLogLog.fromBytes(new Uint8Array(bytes!)).equals(expected));
    assert.ok((await cache.get(scope, key))!.equals(expected));
    // A sparse sketch merged by PFMERGE too.
    const small = scopeOf(h);
    const one = h.identity();
    one.addAll(["a", "b", "c"]);
    await fillOne(cache, small, key, one);
    const two = h.identity();
    two.addAll(["c", "d"]);
    await writeThrough(cache, small, [{ key, value: two }]);
    assert.equal(await raw.pfcount(cache.keyOf(small.namespace, key)), 4);
    raw.disconnect();
  },
);

cacheTest("ValkeyCache sets TTLs from expiresAt, capped by the maximum age", {
  maxAgeMs: 60_000,
  writeLeaseMs: 10_000,
}, async (cache) => {
  const raw = new Redis(endpoint.url);
  const scope = scopeOf(sum());
  const k2: StateKey = { entity: "post:2", bucket: 0 };
  const now = Date.now();
  await fillOne(cache, scope, key, 1, now + 20_000);
  await fillOne(cache, scope, k2, 1);
  const ttl = (k: StateKey) => raw.pttl(cache.keyOf(scope.namespace, k));
  const near = (actual: number, expected: number) =>
    assert.ok(
      Math.abs(actual - expected) < 2_000,
      `TTL ${actual} ms, expected about ${expected} ms`,
    );
  near(await ttl(key), 20_000);
  near(await ttl(k2), 60_000);
  // An open write intent shortens the TTL to its deadline...
  const intent = await cache.beginWrite(scope, [key, k2]);
  near(await ttl(k2), 10_000);
  // ... and completing it restores the value's own expiry (or an earlier one from the delta).
  await cache.merge(scope, [{ key, value: 1 }, {
    key: k2,
    value: 1,
    expiresAt: now + 30_000,
  }], { intent });
  near(await ttl(key), 20_000);
  near(await ttl(k2), 30_000);
  assert.deepEqual(await cache.getMany(scope, [key, k2]), [2, 2]);
  raw.disconnect();
});

cacheTest("ValkeyCache drops a value whose write never completed", {
  writeLeaseMs: 150,
}, async (cache) => {
  const scope = scopeOf(sum());
  await fillOne(cache, scope, key, 5);
  const intent = await cache.beginWrite(scope, [key]);
  assert.equal(await cache.get(scope, key), 5);
  await new Promise((r) => setTimeout(r, 250));
  assert.equal(await cache.get(scope, key), undefined);
  // Fills work again, and the late completion drops what they stored.
  assert.equal(await fillOne(cache, scope, key, 6), true);
  const late = await cache.merge(scope, [{ key, value: 1 }], { intent });
  assert.deepEqual(late.skipped, [0]);
  assert.equal(await cache.get(scope, key), undefined);
});

cacheTest(
  "ValkeyCache keeps keys with separators and braces apart",
  async (cache) => {
    const a: Scope<number> = { namespace: "a|b", monoid: sum() };
    const b: Scope<number> = { namespace: "a", monoid: sum() };
    const prefix = uniqueName("e");
    const ka = { entity: `${prefix}c`, bucket: null };
    const kb = { entity: `b|${prefix}c`, bucket: null };
    await fillOne(cache, a, ka, 1);
    assert.equal(await cache.get(b, kb), undefined);
    assert.notEqual(cache.keyOf("a|b", ka), cache.keyOf("a", kb));
    assert.equal(
      cache.keyOf("p}", { entity: "{x}", bucket: 5 }).split("{").length,
      2,
    );
  },
);

serviceTest(
  "ValkeyCache degrades to misses when the server is down",
  async () => {
    const { errors, cache, store } = downCache(0);
    const scope = scopeOf(sum());
    assert.deepEqual(await cache.getMany(scope, [key, key]), [
      undefined,
      undefined,
    ]);
    const [lease] = await cache.lease(scope, [key]);
    assert.deepEqual(await cache.fill(scope, [{ lease: lease!, value: 1 }]), [
      false,
    ]);
    await assert.rejects(cache.beginWrite(scope, [key]), CacheUnavailableError);
    await assert.rejects(
      cache.merge(scope, [{ key, value: 1 }]),
      CacheUnavailableError,
    );
    // The fill never reached the server: a lease taken during an outage cannot fill.
    assert.deepEqual(errors, ["getMany", "lease", "beginWrite", "merge"]);
    assert.equal(cache.stats().misses, 2);
    assert.equal(cache.stats().errors, 4);

    await store.merge(scope, [{ key, value: 4 }]);
    assert.equal(await store.get(scope, key), 4);
    // The store counts the write failures (intent, write-through, the
    // invalidation it then tried); the cache also counts its read failures.
    assert.equal(store.stats().cacheErrors, 3);
    assert.equal(store.stats().pendingInvalidations, 1);
    assert.equal(store.stats().cacheDown, true);
    assert.equal(cache.down, true);
    assert.equal(cache.stats().errors, 9);
    await store.close();
  },
);

serviceTest(
  "ValkeyCache stops asking a failed server for a cooldown",
  async () => {
    const { errors, cache, store } = downCache(60_000);
    const scope = scopeOf(sum());
    assert.equal(await cache.get(scope, key), undefined);
    assert.deepEqual(errors, ["getMany"]);
    // While the cooldown runs only invalidations go to the dead server (the
    // queued keys, at most once per retry delay), never reads, intents or
    // write-through.
    for (let i = 0; i < 20; i++) {
      await store.merge(scope, [{ key, value: 1 }]);
      assert.equal(await store.get(scope, key), i + 1);
    }
    assert.deepEqual(errors.filter((op) => op !== "invalidate"), ["getMany"]);
    assert.equal(errors.length, 2);
    assert.equal(cache.stats().errors, 2);
    assert.equal(store.stats().pendingInvalidations, 1);
    await store.close();
  },
);

serviceTest(
  "ValkeyCache recovers from a flush without drifting from the store",
  async () => {
    await using server = await startRedis();
    const cache = new ValkeyCache({ port: server.port, host: "127.0.0.1" });
    const memory = new MemoryStore();
    const store = new CachedStore(memory, cache);
    const scope = scopeOf(sum());
    const keys = Array.from({ length: 20 }, (_, i) => ({
      entity: `e${i}`,
      bucket: i % 2 === 0 ? null : 0,
    }));
    const writes = (n: number) =>
      store.merge(scope, keys.map((k, i) => ({ key: k, value: i + n })));
    await writes(1);
    await store.getMany(scope, keys); // fills every key
    await writes(2);
    const raw = new Redis(server.port, "127.0.0.1");
    await raw.flushall();
    await writes(3); // write-through on a cold cache: keys stay absent
    assert.deepEqual(
      await cache.getMany(scope, keys),
      keys.map(() => undefined),
    );
    assert.deepEqual(
      await store.getMany(scope, keys),
      await memory.getMany(scope, keys),
    );
    await writes(4);
    await raw.flushall();
    await store.getMany(scope, keys.slice(0, 10));
    await writes(5);
    assert.deepEqual(
      await cache.getMany(scope, keys.slice(0, 10)),
      await memory.getMany(scope, keys.slice(0, 10)),
    );
    assert.deepEqual(
      await store.getMany(scope, keys),
      keys.map((_, i) => 5 * i + 15),
    );
    raw.disconnect();
    await store.close();
  },
);

serviceTest(
  "ValkeyCache authenticates with a password and with an ACL user",
  async () => {
    await using server = await startRedis(
      "--requirepass",
      "s3cret",
      "--user",
      "murmur",
      "on",
      ">murmur-pw",
      "~*",
      "&*",
      "+@all",
    );
    const scope = scopeOf(sum());
    const anonymous = new ValkeyCache({
      port: server.port,
      host: "127.0.0.1",
      commandTimeoutMs: 500,
    });
    assert.equal(await fillOne(anonymous, scope, key, 1), false);
    assert.ok(anonymous.stats().errors > 0);
    await anonymous.close();

    const withPassword = new ValkeyCache({
      port: server.port,
      host: "127.0.0.1",
      password: "s3cret",
    });
    assert.equal(await fillOne(withPassword, scope, key, 7), true);
    await withPassword.close();

    const user = new ValkeyCache({
      url: `redis://murmur:murmur-pw@127.0.0.1:${server.port}`,
    });
    assert.equal(await user.get(scope, key), 7);
    assert.equal(user.stats().errors, 0);
    await user.close();
  },
);

async function openssl(dir: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", {
    args,
    cwd: dir,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `openssl ${args[0]}: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
}

serviceTest("ValkeyCache connects over TLS with a custom CA", async () => {
  const dir = await Deno.makeTempDir({ prefix: "murmur-tls-" });
  try {
    await openssl(
      dir,
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
      "-days",
      "1",
      "-subj",
      "/CN=murmur-test-ca",
    );
    await openssl(
      dir,
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      "server.key",
      "-out",
      "server.csr",
      "-subj",
      "/CN=localhost",
    );
    await Deno.writeTextFile(
      `${dir}/san.ext`,
      "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    );
    await openssl(
      dir,
      "x509",
      "-req",
      "-in",
      "server.csr",
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      "server.crt",
      "-days",
      "1",
      "-extfile",
      "san.ext",
    );
    await using server = await startRedis(
      "--tls-port",
      "--tls-cert-file",
      `${dir}/server.crt`,
      "--tls-key-file",
      `${dir}/server.key`,
      "--tls-ca-cert-file",
      `${dir}/ca.crt`,
      "--tls-auth-clients",
      "no",
    );
    const scope = scopeOf(sum());
    const cache = new ValkeyCache({
      host: "127.0.0.1",
      port: server.port,
      tls: { ca: await Deno.readTextFile(`${dir}/ca.crt`) },
    });
    assert.equal(await fillOne(cache, scope, key, 3), true);
    assert.equal(await cache.get(scope, key), 3);
    assert.equal(cache.stats().errors, 0);
    await cache.close();
    // Without the CA the server's certificate is refused: reads degrade.
    const untrusted = new ValkeyCache({
      host: "127.0.0.1",
      port: server.port,
      tls: true,
      commandTimeoutMs: 500,
    });
    assert.equal(await untrusted.get(scope, key), undefined);
    assert.ok(untrusted.stats().errors > 0);
    await untrusted.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

serviceTest(
  "ValkeyCache works in cluster mode, each key's scripts on its slot",
  async () => {
    const dirs = await Promise.all(
      [0, 1, 2].map(() => Deno.makeTempDir({ prefix: "murmur-cluster-" })),
    );
    try {
      await using a = await startRedis(
        "--cluster-enabled",
        "yes",
        "--dir",
        dirs[0]!,
      );
      await using b = await startRedis(
        "--cluster-enabled",
        "yes",
        "--dir",
        dirs[1]!,
      );
      await using c = await startRedis(
        "--cluster-enabled",
        "yes",
        "--dir",
        dirs[2]!,
      );
      const create = await new Deno.Command("redis-cli", {
        args: [
          "--cluster",
          "create",
          ...[a, b, c].map((s) => `127.0.0.1:${s.port}`),
          "--cluster-replicas",
          "0",
          "--cluster-yes",
        ],
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.ok(create.success, new TextDecoder().decode(create.stderr));
      // Every node must agree the cluster is up before clients use it.
      for (const node of [a, b, c]) {
        const probe = new Redis(node.port, "127.0.0.1");
        for (
          let i = 0;
          !(await probe.cluster("INFO")).includes("cluster_state:ok");
          i++
        ) {
          assert.ok(i < 100, "the cluster never became ready");
          await new Promise((r) => setTimeout(r, 100));
        }
        probe.disconnect();
      }

      const cache = new ValkeyCache({
        cluster: [{ host: "127.0.0.1", port: a.port }],
      });
      const scope = scopeOf(sum());
      const keys = Array.from({ length: 40 }, (_, i) => ({
        entity: `post:${i}`,
        bucket: i % 2 === 0 ? null : 0,
      }));
      const leases = await cache.lease(scope, keys);
      const filled = await cache.fill(
        scope,
        leases.map((lease, i) => ({ lease, value: i })),
      );
      assert.ok(filled.every((ok) => ok), JSON.stringify(cache.stats()));
      const intent = await cache.beginWrite(scope, keys);
      const result = await cache.merge(
        scope,
        keys.map((key) => ({ key, value: 100 })),
        { intent },
      );
      assert.equal(result.applied, keys.length);
      assert.deepEqual(
        await cache.getMany(scope, keys),
        keys.map((_, i) => i + 100),
      );

      const h = hll();
      const sketches = scopeOf(h);
      const sketch = h.identity();
      sketch.addAll(["a", "b", "c"]);
      assert.equal(await fillOne(cache, sketches, key, sketch), true);
      const more = h.identity();
      more.addAll(["c", "d"]);
      await writeThrough(cache, sketches, [{ key, value: more }]);
      assert.equal((await cache.get(sketches, key))?.count(), 4);
      assert.equal(cache.stats().errors, 0);
      await cache.close();
    } finally {
      for (const dir of dirs) await Deno.remove(dir, { recursive: true });
    }
  },
);
