import assert from "node:assert/strict";
import { createHandler } from "../admin/mod.ts";
import { hourly, sum } from "../monoid/mod.ts";
import { MemoryStore } from "../state/mod.ts";
import fc from "fast-check";
import { pathOf } from "./_wire.ts";

function fixture() {
  const store = new MemoryStore({ maxEntityBytes: 64 });
  const likes = { name: "likes", monoid: sum(), window: null, store };
  const views = { name: "views", monoid: sum(), window: hourly(), store };
  return { store, handler: createHandler({ pipelines: [likes, views] }) };
}

const GET = "http://localhost/murmur.v1.QueryService/Get";
const LIST = "http://localhost/murmur.admin.v1.AdminService/ListPipelines";
const QUERY = "http://localhost/murmur.admin.v1.AdminService/Query";

function grpcWebFrame(message: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(5 + message.length);
  new DataView(out.buffer).setUint32(1, message.length);
  out.set(message, 5);
  return out;
}

function grpcWebStatus(body: Uint8Array): string | undefined {
  const text = new TextDecoder().decode(body);
  return /grpc-status: (\d+)/.exec(text)?.[1];
}

Deno.test("malformed binary protobuf is invalid_argument on both services, over Connect and gRPC-Web", async () => {
  const { handler } = fixture();
  await using _ = handler;
  // A length-delimited field announcing 127 bytes when 1 follows.
  const broken = Uint8Array.of(0x0a, 0x7f, 0x41);
  for (const url of [GET, LIST, QUERY]) {
    const connect = await handler(
      new Request(url, {
        method: "POST",
        headers: { "Content-Type": "application/proto" },
        body: broken,
      }),
    );
    assert.equal(connect.status, 400, url);
    assert.equal((await connect.json()).code, "invalid_argument");
    const web = await handler(
      new Request(url, {
        method: "POST",
        headers: { "Content-Type": "application/grpc-web+proto" },
        body: grpcWebFrame(broken),
      }),
    );
    assert.equal(web.status, 200);
    assert.equal(grpcWebStatus(new Uint8Array(await web.arrayBuffer())), "3");
  }
});

Deno.test("a message of the wrong type and a bad envelope are invalid_argument, not internal", async () => {
  const { handler } = fixture();
  await using _ = handler;
  // A GetRequest whose field 2 holds a varint (wire type 0) where a string belongs.
  const wrongType = Uint8Array.of(0x0a, 1, 0x78, 0x10, 0x05);
  const res = await handler(
    new Request(GET, {
      method: "POST",
      headers: { "Content-Type": "application/proto" },
      body: wrongType,
    }),
  );
  assert.equal((await res.json()).code, "invalid_argument");
  const short = await handler(
    new Request(GET, {
      method: "POST",
      headers: { "Content-Type": "application/grpc-web+proto" },
      body: Uint8Array.of(0, 0, 0, 0, 9, 1),
    }),
  );
  assert.equal(grpcWebStatus(new Uint8Array(await short.arrayBuffer())), "3");
});

Deno.test("a Connect GET with bad base64 is invalid_argument (400), not internal", async () => {
  const { handler } = fixture();
  await using _ = handler;
  const res = await handler(
    new Request(`${GET}?encoding=proto&base64=1&message=%%%%*&connect=v1`),
  );
  assert.equal(res.status, 400);
  assert.equal((await res.json()).code, "invalid_argument");
});

Deno.test("deadlines past 2^31-1 ms mean no deadline instead of firing at once", async () => {
  const { handler, store } = fixture();
  await using _ = handler;
  await store.merge({ namespace: "likes", monoid: sum() }, [
    { key: { entity: "post:1", bucket: null }, value: 2 },
  ]);
  for (
    const [header, value] of [
      ["Connect-Timeout-Ms", "9999999999"],
      ["Connect-Timeout-Ms", "2147483648"],
    ] as const
  ) {
    const res = await handler(
      new Request(GET, {
        method: "POST",
        headers: { "Content-Type": "application/json", [header]: value },
        body: JSON.stringify({ pipeline: "likes", entity: "post:1" }),
      }),
    );
    assert.equal(res.status, 200, `${header}: ${value}`);
    assert.equal((await res.json()).answer.value.number, 2);
  }
  const web = await handler(
    new Request(GET, {
      method: "POST",
      headers: {
        "Content-Type": "application/grpc-web+json",
        "grpc-timeout": "99999999H",
      },
      body: grpcWebFrame(
        new TextEncoder().encode(
          JSON.stringify({ pipeline: "likes", entity: "post:1" }),
        ),
      ),
    }),
  );
  assert.equal(grpcWebStatus(new Uint8Array(await web.arrayBuffer())), "0");
  // The streaming path (the Connect library) sees no deadline either.
  const controller = new AbortController();
  const watch = await handler(
    new Request(
      "http://localhost/murmur.admin.v1.AdminService/WatchMetrics",
      {
        method: "POST",
        headers: {
          "Content-Type": "application/connect+json",
          "Connect-Timeout-Ms": "4294967296",
        },
        body: grpcWebFrame(new TextEncoder().encode("{}")),
        signal: controller.signal,
      },
    ),
  );
  const reader = watch.body!.getReader();
  const { value } = await reader.read();
  assert.equal(value![0], 0, "a message frame, not an end-stream error");
  await reader.cancel();
  controller.abort();
});

