// Answers unary RPCs over Connect (POST and GET) and gRPC-Web directly: decode, gate, call, encode, with client mistakes always `invalid_argument`.

import {
  create,
  type DescMessage,
  type DescMethod,
  fromBinary,
  fromJsonString,
  isMessage,
  type JsonReadOptions,
  type JsonWriteOptions,
  type Message,
  ScalarType,
  toBinary,
  toJsonString,
} from "@bufbuild/protobuf";
import { base64Decode } from "@bufbuild/protobuf/wire";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  contentTypeOf,
  errorResponse,
  grpcWebTrailer,
  gunzip,
  parseDeadline,
  unenvelope,
  type WireFormat,
  wireFormat,
} from "./_wire.ts";

/** What a method implementation sees of its call. */
export interface CallContext {
  /** Aborts when the client goes away or the deadline passes. */
  readonly signal: AbortSignal;
  /** The request's headers. */
  readonly requestHeader: Headers;
  /** Headers to send with the answer. */
  readonly responseHeader: Headers;
}

/** One unary method: its descriptor and its implementation. */
export interface UnaryMethod {
  /** The method's descriptor from the generated code. */
  readonly method: DescMethod;
  /** Answers one request. */
  readonly call: (input: never, context: CallContext) => unknown;
  /** Writes the output in JSON faster than reflection does (same bytes). */
  readonly json?: (output: never) => string;
}

/** Options for {@linkcode createUnaryHandler}. */
export interface UnaryHandlerOptions {
  /** Largest message accepted, in bytes (after decompression). */
  readonly maxBytes: number;
  /** JSON writing options. */
  readonly jsonWrite?: Partial<JsonWriteOptions>;
  /** Runs before the body is decoded; throws a `ConnectError` to refuse. */
  readonly gate?: (
    method: DescMethod,
    requestHeader: Headers,
    responseHeader: Headers,
  ) => void;
  /** Records every call's outcome. */
  readonly record?: (procedure: string, code: Code | 0, ms: number) => void;
}

/** Answers one request, or `undefined` when the Connect library should. */
export type UnaryHandler = (
  request: Request,
  url: URL,
  body: Uint8Array | null,
  signal: AbortSignal,
) => Promise<Response | undefined>;

const JSON_READ: Partial<JsonReadOptions> = { ignoreUnknownFields: true };
const OK_TRAILER = grpcWebTrailer(0, "");
const decoder = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/**
 * Creates the handler for `methods` (unary ones are answered; requests to
 * streaming ones only have their message checked, so a malformed one is
 * refused as `invalid_argument` before the Connect library sees it).
 */
