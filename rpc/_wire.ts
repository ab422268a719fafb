// The bytes of the three RPC protocols we answer ourselves: Connect (unary and streaming envelopes), gRPC-Web, and the gRPC framing they share.

import { Code, ConnectError } from "@connectrpc/connect";
import { concatBytes } from "../internal/bytes.ts";

/** The protocols the unary path speaks. */
export type Protocol = "connect" | "grpc-web";

/** A request's protocol and message encoding, from its content type. */
export interface WireFormat {
  readonly protocol: Protocol;
  readonly binary: boolean;
  /** Connect's streaming content type (`application/connect+…`). */
  readonly stream: boolean;
}

/** The largest deadline a timer can hold (2^31 − 1 ms); longer ones mean no deadline. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Reads the protocol from a content type, or `undefined` for one we leave to
 * the Connect library (which answers 415 for unknown ones).
 */
export function wireFormat(contentType: string | null): WireFormat | undefined {
  if (contentType === null) return undefined;
  const semi = contentType.indexOf(";");
  const type = (semi < 0 ? contentType : contentType.slice(0, semi)).trim()
    .toLowerCase();
  if (semi >= 0) {
    // Only a UTF-8 charset (or none) is acceptable.
    const params = contentType.slice(semi + 1).toLowerCase().replace(
      /\s/g,
      "",
    );
    if (params !== "" && params !== "charset=utf-8") return undefined;
  }
  switch (type) {
    case "application/proto":
      return { protocol: "connect", binary: true, stream: false };
    case "application/json":
      return { protocol: "connect", binary: false, stream: false };
    case "application/connect+proto":
      return { protocol: "connect", binary: true, stream: true };
    case "application/connect+json":
      return { protocol: "connect", binary: false, stream: true };
    case "application/grpc-web":
    case "application/grpc-web+proto":
      return { protocol: "grpc-web", binary: true, stream: true };
    case "application/grpc-web+json":
      return { protocol: "grpc-web", binary: false, stream: true };
    default:
      return undefined;
  }
}

/** The content type of an answer in `format`. */
export function contentTypeOf(format: WireFormat): string {
  if (format.protocol === "grpc-web") {
    return format.binary
      ? "application/grpc-web+proto"
      : "application/grpc-web+json";
  }
  if (format.stream) {
    return format.binary
      ? "application/connect+proto"
      : "application/connect+json";
  }
  return format.binary ? "application/proto" : "application/json";
}

/**
 * Parses a deadline header into milliseconds: `undefined` for none (or one
 * past {@linkcode MAX_TIMER_MS}, which no timer can hold and no request
 * needs), a `ConnectError` for a malformed one.
 */
export function parseDeadline(
  protocol: Protocol,
  headers: Headers,
): number | undefined {
  if (protocol === "connect") {
    const value = headers.get("connect-timeout-ms");
    if (value === null) return undefined;
    if (!/^\d{1,10}$/.test(value)) {
      throw new ConnectError(
        `connect-timeout-ms: ${
          JSON.stringify(value.slice(0, 40))
        } is not a whole number of ms (at most 10 digits)`,
        Code.InvalidArgument,
      );
    }
    const ms = Number(value);
    return ms > MAX_TIMER_MS ? undefined : ms;
  }
  const value = headers.get("grpc-timeout");
  if (value === null) return undefined;
  const match = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (match === null) {
    throw new ConnectError(
      `grpc-timeout: ${
        JSON.stringify(value.slice(0, 40))
      } is not 1 to 8 digits and a unit (H, M, S, m, u, n)`,
      Code.InvalidArgument,
    );
  }
  const unitMs: Record<string, number> = {
    H: 3_600_000,
    M: 60_000,
    S: 1000,
    m: 1,
    u: 0.001,
    n: 0.000001,
  };
  const ms = Math.ceil(Number(match[1]) * unitMs[match[2]!]!);
  return ms > MAX_TIMER_MS ? undefined : ms;
}

/**
 * Removes a deadline header that asks for more than {@linkcode MAX_TIMER_MS}
 * (a timer would fire at once), so every later layer sees no deadline.
 * Malformed values are left for the protocol layer to refuse.
 */
export function dropUnboundedDeadline(headers: Headers): void {
  for (const protocol of ["connect", "grpc-web"] as const) {
    try {
      const name = protocol === "connect"
        ? "connect-timeout-ms"
        : "grpc-timeout";
      if (
        headers.has(name) && parseDeadline(protocol, headers) === undefined
      ) headers.delete(name);
    } catch {
      // Malformed: answered as invalid_argument where it is read.
    }
  }
}

/**
 * The path of a request URL (always absolute in a served request), without
 * parsing all of it: `new URL()` per request is measurable on the query path.
 * Anything the URL parser would rewrite (a character it escapes, a percent
 * sign, a backslash, a dot segment) takes the full parser, so the answer is
 * always `new URL(url).pathname`.
 */
export function pathOf(url: string): string {
  const hostAt = url.startsWith("http://")
    ? 7
    : url.startsWith("https://")
    ? 8
    : -1;
  const start = hostAt < 0 ? -1 : url.indexOf("/", hostAt);
  if (start <= hostAt) return new URL(url).pathname;
  for (let i = hostAt; i < start; i++) {
    if (!PLAIN_HOST[url.charCodeAt(i)]) return new URL(url).pathname;
  }
  let end = url.length;
  for (let i = start; i < url.length; i++) {
    const c = url.charCodeAt(i);
    if (c === 0x3f /* ? */ || c === 0x23 /* # */) {
      end = i;
      break;
    }
    if (!PLAIN_PATH[c] || (c === 0x2e && url.charCodeAt(i - 1) === 0x2f)) {
      return new URL(url).pathname;
    }
  }
  return url.slice(start, end);
}

