// The one handler over real HTTP: Connect (binary, JSON, GET), gRPC-Web, native gRPC, curl, buf curl, auth, CORS, workers.

import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-web";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { sum } from "../monoid/mod.ts";
import { KvStore } from "../state/kv.ts";
import { InMemoryMetrics } from "../streaming/mod.ts";
import { QueryService } from "../proto/gen/murmur/v1/query_pb.ts";
import { AdminService } from "../proto/gen/murmur/admin/v1/admin_pb.ts";
import {
  AuthRequiredError,
  reportToAdmin,
  serve,
  type ServeOptions,
} from "../admin/mod.ts";

const TOKEN_A = "token-a-0123456789abcdef";
const TOKEN_B = "token-b-0123456789abcdef";
const BUF = "npm:@bufbuild/buf@1.74.0";
const PROTO_DIR = new URL("../proto/", import.meta.url).pathname;

async function fixture(options: Partial<ServeOptions> = {}) {
  const store = await KvStore.open(":memory:");
  const likes = {
    name: "likes",
    monoid: sum(),
    window: null,
    store,
    source: { name: "memory:likes" },
  };
  await store.merge({ namespace: "likes", monoid: sum() }, [
    { key: { entity: "post:1", bucket: null }, value: 41 },
  ]);
  const metrics = new InMemoryMetrics();
  metrics.eventsIn("likes", 41);
  metrics.merged("likes", 1, 2.5);
  const server = await serve({
    pipelines: [likes],
    metrics,
    port: 0,
    onListen: () => {},
    sampleIntervalMs: 100,
    ...options,
  });
  return {
    server,
    metrics,
    store,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      await store.close();
    },
  };
}

