// The Connect implementation of murmur.v1.QueryService over a Querier, with the wire form of answers and errors.

import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  type Answer,
  AnswerSchema,
  type QueryService,
  type Value,
  ValueSchema,
} from "../proto/gen/murmur/v1/query_pb.ts";
import {
  InvalidQueryError,
  PipelineNotFoundError,
  type Querier,
  type QueryAnswer,
  type QueryTarget,
  type ReadOptions,
  type TypedValue,
  typedValue,
  WindowMismatchError,
} from "../query/mod.ts";

/** Options for {@linkcode createQueryService}. */
export interface QueryServiceOptions {
  /** Most Bloom probe items per request. Default: 100. */
  readonly maxProbes?: number;
}

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
  const maxProbes = options.maxProbes ?? 100;
  const probesOf = (probes: readonly string[]): readonly string[] => {
    if (probes.length > maxProbes) {
      throw new InvalidQueryError(
        "probes",
        `${probes.length} probe items; at most ${maxProbes} per request`,
      );
    }
    return probes;
  };
  // What the typed value shows: the request's probes and its top-K count.
  const shownBy = (req: ShownFields): AnswerMessageOptions => ({
    probes: probesOf(req.probes),
    ...checkTop(req.top),
  });
  const read = (
    req: { freshRead: boolean },
    context: HandlerContext,
  ): ReadOptions => ({ freshRead: req.freshRead, signal: context.signal });
  const one = async (
    pipeline: string,
    req: ShownFields,
    answer: () => Promise<QueryAnswer<unknown>>,
  ) => {
    try {
      const shown = shownBy(req);
      return {
        answer: toAnswerMessage(
          querier.target(pipeline),
          await answer(),
          shown,
        ),
      };
    } catch (error) {
      throw toConnectError(error);
    }
  };
  const many = async (
    pipeline: string,
    req: ShownFields,
    answers: () => Promise<QueryAnswer<unknown>[]>,
  ) => {
    try {
      const shown = shownBy(req);
      const target = querier.target(pipeline);
      return {
        answers: (await answers()).map((answer) =>
          toAnswerMessage(target, answer, shown)
        ),
      };
    } catch (error) {
      throw toConnectError(error);
    }
  };
  return {
    get: (req, context) =>
      one(
        req.pipeline,
        req,
        () => querier.get(req.pipeline, req.entity, read(req, context)),
      ),
    getMany: (req, context) =>
      many(
        req.pipeline,
        req,
        () => querier.getMany(req.pipeline, req.entities, read(req, context)),
      ),
    getWindow: (req, context) =>
      one(
        req.pipeline,
        req,
        () =>
          querier.getWindow(req.pipeline, req.entity, req.last, {
            ...read(req, context),
            ...(req.atMs === undefined ? {} : { at: toMs("atMs", req.atMs) }),
          }),
      ),
    getWindowMany: (req, context) =>
      many(
        req.pipeline,
        req,
        () =>
          querier.getWindowMany(req.pipeline, req.entities, req.last, {
            ...read(req, context),
            ...(req.atMs === undefined ? {} : { at: toMs("atMs", req.atMs) }),
          }),
      ),
    getRange: (req, context) =>
      one(
        req.pipeline,
        req,
        () =>
          querier.getRange(
            req.pipeline,
            req.entity,
            {
              startMs: toMs("startMs", req.startMs),
              endMs: toMs("endMs", req.endMs),
            },
            read(req, context),
          ),
      ),
    getRangeMany: (req, context) =>
      many(
        req.pipeline,
        req,
        () =>
          querier.getRangeMany(
            req.pipeline,
            req.entities,
            {
              startMs: toMs("startMs", req.startMs),
              endMs: toMs("endMs", req.endMs),
            },
            read(req, context),
          ),
      ),
  };
}

/** The request fields that shape an answer's typed value. */
interface ShownFields {
  readonly probes: readonly string[];
  readonly top?: number | undefined;
}

/**
 * Checks a request's top-K count (unset means the pipeline's own count).
 *
 * @param top The request's `top` field.
 * @returns The options that carry it.
 * @throws {InvalidQueryError} When it is 0.
 */
export function checkTop(top: number | undefined): { top?: number } {
  if (top === undefined) return {};
  if (!Number.isSafeInteger(top) || top < 1) {
    throw new InvalidQueryError(
      "top",
      `${top} top-K entries asked for; give at least 1, or leave top unset for the pipeline's own count`,
    );
  }
  return { top };
}

/** Options for {@linkcode toAnswerMessage}. */
export interface AnswerMessageOptions {
  /** Items to test for membership when the value is a Bloom filter. */
  readonly probes?: readonly string[];
  /**
   * How many entries a top-K value reports, heaviest first. Default: the
   * target's `top`, or every tracked item when it has none.
   */
  readonly top?: number;
}

