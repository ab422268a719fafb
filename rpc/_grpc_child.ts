// The native gRPC listener, run as its own process by _grpc_bridge.ts: takes gRPC over cleartext HTTP/2 and forwards each call to the server as gRPC-Web, over one loopback connection (rpc/_bridge_frames.ts).
//
// It lives in a child process because `node:http2` in Deno 2.9 can abort the
// whole process (an nghttp2 assertion or a double free) when clients close
// connections mid-stream. Here such a crash only costs this listener, which
// the parent restarts; the server and its state never go down with it.
// Deliberately small: it imports nothing but `node:http2` and the frame codec.

import http2 from "node:http2";
import {
  CALL,
  callPayload,
  CANCEL,
  DATA,
  END,
  FAIL,
  frame,
  frames,
  HEAD,
  readJson,
} from "./_bridge_frames.ts";

interface ChildConfig {
  readonly hostname: string;
  readonly port: number;
  /** The server's private bridge port on 127.0.0.1. */
  readonly bridgePort: number;
  /** Proves to the server that this is its listener. */
  readonly token: string;
  /** Largest request message, in bytes. */
  readonly maxBytes: number;
}

const config = JSON.parse(Deno.args[0] ?? "{}") as ChildConfig;
const HOP = new Set([
  "te",
  "connection",
  "host",
  "content-length",
  "content-type",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
  "http2-settings",
]);

interface Pending {
  head(status: number, headers: [string, string][]): void;
  data(chunk: Uint8Array): void;
  end(): void;
  fail(message: string): void;
}

const bridge = await Deno.connect({
  hostname: "127.0.0.1",
  port: config.bridgePort,
});
bridge.setNoDelay(true);
const writer = bridge.writable.getWriter();
const pending = new Map<number, Pending>();
let nextId = 1;
const send = (bytes: Uint8Array<ArrayBuffer>) => {
  writer.write(bytes).catch(() => Deno.exit(1));
};
send(frame(0, CALL, new TextEncoder().encode(config.token)));
(async () => {
  for await (const f of frames(bridge.readable)) {
    const call = pending.get(f.id);
    if (call === undefined) continue;
    if (f.type === HEAD) {
      const head = readJson<{ status: number; headers: [string, string][] }>(
        f.payload,
      );
      call.head(head.status, head.headers);
    } else if (f.type === DATA) {
      call.data(f.payload);
    } else if (f.type === END) {
      pending.delete(f.id);
      call.end();
    } else if (f.type === FAIL) {
      pending.delete(f.id);
      call.fail(readJson<string>(f.payload));
    }
  }
})().finally(() => Deno.exit(1)); // The server went away: so does its listener.

/** Sends one call to the server; its answer comes back as a Response. */
function upstream(
  path: string,
  headers: Headers,
  body: Uint8Array,
  signal: AbortSignal,
): Promise<Response> {
  const id = nextId;
  nextId = nextId >= 0xffff_fff0 ? 1 : nextId + 1;
  return new Promise<Response>((resolve, reject) => {
    let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        controller = c;
      },
      cancel() {
        if (pending.delete(id)) send(frame(id, CANCEL));
      },
    });
    pending.set(id, {
      head(status, list) {
        resolve(new Response(stream, { status, headers: list }));
      },
      data(chunk) {
        controller?.enqueue(chunk);
      },
      end() {
        controller?.close();
      },
      fail(message) {
        const error = new Error(message);
        reject(error);
        controller?.error(error);
      },
    });
    signal.addEventListener("abort", () => {
      if (pending.delete(id)) send(frame(id, CANCEL));
      const error = new Error("cancelled");
      reject(error);
      try {
        controller?.error(error);
      } catch {
        // Already closed.
      }
    }, { once: true });
    const list: [string, string][] = [];
    headers.forEach((value, key) => list.push([key, value]));
    send(frame(id, CALL, callPayload(path, list, body)));
  });
}

/** gRPC status codes for HTTP statuses (the gRPC spec's mapping). */
function codeOfHttp(status: number): number {
  switch (status) {
    case 400:
      return 13;
    case 401:
      return 16;
    case 403:
      return 7;
    case 404:
      return 12;
    case 413:
      return 8;
    case 429:
    case 502:
    case 503:
    case 504:
      return 14;
    default:
      return 2;
  }
}

function percent(message: string): string {
  let out = "";
  for (const byte of new TextEncoder().encode(message)) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25
      ? String.fromCharCode(byte)
      : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

function trailersOnly(
  stream: http2.ServerHttp2Stream,
  contentType: string,
  code: number,
  message: string,
): void {
  if (stream.destroyed || stream.closed) return;
  if (stream.headersSent) {
    stream.close(http2.constants.NGHTTP2_CANCEL);
    return;
  }
  stream.respond({
    ":status": 200,
    "content-type": contentType,
    "grpc-status": String(code),
    "grpc-message": percent(message),
  }, { endStream: true });
}

/** Parses a gRPC-Web trailer frame ("key: value\r\n" lines). */
function parseTrailer(bytes: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of new TextDecoder().decode(bytes).split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const key = line.slice(0, colon).trim().toLowerCase();
    if (key.startsWith(":") || HOP.has(key)) continue;
    out[key] = line.slice(colon + 1).trim();
  }
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.byteLength === 0) return b;
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a);
  out.set(b, a.byteLength);
  return out;
}