/** Host characters the URL parser keeps as they are (names, IPv4, IPv6, port). */
const PLAIN_HOST: readonly boolean[] = Array.from(
  { length: 128 },
  (_, c) =>
    (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a) ||
    "-.:[]".includes(String.fromCharCode(c)),
);

/** Path characters the URL parser keeps as they are (no `%`, `\\`, controls or escapes). */
const PLAIN_PATH: readonly boolean[] = Array.from(
  { length: 128 },
  (_, c) =>
    (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) || "-._~/!$&'()*+,;=:@".includes(
      String.fromCharCode(c),
    ),
);

/** The HTTP status of a Connect error code (Connect protocol, unary). */
export function httpStatusOf(code: Code): number {
  switch (code) {
    case Code.Canceled:
      return 499;
    case Code.InvalidArgument:
    case Code.FailedPrecondition:
    case Code.OutOfRange:
      return 400;
    case Code.DeadlineExceeded:
      return 504;
    case Code.NotFound:
      return 404;
    case Code.AlreadyExists:
    case Code.Aborted:
      return 409;
    case Code.PermissionDenied:
      return 403;
    case Code.ResourceExhausted:
      return 429;
    case Code.Unimplemented:
      return 501;
    case Code.Unavailable:
      return 503;
    case Code.Unauthenticated:
      return 401;
    default:
      return 500;
  }
}

/** The snake_case name of a code, as Connect's JSON errors spell it. */
export function codeName(code: Code): string {
  return (Code[code] ?? "unknown").replace(/([a-z])([A-Z])/g, "$1_$2")
    .toLowerCase();
}

const encoder = new TextEncoder();

/** Frames one message in the 5-byte envelope (flags, big-endian length). */
export function envelope(
  flags: number,
  data: Uint8Array,
): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(5 + data.byteLength);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, data.byteLength);
  out.set(data, 5);
  return out;
}

/**
 * Takes exactly one enveloped message out of a request body.
 *
 * @returns The message and whether its compressed flag is set.
 * @throws {ConnectError} `invalid_argument` for a short, long or trailing body.
 */
export function unenvelope(
  body: Uint8Array,
): { data: Uint8Array; compressed: boolean } {
  if (body.byteLength < 5) {
    throw new ConnectError(
      `protocol error: a ${body.byteLength}-byte body holds no enveloped message (5-byte prefix, then the message)`,
      Code.InvalidArgument,
    );
  }
  const flags = body[0]!;
  const length = new DataView(body.buffer, body.byteOffset, 5).getUint32(1);
  if (body.byteLength !== 5 + length) {
    throw new ConnectError(
      `protocol error: the envelope announces ${length} bytes but ${
        body.byteLength - 5
      } follow; send exactly one message`,
      Code.InvalidArgument,
    );
  }
  if ((flags & ~1) !== 0) {
    throw new ConnectError(
      `protocol error: envelope flags ${flags} are not a request message's`,
      Code.InvalidArgument,
    );
  }
  return { data: body.subarray(5), compressed: (flags & 1) === 1 };
}

/** Percent-encodes a gRPC status message (the grpc-message header's rules). */
export function grpcMessage(message: string): string {
  let out = "";
  for (const byte of encoder.encode(message)) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25
      ? String.fromCharCode(byte)
      : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** The gRPC-Web trailer frame for a status (0 = OK). */
export function grpcWebTrailer(
  code: number,
  message: string,
  extra?: Headers,
): Uint8Array<ArrayBuffer> {
  let text = `grpc-status: ${code}\r\n`;
  if (message !== "") text += `grpc-message: ${grpcMessage(message)}\r\n`;
  extra?.forEach((value, key) => {
    text += `${key}: ${value}\r\n`;
  });
  return envelope(0x80, encoder.encode(text));
}

/**
 * The response for an error in `format`: a Connect unary JSON error with its
 * HTTP status, a Connect end-stream message, or a gRPC-Web trailer frame.
 */
export function errorResponse(
  format: WireFormat,
  error: ConnectError,
  headers: Headers = new Headers(),
): Response {
  error.metadata.forEach((value, key) => headers.set(key, value));
  if (format.protocol === "grpc-web") {
    headers.set("content-type", contentTypeOf(format));
    return new Response(grpcWebTrailer(error.code, error.rawMessage), {
      status: 200,
      headers,
    });
  }
  const body = { code: codeName(error.code), message: error.rawMessage };
  if (format.stream) {
    headers.set("content-type", contentTypeOf(format));
    return new Response(
      envelope(0x02, encoder.encode(JSON.stringify({ error: body }))),
      { status: 200, headers },
    );
  }
  headers.set("content-type", "application/json");
  return new Response(JSON.stringify(body), {
    status: httpStatusOf(error.code),
    headers,
  });
}

/** Decompresses a gzip body, refusing more than `limit` bytes of output. */
export async function gunzip(
  data: Uint8Array,
  limit: number,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream()
      .pipeThrough(new DecompressionStream("gzip"));
    for await (const chunk of stream) {
      size += chunk.byteLength;
      if (size > limit) {
        throw new ConnectError(
          `the decompressed message is over ${limit} bytes: send smaller requests`,
          Code.ResourceExhausted,
        );
      }
      chunks.push(chunk);
    }
  } catch (error) {
    if (error instanceof ConnectError) throw error;
    throw new ConnectError(
      `the gzip body does not decompress: ${
        error instanceof Error ? error.message : String(error)
      }`,
      Code.InvalidArgument,
    );
  }
  return concatBytes(chunks, size);
}
