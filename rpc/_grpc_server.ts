// The native gRPC listener: gRPC over cleartext HTTP/2 (rpc/_h2.ts), in process. Each call is answered by the same unary handler as Connect, or passed to the server's handler as gRPC-Web (server streaming), and the gRPC-Web answer is sent back as gRPC: the same message frames, the trailer frame as HTTP/2 trailers.

import { encodeHeaders, type HeaderField } from "./_hpack.ts";
import { type H2Request, type H2Response, serveH2c } from "./_h2.ts";
import { GrpcAnswer, type GrpcUnaryHandler } from "./_unary.ts";
import { grpcMessage } from "./_wire.ts";

/** Options for {@linkcode startGrpcServer}. */
export interface GrpcServerOptions {
  /** The address to bind. */
  readonly hostname: string;
  /** The port; `0` picks a free one. */
  readonly port: number;
  /** Answers the calls `unary` leaves (as gRPC-Web requests): server streaming. */
  readonly handler: (request: Request) => Promise<Response>;
  /**
   * Answers unary calls without a `Request` built for them (the same gate,
   * limits and metrics as `handler`); `undefined` passes the call on to
   * `handler`.
   */
  readonly unary?: GrpcUnaryHandler;
  /** Largest request message, in bytes. */
  readonly maxBytes: number;
}

/** A running gRPC listener. */
export interface GrpcServer {
  /** The bound port. */
  readonly port: number;
  /** Stops listening and ends every connection. */
  close(): Promise<void>;
}

/** Request headers that are HTTP/2's business, not the call's. */
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
const CONTENT_TYPE = /^application\/grpc(\+proto|\+json)?\s*(;|$)/;
/** The common answer's header and trailer blocks, encoded once. */
const OK_HEAD = {
  "+proto": encodeHeaders([[":status", "200"], [
    "content-type",
    "application/grpc+proto",
  ]]),
  "+json": encodeHeaders([[":status", "200"], [
    "content-type",
    "application/grpc+json",
  ]]),
};
const OK_TRAILERS = encodeHeaders([["grpc-status", "0"]]);

/**
 * Starts the gRPC listener.
 *
 * @param options Address, upstream and limits.
 * @returns The listener, bound.
 */
export function startGrpcServer(options: GrpcServerOptions): GrpcServer {
  const server = serveH2c({
    hostname: options.hostname,
    port: options.port,
    // Room for the 5-byte envelope on top of the message.
    maxBodyBytes: options.maxBytes + 5,
    http1Message:
      "this port speaks gRPC over HTTP/2 cleartext (prior knowledge); use the main port for Connect, gRPC-Web and HTTP/1.1",
    onRequest: (request, response) => answer(options, request, response),
  });
  return server;
}

