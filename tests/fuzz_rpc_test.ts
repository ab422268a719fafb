// Issue 9's fuzz suite: malformed requests to both services over every protocol (Connect JSON, binary, GET, streaming; gRPC-Web; native gRPC) and both HTTP versions.
//
// Every answer must be a client error: no 5xx (but 501 `unimplemented` for an
// unsupported compression, as the Connect spec asks), no `internal` or
// `unknown`, no hang, no crash. A fixed seed runs in CI; one more random seed
// runs each time and is printed when it finds something. Reproduce with
// MURMUR_FUZZ_SEED=<seed>.

import assert from "node:assert/strict";
import http2 from "node:http2";
import { concatBytes } from "../internal/bytes.ts";
import fc from "fast-check";
import { create, type DescMessage, toBinary } from "@bufbuild/protobuf";
import { serve } from "../admin/mod.ts";
import { daily, sum } from "../monoid/mod.ts";
import { MemoryStore } from "../state/mod.ts";
import { QueryService } from "../proto/gen/murmur/v1/query_pb.ts";
import { AdminService } from "../proto/gen/murmur/admin/v1/admin_pb.ts";

const FIXED_SEED = 20_261_204;
const FIXED_RUNS = 10_000;
const RANDOM_RUNS = 2_000;
const CONCURRENCY = 16;
const CALL_TIMEOUT_MS = 10_000;

type Protocol =
  | "connect-proto"
  | "connect-json"
  | "connect-get"
  | "connect-stream"
  | "grpc-web"
  | "grpc";
type Transport = "http1" | "http2";

interface FuzzRequest {
  readonly protocol: Protocol;
  readonly transport: Transport;
  readonly path: string;
  readonly body: Uint8Array;
  readonly headers: Record<string, string>;
  readonly query?: string;
}

const methods = [...QueryService.methods, ...AdminService.methods];
const pathOf = (m: (typeof methods)[number]) =>
  `/${m.parent.typeName}/${m.name}`;
const schemas: DescMessage[] = [
  ...new Set(methods.flatMap((m) => [m.input, m.output])),
];
const text = new TextEncoder();

/** Valid seed requests per input type, in JSON (mutated below). */
const seedJson: Record<string, unknown[]> = {
  "murmur.v1.GetRequest": [{ pipeline: "likes", entity: "post:1" }],
  "murmur.v1.GetWindowRequest": [
    { pipeline: "views", entity: "p", last: 7 },
    { pipeline: "views", entity: "p", durationMs: "86400000" },
  ],
  "murmur.v1.GetRangeRequest": [
    { pipeline: "views", entity: "p", startMs: "0", endMs: "86400000" },
  ],
  "murmur.admin.v1.QueryRequest": [
    { pipeline: "views", entity: "p", window: { last: 3 } },
  ],
};

function envelope(flags: number, data: Uint8Array, length = data.length) {
  const out = new Uint8Array(5 + data.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, length >>> 0);
  out.set(data, 5);
  return out;
}

const arbBytes = fc.uint8Array({ maxLength: 96 });
/** A valid encoding of some message, often of the wrong type. */
const arbOtherMessage = fc.constantFrom(...schemas).map((schema) =>
  toBinary(schema, create(schema))
);
const arbValidOf = (method: (typeof methods)[number]) =>
  fc.constantFrom(...(seedJson[method.input.typeName] ?? [{}])).map((json) =>
    text.encode(JSON.stringify(json))
  );
/** A binary message: random, of another type, or a valid one mutated. */
const arbBinary = fc.oneof(
  arbBytes,
  arbOtherMessage,
  fc.tuple(arbOtherMessage, arbBytes).map(([a, b]) => {
    const out = new Uint8Array(a.length + b.length);
    out.set(a);
    out.set(b, a.length);
    return out;
  }),
  fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 8 }), fc.nat(40)).map((
    [prefix, n],
  ) => {
    // A field header announcing more bytes than follow, or a bad wire type.
    const out = new Uint8Array(prefix.length + 2);
    out.set(prefix);
    out[prefix.length] = (n << 3) | 2;
    out[prefix.length + 1] = 0xff;
    return out;
  }),
);
const arbJsonValue = fc.oneof(
  fc.json().map((json) => text.encode(json)),
  fc.string({ maxLength: 40 }).map((s) => text.encode(s)),
  fc.record({
    pipeline: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
    entity: fc.oneof(fc.string({ maxLength: 2000 }), fc.integer()),
    last: fc.oneof(fc.integer(), fc.string(), fc.double()),
    atMs: fc.oneof(fc.string(), fc.constant("99999999999999999999999")),
    durationMs: fc.oneof(fc.string(), fc.bigInt().map(String)),
    startMs: fc.oneof(fc.string(), fc.double()),
    probes: fc.oneof(fc.array(fc.string(), { maxLength: 300 }), fc.string()),
    top: fc.oneof(fc.integer(), fc.constant(-1), fc.string()),
  }, { requiredKeys: [] }).map((o) => text.encode(JSON.stringify(o))),
  fc.uint8Array({ maxLength: 40 }),
);

