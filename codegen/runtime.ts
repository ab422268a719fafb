// What generated server stubs call: one read through the querier, its typed answer, Connect errors, a fetch handler.

import {
  Code,
  ConnectError,
  type ConnectRouter,
  createConnectRouter,
} from "@connectrpc/connect";
import { createFetchHandler } from "@connectrpc/connect/protocol";
import {
  InvalidQueryError,
  PipelineNotFoundError,
  type Querier,
  type QueryAnswer,
  WindowMismatchError,
} from "../query/mod.ts";
import type { ValueShape } from "./model.ts";
import type { MethodShape } from "./render.ts";

/** The fields every generated request message may carry (protoc-gen-es names). */
export interface TypedRequest {
  /** One entity (single reads). */
  readonly entity?: string;
  /** Many entities (`…Many` reads). */
  readonly entities?: readonly string[];
  /** Buckets of a window read. */
  readonly last?: number;
  /** Reference time of a window read in epoch ms; 0 for the server's clock. */
  readonly atMs?: bigint;
  /** Start of a range read in epoch ms. */
  readonly startMs?: bigint;
  /** End of a range read in epoch ms. */
  readonly endMs?: bigint;
  /** Skip the cache. */
  readonly freshRead?: boolean;
  /** Entries of a top-K answer; 0 for the pipeline's default. */
  readonly top?: number;
}

/** One entity's typed answer, as the generated `<P>Value` message takes it. */
export interface TypedAnswer {
  /** The entity. */
  entity: string;
  /** Whether any covered key held data. */
  present: boolean;
  /** The covered interval's start in epoch ms (0 for all-time). */
  startMs: bigint;
  /** The covered interval's end in epoch ms (0 for all-time). */
  endMs: bigint;
  /** int64 and double answers. */
  value?: bigint | number;
  /** Cardinality answers. */
  estimate?: number;
  /** Cardinality answers. */
  lower?: number;
  /** Cardinality answers. */
  upper?: number;
  /** Cardinality answers. */
  confidence?: number;
  /** Ranked answers. */
  entries?: { key: string; count: bigint }[];
}

/**
 * Turns a querier's answer into the fields of a generated `<P>Value` message.
 *
 * @param querier The querier that answered.
 * @param pipeline The pipeline's name.
 * @param shape The answer type the service declares.
 * @param answer The answer.
 * @param top Top-K entries to report (0 or absent: the pipeline's default).
 * @returns The message fields.
 * @throws {TypeError} When the value does not have the declared shape.
 */
export function typedAnswer(
  querier: Querier,
  pipeline: string,
  shape: ValueShape,
  answer: QueryAnswer<unknown>,
  top?: number,
): TypedAnswer {
  const typed = querier.typed(
    pipeline,
    answer,
    top === undefined || top === 0 ? {} : { top },
  );
  const out: TypedAnswer = {
    entity: answer.entity,
    present: answer.present,
    startMs: BigInt(answer.coverage.startMs ?? 0),
    endMs: BigInt(answer.coverage.endMs ?? 0),
  };
  const mismatch = () =>
    new TypeError(
      `codegen: pipeline "${pipeline}" answered a ${typed.type} value, but its typed service declares ${shape}; run \`murmur codegen\` again`,
    );
  switch (shape) {
    case "int64":
      if (typed.type === "integer") out.value = typed.value;
      else if (typed.type === "number") {
        out.value = BigInt(Math.trunc(typed.value));
      } else if (typed.type === "none") out.value = 0n;
      else throw mismatch();
      break;
    case "double":
      if (typed.type === "number") out.value = typed.value;
      else if (typed.type === "integer") out.value = Number(typed.value);
      else if (typed.type === "none") out.value = 0;
      else throw mismatch();
      break;
    case "cardinality":
      if (typed.type !== "cardinality") throw mismatch();
      out.estimate = typed.estimate;
      out.lower = typed.lower;
      out.upper = typed.upper;
      out.confidence = typed.confidence;
      break;
    case "ranked":
      if (typed.type !== "topk") throw mismatch();
      out.entries = typed.entries.map((e) => ({
        key: e.key,
        count: BigInt(Math.trunc(e.count)),
      }));
      break;
  }
  return out;
}