Deno.test("an entity over the store's byte limit is invalid_argument before any read, in QueryService and the console's Query", async () => {
  const { handler } = fixture();
  await using _ = handler;
  const entity = "é".repeat(40); // 40 characters, 80 bytes in UTF-8
  for (
    const [url, body] of [
      [GET, { pipeline: "likes", entity }],
      [QUERY, { pipeline: "likes", entity }],
    ] as const
  ) {
    const res = await handler(
      new Request(url, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      }),
    );
    const json = await res.json();
    assert.equal(json.code, "invalid_argument", url);
    assert.match(json.message, /80 bytes/);
  }
});

Deno.test("the console's Query shares QueryService's checks: epoch-ms range and probe limit", async () => {
  const { handler } = fixture();
  await using _ = handler;
  const ask = async (url: string, body: unknown) =>
    await (await handler(
      new Request(url, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      }),
    )).json();
  const huge = "99999999999999999";
  const viaQuery = await ask(QUERY, {
    pipeline: "views",
    entity: "p",
    range: { startMs: "0", endMs: huge },
  });
  assert.equal(viaQuery.code, "invalid_argument");
  assert.match(viaQuery.message, /endMs/);
  const probes = Array.from({ length: 101 }, (_, i) => `d${i}`);
  const tooMany = await ask(QUERY, { pipeline: "likes", entity: "p", probes });
  assert.equal(tooMany.code, "invalid_argument");
  assert.match(tooMany.message, /probe/);
});

Deno.test("GetWindow takes a trailing duration_ms; Query's window takes duration_ms too", async () => {
  const { handler, store } = fixture();
  await using _ = handler;
  const hour = 3_600_000;
  await store.merge({ namespace: "views", monoid: sum() }, [
    { key: { entity: "p", bucket: 0 }, value: 1 },
    { key: { entity: "p", bucket: 10 * hour }, value: 4 },
    { key: { entity: "p", bucket: 11 * hour }, value: 5 },
  ]);
  const res = await handler(
    new Request("http://localhost/murmur.v1.QueryService/GetWindow", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        pipeline: "views",
        entity: "p",
        durationMs: String(2 * hour),
        atMs: String(11 * hour + 5),
      }),
    }),
  );
  const { answer } = await res.json();
  assert.equal(answer.value.number, 9);
  assert.equal(answer.coverage.buckets.length, 3);
  const console = await (await handler(
    new Request(QUERY, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        pipeline: "views",
        entity: "p",
        window: { durationMs: String(hour), atMs: String(11 * hour + 5) },
      }),
    }),
  )).json();
  assert.equal(console.answer.value.number, 9);
  const both = await (await handler(
    new Request("http://localhost/murmur.v1.QueryService/GetWindow", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        pipeline: "views",
        entity: "p",
        last: 2,
        durationMs: "1000",
      }),
    }),
  )).json();
  assert.equal(both.code, "invalid_argument");
});

Deno.test("pathOf() reads the same path as new URL().pathname", () => {
  const unit = fc.constantFrom(
    ..."/abzABZ09.%?#\\ @:;=[]é\t\"<>`{}|^~-_+!$&'()*,".split(""),
  );
  fc.assert(
    fc.property(
      fc.string({ unit, maxLength: 20 }),
      fc.string({ unit, maxLength: 6 }),
      (path, host) => {
        for (
          const url of [
            `http://127.0.0.1:80/${path}`,
            `http://localhost${path}`,
            `http://${host}/${path}`,
            `https://x${host}.y/${path}`,
          ]
        ) {
          let want: string;
          try {
            want = new URL(url).pathname;
          } catch {
            continue;
          }
          assert.equal(pathOf(url), want, url);
        }
      },
    ),
    { numRuns: 5000 },
  );
  assert.equal(
    pathOf("http://127.0.0.1:8080/murmur.v1.QueryService/Get?x=1"),
    "/murmur.v1.QueryService/Get",
  );
});