const arbHeaders = fc.record({
  "connect-timeout-ms": fc.constantFrom(
    "abc",
    "99999999999",
    "4294967296",
    "2147483648",
    "60000",
    "-1",
  ),
  "grpc-timeout": fc.constantFrom("99999999H", "1x", "60S", "2147484m", ""),
  "connect-protocol-version": fc.constantFrom("1", "2", ""),
  "content-encoding": fc.constantFrom("gzip", "br", "identity"),
  "grpc-encoding": fc.constantFrom("gzip", "snappy"),
  authorization: fc.constantFrom("Bearer x", "Basic", ""),
}, { requiredKeys: [] });

const arbPath = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(...methods.map(pathOf)) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "/murmur.v1.QueryService/Nope",
      "/murmur.admin.v1.AdminService/",
      "/murmur.v1.QueryService/Get/extra",
    ),
  },
);

const arbRequest: fc.Arbitrary<FuzzRequest> = fc.record({
  protocol: fc.constantFrom<Protocol>(
    "connect-proto",
    "connect-json",
    "connect-get",
    "connect-stream",
    "grpc-web",
    "grpc",
  ),
  transport: fc.constantFrom<Transport>("http1", "http2"),
  path: arbPath,
  headers: arbHeaders,
  binary: arbBinary,
  json: arbJsonValue,
  valid: fc.boolean(),
  flags: fc.constantFrom(0, 0, 0, 1, 2, 0x80),
  lengthDelta: fc.constantFrom(0, 0, 0, 1, -1, 1 << 20),
  base64: fc.constantFrom("1", "0"),
  garbage: fc.string({ maxLength: 20 }),
}).map((r) => {
  const method = methods.find((m) => pathOf(m) === r.path);
  const jsonProtocol = r.protocol === "connect-json";
  let message = jsonProtocol ? r.json : r.binary;
  if (r.valid && method !== undefined) {
    // A valid request with a twist: the message of another method or a bad header.
    message = jsonProtocol ? fc.sample(arbValidOf(method), 1)[0]! : r.binary;
  }
  const enveloped = envelope(
    r.flags,
    message,
    message.length + r.lengthDelta,
  );
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers)) {
    if (v !== undefined) headers[k] = v;
  }
  const transport: Transport = r.protocol === "grpc" ? "http2" : r.transport;
  switch (r.protocol) {
    case "connect-proto":
      return {
        protocol: r.protocol,
        transport,
        path: r.path,
        body: message,
        headers: { ...headers, "content-type": "application/proto" },
      };
    case "connect-json":
      return {
        protocol: r.protocol,
        transport,
        path: r.path,
        body: message,
        headers: { ...headers, "content-type": "application/json" },
      };
    case "connect-get": {
      const encoded = r.base64 === "1"
        ? btoa(String.fromCharCode(...message)).replace(/\+/g, "-") +
          r.garbage
        : r.garbage;
      const query = `?encoding=${
        r.valid ? "proto" : encodeURIComponent(r.garbage)
      }&base64=${r.base64}&message=${encodeURIComponent(encoded)}&connect=v1`;
      return {
        protocol: r.protocol,
        transport,
        path: r.path,
        body: new Uint8Array(),
        headers,
        query,
      };
    }
    case "connect-stream":
      return {
        protocol: r.protocol,
        transport,
        path: r.path,
        body: enveloped,
        headers: { ...headers, "content-type": "application/connect+proto" },
      };
    case "grpc-web":
      return {
        protocol: r.protocol,
        transport,
        path: r.path,
        body: enveloped,
        headers: { ...headers, "content-type": "application/grpc-web+proto" },
      };
    case "grpc":
      return {
        protocol: r.protocol,
        transport,
        path: r.path,
        body: enveloped,
        headers: { ...headers, "content-type": "application/grpc" },
      };
  }
});

interface Outcome {
  readonly status: number;
  readonly body: Uint8Array;
  readonly headers: Headers;
  readonly trailers: Headers;
}