/**
 * Converts a query answer to its wire form: the typed value (a top-K one
 * cut to the requested or the target's `top`), the canonical bytes (the
 * whole value; empty when nothing was present), the coverage and the read
 * stats.
 *
 * @typeParam V The value type.
 * @param target The pipeline that answered (for its monoid, codec and `top`).
 * @param answer The answer.
 * @param options Bloom probe items; how many top-K entries to report.
 * @returns The `murmur.v1.Answer` message.
 * @throws {InvalidQueryError} When `top` is not a positive integer.
 */
export function toAnswerMessage<V>(
  target: QueryTarget<V>,
  answer: QueryAnswer<V>,
  options: AnswerMessageOptions = {},
): Answer {
  const codec = target.monoid.codec;
  const coverage = answer.coverage;
  return create(AnswerSchema, {
    pipeline: answer.pipeline,
    entity: answer.entity,
    present: answer.present,
    value: toValueMessage(
      typedValue(target.monoid, answer.value, {
        probes: options.probes ?? [],
        ...topOf(options.top ?? target.top),
      }),
    ),
    data: answer.present ? codec.encode(answer.value) : new Uint8Array(),
    format: codec.format,
    kind: target.monoid.kind,
    coverage: {
      allTime: coverage.allTime,
      granularity: coverage.granularity ?? "",
      startMs: BigInt(coverage.startMs ?? 0),
      endMs: BigInt(coverage.endMs ?? 0),
      buckets: coverage.buckets.map(BigInt),
      presentBuckets: coverage.presentBuckets.map(BigInt),
    },
    stats: answer.stats,
  });
}

function topOf(top: number | null | undefined): { top?: number } {
  return top === null || top === undefined ? {} : { top };
}

function toValueMessage(typed: TypedValue): Value {
  switch (typed.type) {
    case "none":
      return create(ValueSchema);
    case "number":
      return create(ValueSchema, {
        kind: { case: "number", value: typed.value },
      });
    case "integer":
      return create(ValueSchema, {
        kind: { case: "integer", value: typed.value },
      });
    case "cardinality":
      return create(ValueSchema, {
        kind: {
          case: "cardinality",
          value: {
            estimate: typed.estimate,
            lower: typed.lower,
            upper: typed.upper,
            confidence: typed.confidence,
          },
        },
      });
    case "topk":
      return create(ValueSchema, {
        kind: {
          case: "topK",
          value: { k: typed.k, entries: typed.entries.map((e) => ({ ...e })) },
        },
      });
    case "bloom":
      return create(ValueSchema, {
        kind: {
          case: "bloom",
          value: {
            probes: typed.probes.map((p) => ({ ...p })),
            bits: BigInt(typed.bits),
            hashes: typed.hashes,
            estimatedItems: typed.estimatedItems,
          },
        },
      });
    case "json":
      return create(ValueSchema, {
        kind: { case: "json", value: JSON.stringify(typed.value) },
      });
  }
}

/**
 * Maps a query error to the Connect error a client sees.
 *
 * @param error Anything thrown by a read.
 * @returns A `ConnectError` with the matching code.
 */
export function toConnectError(error: unknown): ConnectError {
  if (error instanceof ConnectError) return error;
  if (error instanceof PipelineNotFoundError) {
    return new ConnectError(
      error.message,
      Code.NotFound,
      undefined,
      undefined,
      error,
    );
  }
  if (error instanceof InvalidQueryError) {
    return new ConnectError(
      error.message,
      Code.InvalidArgument,
      undefined,
      undefined,
      error,
    );
  }
  if (error instanceof WindowMismatchError) {
    return new ConnectError(
      error.message,
      Code.FailedPrecondition,
      undefined,
      undefined,
      error,
    );
  }
  if (error instanceof DOMException && error.name === "AbortError") {
    return new ConnectError(
      "the request was cancelled",
      Code.Canceled,
      undefined,
      undefined,
      error,
    );
  }
  const detail = error instanceof Error ? error.message : String(error);
  return new ConnectError(
    `reading the pipeline's state failed: ${detail}`,
    Code.Unavailable,
    undefined,
    undefined,
    error,
  );
}

/** Converts a wire int64 of epoch milliseconds to a number, refusing values past ±2^53. */
function toMs(field: string, value: bigint): number {
  if (
    value > BigInt(Number.MAX_SAFE_INTEGER) ||
    value < BigInt(Number.MIN_SAFE_INTEGER)
  ) {
    throw new InvalidQueryError(
      field,
      `${value} is out of range: give epoch milliseconds within ±${Number.MAX_SAFE_INTEGER}`,
    );
  }
  return Number(value);
}
