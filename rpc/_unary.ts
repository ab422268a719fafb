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
import { simpleBinary } from "./_simple_binary.ts";
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
  /** Writes the output in protobuf binary faster than reflection does (same bytes). */
  readonly binary?: (output: never) => Uint8Array<ArrayBuffer>;
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

/**
 * What the unary layer reads of a request: a served `Request` fits, and so
 * does the gRPC listener's forwarded call, which needs no `Request` built.
 */
export interface UnaryRequest {
  /** The HTTP method. */
  readonly method: string;
  /** The full URL (only a Connect GET reads its query). */
  readonly url: string;
  /** The request headers. */
  readonly headers: Headers;
}

/** Answers one request, or `undefined` when the Connect library should. */
export type UnaryHandler = (
  request: UnaryRequest,
  path: string,
  body: Uint8Array | null,
  signal: AbortSignal,
) => Promise<Response | undefined>;

/**
 * A unary call's successful answer for the native gRPC listener, before any
 * framing: the output message's bytes and the headers the method set.
 */
export class GrpcAnswer {
  /**
   * Creates the answer.
   *
   * @param message The output message, protobuf binary or JSON.
   * @param headers Headers the method set, if any.
   */
  constructor(
    readonly message: Uint8Array,
    readonly headers: Headers | undefined,
  ) {}
}

/**
 * Like {@linkcode UnaryHandler}, for gRPC-Web requests from the native gRPC
 * listener: a success comes back as a {@linkcode GrpcAnswer}, with no
 * `Response` built for it.
 */
export type GrpcUnaryHandler = (
  request: UnaryRequest,
  path: string,
  body: Uint8Array | null,
  signal: AbortSignal,
) => Promise<Response | GrpcAnswer | undefined>;

const JSON_READ: Partial<JsonReadOptions> = { ignoreUnknownFields: true };
const CONNECT_JSON: WireFormat = Object.freeze({
  protocol: "connect",
  binary: false,
  stream: false,
});
const CONNECT_PROTO: WireFormat = Object.freeze({
  protocol: "connect",
  binary: true,
  stream: false,
});
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
): {
  paths: ReadonlySet<string>;
  handle: UnaryHandler;
  grpc: GrpcUnaryHandler;
} {
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

  /** Decodes an uncompressed message (no await on the common path). */
  const parse = (
    schema: DescMessage,
    format: WireFormat,
    data: Uint8Array,
  ): Message => {
    if (data.byteLength > limit) {
      throw new ConnectError(
        `the message is ${data.byteLength} bytes; at most ${limit}`,
        Code.ResourceExhausted,
      );
    }
    try {
      if (format.binary) {
        return simpleBinary(schema, data) ?? fromBinary(schema, data);
      }
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
    request: UnaryRequest,
    params: URLSearchParams | undefined,
    format: WireFormat,
    body: Uint8Array | null,
  ): { data: Uint8Array; compressed: boolean } => {
    if (params !== undefined) {
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

  const call = async (
    request: UnaryRequest,
    path: string,
    body: Uint8Array | null,
    signal: AbortSignal,
    raw: boolean,
  ): Promise<Response | GrpcAnswer | undefined> => {
    const unary = byPath.get(path);
    const stream = unary === undefined ? streams.get(path) : undefined;
    if (unary === undefined && stream === undefined) return undefined;
    const method = unary?.method ?? stream!;
    let format: WireFormat | undefined;
    let params: URLSearchParams | undefined;
    if (request.method === "GET") {
      if (unary === undefined) return undefined;
      params = new URL(request.url).searchParams;
      const encoding = params.get("encoding");
      format = encoding === "proto"
        ? CONNECT_PROTO
        : encoding === "json"
        ? CONNECT_JSON
        : undefined;
      if (format === undefined) {
        return errorResponse(
          CONNECT_JSON,
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
      const type = request.headers.get("content-type");
      // The two common content types without parsing.
      format = type === "application/json"
        ? CONNECT_JSON
        : type === "application/proto"
        ? CONNECT_PROTO
        : wireFormat(type);
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
    let called: Context | undefined;
    let controller: AbortController | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let callSignal = signal;
    try {
      if (format.protocol === "connect") {
        const version = params !== undefined
          ? params.get("connect")
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
      const { data, compressed } = messageOf(request, params, format, body);
      const input = compressed
        ? parse(method.input, format, await gunzip(data, limit))
        : parse(method.input, format, data);
      if (stream !== undefined) return undefined; // checked; the library streams it
      const context = new Context(callSignal, request.headers, extraHeaders);
      called = context;
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
      extraHeaders = context.extra;
      const json = unary!.json as ((o: Message) => string) | undefined;
      // JSON goes out as a string: Deno.serve sends a string body with a
      // single application/json header without copying it through JS.
      const text = format.binary
        ? undefined
        : json === undefined
        ? toJsonString(method.output, output, jsonWrite)
        : json(output);
      options.record?.(procedure, 0, performance.now() - began);
      const contentType = contentTypeOf(format);
      let headers: HeadersInit = { "content-type": contentType };
      if (extraHeaders !== undefined) {
        extraHeaders.set("content-type", contentType);
        headers = extraHeaders;
      }
      if (text !== undefined && format.protocol === "connect") {
        return new Response(text, { headers });
      }
      const binary = unary!.binary as
        | ((o: Message) => Uint8Array<ArrayBuffer>)
        | undefined;
      const bytes = text !== undefined
        ? encoder.encode(text)
        : binary === undefined
        ? toBinary(method.output, output)
        : binary(output);
      if (format.protocol === "grpc-web") {
        if (raw) return new GrpcAnswer(bytes, extraHeaders);
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
      return errorResponse(
        format,
        connectError,
        called?.extra ?? extraHeaders,
      );
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  };
  return {
    paths: new Set([...byPath.keys(), ...streams.keys()]),
    handle: (request, path, body, signal) =>
      call(request, path, body, signal, false) as Promise<
        Response | undefined
      >,
    grpc: (request, path, body, signal) =>
      call(request, path, body, signal, true),
  };
}

/** A call's context; response headers are made only when asked for. */
class Context implements CallContext {
  readonly signal: AbortSignal;
  readonly requestHeader: Headers;
  extra: Headers | undefined;
  constructor(signal: AbortSignal, requestHeader: Headers, extra?: Headers) {
    this.signal = signal;
    this.requestHeader = requestHeader;
    this.extra = extra;
  }
  get responseHeader(): Headers {
    return this.extra ??= new Headers();
  }
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
  const record = parsed as Record<string, unknown>;
  for (const key in record) {
    if (!names.has(key) || typeof record[key] !== "string") return undefined;
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
