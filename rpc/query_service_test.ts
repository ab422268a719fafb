import assert from "node:assert/strict";
import {
  Code,
  ConnectError,
  createClient,
  createRouterTransport,
} from "@connectrpc/connect";
import { daily, days, sum } from "../monoid/mod.ts";
import { bloom, hll, topK } from "../sketch/mod.ts";
import { createConnectTransport } from "@connectrpc/connect-web";
import { MemoryStore } from "../state/mod.ts";
import { topN } from "../pipeline/mod.ts";
import { TestDriver } from "../testing/mod.ts";
import { createQueryClient } from "../query/client.ts";
import { createQuerier } from "../query/mod.ts";
import { type Answer, QueryService } from "../proto/gen/murmur/v1/query_pb.ts";
import { AdminService } from "../proto/gen/murmur/admin/v1/admin_pb.ts";
import { createQueryService } from "./_query_service.ts";
import { createHandler } from "../admin/server.ts";

const DAY = 86_400_000;
const T0 = Date.UTC(2024, 2, 1);

async function fixture() {
  const store = new MemoryStore();
  const window = daily({ retention: days(30) });
  const views = { name: "views", monoid: sum(), window, store };
  const visitors = { name: "visitors", monoid: hll(), window, store };
  const products = {
    name: "products",
    monoid: topK({ k: 3 }),
    window: null,
    store,
  };
  const devices = { name: "devices", monoid: bloom(), window: null, store };
  await store.merge({ namespace: "views", monoid: sum() }, [
    { key: { entity: "p", bucket: T0 - DAY }, value: 4 },
    { key: { entity: "p", bucket: T0 }, value: 6 },
    { key: { entity: "q", bucket: T0 }, value: 1 },
  ]);
  const sketch = hll().identity();
  for (let i = 0; i < 1000; i++) sketch.add(`user-${i}`);
  await store.merge({ namespace: "visitors", monoid: hll() }, [
    { key: { entity: "p", bucket: T0 }, value: sketch },
  ]);
  const top = topK({ k: 3 }).identity();
  for (const [key, n] of [["a", 5], ["b", 9], ["c", 2], ["d", 1]] as const) {
    top.add(key, n);
  }
  await store.merge({ namespace: "products", monoid: topK({ k: 3 }) }, [
    { key: { entity: "global", bucket: null }, value: top },
  ]);
  const filter = bloom().identity();
  filter.add("device-1");
  await store.merge({ namespace: "devices", monoid: bloom() }, [
    { key: { entity: "global", bucket: null }, value: filter },
  ]);
  const querier = createQuerier([views, visitors, products, devices], {
    limits: { maxEntities: 5 },
  });
  const transport = createRouterTransport((router) =>
    router.service(QueryService, createQueryService(querier, { maxProbes: 2 }))
  );
  return { client: createClient(QueryService, transport), querier, store };
}

async function codeOf(call: Promise<unknown>): Promise<Code> {
  const error = await call.then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof ConnectError, String(error));
  return error.code;
}

Deno.test("QueryService.getWindow answers a typed number, canonical bytes and coverage", async () => {
  const { client } = await fixture();
  const { answer } = await client.getWindow({
    pipeline: "views",
    entity: "p",
    last: 2,
    atMs: BigInt(T0 + 5),
  });
  assert.ok(answer);
  assert.deepEqual(answer.value?.kind, { case: "number", value: 10 });
  assert.deepEqual(sum().codec.decode(answer.data), 10);
  assert.equal(answer.format, sum().codec.format);
  assert.equal(answer.kind, "sum");
  assert.equal(answer.present, true);
  assert.deepEqual(answer.coverage?.buckets, [BigInt(T0 - DAY), BigInt(T0)]);
  assert.equal(answer.coverage?.endMs, BigInt(T0 + DAY));
});

Deno.test("QueryService answers no data as present=false with empty bytes and the identity", async () => {
  const { client } = await fixture();
  const { answer } = await client.getRange({
    pipeline: "views",
    entity: "nobody",
    startMs: BigInt(T0),
    endMs: BigInt(T0 + DAY),
  });
  assert.equal(answer?.present, false);
  assert.equal(answer?.data.length, 0);
  assert.deepEqual(answer?.value?.kind, { case: "number", value: 0 });
});

