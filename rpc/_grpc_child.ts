// The native gRPC listener, run as its own process by _grpc_bridge.ts: takes gRPC over cleartext HTTP/2 and forwards each call to the server as gRPC-Web, over one loopback connection (rpc/_bridge_frames.ts).
//
// It lives in a child process because `node:http2` in Deno 2.9 can abort the
// whole process (an nghttp2 assertion or a double free) when clients close
// connections mid-stream. Here such a crash only costs this listener, which
// the parent restarts; the server and its state never go down with it.
// Deliberately small: it imports nothing but `node:http2` and the frame codec.

import http2 from "node:http2";
import {
  batchedWriter,
  CALL,
  callPayload,
  CANCEL,
  DATA,
  END,
  FAIL,
  frame,
  HEAD,
  readFrames,
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

/** An answer the server sent whole (a unary call): status, headers, gRPC-Web body. */
interface Whole {
  readonly status: number;
  readonly headers: [string, string][];
  readonly body: Uint8Array;
}

interface Pending {
  head(status: number, headers: [string, string][], whole: boolean): void;
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
const send = batchedWriter((bytes) => {
  writer.write(bytes).catch(() => Deno.exit(1));
});
send(frame(0, CALL, new TextEncoder().encode(config.token)));
readFrames(bridge.readable, (f) => {
  const call = pending.get(f.id);
  if (call === undefined) return;
  if (f.type === HEAD) {
    const head = readJson<
      { status: number; headers: [string, string][]; whole?: boolean }
    >(f.payload);
    call.head(head.status, head.headers, head.whole === true);
  } else if (f.type === DATA) {
    call.data(f.payload);
  } else if (f.type === END) {
    pending.delete(f.id);
    call.end();
  } else if (f.type === FAIL) {
    pending.delete(f.id);
    call.fail(readJson<string>(f.payload));
  }
}).finally(() => Deno.exit(1)); // The server went away: so does its listener.

/**
 * Sends one call to the server. A unary answer comes back whole; a
 * streaming one (WatchMetrics) as a Response whose body streams.
 */
function upstream(
  path: string,
  headers: [string, string][],
  body: Uint8Array,
  signal: AbortSignal,
  onWhole: (answer: Whole) => void,
): Promise<Whole | Response> {
  const id = nextId;
  nextId = nextId >= 0xffff_fff0 ? 1 : nextId + 1;
  return new Promise<Whole | Response>((resolve, reject) => {
    let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
    let whole: { status: number; headers: [string, string][] } | undefined;
    const chunks: Uint8Array[] = [];
    const onAbort = () => {
      if (pending.delete(id)) send(frame(id, CANCEL));
      const error = new Error("cancelled");
      reject(error);
      try {
        controller?.error(error);
      } catch {
        // Already closed.
      }
    };
    pending.set(id, {
      head(status, list, isWhole) {
        if (isWhole) {
          whole = { status, headers: list };
          return;
        }
        const stream = new ReadableStream<Uint8Array>({
          start(c) {
            controller = c;
          },
          cancel() {
            if (pending.delete(id)) send(frame(id, CANCEL));
          },
        });
        resolve(new Response(stream, { status, headers: list }));
      },
      data(chunk) {
        if (whole !== undefined) chunks.push(chunk);
        else controller?.enqueue(chunk);
      },
      end() {
        signal.removeEventListener("abort", onAbort);
        if (whole !== undefined) {
          // Answered right here, in the turn its bytes arrived: answers
          // that came together leave in one HTTP/2 write.
          const answer = {
            status: whole.status,
            headers: whole.headers,
            body: chunks.length === 1 ? chunks[0]! : concatAll(chunks),
          };
          onWhole(answer);
          resolve(answer);
        } else {
          controller?.close();
        }
      },
      fail(message) {
        signal.removeEventListener("abort", onAbort);
        const error = new Error(message);
        reject(error);
        controller?.error(error);
      },
    });
    signal.addEventListener("abort", onAbort, { once: true });
    send(frame(id, CALL, callPayload(path, headers, body)));
  });
}

function concatAll(chunks: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const chunk of chunks) size += chunk.byteLength;
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
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
  let answered = false;
  // Only a call still waiting is worth an abort (an abort is not free).
  const abort = () => {
    if (!answered) controller.abort();
  };
  stream.on("close", abort);
  stream.on("error", abort);

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
  const body = chunks.length === 1 ? chunks[0]! : concatAll(chunks);

  const forwarded: [string, string][] = [
    ["content-type", `application/grpc-web${suffix}`],
    ["x-grpc-web", "1"],
  ];
  for (const key in headers) {
    const value = headers[key];
    if (key.startsWith(":") || HOP.has(key) || value === undefined) continue;
    forwarded.push([key, Array.isArray(value) ? value.join(", ") : value]);
  }

  let answer: Whole | Response;
  try {
    answer = await upstream(
      String(headers[":path"] ?? "/"),
      forwarded,
      body,
      controller.signal,
      (whole) => {
        answered = true;
        respondWhole(stream, contentType, whole);
      },
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
  if (!(answer instanceof Response)) return; // answered by onWhole
  const response = answer;
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

/** Answers a unary call from the server's whole gRPC-Web answer. */
function respondWhole(
  stream: http2.ServerHttp2Stream,
  contentType: string,
  answer: Whole,
): void {
  let status: string | undefined;
  let message = "";
  const out: http2.OutgoingHttpHeaders = {
    ":status": 200,
    "content-type": contentType,
  };
  for (const [key, value] of answer.headers) {
    if (key === "grpc-status") status = value;
    else if (key === "grpc-message") message = value;
    else if (!HOP.has(key) && key !== "date" && key !== "vary") {
      out[key] = value;
    }
  }
  if (answer.status !== 200 || status !== undefined) {
    trailersOnly(
      stream,
      contentType,
      answer.status !== 200 ? codeOfHttp(answer.status) : Number(status),
      answer.status !== 200
        ? `the server answered HTTP ${answer.status}`
        : decodeURIComponent(message),
    );
    return;
  }
  // The gRPC-Web body: message frames pass through as they are (gRPC frames
  // them the same way); the trailer frame becomes HTTP/2 trailers.
  let trailers: Record<string, string> = {
    "grpc-status": "14",
    "grpc-message": percent("the server ended the call without a status"),
  };
  const body = answer.body;
  let messagesEnd = 0;
  let at = 0;
  while (at + 5 <= body.byteLength) {
    const length = new DataView(body.buffer, body.byteOffset + at, 5)
      .getUint32(1);
    if (at + 5 + length > body.byteLength) break;
    if ((body[at]! & 0x80) !== 0) {
      trailers = parseTrailer(body.subarray(at + 5, at + 5 + length));
      break;
    }
    at += 5 + length;
    messagesEnd = at;
  }
  if (stream.destroyed || stream.closed) return;
  stream.respond(out, { waitForTrailers: true });
  stream.once("wantTrailers", () => {
    try {
      stream.sendTrailers(trailers);
    } catch {
      // The client went away meanwhile.
    }
  });
  stream.end(body.subarray(0, messagesEnd));
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