// Maps a querier error to the Connect code a client can act on.
function connectErrorOf(error: unknown): ConnectError {
  if (error instanceof ConnectError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof PipelineNotFoundError) {
    return new ConnectError(message, Code.NotFound);
  }
  if (error instanceof InvalidQueryError) {
    return new ConnectError(message, Code.InvalidArgument);
  }
  if (error instanceof WindowMismatchError) {
    return new ConnectError(message, Code.FailedPrecondition);
  }
  if (error instanceof DOMException && error.name === "AbortError") {
    return new ConnectError(message, Code.Canceled);
  }
  return new ConnectError(message, Code.Internal);
}

function checkTop(top: number | undefined): number | undefined {
  if (top === undefined || top === 0) return undefined;
  if (!Number.isInteger(top) || top < 0) {
    throw new ConnectError(
      `top ${top} must be a positive integer (0 for the pipeline's default)`,
      Code.InvalidArgument,
    );
  }
  return top;
}

/**
 * Serves one generated RPC: reads through the querier and answers the typed
 * response (`{ value }` or `{ values }`).
 *
 * @param querier Answers the read.
 * @param pipeline The pipeline's name.
 * @param shape The answer type.
 * @param op Which read the RPC is.
 * @param request The request message.
 * @param signal Cancels the read.
 * @returns The response message's fields.
 * @throws {ConnectError} `NotFound` for an unknown pipeline, `InvalidArgument`
 * for a bad entity, window or top, `FailedPrecondition` for a window read of an
 * all-time pipeline (or the reverse), `Internal` otherwise.
 */
export async function typedCall(
  querier: Querier,
  pipeline: string,
  shape: ValueShape,
  op: MethodShape["op"],
  request: TypedRequest,
  signal?: AbortSignal,
): Promise<{ value?: TypedAnswer; values?: TypedAnswer[] }> {
  try {
    const top = checkTop(request.top);
    const read = {
      freshRead: request.freshRead ?? false,
      ...(signal ? { signal } : {}),
    };
    const at = request.atMs === undefined || request.atMs === 0n
      ? {}
      : { at: Number(request.atMs) };
    const one = (a: QueryAnswer<unknown>) =>
      typedAnswer(querier, pipeline, shape, a, top);
    const entity = request.entity ?? "";
    const entities = [...(request.entities ?? [])];
    switch (op) {
      case "get":
        return { value: one(await querier.get(pipeline, entity, read)) };
      case "getMany":
        return {
          values: (await querier.getMany(pipeline, entities, read)).map(one),
        };
      case "window":
        return {
          value: one(
            await querier.getWindow(pipeline, entity, request.last ?? 0, {
              ...read,
              ...at,
            }),
          ),
        };
      case "windowMany":
        return {
          values: (await querier.getWindowMany(
            pipeline,
            entities,
            request.last ?? 0,
            { ...read, ...at },
          )).map(one),
        };
      case "range":
        return {
          value: one(
            await querier.getRange(pipeline, entity, {
              startMs: Number(request.startMs ?? 0n),
              endMs: Number(request.endMs ?? 0n),
            }, read),
          ),
        };
    }
  } catch (error) {
    throw connectErrorOf(error);
  }
}

/**
 * A fetch handler over a Connect router: answers the router's RPC paths
 * (Connect and gRPC-Web) and `undefined` for any other path, so it composes
 * with another handler.
 *
 * @typeParam Router The router `register` takes: a `ConnectRouter` of
 * `@connectrpc/connect` (generic so this module's public types stay its own).
 * @param register Adds services to the router.
 * @returns The handler.
 *
 * @example Usage
 * ```ts
 * import { serveTyped } from "@murmur/core/codegen";
 * import assert from "node:assert/strict";
 *
 * const handler = serveTyped(() => {});
 * assert.equal(await handler(new Request("http://localhost/other")), undefined);
 * ```
 */
export function serveTyped<Router extends object>(
  register: (router: Router) => void,
): (request: Request) => Promise<Response | undefined> {
  const router: ConnectRouter = createConnectRouter({ grpc: false });
  register(router as unknown as Router);
  const routes = new Map(
    router.handlers.map((h) => [h.requestPath, createFetchHandler(h)]),
  );
  return async (request) => {
    const handler = routes.get(new URL(request.url).pathname);
    if (handler === undefined) return undefined;
    const response = await handler(request);
    return new Response(await response.arrayBuffer(), response);
  };
}