Deno.test("QueryService types sketches: HLL bounds, top-K with the real K, Bloom probes", async () => {
  const { client } = await fixture();
  const visitors = await client.getWindow({
    pipeline: "visitors",
    entity: "p",
    last: 7,
    atMs: BigInt(T0),
  });
  const c = visitors.answer?.value?.kind;
  assert.equal(c?.case, "cardinality");
  if (c?.case === "cardinality") {
    assert.ok(Math.abs(c.value.estimate - 1000) < 30);
    assert.ok(c.value.lower <= c.value.estimate);
    assert.ok(c.value.upper >= c.value.estimate);
    assert.equal(c.value.confidence, 0.95);
  }
  const products = await client.get({ pipeline: "products", entity: "global" });
  const t = products.answer?.value?.kind;
  assert.equal(t?.case, "topK");
  if (t?.case === "topK") {
    assert.equal(t.value.k, 3);
    assert.deepEqual(t.value.entries.map((e) => e.key), ["b", "a", "c"]);
    assert.equal(t.value.entries[0]?.count, 9);
  }
  const devices = await client.get({
    pipeline: "devices",
    entity: "global",
    probes: ["device-1", "device-2"],
  });
  const b = devices.answer?.value?.kind;
  assert.equal(b?.case, "bloom");
  if (b?.case === "bloom") {
    assert.deepEqual(
      b.value.probes.map((p) => [p.item, p.mightContain]),
      [["device-1", true], ["device-2", false]],
    );
    assert.ok(b.value.bits > 0n);
  }
});

Deno.test("QueryService.getMany answers in request order", async () => {
  const { client } = await fixture();
  const { answers } = await client.getWindowMany({
    pipeline: "views",
    entities: ["q", "nobody", "p", "q"],
    last: 2,
    atMs: BigInt(T0),
  });
  assert.deepEqual(
    answers.map((a) => [a.entity, a.value?.kind.value]),
    [["q", 1], ["nobody", 0], ["p", 10], ["q", 1]],
  );
});

Deno.test("QueryService maps bad input to NotFound, InvalidArgument and FailedPrecondition", async () => {
  const { client } = await fixture();
  assert.equal(
    await codeOf(client.get({ pipeline: "nope", entity: "a" })),
    Code.NotFound,
  );
  assert.equal(
    await codeOf(client.get({ pipeline: "products", entity: "" })),
    Code.InvalidArgument,
  );
  assert.equal(
    await codeOf(
      client.getWindow({ pipeline: "products", entity: "a", last: 2 }),
    ),
    Code.FailedPrecondition,
  );
  assert.equal(
    await codeOf(client.get({ pipeline: "views", entity: "a" })),
    Code.FailedPrecondition,
  );
  const tooMany = await client.getMany({
    pipeline: "products",
    entities: ["1", "2", "3", "4", "5", "6"],
  }).catch((e: unknown) => e);
  assert.ok(tooMany instanceof ConnectError);
  assert.equal(tooMany.code, Code.InvalidArgument);
  assert.match(tooMany.message, /at most 5 per request/);
  assert.equal(
    await codeOf(client.getRange({
      pipeline: "views",
      entity: "p",
      startMs: BigInt(T0),
      endMs: BigInt(T0 - 1),
    })),
    Code.InvalidArgument,
  );
  assert.equal(
    await codeOf(client.getRange({
      pipeline: "views",
      entity: "p",
      startMs: 0n,
      endMs: 2n ** 62n,
    })),
    Code.InvalidArgument,
  );
  assert.equal(
    await codeOf(client.getWindow({
      pipeline: "views",
      entity: "p",
      last: 4_000_000_000,
    })),
    Code.InvalidArgument,
  );
  assert.equal(
    await codeOf(client.get({
      pipeline: "devices",
      entity: "global",
      probes: ["a", "b", "c"],
    })),
    Code.InvalidArgument,
  );
});

Deno.test("QueryService reports a failing store as Unavailable, not a crash", async () => {
  const broken = new MemoryStore();
  await broken.close();
  const querier = createQuerier([
    { name: "x", monoid: sum(), window: null, store: broken },
  ]);
  const transport = createRouterTransport((router) =>
    router.service(QueryService, createQueryService(querier))
  );
  const client = createClient(QueryService, transport);
  assert.equal(
    await codeOf(client.get({ pipeline: "x", entity: "a" })),
    Code.Unavailable,
  );
});

