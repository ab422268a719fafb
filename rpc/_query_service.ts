// murmur.v1.QueryService over a Querier: each method is one call of the shared dispatch.

import type { ServiceImpl } from "@connectrpc/connect";
import type { QueryService } from "../proto/gen/murmur/v1/query_pb.ts";
import type { Querier } from "../query/mod.ts";
import { type DispatchLimits, dispatchRead } from "./_answer.ts";
import type { CallContext } from "./_unary.ts";

/** Options for {@linkcode createQueryService}. */
export interface QueryServiceOptions extends DispatchLimits {}

/**
 * Implements `murmur.v1.QueryService` over a querier, for
 * `router.service(QueryService, impl)` of `@connectrpc/connect`.
 *
 * Errors map to Connect codes: an unknown pipeline is `NotFound`, bad input
 * `InvalidArgument` (the message names the limit), a window read of an
 * unwindowed pipeline (or the reverse) `FailedPrecondition`, a store failure
 * `Unavailable`. A cancelled request stops waiting but never cancels a read
 * other requests share.
 *
 * @param querier The querier that reads the pipelines.
 * @param options Limits of the wire layer.
 * @returns The service implementation.
 */
export function createQueryService(
  querier: Querier,
  options: QueryServiceOptions = {},
): ServiceImpl<typeof QueryService> {
  const common = (req: {
    pipeline: string;
    freshRead: boolean;
    probes: readonly string[];
    top?: number | undefined;
  }) => ({
    pipeline: req.pipeline,
    freshRead: req.freshRead,
    probes: req.probes,
    top: req.top,
  });
  const window = (req: {
    last: number;
    atMs?: bigint | undefined;
    durationMs?: bigint | undefined;
  }) => ({
    case: "window" as const,
    last: req.last,
    atMs: req.atMs,
    durationMs: req.durationMs,
  });
  const range = (req: { startMs: bigint; endMs: bigint }) => ({
    case: "range" as const,
    startMs: req.startMs,
    endMs: req.endMs,
  });
  const ALL = { case: "all" as const };
  return {
    get: async (req, context: CallContext) => ({
      answer: (await dispatchRead(
        querier,
        {
          ...common(req),
          entities: [req.entity],
          single: true,
          scope: ALL,
        },
        context.signal,
        options,
      ))[0],
    }),
    getMany: async (req, context: CallContext) => ({
      answers: await dispatchRead(
        querier,
        {
          ...common(req),
          entities: req.entities,
          single: false,
          scope: ALL,
        },
        context.signal,
        options,
      ),
    }),
    getWindow: async (req, context: CallContext) => ({
      answer: (await dispatchRead(
        querier,
        {
          ...common(req),
          entities: [req.entity],
          single: true,
          scope: window(req),
        },
        context.signal,
        options,
      ))[0],
    }),
    getWindowMany: async (req, context: CallContext) => ({
      answers: await dispatchRead(
        querier,
        {
          ...common(req),
          entities: req.entities,
          single: false,
          scope: window(req),
        },
        context.signal,
        options,
      ),
    }),
    getRange: async (req, context: CallContext) => ({
      answer: (await dispatchRead(
        querier,
        {
          ...common(req),
          entities: [req.entity],
          single: true,
          scope: range(req),
        },
        context.signal,
        options,
      ))[0],
    }),
    getRangeMany: async (req, context: CallContext) => ({
      answers: await dispatchRead(
        querier,
        {
          ...common(req),
          entities: req.entities,
          single: false,
          scope: range(req),
        },
        context.signal,
        options,
      ),
    }),
  };
}