async function run(
  command: string,
  args: string[],
  options: { cwd?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(command, {
    args,
    stdout: "piped",
    stderr: "piped",
    ...options,
  }).output();
  const text = new TextDecoder();
  return {
    code: out.code,
    stdout: text.decode(out.stdout),
    stderr: text.decode(out.stderr),
  };
}

function bufCurl(
  protocol: string,
  url: string,
  data: unknown,
  extra: string[] = [],
) {
  return run(Deno.execPath(), [
    "run",
    "-A",
    BUF,
    "curl",
    "--schema",
    PROTO_DIR,
    "--protocol",
    protocol,
    "--data",
    JSON.stringify(data),
    ...extra,
    url,
  ]);
}

Deno.test("admin server answers the generated Connect client over binary, JSON, GET and gRPC-Web", async () => {
  await using f = await fixture();
  const base = f.server.url;
  const transports = {
    binary: createConnectTransport({ baseUrl: base, useBinaryFormat: true }),
    json: createConnectTransport({ baseUrl: base, useBinaryFormat: false }),
    get: createConnectTransport({ baseUrl: base, useHttpGet: true }),
    grpcWeb: createGrpcWebTransport({ baseUrl: base }),
  };
  for (const [name, transport] of Object.entries(transports)) {
    const client = createClient(QueryService, transport);
    const { answer } = await client.get({
      pipeline: "likes",
      entity: "post:1",
    });
    assert.deepEqual(answer?.value?.kind, { case: "number", value: 41 }, name);
    const admin = createClient(AdminService, transport);
    const { pipelines } = await admin.listPipelines({});
    assert.deepEqual(pipelines.map((p) => p.name), ["likes"], name);
    const error = await client.get({ pipeline: "nope", entity: "x" }).catch((
      e,
    ) => e);
    assert.ok(error instanceof ConnectError, name);
    assert.equal(error.code, Code.NotFound, name);
  }
});

Deno.test("admin server answers plain curl with JSON, including Connect GET", async () => {
  await using f = await fixture();
  const post = await run("curl", [
    "-sS",
    "-X",
    "POST",
    "-H",
    "Content-Type: application/json",
    "-d",
    JSON.stringify({ pipeline: "likes", entity: "post:1" }),
    `${f.server.url}/murmur.v1.QueryService/Get`,
  ]);
  assert.equal(post.code, 0, post.stderr);
  const body = JSON.parse(post.stdout);
  assert.equal(body.answer.value.number, 41);
  assert.equal(body.answer.present, true);
  assert.equal(body.answer.coverage.allTime, true);

  const message = encodeURIComponent(
    JSON.stringify({ pipeline: "likes", entity: "post:2" }),
  );
  const get = await run("curl", [
    "-sS",
    `${f.server.url}/murmur.v1.QueryService/Get?connect=v1&encoding=json&message=${message}`,
  ]);
  const absent = JSON.parse(get.stdout);
  assert.equal(absent.answer.present, false);
  assert.equal(absent.answer.value.number, 0);

  const bad = await run("curl", [
    "-sS",
    "-w",
    "\n%{http_code}",
    "-X",
    "POST",
    "-H",
    "Content-Type: application/json",
    "-d",
    JSON.stringify({ pipeline: "likes", entity: "" }),
    `${f.server.url}/murmur.v1.QueryService/Get`,
  ]);
  const [json, status] = bad.stdout.trim().split("\n");
  assert.equal(status, "400");
  assert.equal(JSON.parse(json!).code, "invalid_argument");
});

Deno.test("admin server answers buf curl over Connect, gRPC-Web and (on the HTTP/2 port) native gRPC", async () => {
  await using f = await fixture({ grpcPort: 0 });
  assert.ok(f.server.grpcUrl);
  const data = { pipeline: "likes", entity: "post:1" };
  const path = "/murmur.v1.QueryService/Get";
  for (
    const [protocol, url, extra] of [
      ["connect", f.server.url, []],
      ["grpcweb", f.server.url, []],
      ["grpc", f.server.grpcUrl, ["--http2-prior-knowledge"]],
    ] as const
  ) {
    const out = await bufCurl(protocol, url + path, data, [...extra]);
    assert.equal(out.code, 0, `${protocol}: ${out.stderr}`);
    assert.equal(JSON.parse(out.stdout).answer.value.number, 41, protocol);
  }
  const notFound = await bufCurl(
    "grpc",
    f.server.grpcUrl + path,
    { pipeline: "nope", entity: "x" },
    ["--http2-prior-knowledge"],
  );
  assert.notEqual(notFound.code, 0);
  assert.match(notFound.stderr, /not_found/);
  // The fetch handler refuses native gRPC instead of answering without trailers.
  const refused = await bufCurl("grpc", f.server.url + path, data);
  assert.notEqual(refused.code, 0);
});

Deno.test("native gRPC carries server streaming and status trailers through node:http2", async () => {
  await using f = await fixture({ grpcPort: 0 });
  const transport = createGrpcTransport({ baseUrl: f.server.grpcUrl! });
  const admin = createClient(AdminService, transport);
  const controller = new AbortController();
  const ticks: number[] = [];
  try {
    for await (
      const tick of admin.watchMetrics({ intervalMs: 250 }, {
        signal: controller.signal,
      })
    ) {
      ticks.push(tick.snapshots.length);
      if (ticks.length === 2) controller.abort();
    }
  } catch (error) {
    assert.equal(ConnectError.from(error).code, Code.Canceled);
  }
  assert.deepEqual(ticks, [1, 1]);
  const query = createClient(QueryService, transport);
  const error = await query.getRange({
    pipeline: "likes",
    entity: "post:1",
    startMs: 0n,
    endMs: 1n,
  }).catch((e) => e);
  assert.equal(ConnectError.from(error).code, Code.FailedPrecondition);
});

Deno.test("native gRPC carries answers larger than the flow-control windows, many at once", async () => {
  await using f = await fixture({ grpcPort: 0 });
  const query = createClient(
    QueryService,
    createGrpcTransport({ baseUrl: f.server.grpcUrl! }),
  );
  // 1 000 entities of 200 characters: an answer of about 250 KB, past the
  // 64 KiB a client's stream window starts with and past one 16 KiB frame.
  const entities = Array.from(
    { length: 1000 },
    (_, i) => i === 0 ? "post:1" : `post:${String(i).padStart(195, "0")}`,
  );
  const answers = await Promise.all(
    Array.from(
      { length: 8 },
      () => query.getMany({ pipeline: "likes", entities }),
    ),
  );
  for (const { answers: list } of answers) {
    assert.equal(list.length, 1000);
    assert.deepEqual(list.map((a) => a.entity), entities);
    assert.deepEqual(list[0]!.value?.kind, { case: "number", value: 41 });
    assert.equal(list[999]!.present, false);
  }
});

Deno.test("WatchMetrics streams over Connect with fresh snapshots", async () => {
  await using f = await fixture();
  const admin = createClient(
    AdminService,
    createConnectTransport({ baseUrl: f.server.url }),
  );
  const controller = new AbortController();
  const seen: number[] = [];
  try {
    for await (
      const tick of admin.watchMetrics({ pipeline: "likes", intervalMs: 250 }, {
        signal: controller.signal,
      })
    ) {
      seen.push(tick.snapshots[0]!.eventsIn);
      f.metrics.eventsIn("likes", 1);
      if (seen.length === 3) controller.abort();
    }
  } catch (error) {
    assert.equal(ConnectError.from(error).code, Code.Canceled);
  }
  assert.deepEqual(seen, [41, 42, 43]);
  const missing = admin.watchMetrics({ pipeline: "nope" });
  await assert.rejects(async () => {
    for await (const _ of missing) break;
  }, /unknown pipeline "nope"/);
});

Deno.test("bearer tokens guard RPCs and /metrics; Health and the UI stay open; rotation accepts every token", async () => {
  await using f = await fixture({ tokens: [TOKEN_A, TOKEN_B] });
  const base = f.server.url;
  const anonymous = createClient(
    AdminService,
    createConnectTransport({ baseUrl: base }),
  );
  const health = await anonymous.health({});
  assert.equal(health.authRequired, true);
  const denied = await anonymous.listPipelines({}).catch((e) => e);
  assert.equal(ConnectError.from(denied).code, Code.Unauthenticated);
  for (const token of [TOKEN_A, TOKEN_B]) {
    const client = createClient(
      AdminService,
      createConnectTransport({
        baseUrl: base,
        interceptors: [(next) => (req) => {
          req.header.set("Authorization", `Bearer ${token}`);
          return next(req);
        }],
      }),
    );
    assert.equal((await client.listPipelines({})).pipelines.length, 1);
  }
  const wrong = await fetch(`${base}/murmur.v1.QueryService/Get`, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      Authorization: `Bearer ${TOKEN_A}x`,
    },
    body: "{}",
  });
  assert.equal(wrong.status, 401);
  assert.match(wrong.headers.get("WWW-Authenticate") ?? "", /^Bearer/);
  await wrong.body?.cancel();
  const metrics = await fetch(`${base}/metrics`);
  assert.equal(metrics.status, 401);
  await metrics.body?.cancel();
  const scraped = await fetch(`${base}/metrics`, {
    headers: { Authorization: `Bearer ${TOKEN_B}` },
  });
  assert.equal(scraped.status, 200);
  await scraped.body?.cancel();
  const ui = await fetch(`${base}/`);
  assert.equal(ui.status, 200);
  await ui.body?.cancel();
});

