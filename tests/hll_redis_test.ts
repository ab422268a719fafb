// Proof against a real redis-server / Valkey: our HYLL bytes and PFADD / PFMERGE / PFCOUNT agree byte for byte.

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { Valkey as Redis } from "iovalkey";
import { HyperLogLog } from "../sketch/mod.ts";
import { service, uniqueName } from "./_stack.ts";
import { seededRandom as seeded } from "../internal/prng.ts";

function randomItems(n: number, seed: number): string[] {
  const random = seeded(seed);
  return Array.from(
    { length: n },
    (_, i) => `${i}:${Math.floor(random() * 2 ** 32).toString(36)}`,
  );
}

interface Valkey {
  client: Redis;
  prefix: string;
  sparseMaxBytes: number;
  [Symbol.asyncDispose](): Promise<void>;
}

async function connect(): Promise<Valkey> {
  const endpoint = await service("valkey");
  const client = new Redis(endpoint.url, { lazyConnect: true });
  await client.connect();
  const config = await client.call("CONFIG", "GET", "hll-sparse-max-bytes");
  const sparseMaxBytes = Number((config as string[])[1]);
  const prefix = uniqueName("hll");
  return {
    client,
    prefix,
    sparseMaxBytes,
    async [Symbol.asyncDispose]() {
      const keys = await client.keys(`${prefix}:*`);
      if (keys.length > 0) await client.del(...keys);
      await client.quit();
    },
  };
}

async function pfaddAll(
  client: Redis,
  key: string,
  items: readonly (string | Uint8Array)[],
): Promise<void> {
  for (let i = 0; i < items.length; i += 2000) {
    const batch = items.slice(i, i + 2000).map((item) =>
      typeof item === "string" ? item : Buffer.from(item)
    );
    await client.pfadd(key, ...batch);
  }
}

async function getBytes(client: Redis, key: string): Promise<Uint8Array> {
  const value = await client.getBuffer(key);
  assert.ok(value !== null, `key ${key} is missing`);
  return new Uint8Array(value);
}

/**
 * Adds `items` to `key` with PFADD and to our own sketch, and asserts both
 * build the same bytes (ours without the cached cardinality, which PFADD
 * leaves invalid).
 */
async function buildBoth(
  valkey: { client: Redis; sparseMaxBytes: number },
  key: string,
  items: readonly string[],
  label: string,
): Promise<{ ours: HyperLogLog; built: Uint8Array }> {
  await pfaddAll(valkey.client, key, items);
  const ours = new HyperLogLog({ sparseMaxBytes: valkey.sparseMaxBytes });
  ours.addAll(items);
  const built = await getBytes(valkey.client, key);
  assert.deepEqual(ours.toBytes({ cacheCardinality: false }), built, label);
  return { ours, built };
}

Deno.test("valkey: bytes PFADD builds equal ours byte for byte and decode to the same count", async () => {
  await using valkey = await connect();
  const { client, prefix, sparseMaxBytes } = valkey;
  for (const n of [1, 10, 100, 1000, 1400, 1800, 5000, 100_000]) {
    const key = `${prefix}:pfadd:${n}`;
    const items = randomItems(n, n);
    const { ours, built } = await buildBoth(valkey, key, items, `n = ${n}`);
    const decoded = HyperLogLog.fromBytes(built, { sparseMaxBytes });
    assert.equal(decoded.encoding, ours.encoding);
    assert.deepEqual(decoded.toBytes({ cacheCardinality: false }), built);

    const pfcount = await client.pfcount(key);
    assert.equal(ours.count(), pfcount, `n = ${n}`);
    assert.equal(decoded.count(), pfcount, `n = ${n}`);
    // PFCOUNT filled the cache: now the full string equals ours, header included.
    assert.deepEqual(await getBytes(client, key), ours.toBytes());
  }
});