/** Reads a body: whole for unary answers, up to the first frame for streams. */
async function readSome(
  stream: ReadableStream<Uint8Array> | null,
): Promise<Uint8Array> {
  if (stream === null) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = stream.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.length;
    // A stream's first frame is enough to judge it (WatchMetrics never ends).
    if (size >= 5) {
      const length = new DataView(chunks[0]!.buffer).getUint32(1);
      if (size >= 5 + length && (chunks[0]![0]! & 0x80) === 0) break;
    }
  }
  await reader.cancel().catch(() => {});
  return concatBytes(chunks, size);
}

async function sendHttp1(base: string, r: FuzzRequest): Promise<Outcome> {
  const res = await fetch(`${base}${r.path}${r.query ?? ""}`, {
    method: r.protocol === "connect-get" ? "GET" : "POST",
    headers: r.headers,
    ...(r.protocol === "connect-get"
      ? {}
      : { body: r.body as Uint8Array<ArrayBuffer> }),
    signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
  });
  const body =
    r.protocol.startsWith("connect-") && r.protocol !== "connect-stream"
      ? new Uint8Array(await res.arrayBuffer())
      : await readSome(res.body);
  return {
    status: res.status,
    body,
    headers: res.headers,
    trailers: new Headers(),
  };
}

/** A stream that ended without any response: only excusable when the gRPC listener was restarted. */
class NoAnswer extends Error {}

function sendHttp2(
  session: http2.ClientHttp2Session,
  r: FuzzRequest,
): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const stream = session.request({
      ":method": r.protocol === "connect-get" ? "GET" : "POST",
      ":path": `${r.path}${r.query ?? ""}`,
      te: "trailers",
      ...r.headers,
    }, { endStream: r.protocol === "connect-get" });
    const timer = setTimeout(() => {
      stream.close(http2.constants.NGHTTP2_CANCEL);
      reject(new Error(`no answer within ${CALL_TIMEOUT_MS} ms`));
    }, CALL_TIMEOUT_MS);
    const headers = new Headers();
    const trailers = new Headers();
    const chunks: Uint8Array[] = [];
    let status = 0;
    let size = 0;
    const finish = () => {
      clearTimeout(timer);
      const body = new Uint8Array(size);
      let offset = 0;
      for (const c of chunks) {
        body.set(c, offset);
        offset += c.length;
      }
      resolve({ status, body, headers, trailers });
    };
    stream.on("response", (h) => {
      status = Number(h[":status"]);
      for (const [k, v] of Object.entries(h)) {
        if (!k.startsWith(":") && v !== undefined) headers.set(k, String(v));
      }
    });
    stream.on("trailers", (t) => {
      for (const [k, v] of Object.entries(t)) {
        if (v !== undefined) trailers.set(k, String(v));
      }
    });
    stream.on("data", (chunk: Uint8Array) => {
      chunks.push(new Uint8Array(chunk));
      size += chunk.length;
      // Streams: the first whole frame is enough.
      if (
        r.path.endsWith("/WatchMetrics") && size >= 5 &&
        size >= 5 + new DataView(chunks[0]!.buffer).getUint32(1)
      ) {
        stream.close(http2.constants.NGHTTP2_CANCEL);
      }
    });
    stream.on("close", () => {
      if (status === 0) {
        clearTimeout(timer);
        reject(new NoAnswer(`the stream closed without an answer`));
      } else {
        finish();
      }
    });
    stream.on("error", () => {});
    if (r.protocol !== "connect-get") stream.end(r.body);
  });
}

const BAD_GRPC = new Set(["2", "13", "4", "14"]);
const BAD_CONNECT = new Set([
  "internal",
  "unknown",
  "deadline_exceeded",
  "unavailable",
]);

/** Parses the gRPC-Web trailer frame out of a body. */
function grpcWebStatus(body: Uint8Array): string | undefined {
  let offset = 0;
  while (offset + 5 <= body.length) {
    const flags = body[offset]!;
    const length = new DataView(body.buffer, body.byteOffset + offset)
      .getUint32(1);
    if ((flags & 0x80) !== 0) {
      const text = new TextDecoder().decode(
        body.subarray(offset + 5, offset + 5 + length),
      );
      return /grpc-status:\s*(\d+)/.exec(text)?.[1];
    }
    offset += 5 + length;
  }
  return undefined;
}