Deno.test("query client decodes typed values and full readings", async () => {
  const { querier } = await fixture();
  await using handler = createHandler({ querier, ui: false });
  const client = createQueryClient({
    baseUrl: "http://localhost",
    fetch: (input, init) => handler(new Request(input, init)),
  });
  assert.equal(
    await client.number("views").window("p", 2, { at: T0 }),
    10,
  );
  assert.deepEqual(
    await client.number("views").windowMany(["p", "q"], 2, { at: T0 }),
    [10, 1],
  );
  assert.equal(
    await client.number("views").range("p", { startMs: T0, endMs: T0 + 1 }),
    6,
  );
  const { estimate, lower, upper } = await client.cardinality("visitors")
    .window("p", 3, { at: T0 });
  assert.ok(lower <= estimate && estimate <= upper);
  assert.deepEqual(await client.topK("products").get("global"), [
    { key: "b", count: 9 },
    { key: "a", count: 5 },
    { key: "c", count: 2 },
  ]);
  const devices = client.bloom("devices");
  assert.equal(await devices.mightContain("global", "device-1"), true);
  assert.equal(await devices.mightContain("global", "device-9"), false);
  const reading = await client.number("views").read({
    entity: "nobody",
    last: 3,
    at: T0,
  });
  assert.equal(reading.present, false);
  assert.equal(reading.coverage.buckets.length, 3);
  assert.equal(reading.coverage.granularity, "day");
  await assert.rejects(
    () => client.number("visitors").window("p", 1, { at: T0 }),
    /answers cardinality values, not numbers/,
  );
  assert.deepEqual(await client.json("products").get("global"), [
    { key: "b", count: 9 },
    { key: "a", count: 5 },
    { key: "c", count: 2 },
  ]);
});

/** A topN(n: 3) pipeline (capacity 100) fed five pages, heaviest first: / 9, /a 7, /b 5, /c 3, /d 1. */
async function topPages() {
  const pages = topN<{ country: string; page: string }>("top_pages", {
    n: 3,
    item: (e) => e.page,
  }).key((e) => e.country).storeIn(new MemoryStore()).build();
  const driver = new TestDriver(pages);
  const counts = [["/", 9], ["/a", 7], ["/b", 5], ["/c", 3], [
    "/d",
    1,
  ]] as const;
  for (const [page, n] of counts) {
    await driver.send(
      ...Array.from({ length: n }, () => ({ country: "de", page })),
    );
  }
  await driver.flush();
  return pages;
}

const TOP_3 = [
  { key: "/", count: 9 },
  { key: "/a", count: 7 },
  { key: "/b", count: 5 },
];

function topKOf(answer: Answer | undefined) {
  const kind = answer?.value?.kind;
  assert.equal(kind?.case, "topK");
  if (kind?.case !== "topK") throw new Error("not a top-K answer");
  return {
    k: kind.value.k,
    entries: kind.value.entries.map(({ key, count }) => ({ key, count })),
  };
}

Deno.test("QueryService reports a topN(n: 3) pipeline's top 3, keeps K and the whole sketch's bytes", async () => {
  const pages = await topPages();
  const transport = createRouterTransport((router) =>
    router.service(QueryService, createQueryService(createQuerier([pages])))
  );
  const client = createClient(QueryService, transport);
  const { answer } = await client.get({ pipeline: "top_pages", entity: "de" });
  assert.deepEqual(topKOf(answer), { k: 100, entries: TOP_3 });
  const bytes = pages.monoid.codec.decode(answer!.data);
  assert.equal(bytes.top().length, 5, "the canonical bytes hold every item");
  const { answers } = await client.getMany({
    pipeline: "top_pages",
    entities: ["de", "de"],
  });
  assert.deepEqual(answers.map((a) => topKOf(a).entries), [TOP_3, TOP_3]);
  const one = await client.get({ pipeline: "top_pages", entity: "de", top: 1 });
  assert.deepEqual(topKOf(one.answer).entries, [{ key: "/", count: 9 }]);
  const wide = await client.get({
    pipeline: "top_pages",
    entity: "de",
    top: 50,
  });
  assert.equal(topKOf(wide.answer).entries.length, 5);
  assert.equal(
    await codeOf(client.get({ pipeline: "top_pages", entity: "de", top: 0 })),
    Code.InvalidArgument,
  );
});

Deno.test("query client and the console's Query report a topN pipeline's n entries unless top says otherwise", async () => {
  const pages = await topPages();
  await using handler = createHandler({ pipelines: [pages], ui: false });
  const fetch = (input: RequestInfo | URL, init?: RequestInit) =>
    handler(new Request(input, init));
  const client = createQueryClient({ baseUrl: "http://localhost", fetch });
  assert.deepEqual(await client.topK("top_pages").get("de"), TOP_3);
  assert.deepEqual(await client.topK("top_pages").get("de", { top: 2 }), [
    { key: "/", count: 9 },
    { key: "/a", count: 7 },
  ]);
  const admin = createClient(
    AdminService,
    createConnectTransport({ baseUrl: "http://localhost", fetch }),
  );
  const answered = await admin.query({ pipeline: "top_pages", entity: "de" });
  assert.deepEqual(topKOf(answered.answer), { k: 100, entries: TOP_3 });
  const four = await admin.query({
    pipeline: "top_pages",
    entity: "de",
    top: 4,
  });
  assert.equal(topKOf(four.answer).entries.length, 4);
  assert.equal(
    await codeOf(admin.query({ pipeline: "top_pages", entity: "de", top: 0 })),
    Code.InvalidArgument,
  );
});
