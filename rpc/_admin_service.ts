// The Connect implementation of murmur.admin.v1.AdminService over a registry and a querier.

import { create } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createClient,
  type ServiceImpl,
} from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import type { Querier } from "../query/mod.ts";
import { QueryService } from "../proto/gen/murmur/v1/query_pb.ts";
import { dispatchRead, type ReadScope } from "./_answer.ts";
import type { CallContext } from "./_unary.ts";
import {
  type AdminService,
  type MetricsSnapshot,
  type QueryRequest,
  QueryResponseSchema,
  WatchMetricsResponseSchema,
} from "../proto/gen/murmur/admin/v1/admin_pb.ts";
import type { Registry } from "../admin/_registry.ts";
import { delay } from "../internal/async.ts";
import denoJson from "../deno.json" with { type: "json" };

/** The package version the server reports. */
export const VERSION: string = denoJson.version;

/** Options for {@linkcode createAdminService}. */
export interface AdminServiceOptions {
  /** Whether requests need a bearer token (reported by `Health`). Default: `false`. */
  readonly authRequired?: boolean;
  /** The clock, in epoch ms. Default: `Date.now`. */
  readonly now?: () => number;
  /** Most samples of history one `GetMetrics` returns. Default: 600. */
  readonly maxHistory?: number;
  /** Most pipelines one worker may register. Default: 1000. */
  readonly maxWorkerPipelines?: number;
  /** Most Bloom probe items per console query. Default: 100. */
  readonly maxProbes?: number;
  /** The fetch used to forward queries to workers. Default: `globalThis.fetch`. */
  readonly fetch?: typeof globalThis.fetch;
}

/**
 * Implements `murmur.admin.v1.AdminService`: lists and describes pipelines,
 * answers and streams metrics, runs console queries (locally, or forwarded to
 * the worker that registered the pipeline with a query URL), and takes
 * worker registrations and metric pushes.
 *
 * @param registry What the server knows.
 * @param querier Reads local pipelines.
 * @param options Auth flag, clock and limits.
 * @returns The service implementation.
 */