Deno.test("serve() refuses to listen beyond loopback without tokens", async () => {
  await assert.rejects(
    () => serve({ hostname: "0.0.0.0", port: 0, onListen: () => {} }),
    AuthRequiredError,
  );
  await using open = await serve({
    hostname: "0.0.0.0",
    port: 0,
    tokens: [TOKEN_A],
    onListen: () => {},
  });
  assert.equal(open.handler.authRequired, true);
});

Deno.test("CORS is closed by default and, when opened, allows the Authorization header", async () => {
  const preflight = (base: string, origin: string) =>
    fetch(`${base}/murmur.v1.QueryService/Get`, {
      method: "OPTIONS",
      headers: {
        Origin: origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
      },
    });
  {
    await using closed = await fixture();
    const res = await preflight(closed.server.url, "https://ops.example.com");
    assert.equal(res.status, 403);
    assert.equal(res.headers.get("Access-Control-Allow-Origin"), null);
    await res.body?.cancel();
  }
  await using open = await fixture({
    tokens: [TOKEN_A],
    cors: { origins: ["https://ops.example.com"] },
  });
  const ok = await preflight(open.server.url, "https://ops.example.com");
  assert.equal(ok.status, 204);
  assert.equal(
    ok.headers.get("Access-Control-Allow-Origin"),
    "https://ops.example.com",
  );
  assert.match(
    ok.headers.get("Access-Control-Allow-Headers") ?? "",
    /Authorization/,
  );
  const other = await preflight(open.server.url, "https://evil.example.com");
  assert.equal(other.status, 403);
  await other.body?.cancel();
  const res = await fetch(`${open.server.url}/murmur.v1.QueryService/Get`, {
    method: "POST",
    headers: {
      Origin: "https://ops.example.com",
      "Content-Type": "application/json",
      Authorization: `Bearer ${TOKEN_A}`,
    },
    body: JSON.stringify({ pipeline: "likes", entity: "post:1" }),
  });
  assert.equal(res.status, 200);
  assert.equal(
    res.headers.get("Access-Control-Allow-Origin"),
    "https://ops.example.com",
  );
  await res.body?.cancel();
});