async function answer(
  options: GrpcServerOptions,
  request: H2Request,
  response: H2Response,
): Promise<void> {
  let method = "";
  let path = "/";
  let type = "";
  const forwarded = new Headers();
  for (const [name, value] of request.headers) {
    if (name.charCodeAt(0) === 58 /* : */) {
      if (name === ":method") method = value;
      else if (name === ":path") path = value;
    } else if (name === "content-type") {
      type = value.toLowerCase();
    } else if (!HOP.has(name)) {
      forwarded.append(name, value);
    }
  }
  const match = CONTENT_TYPE.exec(type);
  if (method !== "POST" || match === null) {
    response.headers([
      [":status", method !== "POST" ? "405" : "415"],
      ["content-type", "text/plain; charset=utf-8"],
    ], false);
    await response.data(
      new TextEncoder().encode(
        "this port speaks gRPC: POST with content-type application/grpc\n",
      ),
      true,
    ).catch(() => {});
    return;
  }
  const suffix = match[1] === "+json" ? "+json" : "+proto";
  const contentType = `application/grpc${suffix}`;
  if (request.body === undefined) {
    trailersOnly(
      response,
      contentType,
      8,
      `request over ${options.maxBytes} bytes: send smaller requests`,
    );
    return;
  }
  forwarded.set("content-type", `application/grpc-web${suffix}`);
  forwarded.set("x-grpc-web", "1");
  const url = `http://grpc${path}`;
  let upstream: Response | GrpcAnswer;
  try {
    const signal = request.signal;
    upstream = await options.unary?.(
      { method: "POST", url, headers: forwarded },
      path,
      request.body,
      signal,
    ) ??
      await options.handler(
        new Request(url, {
          method: "POST",
          headers: forwarded,
          body: request.body as Uint8Array<ArrayBuffer>,
          signal,
        }),
      );
  } catch (error) {
    trailersOnly(
      response,
      contentType,
      response.closed ? 1 : 13,
      `the call failed: ${
        error instanceof Error ? error.message : String(error)
      }`,
    );
    return;
  }
  if (upstream instanceof GrpcAnswer) {
    const prefix = new Uint8Array(5);
    new DataView(prefix.buffer).setUint32(1, upstream.message.length);
    let head = OK_HEAD[suffix];
    if (upstream.headers !== undefined) {
      const fields: HeaderField[] = [[":status", "200"], [
        "content-type",
        contentType,
      ]];
      upstream.headers.forEach((value, key) => {
        if (keep(key)) fields.push([key, value]);
      });
      if (fields.length > 2) head = encodeHeaders(fields);
    }
    response.whole(head, [prefix, upstream.message], OK_TRAILERS);
    return;
  }
  if (response.closed) {
    await upstream.body?.cancel().catch(() => {});
    return;
  }
  if (upstream.status !== 200) {
    await upstream.body?.cancel().catch(() => {});
    trailersOnly(
      response,
      contentType,
      codeOfHttp(upstream.status),
      `the server answered HTTP ${upstream.status}`,
    );
    return;
  }
  const status = upstream.headers.get("grpc-status");
  if (status !== null) {
    await upstream.body?.cancel().catch(() => {});
    trailersOnly(
      response,
      contentType,
      Number(status),
      decodeURIComponent(upstream.headers.get("grpc-message") ?? ""),
    );
    return;
  }
  const head: HeaderField[] = [[":status", "200"], [
    "content-type",
    contentType,
  ]];
  upstream.headers.forEach((value, key) => {
    if (keep(key)) head.push([key, value]);
  });
  response.headers(head, false);
  let trailers: HeaderField[] = [
    ["grpc-status", "14"],
    ["grpc-message", grpcMessage("the server ended the call without a status")],
  ];
  // The gRPC-Web body: message frames pass through as they are (gRPC frames
  // them the same way); the trailer frame (flag 0x80) becomes trailers.
  let pending: Uint8Array = new Uint8Array();
  let ended = false;
  try {
    for await (const chunk of upstream.body ?? []) {
      if (ended) continue; // Nothing counts after the trailer frame.
      pending = pending.length === 0 ? chunk : concat(pending, chunk);
      let at = 0;
      while (at + 5 <= pending.length) {
        const length = new DataView(pending.buffer, pending.byteOffset + at, 5)
          .getUint32(1);
        if (at + 5 + length > pending.length) break;
        if ((pending[at]! & 0x80) !== 0) {
          trailers = parseTrailer(pending.subarray(at + 5, at + 5 + length));
          ended = true;
          break;
        }
        at += 5 + length;
      }
      if (at > 0) await response.data(pending.subarray(0, at));
      pending = pending.subarray(at);
    }
  } catch {
    trailers = [
      ["grpc-status", request.signal.aborted ? "1" : "14"],
      ["grpc-message", grpcMessage("the server's answer broke off")],
    ];
  }
  if (response.closed) {
    await upstream.body?.cancel().catch(() => {});
    return;
  }
  response.trailers(trailers);
}

/** Whether an answer's header goes on to the gRPC client. */
function keep(key: string): boolean {
  return !HOP.has(key) && key !== "date" && key !== "vary" &&
    !key.startsWith("grpc-");
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

function trailersOnly(
  response: H2Response,
  contentType: string,
  code: number,
  message: string,
): void {
  response.headers([
    [":status", "200"],
    ["content-type", contentType],
    ["grpc-status", String(code)],
    ["grpc-message", grpcMessage(message)],
  ], true);
}

/** Parses a gRPC-Web trailer frame ("key: value\r\n" lines). */
function parseTrailer(bytes: Uint8Array): HeaderField[] {
  const out: HeaderField[] = [];
  for (const line of new TextDecoder().decode(bytes).split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const key = line.slice(0, colon).trim().toLowerCase();
    if (key.startsWith(":") || HOP.has(key)) continue;
    out.push([key, line.slice(colon + 1).trim()]);
  }
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