export function createAdminService(
  registry: Registry,
  querier: Querier,
  options: AdminServiceOptions = {},
): ServiceImpl<typeof AdminService> {
  const now = options.now ?? Date.now;
  const started = now();
  const maxHistory = options.maxHistory ?? 600;
  const maxPipelines = options.maxWorkerPipelines ?? 1000;
  const clients = new Map<string, ReturnType<typeof queryClient>>();
  const queryClient = (baseUrl: string) =>
    createClient(
      QueryService,
      createConnectTransport({
        baseUrl,
        useBinaryFormat: true,
        ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
      }),
    );
  const known = (name: string) =>
    registry.describe(name) !== undefined ||
    registry.latest(name).length > 0;

  return {
    health() {
      return {
        status: "ok",
        version: VERSION,
        uptimeMs: BigInt(now() - started),
        authRequired: options.authRequired ?? false,
      };
    },

    listPipelines() {
      return { pipelines: registry.list() };
    },

    describePipeline(req) {
      const description = registry.describe(req.name);
      if (description === undefined) throw notFound(req.name, registry);
      return { pipeline: description };
    },

    getMetrics(req) {
      if (req.pipeline !== "" && !known(req.pipeline)) {
        throw notFound(req.pipeline, registry);
      }
      const history = Math.min(req.history, maxHistory);
      return {
        pipelines: registry.latest(req.pipeline).map((latest) => ({
          pipeline: latest.pipeline,
          latest,
          history: registry.history(latest.pipeline, history),
        })),
      };
    },

    async *watchMetrics(req, context) {
      if (req.pipeline !== "" && !known(req.pipeline)) {
        throw notFound(req.pipeline, registry);
      }
      const interval = req.intervalMs === 0
        ? 1000
        : Math.min(60_000, Math.max(250, req.intervalMs));
      while (!context.signal.aborted) {
        const snapshots: MetricsSnapshot[] = registry.latest(req.pipeline);
        yield create(WatchMetricsResponseSchema, { snapshots });
        await delay(interval, context.signal).catch(() => {});
      }
    },

    async query(req, context: CallContext) {
      const began = performance.now();
      const answer = await runQuery(req, context);
      return create(QueryResponseSchema, {
        answer,
        elapsedMs: performance.now() - began,
      });
    },

    registerWorker(req) {
      checkWorker(req.worker);
      if (req.pipelines.length > maxPipelines) {
        throw new ConnectError(
          `pipelines: ${req.pipelines.length} registered; at most ${maxPipelines} per worker`,
          Code.InvalidArgument,
        );
      }
      if (req.queryUrl !== "" && !/^https?:\/\/[^\s]+$/.test(req.queryUrl)) {
        throw new ConnectError(
          `query_url: ${
            JSON.stringify(req.queryUrl)
          } is not an http(s) URL; give e.g. "http://worker-1:8080" or leave it empty`,
          Code.InvalidArgument,
        );
      }
      for (const pipeline of req.pipelines) {
        if ((pipeline.info?.name ?? "") === "") {
          throw new ConnectError(
            "pipelines: every pipeline needs info.name",
            Code.InvalidArgument,
          );
        }
      }
      const leaseMs = registry.register(
        req.worker,
        req.pipelines,
        req.queryUrl.replace(/\/$/, ""),
      );
      return { leaseMs: BigInt(leaseMs) };
    },

    reportMetrics(req) {
      checkWorker(req.worker);
      return {
        known: registry.report(req.worker, req.snapshots),
        leaseMs: BigInt(registry.workerLeaseMs),
      };
    },

    deregisterWorker(req) {
      checkWorker(req.worker);
      registry.deregister(req.worker);
      return {};
    },
  };

  async function runQuery(req: QueryRequest, context: CallContext) {
    if (!querier.pipelines.some((p) => p.name === req.pipeline)) {
      return await forward(req, context);
    }
    const scope: ReadScope = req.scope.case === "window"
      ? {
        case: "window",
        last: req.scope.value.last,
        atMs: req.scope.value.atMs,
        durationMs: req.scope.value.durationMs,
      }
      : req.scope.case === "range"
      ? {
        case: "range",
        startMs: req.scope.value.startMs,
        endMs: req.scope.value.endMs,
      }
      : { case: "all" };
    const [answer] = await dispatchRead(
      querier,
      {
        pipeline: req.pipeline,
        entities: [req.entity],
        single: true,
        scope,
        freshRead: req.freshRead,
        probes: req.probes,
        top: req.top,
      },
      context.signal,
      { maxProbes: options.maxProbes ?? 100 },
    );
    return answer;
  }

  async function forward(req: QueryRequest, context: CallContext) {
    const url = registry.queryUrlOf(req.pipeline);
    if (url === undefined) {
      const workers = registry.workersOf(req.pipeline);
      if (workers.length === 0) throw notFound(req.pipeline, registry);
      throw new ConnectError(
        `pipeline ${JSON.stringify(req.pipeline)} runs in ${
          workers.join(", ")
        }, which registered no query URL (or is offline): start its worker with a queryUrl to query it from here`,
        Code.FailedPrecondition,
      );
    }
    let client = clients.get(url);
    if (client === undefined) {
      client = queryClient(url);
      clients.set(url, client);
    }
    const authorization = context.requestHeader.get("Authorization");
    const call = {
      signal: context.signal,
      ...(authorization === null
        ? {}
        : { headers: { Authorization: authorization } }),
    };
    const common = {
      pipeline: req.pipeline,
      entity: req.entity,
      freshRead: req.freshRead,
      probes: req.probes,
      ...(req.top === undefined ? {} : { top: req.top }),
    };
    switch (req.scope.case) {
      case "window":
        return (await client.getWindow({
          ...common,
          last: req.scope.value.last,
          ...(req.scope.value.atMs === undefined
            ? {}
            : { atMs: req.scope.value.atMs }),
          ...(req.scope.value.durationMs === undefined
            ? {}
            : { durationMs: req.scope.value.durationMs }),
        }, call)).answer;
      case "range":
        return (await client.getRange({
          ...common,
          startMs: req.scope.value.startMs,
          endMs: req.scope.value.endMs,
        }, call)).answer;
      default:
        return (await client.get(common, call)).answer;
    }
  }
}

function checkWorker(worker: string): void {
  if (worker === "" || worker.length > 200) {
    throw new ConnectError(
      'worker: give a non-empty id of at most 200 characters, e.g. "worker-1@host:pid"',
      Code.InvalidArgument,
    );
  }
}

function notFound(name: string, registry: Registry): ConnectError {
  const names = registry.list().map((p) => JSON.stringify(p.name));
  return new ConnectError(
    `unknown pipeline ${JSON.stringify(name)} (${
      names.length === 0 ? "none are registered" : `known: ${names.join(", ")}`
    })`,
    Code.NotFound,
  );
}
