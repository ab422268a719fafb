// The one Deno.serve handler: Connect + gRPC-Web for the query and admin services, the UI, /healthz and /metrics.

import {
  Code,
  ConnectError,
  type ConnectRouter,
  type ConnectRouterOptions,
  createConnectRouter,
  type HandlerContext,
} from "@connectrpc/connect";
import { createFetchHandler } from "@connectrpc/connect/protocol";
import { createQuerier, type Querier, type QueryLimits } from "../query/mod.ts";
import { AdminService } from "../proto/gen/murmur/admin/v1/admin_pb.ts";
import { QueryService } from "../proto/gen/murmur/v1/query_pb.ts";
import { createQueryService } from "../rpc/_query_service.ts";
import { BearerAuth, Cors, type CorsOptions, isLoopback } from "./auth.ts";
import { Registry } from "./_registry.ts";
import { createAdminService } from "../rpc/_admin_service.ts";
import {
  createUnaryHandler,
  type GrpcUnaryHandler,
  type UnaryMethod,
} from "../rpc/_unary.ts";
import { codeName, dropUnboundedDeadline, pathOf } from "../rpc/_wire.ts";
import { concatBytes } from "../internal/bytes.ts";
import { manyAnswersJson, oneAnswerJson } from "../rpc/_answer_json.ts";
import { manyAnswersBinary, oneAnswerBinary } from "../rpc/_answer_binary.ts";
import { type GrpcServer, startGrpcServer } from "../rpc/_grpc_server.ts";
import type { QueryTarget } from "../query/mod.ts";
import type { PipelineDescription } from "../pipeline/mod.ts";
import type { MetricsSnapshot } from "../streaming/mod.ts";
import { renderPrometheus, RpcStats } from "./_prometheus.ts";
import { staticAsset } from "./_assets.ts";

/**
 * Where live metrics come from: `InMemoryMetrics` from
 * `@murmur/core/streaming` fits.
 */
export interface MetricsSource {
  /** One snapshot per pipeline the recorder has seen. */
  snapshots(): readonly MetricsSnapshot[];
}

/**
 * A pipeline the admin server shows: anything the query layer can read, plus
 * an optional `describe()` (built pipelines have one) for its DAG.
 */
export interface AdminPipeline extends QueryTarget<unknown> {
  /** Describes the pipeline's stages; the DAG is derived from its fields when absent. */
  describe?(): PipelineDescription;
}

/** Options for {@linkcode createHandler}. */
export interface AdminHandlerOptions {
  /** Pipelines of this process to serve and show. */
  readonly pipelines?: Iterable<AdminPipeline>;
  /** A querier to answer queries with (its pipelines are shown too). Default: one over `pipelines`. */
  readonly querier?: Querier;
  /** Live metrics of this process's pipelines, e.g. `InMemoryMetrics`. */
  readonly metrics?: MetricsSource;
  /**
   * Bearer tokens; any one of them is accepted (several allow rotation).
   * When given, every RPC but `Health`, and `/metrics`, need one. Default:
   * none, so auth is off: {@linkcode serve} allows that only on loopback.
   */
  readonly tokens?: readonly string[];
  /** Cross-origin access. Default: closed. */
  readonly cors?: CorsOptions;
  /** Query limits (entities, buckets, keys per request). */
  readonly limits?: Partial<QueryLimits>;
  /** Serve the web UI at `/`. Default: `true`. */
  readonly ui?: boolean;
  /** How often metrics are sampled for the UI's charts, in ms. Default: 1000. */
  readonly sampleIntervalMs?: number;
  /** Samples of history kept per pipeline. Default: 300. */
  readonly historySize?: number;
  /** How long a worker stays online after its last report, in ms. Default: 15 000. */
  readonly workerLeaseMs?: number;
  /** Largest request message accepted, in bytes. Default: 4 MiB. */
  readonly maxRequestBytes?: number;
  /** The clock, in epoch ms. Default: `Date.now`. */
  readonly now?: () => number;
}

/**
 * The admin server's fetch handler, usable as `Deno.serve(handler)`, with
 * what it serves attached.
 */