async function handle(
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
): Promise<void> {
  const type = String(headers["content-type"] ?? "").toLowerCase();
  const match = /^application\/grpc(\+proto|\+json)?\s*(;|$)/.exec(type);
  if (headers[":method"] !== "POST" || match === null) {
    stream.respond({
      ":status": headers[":method"] !== "POST" ? 405 : 415,
      "content-type": "text/plain; charset=utf-8",
    });
    stream.end(
      "this port speaks gRPC: POST with content-type application/grpc\n",
    );
    return;
  }
  const suffix = match[1] === "+json" ? "+json" : "+proto";
  const contentType = `application/grpc${suffix}`;
  const controller = new AbortController();
  stream.on("close", () => controller.abort());
  stream.on("error", () => controller.abort());

  // The request body, bounded: room for the 5-byte envelope on top of the message.
  const limit = config.maxBytes + 5;
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > limit) {
      trailersOnly(
        stream,
        contentType,
        8,
        `request over ${config.maxBytes} bytes: send smaller requests`,
      );
      return;
    }
    chunks.push(new Uint8Array(chunk));
  }
  if (controller.signal.aborted) return;
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }

  const forwarded = new Headers();
  for (const [key, value] of Object.entries(headers)) {
    if (key.startsWith(":") || HOP.has(key) || value === undefined) continue;
    forwarded.set(key, Array.isArray(value) ? value.join(", ") : value);
  }
  forwarded.set("content-type", `application/grpc-web${suffix}`);
  forwarded.set("x-grpc-web", "1");

  let response: Response;
  try {
    response = await upstream(
      String(headers[":path"] ?? "/"),
      forwarded,
      body,
      controller.signal,
    );
  } catch (error) {
    trailersOnly(
      stream,
      contentType,
      14,
      `the server is unreachable: ${
        error instanceof Error ? error.message : String(error)
      }`,
    );
    return;
  }
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => {});
    trailersOnly(
      stream,
      contentType,
      codeOfHttp(response.status),
      `the server answered HTTP ${response.status}`,
    );
    return;
  }
  const status = response.headers.get("grpc-status");
  if (status !== null) {
    await response.body?.cancel().catch(() => {});
    trailersOnly(
      stream,
      contentType,
      Number(status),
      decodeURIComponent(response.headers.get("grpc-message") ?? ""),
    );
    return;
  }
  const out: http2.OutgoingHttpHeaders = {
    ":status": 200,
    "content-type": contentType,
  };
  response.headers.forEach((value, key) => {
    if (!HOP.has(key) && key !== "date" && key !== "vary") out[key] = value;
  });
  if (stream.destroyed || stream.closed) {
    await response.body?.cancel().catch(() => {});
    return;
  }
  stream.respond(out, { waitForTrailers: true });
  let trailers: Record<string, string> = {
    "grpc-status": "14",
    "grpc-message": percent("the server ended the call without a status"),
  };
  let pending: Uint8Array = new Uint8Array();
  try {
    for await (const chunk of response.body ?? []) {
      pending = concat(pending, chunk);
      while (pending.byteLength >= 5) {
        const length = new DataView(
          pending.buffer,
          pending.byteOffset,
          5,
        ).getUint32(1);
        if (pending.byteLength < 5 + length) break;
        const frame = pending.subarray(0, 5 + length);
        pending = pending.subarray(5 + length);
        if ((frame[0]! & 0x80) !== 0) {
          trailers = parseTrailer(frame.subarray(5));
        } else if (!stream.destroyed && !stream.write(frame)) {
          await new Promise((resolve) => stream.once("drain", resolve));
        }
      }
    }
  } catch {
    trailers = {
      "grpc-status": controller.signal.aborted ? "1" : "14",
      "grpc-message": percent("the server's answer broke off"),
    };
  }
  if (stream.destroyed || stream.closed) return;
  stream.once("wantTrailers", () => {
    try {
      stream.sendTrailers(trailers);
    } catch {
      // The client went away meanwhile.
    }
  });
  stream.end();
}

const server = http2.createServer({ settings: { maxConcurrentStreams: 256 } });
server.on("stream", (stream, headers) => {
  stream.on("error", () => {});
  // A server session's streams are server streams; the event's declared type
  // is the base class in some @types/node versions.
  handle(stream as http2.ServerHttp2Stream, headers).catch(() => {
    try {
      stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    } catch {
      // Already gone.
    }
  });
});
server.on("sessionError", () => {});
server.on("session", (session) => session.on("error", () => {}));
server.on("error", (error) => {
  console.error(`gRPC listener: ${error.message}`);
  Deno.exit(1);
});
server.listen(config.port, config.hostname, () => {
  const address = server.address();
  const port = typeof address === "object" && address !== null
    ? address.port
    : config.port;
  console.log(JSON.stringify({ port }));
});
// Goes when the parent goes: its end of stdin closes.
(async () => {
  for await (const _ of Deno.stdin.readable) {
    // Nothing is ever sent; this only waits for the end.
  }
  Deno.exit(0);
})();