Deno.test("/healthz, /metrics in Prometheus format, and the static UI", async () => {
  await using f = await fixture();
  const base = f.server.url;
  assert.equal(await (await fetch(`${base}/healthz`)).text(), "ok\n");
  await createClient(QueryService, createConnectTransport({ baseUrl: base }))
    .get({ pipeline: "likes", entity: "post:1" });
  const res = await fetch(`${base}/metrics`);
  assert.match(
    res.headers.get("Content-Type") ?? "",
    /^text\/plain; version=0\.0\.4/,
  );
  const text = await res.text();
  assert.match(text, /^# TYPE murmur_events_total counter$/m);
  assert.match(text, /^murmur_events_total\{pipeline="likes"\} 41$/m);
  assert.match(
    text,
    /^murmur_merge_latency_ms\{pipeline="likes",quantile="0\.99"\} 2\.5$/m,
  );
  assert.match(
    text,
    /^murmur_rpc_requests_total\{procedure="\/murmur\.v1\.QueryService\/Get",code="ok"\} 1$/m,
  );
  assert.match(
    text,
    /^murmur_pipeline_info\{pipeline="likes",monoid="sum",.*\} 1$/m,
  );
  const html = await fetch(`${base}/`);
  assert.match(html.headers.get("Content-Type") ?? "", /text\/html/);
  assert.match(
    html.headers.get("Content-Security-Policy") ?? "",
    /default-src 'self'/,
  );
  const page = await html.text();
  assert.match(page, /<script type="module" src="\/app\.js"><\/script>/);
  assert.doesNotMatch(page, /https?:\/\/(?!www\.w3\.org)/);
  const js = await fetch(`${base}/app.js`);
  assert.match(js.headers.get("Content-Type") ?? "", /javascript/);
  const etag = js.headers.get("ETag")!;
  await js.body?.cancel();
  const cached = await fetch(`${base}/app.js`, {
    headers: { "If-None-Match": etag },
  });
  assert.equal(cached.status, 304);
  await cached.body?.cancel();
  const missing = await fetch(`${base}/nope.js`);
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
});

Deno.test("a worker in another server registers, pushes metrics, answers forwarded queries and leaves", async () => {
  await using admin = await fixture({ tokens: [TOKEN_A], workerLeaseMs: 5000 });
  const workerStore = await KvStore.open(":memory:");
  const clicks = {
    name: "clicks",
    monoid: sum(),
    window: null,
    store: workerStore,
    source: { name: "kafka:clicks" },
  };
  await workerStore.merge({ namespace: "clicks", monoid: sum() }, [
    { key: { entity: "ad:7", bucket: null }, value: 12 },
  ]);
  const workerMetrics = new InMemoryMetrics();
  workerMetrics.eventsIn("clicks", 12);
  await using worker = await serve({
    pipelines: [clicks],
    metrics: workerMetrics,
    port: 0,
    tokens: [TOKEN_A],
    onListen: () => {},
  });
  const errors: unknown[] = [];
  const reporter = reportToAdmin({
    adminUrl: admin.server.url,
    token: TOKEN_A,
    worker: "worker-1",
    pipelines: [clicks],
    metrics: workerMetrics,
    queryUrl: worker.url,
    intervalMs: 100,
    onError: (e) => errors.push(e),
  });
  await reporter.ready;
  await reporter.reportNow();
  const client = createClient(
    AdminService,
    createConnectTransport({
      baseUrl: admin.server.url,
      interceptors: [(next) => (req) => {
        req.header.set("Authorization", `Bearer ${TOKEN_A}`);
        return next(req);
      }],
    }),
  );
  const { pipelines } = await client.listPipelines({});
  assert.deepEqual(pipelines.map((p) => [p.name, p.worker, p.online]), [
    ["clicks", "worker-1", true],
    ["likes", "local", true],
  ]);
  const described = await client.describePipeline({ name: "clicks" });
  assert.deepEqual(
    described.pipeline?.dag?.nodes.map((n) => n.kind),
    ["source", "extract", "aggregate", "store"],
  );
  const metrics = await client.getMetrics({ pipeline: "clicks" });
  assert.equal(metrics.pipelines[0]?.latest?.eventsIn, 12);
  assert.equal(metrics.pipelines[0]?.latest?.worker, "worker-1");
  const forwarded = await client.query({ pipeline: "clicks", entity: "ad:7" });
  assert.deepEqual(forwarded.answer?.value?.kind, {
    case: "number",
    value: 12,
  });
  const local = await client.query({ pipeline: "likes", entity: "post:1" });
  assert.deepEqual(local.answer?.value?.kind, { case: "number", value: 41 });

  const anonymous = await fetch(
    `${admin.server.url}/murmur.admin.v1.AdminService/RegisterWorker`,
    {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ worker: "intruder" }),
    },
  );
  assert.equal(anonymous.status, 401);
  await anonymous.body?.cancel();

  await reporter.close();
  assert.deepEqual(errors, []);
  const after = await client.listPipelines({});
  assert.deepEqual(after.pipelines.map((p) => p.name), ["likes"]);
  await worker.shutdown();
  await workerStore.close();
});