Deno.test("valkey: crowded neighbouring registers split and merge VAL runs exactly as PFADD does", async () => {
  await using valkey = await connect();
  const { prefix, sparseMaxBytes } = valkey;
  // Elements landing in registers 0..599 with small runs, so equal values sit side by side.
  const crowded: string[] = [];
  for (let i = 0; crowded.length < 900; i++) {
    // A one-element sparse string is [ZERO|XZERO run] VAL(count, 1) ...: read index and count off it.
    const probe = new HyperLogLog();
    probe.add(`n${i}`);
    const ops = probe.toBytes({ cacheCardinality: false }).subarray(16);
    const op = ops[0]!;
    const [index, val] = op & 0x80
      ? [0, op]
      : op & 0x40
      ? [(((op & 0x3f) << 8) | ops[1]!) + 1, ops[2]!]
      : [op + 1, ops[1]!];
    if (index < 600 && ((val >> 2) & 0x1f) < 3) crowded.push(`n${i}`);
  }
  const random = seeded(3);
  let nonCanonical = 0;
  for (let round = 0; round < 6; round++) {
    for (let i = crowded.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [crowded[i], crowded[j]] = [crowded[j]!, crowded[i]!];
    }
    const key = `${prefix}:crowded:${round}`;
    const { ours, built } = await buildBoth(
      valkey,
      key,
      crowded,
      `round ${round}`,
    );
    const canonical = new HyperLogLog({ sparseMaxBytes }).mergeInPlace(ours);
    if (
      !canonical.toBytes().every((byte, i) =>
        byte === built[i] || i >= 8 && i < 16
      )
    ) {
      nonCanonical++;
    }
  }
  // Redis's local merge of VAL runs depends on the order of adds; the emulation must follow it.
  assert.ok(
    nonCanonical > 0,
    "no round exercised an order-dependent sparse layout",
  );
});

Deno.test("valkey: PFCOUNT and PFADD accept the bytes we build, sparse and dense", async () => {
  await using valkey = await connect();
  const { client, prefix, sparseMaxBytes } = valkey;
  for (const n of [0, 3, 700, 1500, 20_000]) {
    for (const cacheCardinality of [true, false]) {
      const key = `${prefix}:set:${n}:${cacheCardinality}`;
      const ours = new HyperLogLog({ sparseMaxBytes });
      ours.addAll(randomItems(n, 1000 + n));
      await client.set(key, Buffer.from(ours.toBytes({ cacheCardinality })));
      assert.equal(await client.pfcount(key), ours.count(), `n = ${n}`);

      // Redis carries on from our bytes exactly as we do.
      const more = randomItems(300, 2000 + n);
      await pfaddAll(client, key, more);
      ours.addAll(more);
      assert.deepEqual(
        (await getBytes(client, key)).subarray(16),
        ours.toBytes().subarray(16),
        `n = ${n}`,
      );
      assert.equal(await client.pfcount(key), ours.count());
    }
  }
});

Deno.test("valkey: PFMERGE and multi-key PFCOUNT of our bytes agree with merge()", async () => {
  await using valkey = await connect();
  const { client, prefix, sparseMaxBytes } = valkey;
  const shapes: [number, number][] = [[5, 8], [400, 600], [900, 1000], [
    50,
    30_000,
  ], [10_000, 40_000]];
  for (const [na, nb] of shapes) {
    const a = new HyperLogLog({ sparseMaxBytes });
    a.addAll(randomItems(na, na * 7));
    const b = new HyperLogLog({ sparseMaxBytes });
    b.addAll(
      randomItems(nb, nb * 11).concat(
        randomItems(na, na * 7).slice(0, na >> 1),
      ),
    );
    const [ka, kb, kd] = ["a", "b", "dest"].map((k) =>
      `${prefix}:merge:${na}:${nb}:${k}`
    ) as [string, string, string];
    await client.set(ka, Buffer.from(a.toBytes()));
    await client.set(kb, Buffer.from(b.toBytes()));

    const union = a.merge(b);
    assert.ok(union.equals(b.merge(a)));
    assert.equal(await client.pfcount(ka, kb), union.count(), `${na}+${nb}`);

    await client.pfmerge(kd, ka, kb);
    // PFMERGE into a new key writes the registers in index order into an empty sketch.
    const expected = new HyperLogLog({ sparseMaxBytes }).mergeInPlace(union);
    const merged = await getBytes(client, kd);
    assert.deepEqual(
      merged,
      expected.toBytes({ cacheCardinality: false }),
      `${na}+${nb}`,
    );
    assert.equal(await client.pfcount(kd), union.count());
    assert.ok(HyperLogLog.fromBytes(merged).equals(union));
  }
});