export interface AdminHandler {
  /** Answers one request. */
  (request: Request, info?: Deno.ServeHandlerInfo): Promise<Response>;
  /** The querier behind both services. */
  readonly querier: Querier;
  /** Whether RPCs need a bearer token. */
  readonly authRequired: boolean;
  /** Stops the metrics sampler. */
  close(): Promise<void>;
  /** Same as {@linkcode AdminHandler.close}. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Each handler's unary layer, for the gRPC listener to call directly. */
const grpcOf = new WeakMap<AdminHandler, GrpcUnaryHandler>();

const TEXT_HEADERS = { "Content-Type": "text/plain; charset=utf-8" };

/**
 * Creates the one fetch handler that serves everything: the Connect query
 * service (`/murmur.v1.QueryService/*`) and admin service
 * (`/murmur.admin.v1.AdminService/*`) over Connect (binary and JSON, with GET
 * for side-effect-free reads) and gRPC-Web, the web UI at `/`, `/healthz`
 * and a Prometheus `/metrics`.
 *
 * Native gRPC needs HTTP trailers, which a fetch `Response` cannot carry, so
 * this handler refuses it; {@linkcode serve} can serve it on a second,
 * HTTP/2 port.
 *
 * @param options Pipelines, metrics, tokens, CORS and limits.
 * @returns The handler; call `close()` when done.
 *
 * @example Usage
 * ```ts
 * import { createHandler } from "@murmur/core/admin";
 * import { sum } from "@murmur/core/monoid";
 * import { MemoryStore } from "@murmur/core/state";
 * import assert from "node:assert/strict";
 *
 * const likes = { name: "likes", monoid: sum(), window: null, store: new MemoryStore() };
 * await using handler = createHandler({ pipelines: [likes] });
 * const res = await handler(new Request("http://localhost/murmur.admin.v1.AdminService/ListPipelines", {
 *   method: "POST",
 *   headers: { "Content-Type": "application/json" },
 *   body: "{}",
 * }));
 * const body = await res.json();
 * assert.equal(body.pipelines[0].name, "likes");
 * ```
 */
export function createHandler(options: AdminHandlerOptions = {}): AdminHandler {
  const now = options.now ?? Date.now;
  const started = now();
  const tokens = (options.tokens ?? []).filter((token) => token !== "");
  const auth = tokens.length === 0 ? undefined : new BearerAuth(tokens);
  const cors = new Cors(options.cors);
  const registry = new Registry({
    ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
    now,
    ...(options.workerLeaseMs === undefined
      ? {}
      : { workerLeaseMs: options.workerLeaseMs }),
    ...(options.historySize === undefined
      ? {}
      : { historySize: options.historySize }),
  });
  const pipelines = [...(options.pipelines ?? [])];
  const querier = options.querier ?? createQuerier(pipelines, {
    ...(options.limits === undefined ? {} : { limits: options.limits }),
    now,
  });
  if (options.querier !== undefined) {
    for (const pipeline of pipelines) querier.add(pipeline);
  }
  for (const pipeline of querier.pipelines) registry.addLocal(pipeline);

  const maxRequestBytes = options.maxRequestBytes ?? 4 * 1024 * 1024;
  const rpcStats = new RpcStats();
  const queryImpl = createQueryService(querier);
  const adminImpl = createAdminService(registry, querier, {
    authRequired: auth !== undefined,
    now,
  });
  const routes = (router: ConnectRouter) => {
    router.service(QueryService, queryImpl);
    router.service(AdminService, adminImpl);
  };
  const gate = (
    methodName: string,
    requestHeader: Headers,
    responseHeader: Headers,
  ) => {
    if (auth === undefined || methodName === "Health") return;
    if (!auth.check(requestHeader.get("Authorization"))) {
      responseHeader.set("WWW-Authenticate", 'Bearer realm="murmur"');
      throw new ConnectError(
        "missing or invalid bearer token: send `Authorization: Bearer <token>`",
        Code.Unauthenticated,
      );
    }
  };
  const routerOptions: ConnectRouterOptions = {
    readMaxBytes: maxRequestBytes,
    // Explicit zeros and `false`s in JSON: "present": false reads better than silence.
    jsonOptions: { alwaysEmitImplicit: true, ignoreUnknownFields: true },
    interceptors: [rpcStats.interceptor],
    requestGate: (context: HandlerContext) =>
      gate(context.method.name, context.requestHeader, context.responseHeader),
  };
  // Unary calls of both services (Connect POST and GET, gRPC-Web) are
  // answered by our own small wire layer; the Connect library only streams
  // WatchMetrics (after the wire layer checked its request message).
  const unaryMethods: UnaryMethod[] = [];
  const streamingMethods = [];
  for (
    const [service, impl] of [[QueryService, queryImpl], [
      AdminService,
      adminImpl,
    ]] as const
  ) {
    for (const method of service.methods) {
      const call = (impl as Record<string, unknown>)[method.localName];
      if (method.methodKind === "unary" && typeof call === "function") {
        const many = method.name.endsWith("Many");
        unaryMethods.push({
          method,
          call: call.bind(impl) as UnaryMethod["call"],
          ...(service === QueryService
            ? {
              json: (many ? manyAnswersJson : oneAnswerJson) as (
                output: never,
              ) => string,
              binary: (many ? manyAnswersBinary : oneAnswerBinary) as (
                output: never,
              ) => Uint8Array<ArrayBuffer>,
            }
            : {}),
        });
      } else {
        streamingMethods.push(method);
      }
    }
  }
  const unary = createUnaryHandler(unaryMethods, streamingMethods, {
    maxBytes: maxRequestBytes,
    jsonWrite: { alwaysEmitImplicit: true },
    gate: (method, requestHeader, responseHeader) =>
      gate(method.name, requestHeader, responseHeader),
    record: (procedure, code, ms) =>
      rpcStats.record(procedure, code === 0 ? "ok" : codeName(code), ms),
  });
  // The fetch bridge cannot send trailers, so native gRPC is refused here
  // (the gRPC port translates it to gRPC-Web).
  const router = createConnectRouter({ ...routerOptions, grpc: false });
  routes(router);
  const rpc = new Map(
    router.handlers.map((h) => [h.requestPath, createFetchHandler(h)]),
  );

  const sampler = setInterval(
    () => registry.sample(),
    options.sampleIntervalMs ?? 1000,
  );
  Deno.unrefTimer(sampler);
  registry.sample();

  const serveUi = options.ui ?? true;
  const answer = async (
    request: Request,
    info: Deno.ServeHandlerInfo | undefined,
  ): Promise<Response> => {
    const path = pathOf(request.url);
    const connect = rpc.get(path);
    if (unary.paths.has(path)) {
      // The hot path: read the body once, answer without copying the request.
      const body = await readBody(request, maxRequestBytes);
      if (body instanceof Response) return body;
      const completed = completedOf(info);
      const controller = new AbortController();
      // Only a failed delivery (the client went away) is worth an abort here.
      completed?.then(undefined, () => controller.abort());
      const answered = await unary.handle(
        request,
        path,
        body,
        controller.signal,
      );
      if (answered !== undefined) return answered;
      if (connect !== undefined) {
        return await connect(detach(request, completed, body));
      }
    } else if (connect !== undefined) {
      const body = await readBody(request, maxRequestBytes);
      if (body instanceof Response) return body;
      return await connect(detach(request, completedOf(info), body));
    }
    if (path === "/healthz") {
      return new Response("ok\n", { headers: TEXT_HEADERS });
    }
    if (path === "/metrics") {
      if (request.method !== "GET" && request.method !== "HEAD") {
        return new Response("use GET\n", {
          status: 405,
          headers: TEXT_HEADERS,
        });
      }
      if (
        auth !== undefined && !auth.check(request.headers.get("Authorization"))
      ) {
        return new Response("missing or invalid bearer token\n", {
          status: 401,
          headers: {
            ...TEXT_HEADERS,
            "WWW-Authenticate": 'Bearer realm="murmur"',
          },
        });
      }
      return new Response(
        renderPrometheus({
          pipelines: registry.list(),
          snapshots: registry.latest(),
          rpc: rpcStats,
          uptimeMs: now() - started,
        }),
        {
          headers: {
            "Content-Type": "text/plain; version=0.0.4; charset=utf-8",
          },
        },
      );
    }
    if (serveUi) {
      const asset = staticAsset(path, request);
      if (asset !== undefined) return asset;
    }
    return new Response(`not found: ${path}\n`, {
      status: 404,
      headers: TEXT_HEADERS,
    });
  };

  const handler = async (
    request: Request,
    info?: Deno.ServeHandlerInfo,
  ): Promise<Response> => {
    if (
      request.method === "OPTIONS" &&
      request.headers.has("Access-Control-Request-Method")
    ) {
      return cors.preflight(request);
    }
    let response: Response;
    try {
      response = await answer(request, info);
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      response = new Response(`internal error: ${detail}\n`, {
        status: 500,
        headers: TEXT_HEADERS,
      });
    }
    return cors.decorate(request, response);
  };

  let closed = false;
  const close = () => {
    if (!closed) {
      closed = true;
      clearInterval(sampler);
    }
    return Promise.resolve();
  };
  const admin: AdminHandler = Object.assign(handler, {
    querier,
    authRequired: auth !== undefined,
    close,
    [Symbol.asyncDispose]: close,
  });
  grpcOf.set(admin, unary.grpc);
  return admin;
}

function completedOf(
  info: Deno.ServeHandlerInfo | undefined,
): Promise<unknown> | undefined {
  return (info as { completed?: Promise<unknown> } | undefined)?.completed;
}

/** Reads a request body whole, bounded, or answers 413 past `limit` (plus an envelope). */
async function readBody(
  request: Request,
  limit: number,
): Promise<Uint8Array<ArrayBuffer> | null | Response> {
  // No `request.body` unless needed: asking for it makes a stream, and
  // arrayBuffer() without one takes the body in one piece.
  if (request.method === "GET" || request.method === "HEAD") return null;
  const declared = Number(request.headers.get("Content-Length") ?? NaN);
  let body: Uint8Array<ArrayBuffer> | null;
  if (declared === 0) return null;
  if (declared <= limit + 5) {
    body = new Uint8Array(await request.arrayBuffer());
  } else if (declared > limit + 5) {
    body = null;
  } else {
    const stream = request.body;
    if (stream === null) return null;
    body = await readBounded(stream, limit);
  }
  if (body === null) {
    return new Response(
      `request body over ${limit} bytes: send smaller requests\n`,
      { status: 413, headers: TEXT_HEADERS },
    );
  }
  return body;
}

/**
 * A copy of a served request for the Connect library, with the body already
 * read, no deadline a timer cannot hold, and its own abort signal that fires
 * once the response is delivered or the client goes away
 * (`info.completed`), so streams learn about disconnects without Deno's
 * legacy `request.signal` semantics.
 */
function detach(
  request: Request,
  completed: Promise<unknown> | undefined,
  body: Uint8Array<ArrayBuffer> | null,
): Request {
  const controller = new AbortController();
  if (completed === undefined) {
    request.signal.addEventListener("abort", () => controller.abort(), {
      once: true,
    });
  } else {
    completed.finally(() => controller.abort()).catch(() => {});
  }
  const headers = new Headers(request.headers);
  dropUnboundedDeadline(headers);
  return new Request(request.url, {
    method: request.method,
    headers,
    body,
    signal: controller.signal,
  });
}

/** Reads a body whole, or answers `null` (and stops reading) past `limit` bytes. */
async function readBounded(
  body: ReadableStream<Uint8Array>,
  limit: number,
): Promise<Uint8Array<ArrayBuffer> | null> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    // Room for the 5-byte envelope of streaming protocols on top of the message limit.
    if (size > limit + 5) {
      await body.cancel().catch(() => {});
      return null;
    }
    chunks.push(chunk);
  }
  return concatBytes(chunks, size);
}