export function createUnaryHandler(
  methods: readonly UnaryMethod[],
  streaming: readonly DescMethod[],
  options: UnaryHandlerOptions,
): { paths: ReadonlySet<string>; handle: UnaryHandler } {
  const byPath = new Map<string, UnaryMethod>();
  for (const m of methods) {
    byPath.set(`/${m.method.parent.typeName}/${m.method.name}`, m);
  }
  const streams = new Map<string, DescMethod>();
  for (const m of streaming) {
    streams.set(`/${m.parent.typeName}/${m.name}`, m);
  }
  const jsonWrite = options.jsonWrite ?? {};
  const limit = options.maxBytes;

  const decode = async (
    schema: DescMessage,
    format: WireFormat,
    bytes: Uint8Array,
    compressed: boolean,
  ): Promise<Message> => {
    const data = compressed ? await gunzip(bytes, limit) : bytes;
    if (data.byteLength > limit) {
      throw new ConnectError(
        `the message is ${data.byteLength} bytes; at most ${limit}`,
        Code.ResourceExhausted,
      );
    }
    try {
      if (format.binary) return fromBinary(schema, data);
      const text = decoder.decode(data);
      return simpleJson(schema, text) ??
        fromJsonString(schema, text, JSON_READ);
    } catch (error) {
      throw new ConnectError(
        `the request is not a valid ${schema.typeName} in ${
          format.binary ? "protobuf binary" : "JSON"
        }: ${error instanceof Error ? error.message : String(error)}`,
        Code.InvalidArgument,
      );
    }
  };

  /** The request message's bytes, unwrapped from the protocol. */
  const messageOf = (
    request: Request,
    url: URL,
    format: WireFormat,
    body: Uint8Array | null,
  ): { data: Uint8Array; compressed: boolean } => {
    if (request.method === "GET") {
      const params = url.searchParams;
      const message = params.get("message") ?? "";
      let data: Uint8Array;
      if (params.get("base64") === "1") {
        try {
          data = base64Decode(message);
        } catch {
          throw new ConnectError(
            "message: not valid base64url; encode the message with base64=1 as URL-safe base64",
            Code.InvalidArgument,
          );
        }
      } else {
        data = new TextEncoder().encode(message);
      }
      return { data, compressed: compressionOf(params.get("compression")) };
    }
    const bytes = body ?? new Uint8Array();
    if (format.protocol === "grpc-web" || format.stream) {
      const { data, compressed } = unenvelope(bytes);
      const header = format.protocol === "grpc-web"
        ? "grpc-encoding"
        : "connect-content-encoding";
      const encoding = compressionOf(request.headers.get(header));
      if (compressed && !encoding) {
        throw new ConnectError(
          `protocol error: a compressed message without ${header}`,
          Code.InvalidArgument,
        );
      }
      return { data, compressed };
    }
    return {
      data: bytes,
      compressed: compressionOf(request.headers.get("content-encoding")),
    };
  };

  const handle: UnaryHandler = async (request, url, body, signal) => {
    const path = url.pathname;
    const unary = byPath.get(path);
    const stream = unary === undefined ? streams.get(path) : undefined;
    if (unary === undefined && stream === undefined) return undefined;
    const method = unary?.method ?? stream!;
    let format: WireFormat | undefined;
    if (request.method === "GET") {
      if (unary === undefined) return undefined;
      const encoding = url.searchParams.get("encoding");
      format = encoding === "proto"
        ? { protocol: "connect", binary: true, stream: false }
        : encoding === "json"
        ? { protocol: "connect", binary: false, stream: false }
        : undefined;
      if (format === undefined) {
        return errorResponse(
          { protocol: "connect", binary: false, stream: false },
          new ConnectError(
            `encoding: ${
              JSON.stringify(encoding)
            } is not "proto" or "json"; a Connect GET needs ?encoding=…&message=…`,
            Code.InvalidArgument,
          ),
        );
      }
      if (
        method.idempotency !== 1 /* NO_SIDE_EFFECTS */
      ) return undefined;
    } else if (request.method === "POST") {
      format = wireFormat(request.headers.get("content-type"));
      if (format === undefined) return undefined;
      if (
        format.stream !==
          (stream !== undefined || format.protocol === "grpc-web")
      ) {
        // A streaming content type on a unary method (or the reverse): the library answers 415.
        return undefined;
      }
    } else {
      return undefined;
    }
    const began = performance.now();
    const procedure = path;
    let extraHeaders: Headers | undefined;
    let controller: AbortController | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let callSignal = signal;
    try {
      if (format.protocol === "connect") {
        const version = request.method === "GET"
          ? url.searchParams.get("connect")
          : request.headers.get("connect-protocol-version");
        if (version !== null && version !== "1" && version !== "v1") {
          throw new ConnectError(
            `connect-protocol-version: ${
              JSON.stringify(version.slice(0, 20))
            } is not 1`,
            Code.InvalidArgument,
          );
        }
      }
      const deadline = parseDeadline(format.protocol, request.headers);
      if (deadline !== undefined) {
        const linked = new AbortController();
        controller = linked;
        callSignal = linked.signal;
        const abort = () => linked.abort(signal.reason);
        if (signal.aborted) abort();
        else signal.addEventListener("abort", abort, { once: true });
        timer = setTimeout(
          () =>
            linked.abort(
              new ConnectError("the deadline passed", Code.DeadlineExceeded),
            ),
          deadline,
        );
      }
      if (options.gate !== undefined) {
        options.gate(method, request.headers, extraHeaders ??= new Headers());
      }
      const { data, compressed } = messageOf(request, url, format, body);
      const input = await decode(method.input, format, data, compressed);
      if (stream !== undefined) return undefined; // checked; the library streams it
      const context: CallContext = {
        signal: callSignal,
        requestHeader: request.headers,
        get responseHeader() {
          return extraHeaders ??= new Headers();
        },
      };
      const pending = (unary!.call as (i: Message, c: CallContext) => unknown)(
        input,
        context,
      );
      const result = controller === undefined
        ? await pending
        : await raceAbort(Promise.resolve(pending), callSignal);
      const output = isMessage(result, method.output)
        ? result
        : create(method.output, result as never);
      const json = unary!.json as ((o: Message) => string) | undefined;
      const bytes = format.binary
        ? toBinary(method.output, output)
        : encoder.encode(
          json === undefined
            ? toJsonString(method.output, output, jsonWrite)
            : json(output),
        );
      options.record?.(procedure, 0, performance.now() - began);
      const contentType = contentTypeOf(format);
      let headers: HeadersInit = { "content-type": contentType };
      if (extraHeaders !== undefined) {
        extraHeaders.set("content-type", contentType);
        headers = extraHeaders;
      }
      if (format.protocol === "grpc-web") {
        const out = new Uint8Array(5 + bytes.byteLength + OK_TRAILER.length);
        new DataView(out.buffer).setUint32(1, bytes.byteLength);
        out.set(bytes, 5);
        out.set(OK_TRAILER, 5 + bytes.byteLength);
        return new Response(out, { headers });
      }
      return new Response(bytes as Uint8Array<ArrayBuffer>, { headers });
    } catch (error) {
      const connectError = asConnectError(error, callSignal);
      options.record?.(procedure, connectError.code, performance.now() - began);
      return errorResponse(format, connectError, extraHeaders);
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  };
  return { paths: new Set([...byPath.keys(), ...streams.keys()]), handle };
}

const stringFields = new WeakMap<DescMessage, ReadonlySet<string>>();

/**
 * The common request, `{"pipeline": "…", "entity": "…"}`, without the
 * reflection of fromJsonString: when every key is a singular string field
 * (by its JSON name) holding a string, the message is exactly those fields.
 * Anything else answers `undefined` and goes the general way.
 */
function simpleJson(schema: DescMessage, text: string): Message | undefined {
  let names = stringFields.get(schema);
  if (names === undefined) {
    names = new Set(
      schema.fields.filter((f) =>
        f.fieldKind === "scalar" && f.scalar === ScalarType.STRING &&
        f.oneof === undefined
      ).map((f) => f.jsonName),
    );
    stringFields.set(schema, names);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (
    parsed === null || typeof parsed !== "object" || Array.isArray(parsed)
  ) return undefined;
  for (const [key, value] of Object.entries(parsed)) {
    if (!names.has(key) || typeof value !== "string") return undefined;
  }
  return create(schema, parsed as never);
}

function compressionOf(name: string | null): boolean {
  if (name === null || name === "" || name === "identity") return false;
  if (name === "gzip") return true;
  throw new ConnectError(
    `compression ${
      JSON.stringify(name.slice(0, 40))
    } is not supported; use gzip or none`,
    Code.Unimplemented,
  );
}

function asConnectError(error: unknown, signal: AbortSignal): ConnectError {
  if (error instanceof ConnectError) return error;
  if (signal.aborted && signal.reason instanceof ConnectError) {
    return signal.reason;
  }
  if (signal.aborted) {
    return new ConnectError("the request was cancelled", Code.Canceled);
  }
  return new ConnectError(
    `internal error: ${error instanceof Error ? error.message : String(error)}`,
    Code.Internal,
    undefined,
    undefined,
    error,
  );
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
