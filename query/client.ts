/**
 * A typed client for `murmur.v1.QueryService`: application code gets a
 * `number`, a `{ estimate, lower, upper }` or a `[{ key, count }]` back, not
 * bytes.
 *
 * ```ts ignore
 * import { createQueryClient } from "@murmur/core/query/client";
 *
 * const client = createQueryClient({ baseUrl: "http://localhost:8080" });
 * const views = await client.number("page_views").window("post:42", 7);
 * const { estimate } = await client.cardinality("unique_visitors").get("post:42");
 * const top = await client.topK("top_pages").get("global");
 * ```
 *
 * @module
 */

import {
  Code,
  ConnectError,
  createClient,
  createRouterTransport,
} from "@connectrpc/connect";
import type { Client, Interceptor, Transport } from "@connectrpc/connect";

import {
  createConnectTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-web";
import {
  type Answer,
  QueryService,
  type Value,
} from "../proto/gen/murmur/v1/query_pb.ts";
import type { Coverage, Querier, ReadStats, TimeRange } from "./query.ts";
import { createQueryService } from "../rpc/_query_service.ts";
import type { BloomProbe, CardinalityValue, TopKEntry } from "./typed.ts";
import type { JsonValue } from "../monoid/monoid.ts";
import { parseDuration } from "./_duration.ts";

export type {
  BloomProbe,
  CardinalityValue,
  Coverage,
  ReadStats,
  TimeRange,
  TopKEntry,
};

/** Options for {@linkcode createQueryClient}. */
export interface QueryClientOptions {
  /** The server's base URL, e.g. `"http://localhost:8080"`. */
  readonly baseUrl: string;
  /** A bearer token sent as `Authorization: Bearer <token>`. Default: none. */
  readonly token?: string;
  /** The wire protocol. Default: `"connect"`. */
  readonly protocol?: "connect" | "grpc-web";
  /** Use the binary Protobuf format rather than JSON. Default: `true`. */
  readonly binary?: boolean;
  /** Send side-effect-free Connect calls as HTTP GET (cacheable). Default: `false`. */
  readonly httpGet?: boolean;
  /** A default timeout per call in milliseconds. Default: none. */
  readonly timeoutMs?: number;
  /** The fetch implementation. Default: `globalThis.fetch`. */
  readonly fetch?: typeof globalThis.fetch;
}

/** Options for one read. */
export interface ClientReadOptions {
  /** Read the store directly, skipping the server's cache. Default: `false`. */
  readonly freshRead?: boolean;
  /** Cancels the call. */
  readonly signal?: AbortSignal;
  /** A timeout for this call in milliseconds. */
  readonly timeoutMs?: number;
}

/** Options for window reads. */
export interface ClientWindowOptions extends ClientReadOptions {
  /** The reference time in epoch ms; the server's clock when absent. */
  readonly at?: number;
}

/** What a read covers: the all-time value, the last N buckets or a range. */
export type ReadQuery =
  | { readonly entity: string }
  | { readonly entity: string; readonly last: number; readonly at?: number }
  | {
    readonly entity: string;
    /** A trailing span: ms, or e.g. `"24h"`, `"7d"`. */
    readonly trailing: number | string;
    readonly at?: number;
  }
  | { readonly entity: string; readonly range: TimeRange };

/**
 * A full answer: the typed value plus whether data was present, what it
 * covers, the canonical bytes and how the server read it.
 *
 * @typeParam T The typed value.
 */
export interface Reading<T> {
  /** The typed value (the monoid's identity when nothing was present). */
  readonly value: T;
  /** False means "no data", which is not a zero. */
  readonly present: boolean;
  /** What the answer covers. */
  readonly coverage: Coverage;
  /** The canonical bytes of the value (empty when not present). */
  readonly bytes: Uint8Array;
  /** The codec's byte format, e.g. `"hyll"`. */
  readonly format: string;
  /** How the server read it. */
  readonly stats: ReadStats;
}

/**
 * Reads one pipeline, decoding every answer to `T`.
 *
 * @typeParam T The typed value.
 * @typeParam O Extra options (Bloom readers take probe items).
 */
export interface PipelineReader<T, O = unknown> {
  /** The pipeline's name. */
  readonly pipeline: string;
  /** The all-time value of an unwindowed pipeline. */
  get(entity: string, options?: ClientReadOptions & O): Promise<T>;
  /** All-time values of many entities, in their order. */
  getMany(
    entities: readonly string[],
    options?: ClientReadOptions & O,
  ): Promise<T[]>;
  /** The merge of the last `last` buckets. */
  window(
    entity: string,
    last: number,
    options?: ClientWindowOptions & O,
  ): Promise<T>;
  /** The merge of the last `last` buckets of many entities, in their order. */
  windowMany(
    entities: readonly string[],
    last: number,
    options?: ClientWindowOptions & O,
  ): Promise<T[]>;
  /**
   * The merge of the buckets overlapping the trailing `duration` up to
   * `at` (default: the server's now): ms, or e.g. `"24h"`, `"7d"`.
   */
  trailing(
    entity: string,
    duration: number | string,
    options?: ClientWindowOptions & O,
  ): Promise<T>;
  /** The trailing `duration` of many entities, in their order. */
  trailingMany(
    entities: readonly string[],
    duration: number | string,
    options?: ClientWindowOptions & O,
  ): Promise<T[]>;
  /** The merge of the buckets overlapping `[startMs, endMs)`. */
  range(
    entity: string,
    range: TimeRange,
    options?: ClientReadOptions & O,
  ): Promise<T>;
  /** The merge of the buckets overlapping `[startMs, endMs)` of many entities, in their order. */
  rangeMany(
    entities: readonly string[],
    range: TimeRange,
    options?: ClientReadOptions & O,
  ): Promise<T[]>;
  /** The full answer for one entity: value, presence, coverage, bytes. */
  read(query: ReadQuery, options?: ClientReadOptions & O): Promise<Reading<T>>;
}

/** A Bloom filter answer: the membership of the probed items and the filter's shape. */
export interface BloomValue {
  /** One result per probe, in the order given. */
  readonly probes: readonly BloomProbe[];
  /** The filter's size in bits. */
  readonly bits: number;
  /** The number of hash functions. */
  readonly hashes: number;
  /** An estimate of how many distinct items were added. */
  readonly estimatedItems: number;
}

/** Options of top-K reads. */
export interface TopKOptions {
  /**
   * How many entries to report, heaviest first; at least 1. Default: the
   * pipeline's own count (a `topN()` pipeline's `n`), or every tracked item
   * when it sets none.
   */
  readonly top?: number;
}

/** Options of Bloom reads. */
export interface BloomOptions {
  /** Items to test for membership. */
  readonly probes?: readonly string[];
}

/** Reads a Bloom filter pipeline; `mightContain` answers one membership question. */
export interface BloomReader extends PipelineReader<BloomValue, BloomOptions> {
  /**
   * Tests one item against one entity's filter (all-time, last N buckets or a range).
   *
   * @returns `false` when the item is definitely absent, `true` when probably present.
   */
  mightContain(
    entity: string,
    item: string,
    scope?: { readonly last: number; readonly at?: number } | {
      readonly range: TimeRange;
    },
    options?: ClientReadOptions,
  ): Promise<boolean>;
}

/** A typed client for `murmur.v1.QueryService`. */
export interface QueryClient {
  /**
   * Reads a numeric pipeline (sum, count, min, max, …) as `number`. A sum or
   * count with no data reads as `0`; a min or max with no data has no number
   * at all and throws a `TypeError`: read those with `optionalNumber`.
   */
  number(pipeline: string): PipelineReader<number>;
  /** Reads a numeric pipeline as `number`, or `null` where a min, max, first or last has no value. */
  optionalNumber(pipeline: string): PipelineReader<number | null>;
  /** Reads a HyperLogLog pipeline as `{ estimate, lower, upper, confidence }`. */
  cardinality(pipeline: string): PipelineReader<CardinalityValue>;
  /**
   * Reads a top-K pipeline as `[{ key, count }]`, heaviest first: the
   * pipeline's own count of entries unless `top` asks for another.
   */
  topK(pipeline: string): PipelineReader<TopKEntry[], TopKOptions>;
  /** Reads a Bloom filter pipeline and tests membership. */
  bloom(pipeline: string): BloomReader;
  /** Reads any pipeline as its codec's JSON form. */
  json(pipeline: string): PipelineReader<JsonValue>;
}

/**
 * Creates a typed query client over Connect (or gRPC-Web) with fetch.
 *
 * @param options Where the server is and how to talk to it.
 * @returns The client.
 * @throws {ConnectError} From reads: `NotFound` for an unknown pipeline,
 * `InvalidArgument` for bad input, `FailedPrecondition` for a window read of
 * an unwindowed pipeline; a `TypeError` when the pipeline's values are not of
 * the kind the reader decodes.
 *
 * @example Usage
 * ```ts
 * import { createQueryClient } from "@murmur/core/query/client";
 * import { createHandler } from "@murmur/core/admin";
 * import { sum } from "@murmur/core/monoid";
 * import { MemoryStore } from "@murmur/core/state";
 * import assert from "node:assert/strict";
 *
 * const store = new MemoryStore();
 * const likes = { name: "likes", monoid: sum(), window: null, store };
 * await store.merge({ namespace: "likes", monoid: sum() }, [
 *   { key: { entity: "post:1", bucket: null }, value: 9 },
 * ]);
 * // In process for the example; normally just { baseUrl: "http://host:8080" }.
 * await using handler = createHandler({ pipelines: [likes] });
 * const client = createQueryClient({
 *   baseUrl: "http://localhost:8080",
 *   fetch: (input, init) => handler(new Request(input, init)),
 * });
 * assert.equal(await client.number("likes").get("post:1"), 9);
 * ```
 */
export function createQueryClient(options: QueryClientOptions): QueryClient {
  const interceptors: Interceptor[] = [];
  if (options.token !== undefined) {
    const header = `Bearer ${options.token}`;
    interceptors.push((next) => (req) => {
      req.header.set("Authorization", header);
      return next(req);
    });
  }
  return clientOver(makeTransport(options, interceptors));
}

/**
 * Creates the same typed client over a querier in this process: the same
 * readers and the same typed values (an HLL reads as `{ estimate, lower,
 * upper, confidence }`, a top-K as `[{ key, count }]`) as over the network,
 * through the same service code, without a server.
 *
 * @param querier The querier to read.
 * @returns The client.
 *
 * @example Usage
 * ```ts
 * import { createLocalQueryClient } from "@murmur/core/query/client";
 * import { createQuerier } from "@murmur/core/query";
 * import { hll } from "@murmur/core/sketch";
 * import { MemoryStore } from "@murmur/core/state";
 * import assert from "node:assert/strict";
 *
 * const store = new MemoryStore();
 * const visitors = { name: "visitors", monoid: hll(), window: null, store };
 * const sketch = hll().identity();
 * for (let i = 0; i < 100; i++) sketch.add(`user-${i}`);
 * await store.merge({ namespace: "visitors", monoid: hll() }, [
 *   { key: { entity: "home", bucket: null }, value: sketch },
 * ]);
 * const client = createLocalQueryClient(createQuerier([visitors]));
 * const { estimate, lower, upper } = await client.cardinality("visitors").get("home");
 * assert.ok(lower <= 100 && 100 <= upper && Math.abs(estimate - 100) < 5);
 * ```
 */
export function createLocalQueryClient(querier: Querier): QueryClient {
  return clientOver(
    createRouterTransport((router) =>
      router.service(QueryService, createQueryService(querier))
    ),
  );
}

function clientOver(transport: Transport): QueryClient {
  const raw = createClient(QueryService, transport);
  const reader = <T, O>(
    pipeline: string,
    decode: (value: Value | undefined, pipeline: string) => T,
    extra: (options: O | undefined) => ExtraFields = () => ({}),
  ): PipelineReader<T, O> => readerFor(raw, pipeline, decode, extra);
  return {
    number: (pipeline) => reader(pipeline, decodeNumber),
    optionalNumber: (pipeline) => reader(pipeline, decodeOptionalNumber),
    cardinality: (pipeline) => reader(pipeline, decodeCardinality),
    topK: (pipeline) =>
      reader<TopKEntry[], TopKOptions>(
        pipeline,
        decodeTopK,
        (o) => (o?.top === undefined ? {} : { top: o.top }),
      ),
    json: (pipeline) => reader(pipeline, decodeJson),
    bloom: (pipeline) => {
      const base = reader<BloomValue, BloomOptions>(
        pipeline,
        decodeBloom,
        (o) => ({ probes: [...(o?.probes ?? [])] }),
      );
      return {
        ...base,
        async mightContain(entity, item, scope, callOptions) {
          const query: ReadQuery = scope === undefined
            ? { entity }
            : "range" in scope
            ? { entity, range: scope.range }
            : { entity, ...scope };
          const reading = await base.read(query, {
            ...callOptions,
            probes: [item],
          });
          return reading.value.probes[0]?.mightContain === true;
        },
      };
    },
  };
}

function makeTransport(
  options: QueryClientOptions,
  interceptors: Interceptor[],
): Transport {
  const common = {
    baseUrl: options.baseUrl,
    useBinaryFormat: options.binary ?? true,
    interceptors,
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    ...(options.timeoutMs === undefined
      ? {}
      : { defaultTimeoutMs: options.timeoutMs }),
  };
  return options.protocol === "grpc-web"
    ? createGrpcWebTransport(common)
    : createConnectTransport({
      ...common,
      useHttpGet: options.httpGet ?? false,
    });
}

function readerFor<T, O>(
  raw: Client<typeof QueryService>,
  pipeline: string,
  decode: (value: Value | undefined, pipeline: string) => T,
  extra: (options: O | undefined) => ExtraFields,
): PipelineReader<T, O> {
  const call = (options: (ClientReadOptions & O) | undefined) => ({
    ...(options?.signal === undefined ? {} : { signal: options.signal }),
    ...(options?.timeoutMs === undefined
      ? {}
      : { timeoutMs: options.timeoutMs }),
  });
  const base = (options: (ClientReadOptions & O) | undefined) => ({
    pipeline,
    freshRead: options?.freshRead ?? false,
    ...extra(options),
  });
  const at = (options: ClientWindowOptions | undefined) =>
    options?.at === undefined ? {} : { atMs: BigInt(options.at) };
  const ms = (range: TimeRange) => ({
    startMs: BigInt(range.startMs),
    endMs: BigInt(range.endMs),
  });
  const one = (answer: Answer | undefined) => decode(answer?.value, pipeline);
  const all = (answers: Answer[]) =>
    answers.map((answer) => decode(answer.value, pipeline));
  return {
    pipeline,
    async get(entity, options) {
      const res = await raw.get({ ...base(options), entity }, call(options));
      return one(res.answer);
    },
    async getMany(entities, options) {
      const res = await raw.getMany(
        { ...base(options), entities: [...entities] },
        call(options),
      );
      return all(res.answers);
    },
    async window(entity, last, options) {
      const res = await raw.getWindow(
        { ...base(options), entity, last, ...at(options) },
        call(options),
      );
      return one(res.answer);
    },
    async windowMany(entities, last, options) {
      const res = await raw.getWindowMany(
        { ...base(options), entities: [...entities], last, ...at(options) },
        call(options),
      );
      return all(res.answers);
    },
    async trailing(entity, duration, options) {
      const res = await raw.getWindow(
        {
          ...base(options),
          entity,
          durationMs: BigInt(parseDuration(duration)),
          ...at(options),
        },
        call(options),
      );
      return one(res.answer);
    },
    async trailingMany(entities, duration, options) {
      const res = await raw.getWindowMany(
        {
          ...base(options),
          entities: [...entities],
          durationMs: BigInt(parseDuration(duration)),
          ...at(options),
        },
        call(options),
      );
      return all(res.answers);
    },
    async range(entity, range, options) {
      const res = await raw.getRange(
        { ...base(options), entity, ...ms(range) },
        call(options),
      );
      return one(res.answer);
    },
    async rangeMany(entities, range, options) {
      const res = await raw.getRangeMany(
        { ...base(options), entities: [...entities], ...ms(range) },
        call(options),
      );
      return all(res.answers);
    },
    async read(query, options) {
      let answer: Answer | undefined;
      if ("range" in query) {
        answer = (await raw.getRange(
          { ...base(options), entity: query.entity, ...ms(query.range) },
          call(options),
        )).answer;
      } else if ("trailing" in query) {
        answer = (await raw.getWindow(
          {
            ...base(options),
            entity: query.entity,
            durationMs: BigInt(parseDuration(query.trailing)),
            ...(query.at === undefined ? {} : { atMs: BigInt(query.at) }),
          },
          call(options),
        )).answer;
      } else if ("last" in query) {
        answer = (await raw.getWindow(
          {
            ...base(options),
            entity: query.entity,
            last: query.last,
            ...(query.at === undefined ? {} : { atMs: BigInt(query.at) }),
          },
          call(options),
        )).answer;
      } else {
        answer = (await raw.get(
          { ...base(options), entity: query.entity },
          call(options),
        )).answer;
      }
      if (answer === undefined) {
        throw new ConnectError("the server sent no answer", Code.Internal);
      }
      return readingOf(answer, decode(answer.value, pipeline));
    },
  };
}

/** Request fields a reader adds to every call: Bloom probes, a top-K count. */
interface ExtraFields {
  probes?: string[];
  top?: number;
}

function readingOf<T>(answer: Answer, value: T): Reading<T> {
  const coverage = answer.coverage;
  const allTime = coverage?.allTime ?? true;
  const granularity = coverage?.granularity;
  return {
    value,
    present: answer.present,
    bytes: answer.data,
    format: answer.format,
    coverage: {
      allTime,
      granularity: granularity === "minute" || granularity === "hour" ||
          granularity === "day"
        ? granularity
        : null,
      startMs: allTime ? null : Number(coverage?.startMs ?? 0n),
      endMs: allTime ? null : Number(coverage?.endMs ?? 0n),
      buckets: (coverage?.buckets ?? []).map(Number),
      presentBuckets: (coverage?.presentBuckets ?? []).map(Number),
    },
    stats: {
      keys: answer.stats?.keys ?? 0,
      cacheHits: answer.stats?.cacheHits ?? 0,
      storeReads: answer.stats?.storeReads ?? 0,
      coalesced: answer.stats?.coalesced ?? false,
    },
  };
}

function mismatch(pipeline: string, wanted: string, value: Value | undefined) {
  const got = value?.kind.case ?? "nothing";
  return new TypeError(
    `pipeline ${
      JSON.stringify(pipeline)
    } answers ${got} values, not ${wanted}: use the matching reader (number, cardinality, topK, bloom or json)`,
  );
}

function decodeNumber(value: Value | undefined, pipeline: string): number {
  const number = decodeOptionalNumber(value, pipeline);
  if (number === null) {
    throw new TypeError(
      `pipeline ${
        JSON.stringify(pipeline)
      } has no value here (its monoid's identity is "not set", e.g. a max with no data): read it with optionalNumber() to get null instead`,
    );
  }
  return number;
}

function decodeOptionalNumber(
  value: Value | undefined,
  pipeline: string,
): number | null {
  if (value?.kind.case === "number") return value.kind.value;
  if (value?.kind.case === "integer") return Number(value.kind.value);
  if (value?.kind.case === undefined) return null;
  throw mismatch(pipeline, "numbers", value);
}

function decodeCardinality(
  value: Value | undefined,
  pipeline: string,
): CardinalityValue {
  if (value?.kind.case !== "cardinality") {
    throw mismatch(pipeline, "cardinalities", value);
  }
  const { estimate, lower, upper, confidence } = value.kind.value;
  return { estimate, lower, upper, confidence };
}

function decodeTopK(value: Value | undefined, pipeline: string): TopKEntry[] {
  if (value?.kind.case !== "topK") {
    throw mismatch(pipeline, "top-K lists", value);
  }
  return value.kind.value.entries.map(({ key, count }) => ({ key, count }));
}

function decodeBloom(value: Value | undefined, pipeline: string): BloomValue {
  if (value?.kind.case !== "bloom") {
    throw mismatch(pipeline, "Bloom filters", value);
  }
  const bloom = value.kind.value;
  return {
    probes: bloom.probes.map(({ item, mightContain }) => ({
      item,
      mightContain,
    })),
    bits: Number(bloom.bits),
    hashes: bloom.hashes,
    estimatedItems: bloom.estimatedItems,
  };
}

function decodeJson(value: Value | undefined, pipeline: string): JsonValue {
  switch (value?.kind.case) {
    case undefined:
      return null;
    case "json":
      return JSON.parse(value.kind.value) as JsonValue;
    case "number":
      return value.kind.value;
    case "integer":
      return value.kind.value.toString();
    case "cardinality":
      return { ...decodeCardinality(value, pipeline) };
    case "topK":
      return decodeTopK(value, pipeline).map((entry) => ({ ...entry }));
    case "bloom": {
      const bloom = decodeBloom(value, pipeline);
      return { ...bloom, probes: bloom.probes.map((probe) => ({ ...probe })) };
    }
  }
}