/** Options for {@linkcode serve}. */
export interface ServeOptions extends AdminHandlerOptions {
  /** The port; `0` picks a free one. Default: 8080. */
  readonly port?: number;
  /** The address to bind. Default: `"127.0.0.1"`. */
  readonly hostname?: string;
  /**
   * Also serve native gRPC over cleartext HTTP/2 (prior knowledge) on this
   * port; `0` picks a free port. Default: no gRPC port. The listener runs in
   * this process on its own HTTP/2 implementation (`rpc/_h2.ts`), answering
   * calls through the same handler, gate and limits as Connect. (The main
   * port already speaks HTTP/2 cleartext for Connect and gRPC-Web.)
   */
  readonly grpcPort?: number;
  /**
   * Serve without tokens on a non-loopback address (e.g. behind an
   * authenticating proxy). Default: `false`: binding beyond loopback needs
   * `tokens` (or the `MURMUR_ADMIN_TOKENS` environment variable, a comma
   * list).
   */
  readonly allowUnauthenticated?: boolean;
  /** Stops the server when aborted. */
  readonly signal?: AbortSignal;
  /** Called once listening. Default: prints the UI's URL. */
  readonly onListen?: (server: { url: string; grpcUrl?: string }) => void;
}

/** A running admin server. */
export interface AdminServer {
  /** The base URL, e.g. `"http://127.0.0.1:8080"`. */
  readonly url: string;
  /** The port bound. */
  readonly port: number;
  /** The gRPC (HTTP/2 cleartext) base URL, when `grpcPort` was given. */
  readonly grpcUrl?: string;
  /** The handler serving it. */
  readonly handler: AdminHandler;
  /** Resolves when the server has stopped. */
  readonly finished: Promise<void>;
  /** Stops accepting requests, ends streams and closes the handler. */
  shutdown(): Promise<void>;
  /** Same as {@linkcode AdminServer.shutdown}. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Thrown by {@linkcode serve} when asked to listen beyond loopback without
 * bearer tokens.
 *
 * @example Usage
 * ```ts
 * import { AuthRequiredError } from "@murmur/core/admin";
 * import assert from "node:assert/strict";
 * assert.equal(new AuthRequiredError("0.0.0.0").name, "AuthRequiredError");
 * ```
 */
export class AuthRequiredError extends Error {
  /**
   * Creates the error.
   *
   * @param hostname The address that was asked for.
   */
  constructor(hostname: string) {
    super(
      `refusing to serve the admin API on ${hostname} without auth: pass tokens (or set MURMUR_ADMIN_TOKENS), bind to 127.0.0.1, or set allowUnauthenticated behind an authenticating proxy`,
    );
    this.name = "AuthRequiredError";
  }
}

/**
 * Serves pipelines: the query and admin APIs and the web UI, with
 * `Deno.serve`. Auth is off by default only on loopback.
 *
 * @param options Pipelines, metrics, address, tokens and the optional gRPC port.
 * @returns The running server.
 * @throws {AuthRequiredError} When binding beyond loopback without tokens.
 *
 * @example Usage
 * ```ts ignore
 * import { serve } from "@murmur/core/admin";
 * import { InMemoryMetrics } from "@murmur/core/streaming";
 *
 * const metrics = new InMemoryMetrics();
 * await using server = await serve({ pipelines: [pageViews], metrics, port: 8080 });
 * console.log(`UI on ${server.url}`);
 * ```
 */
export async function serve(options: ServeOptions = {}): Promise<AdminServer> {
  const hostname = options.hostname ?? "127.0.0.1";
  const tokens = options.tokens ?? tokensFromEnv();
  if (
    tokens.length === 0 && !isLoopback(hostname) &&
    options.allowUnauthenticated !== true
  ) {
    throw new AuthRequiredError(hostname);
  }
  const handler = createHandler({ ...options, tokens });
  const controller = new AbortController();
  options.signal?.addEventListener("abort", () => controller.abort(), {
    once: true,
  });
  const { promise: listening, resolve: listened } = Promise.withResolvers<
    Deno.NetAddr
  >();
  const server = Deno.serve({
    port: options.port ?? 8080,
    hostname,
    signal: controller.signal,
    onListen: (addr) => listened(addr as Deno.NetAddr),
  }, handler);
  const addr = await listening;
  const host = addr.hostname.includes(":")
    ? `[${addr.hostname}]`
    : addr.hostname;
  const url = `http://${host}:${addr.port}`;

  let grpcUrl: string | undefined;
  let grpc: GrpcServer | undefined;
  if (options.grpcPort !== undefined) {
    try {
      grpc = startGrpcServer({
        hostname,
        port: options.grpcPort,
        handler: (request) => handler(request),
        unary: grpcOf.get(handler)!,
        maxBytes: options.maxRequestBytes ?? 4 * 1024 * 1024,
      });
    } catch (error) {
      controller.abort();
      await server.finished;
      await handler.close();
      throw error;
    }
    grpcUrl = `http://${host}:${grpc.port}`;
  }
  const closeGrpc = () => grpc?.close() ?? Promise.resolve();
  let stopped: Promise<void> | undefined;
  const shutdown = () => {
    stopped ??= (async () => {
      controller.abort();
      await Promise.all([server.finished, closeGrpc()]);
      await handler.close();
    })();
    return stopped;
  };
  options.signal?.addEventListener("abort", () => void shutdown(), {
    once: true,
  });
  (options.onListen ?? ((s) => {
    console.log(
      `murmur admin UI on ${s.url}/${
        s.grpcUrl ? ` (gRPC on ${s.grpcUrl})` : ""
      }`,
    );
  }))(grpcUrl === undefined ? { url } : { url, grpcUrl });
  return {
    url,
    port: addr.port,
    ...(grpcUrl === undefined ? {} : { grpcUrl }),
    handler,
    finished: server.finished.then(() => stopped).then(() => undefined),
    shutdown,
    [Symbol.asyncDispose]: shutdown,
  };
}

function tokensFromEnv(): string[] {
  const name = "MURMUR_ADMIN_TOKENS";
  if (
    Deno.permissions.querySync({ name: "env", variable: name }).state !==
      "granted"
  ) {
    return [];
  }
  return (Deno.env.get(name) ?? "").split(",").map((t) => t.trim()).filter((
    t,
  ) => t !== "");
}