Deno.test("valkey: count() equals PFCOUNT on hand-made dense registers, including values past 50", async () => {
  await using valkey = await connect();
  const { client, prefix } = valkey;
  const random = seeded(42);
  const registerSets: [string, (i: number) => number][] = [
    ["low values", () => Math.floor(random() * 4)],
    ["mid values", () => 8 + Math.floor(random() * 10)],
    ["some at 51", (i) => (i % 97 === 0 ? 51 : 10 + Math.floor(random() * 5))],
    ["most at 51", (i) => (i % 5 === 0 ? 20 : 51)],
    ["values 52..63", (i) => (i % 3 === 0 ? 52 + (i % 12) : 12)],
    ["mostly empty", (i) => (i % 1000 === 0 ? 1 + (i % 40) : 0)],
  ];
  for (const [name, value] of registerSets) {
    const bytes = new Uint8Array(16 + 12288);
    bytes.set([0x48, 0x59, 0x4c, 0x4c, 0]);
    bytes[15] = 0x80;
    for (let i = 0; i < 16384; i++) {
      const bit = i * 6;
      const shifted = value(i) << (bit & 7);
      bytes[16 + (bit >> 3)]! |= shifted & 0xff;
      if (shifted > 0xff) bytes[16 + (bit >> 3) + 1]! |= shifted >> 8;
    }
    const key = `${prefix}:crafted:${name}`;
    await client.set(key, Buffer.from(bytes));
    const ours = HyperLogLog.fromBytes(bytes);
    assert.equal(ours.count(), await client.pfcount(key), name);
  }
});

Deno.test("valkey: strings go in as UTF-8 and bytes as themselves, like a Redis client sends them", async () => {
  await using valkey = await connect();
  const { client, prefix, sparseMaxBytes } = valkey;
  const key = `${prefix}:utf8`;
  const items: (string | Uint8Array)[] = [
    "héllo",
    "日本語",
    "🦕",
    "",
    new Uint8Array([0, 255, 128, 7]),
    new Uint8Array(0),
    "plain",
  ];
  await pfaddAll(client, key, items);
  const ours = new HyperLogLog({ sparseMaxBytes });
  ours.addAll(items);
  assert.deepEqual(
    await getBytes(client, key),
    ours.toBytes({ cacheCardinality: false }),
  );
});

Deno.test("valkey: an element with a run longer than 32 turns the sketch dense, as in PFADD", async () => {
  await using valkey = await connect();
  const { client, prefix, sparseMaxBytes } = valkey;
  // Found by search: these 8-byte little-endian integers hash to a run of 33 (zero bits 14..45).
  const deep = [3130853818n, 7555790606n, 9524120947n].map((n) => {
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setBigUint64(0, n, true);
    return bytes;
  });
  const key = `${prefix}:deep`;
  const items = ["a", "b", ...deep, "c"];
  await pfaddAll(client, key, items);
  const ours = new HyperLogLog({ sparseMaxBytes });
  ours.addAll(["a", "b"]);
  assert.equal(ours.encoding, "sparse");
  ours.addAll([...deep, "c"]);
  assert.equal(ours.encoding, "dense");
  assert.deepEqual(
    await getBytes(client, key),
    ours.toBytes({ cacheCardinality: false }),
  );
  assert.equal(ours.count(), await client.pfcount(key));
});

Deno.test("valkey: strings we reject as malformed, Valkey rejects too", async () => {
  await using valkey = await connect();
  const { client, prefix } = valkey;
  const head = (
    encoding: number,
  ) => [0x48, 0x59, 0x4c, 0x4c, encoding, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80];
  const cases: [string, number[]][] = [
    ["sparse short by one register", [...head(1), 0x7f, 0xfe]],
    ["sparse VAL past the end", [...head(1), 0x7f, 0xfd, 0x83]],
    ["sparse, no opcodes", head(1)],
    ["dense one byte short", [...head(0), ...new Array(12287).fill(0)]],
    ["unknown encoding", [...head(2), 0x7f, 0xff]],
    ["bad magic", [0x48, 0x59, 0x4c, 0x58, ...head(1).slice(4), 0x7f, 0xff]],
  ];
  for (const [name, bytes] of cases) {
    const key = `${prefix}:bad:${name.replaceAll(" ", "-")}`;
    await client.set(key, Buffer.from(bytes));
    await assert.rejects(client.pfcount(key), /INVALIDOBJ|WRONGTYPE/, name);
    assert.throws(() => HyperLogLog.fromBytes(Uint8Array.from(bytes)), name);
  }
});
