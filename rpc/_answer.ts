// The one request dispatch (request → validated read → wire answers) that QueryService and AdminService.Query share, with the wire form of answers and errors.

import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  type Answer,
  type Value,
  ValueSchema,
} from "../proto/gen/murmur/v1/query_pb.ts";
import {
  InvalidQueryError,
  PipelineNotFoundError,
  type Querier,
  type QueryAnswer,
  type QueryTarget,
  type TypedValue,
  typedValue,
  WindowMismatchError,
} from "../query/mod.ts";
import { EntityRejectedError } from "../state/mod.ts";

/** What to cover: all-time, the last N buckets or a trailing span, or a range. */
export type ReadScope =
  | { readonly case: "all" }
  | {
    readonly case: "window";
    readonly last: number;
    readonly atMs?: bigint | undefined;
    readonly durationMs?: bigint | undefined;
  }
  | {
    readonly case: "range";
    readonly startMs: bigint;
    readonly endMs: bigint;
  };

/** One read as any RPC asks for it, before validation. */
export interface ReadRequest {
  /** The pipeline's name. */
  readonly pipeline: string;
  /** The entities, in answer order. */
  readonly entities: readonly string[];
  /** Whether the RPC names one entity (error messages say `entity`). */
  readonly single: boolean;
  /** What to cover. */
  readonly scope: ReadScope;
  /** Skip the cache and coalescing. */
  readonly freshRead: boolean;
  /** Bloom probe items. */
  readonly probes: readonly string[];
  /** Top-K entries to report; unset: the pipeline's own. */
  readonly top?: number | undefined;
}

/** Limits of the wire layer on top of the querier's. */
export interface DispatchLimits {
  /** Most Bloom probe items per request. Default: 100. */
  readonly maxProbes?: number;
}

/**
 * The one request dispatch: validates a read request (probe limit, top-K
 * count, epoch-ms ranges, the store's entity byte limit inside the querier,
 * the querier's own limits), reads and converts the answers to their wire
 * form. Every failure comes out as a `ConnectError` with the matching code.
 *
 * @param querier The querier.
 * @param req The request.
 * @param signal Aborts the wait (a shared read goes on for the others).
 * @param limits Wire-layer limits.
 * @returns One answer per entity, in request order.
 */
export async function dispatchRead(
  querier: Querier,
  req: ReadRequest,
  signal: AbortSignal | undefined,
  limits: DispatchLimits = {},
): Promise<Answer[]> {
  try {
    const maxProbes = limits.maxProbes ?? 100;
    if (req.probes.length > maxProbes) {
      throw new InvalidQueryError(
        "probes",
        `${req.probes.length} probe items; at most ${maxProbes} per request`,
      );
    }
    const shown: AnswerMessageOptions = {
      probes: req.probes,
      ...checkTop(req.top),
    };
    const target = querier.target(req.pipeline);
    const options = {
      freshRead: req.freshRead,
      ...(signal === undefined ? {} : { signal }),
    };
    const scope = req.scope;
    const one = req.single;
    const entity = req.entities[0] ?? "";
    let answers: QueryAnswer<unknown>[];
    if (scope.case === "window") {
      const windowOptions = scope.atMs === undefined
        ? options
        : { ...options, at: toMs("atMs", scope.atMs) };
      if (scope.durationMs !== undefined) {
        if (scope.last !== 0) {
          throw new InvalidQueryError(
            "durationMs",
            `both last (${scope.last}) and durationMs are set: give one of them`,
          );
        }
        const duration = toMs("durationMs", scope.durationMs);
        answers = one
          ? [await querier.getTrailing(target, entity, duration, windowOptions)]
          : await querier.getTrailingMany(
            target,
            req.entities,
            duration,
            windowOptions,
          );
      } else {
        answers = one
          ? [await querier.getWindow(target, entity, scope.last, windowOptions)]
          : await querier.getWindowMany(
            target,
            req.entities,
            scope.last,
            windowOptions,
          );
      }
    } else if (scope.case === "range") {
      const range = {
        startMs: toMs("startMs", scope.startMs),
        endMs: toMs("endMs", scope.endMs),
      };
      answers = one
        ? [await querier.getRange(target, entity, range, options)]
        : await querier.getRangeMany(target, req.entities, range, options);
    } else {
      answers = one
        ? [await querier.get(target, entity, options)]
        : await querier.getMany(target, req.entities, options);
    }
    return answers.map((answer) => toAnswerMessage(target, answer, shown));
  } catch (error) {
    throw toConnectError(error);
  }
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
  const stats = answer.stats;
  // Literal messages (every field set, as create() would): no reflection on
  // the hot path.
  return {
    $typeName: "murmur.v1.Answer",
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
      $typeName: "murmur.v1.Coverage",
      allTime: coverage.allTime,
      granularity: coverage.granularity ?? "",
      startMs: BigInt(coverage.startMs ?? 0),
      endMs: BigInt(coverage.endMs ?? 0),
      buckets: coverage.buckets.map(BigInt),
      presentBuckets: coverage.presentBuckets.map(BigInt),
    },
    stats: {
      $typeName: "murmur.v1.ReadStats",
      keys: stats.keys,
      cacheHits: stats.cacheHits,
      storeReads: stats.storeReads,
      coalesced: stats.coalesced,
    },
  };
}

function topOf(top: number | null | undefined): { top?: number } {
  return top === null || top === undefined ? {} : { top };
}

function toValueMessage(typed: TypedValue): Value {
  switch (typed.type) {
    case "none":
      return { $typeName: "murmur.v1.Value", kind: { case: undefined } };
    case "number":
      return {
        $typeName: "murmur.v1.Value",
        kind: { case: "number", value: typed.value },
      };
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
  if (
    error instanceof InvalidQueryError || error instanceof EntityRejectedError
  ) {
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