/** Names what is wrong with an outcome, or `undefined` when it is a fine answer. */
function problemOf(r: FuzzRequest, o: Outcome): string | undefined {
  if (o.status >= 500 && o.status !== 501) return `HTTP ${o.status}`;
  const decoded = new TextDecoder().decode(o.body);
  if (o.status === 501 && !decoded.includes('"unimplemented"')) {
    return `HTTP 501 without code unimplemented: ${decoded.slice(0, 200)}`;
  }
  // A stream that sent a whole message first was a valid call (WatchMetrics).
  const streamed = o.status === 200 && o.body.length >= 5 &&
    (o.body[0]! & 0x80) === 0 &&
    o.body.length >= 5 + new DataView(o.body.buffer, o.body.byteOffset)
          .getUint32(1);
  if (r.protocol === "grpc") {
    const status = o.trailers.get("grpc-status") ??
      o.headers.get("grpc-status");
    if (o.status === 200 && status === null && !streamed) {
      return "gRPC answer without status";
    }
    if (status !== null && BAD_GRPC.has(status)) {
      return `grpc-status ${status}: ${
        o.trailers.get("grpc-message") ?? o.headers.get("grpc-message")
      }`;
    }
    return undefined;
  }
  if (r.protocol === "grpc-web" && o.status === 200) {
    const status = grpcWebStatus(o.body) ?? o.headers.get("grpc-status");
    if (status === undefined || status === null) {
      return streamed ? undefined : "gRPC-Web answer without status";
    }
    if (BAD_GRPC.has(status)) return `grpc-status ${status}: ${decoded}`;
    return undefined;
  }
  const code = /"code"\s*:\s*"([a-z_]+)"/.exec(decoded)?.[1];
  if (code !== undefined && BAD_CONNECT.has(code)) {
    return `code ${code}: ${decoded.slice(0, 300)}`;
  }
  return undefined;
}

async function runSeed(seed: number, runs: number) {
  const store = new MemoryStore();
  const window = daily();
  await store.merge({ namespace: "likes", monoid: sum() }, [
    { key: { entity: "post:1", bucket: null }, value: 3 },
  ]);
  await using server = await serve({
    pipelines: [
      { name: "likes", monoid: sum(), window: null, store },
      { name: "views", monoid: sum(), window, store },
    ],
    port: 0,
    grpcPort: 0,
    maxRequestBytes: 64 * 1024,
    onListen() {},
  });
  const main = http2.connect(server.url);
  main.on("error", () => {});
  const connectGrpc = () => {
    const session = http2.connect(server.grpcUrl!);
    session.on("error", () => {});
    return session;
  };
  const grpc = connectGrpc();
  // The gRPC listener runs in process: a call lost there is a problem.
  const sendGrpc = (r: FuzzRequest): Promise<Outcome> => sendHttp2(grpc, r);
  const requests = fc.sample(arbRequest, { seed, numRuns: runs });
  const problems: string[] = [];
  const counts = new Map<string, number>();
  let next = 0;
  const worker = async () => {
    while (next < requests.length && problems.length < 5) {
      const r = requests[next++]!;
      const key = `${r.protocol}/${r.transport}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
      try {
        const outcome = r.transport === "http1"
          ? await sendHttp1(server.url, r)
          : r.protocol === "grpc"
          ? await sendGrpc(r)
          : await sendHttp2(main, r);
        const problem = problemOf(r, outcome);
        if (problem !== undefined) {
          problems.push(`${problem}\n  request: ${describe(r)}`);
        }
      } catch (error) {
        problems.push(
          `${error instanceof Error ? error.message : error}\n  request: ${
            describe(r)
          }`,
        );
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  } finally {
    main.destroy();
    grpc.destroy();
  }
  // The server still answers normally afterwards.
  const res = await fetch(`${server.url}/murmur.v1.QueryService/Get`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ pipeline: "likes", entity: "post:1" }),
  });
  assert.equal((await res.json()).answer.value.number, 3);
  return { problems, counts };
}

function describe(r: FuzzRequest): string {
  return JSON.stringify({
    ...r,
    body: Array.from(r.body.subarray(0, 64)),
    bodyLength: r.body.length,
  });
}

Deno.test({
  name:
    "fuzz: 10 000 malformed requests to both services over every protocol and HTTP/1.1 + HTTP/2 get client errors, never 5xx/internal/unknown, hangs or crashes",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const envSeed = Deno.env.get("MURMUR_FUZZ_SEED");
    const seeds: [number, number][] = envSeed !== undefined
      ? [[Number(envSeed), FIXED_RUNS]]
      : [[FIXED_SEED, FIXED_RUNS], [
        Math.floor(Math.random() * 2 ** 31),
        RANDOM_RUNS,
      ]];
    for (const [seed, runs] of seeds) {
      const { problems, counts } = await runSeed(seed, runs);
      assert.deepEqual(
        problems,
        [],
        `seed ${seed} (rerun with MURMUR_FUZZ_SEED=${seed}) found:\n${
          problems.join("\n")
        }`,
      );
      assert.ok(
        counts.size >= 11,
        `every protocol × transport ran: ${JSON.stringify([...counts])}`,
      );
    }
  },
});
