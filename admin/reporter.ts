// The worker side of the control plane: register pipelines with a remote admin server and push their metrics.

import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { AdminService } from "../proto/gen/murmur/admin/v1/admin_pb.ts";
import { describeLocal, fromSnapshot } from "./_registry.ts";
import type { AdminPipeline, MetricsSource } from "./server.ts";

/** Options for {@linkcode reportToAdmin}. */
export interface ReportToAdminOptions {
  /** The admin server's base URL, e.g. `"http://admin:8080"`. */
  readonly adminUrl: string;
  /** The pipelines this worker runs. */
  readonly pipelines: Iterable<AdminPipeline>;
  /** Their live metrics, e.g. the `InMemoryMetrics` given to `run()`. */
  readonly metrics?: MetricsSource;
  /** A bearer token the admin server accepts. */
  readonly token?: string;
  /** This worker's id. Default: `"<hostname>:<pid>"`. */
  readonly worker?: string;
  /** Base URL of a query service that reads these pipelines, so the admin console can query them. */
  readonly queryUrl?: string;
  /** How often to push metrics, in ms. Default: 2000. */
  readonly intervalMs?: number;
  /** The fetch implementation. Default: `globalThis.fetch`. */
  readonly fetch?: typeof globalThis.fetch;
  /** Called with every failed call (they are retried with backoff). Default: ignore. */
  readonly onError?: (error: unknown) => void;
}

/** A running reporter. */
export interface AdminReporter {
  /** The worker id in use. */
  readonly worker: string;
  /** Resolves once the first registration succeeded; rejects if closed before. */
  readonly ready: Promise<void>;
  /**
   * Pushes metrics now (registering first if needed).
   *
   * @returns A promise that resolves when the admin server acknowledged.
   */
  reportNow(): Promise<void>;
  /**
   * Stops reporting and deregisters (best effort, 2 s at most).
   *
   * @returns A promise that resolves when stopped.
   */
  close(): Promise<void>;
  /** Same as {@linkcode AdminReporter.close}. */
  [Symbol.asyncDispose](): Promise<void>;
}

function defaultWorker(): string {
  let host = "worker";
  try {
    host = Deno.hostname();
  } catch {
    // Without --allow-sys the hostname stays generic; the pid tells workers apart.
  }
  return `${host}:${Deno.pid}`;
}

/**
 * Registers this process's pipelines with an admin server in another process
 * and keeps pushing their metrics, so one admin UI shows every worker.
 *
 * Registration carries each pipeline's summary and DAG (and the worker's
 * query URL, if any); pushes run every `intervalMs`, and when the admin
 * server answers that it does not know the worker (it restarted), the
 * worker registers again. Failures are retried with backoff, never thrown.
 *
 * @param options Where the admin server is, what to report, and how often.
 * @returns The running reporter; `close()` it on shutdown.
 *
 * @example Usage
 * ```ts ignore
 * import { reportToAdmin } from "@murmur/core/admin";
 * import { InMemoryMetrics, run } from "@murmur/core/streaming";
 *
 * const metrics = new InMemoryMetrics();
 * await using reporter = reportToAdmin({
 *   adminUrl: "http://admin:8080",
 *   token: Deno.env.get("MURMUR_ADMIN_TOKEN"),
 *   pipelines: [pageViews],
 *   metrics,
 * });
 * await run(pageViews, { metrics });
 * ```
 */
export function reportToAdmin(options: ReportToAdminOptions): AdminReporter {
  const worker = options.worker ?? defaultWorker();
  const pipelines = [...options.pipelines];
  const names = new Set(pipelines.map((p) => p.name));
  const interval = options.intervalMs ?? 2000;
  const client = createClient(
    AdminService,
    createConnectTransport({
      baseUrl: options.adminUrl.replace(/\/$/, ""),
      useBinaryFormat: true,
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    }),
  );
  const callOptions = () => ({
    timeoutMs: 5000,
    ...(options.token === undefined
      ? {}
      : { headers: { Authorization: `Bearer ${options.token}` } }),
  });
  let registered = false;
  let closed = false;
  let failures = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let inflight: Promise<void> = Promise.resolve();
  const { promise: ready, resolve: isReady, reject: neverReady } = Promise
    .withResolvers<void>();
  ready.catch(() => {});

  const register = async () => {
    await client.registerWorker({
      worker,
      queryUrl: options.queryUrl ?? "",
      pipelines: pipelines.map((p) => describeLocal(p, Date.now(), worker)),
    }, callOptions());
    registered = true;
    isReady();
  };
  const push = async () => {
    if (!registered) await register();
    const snapshots = (options.metrics?.snapshots() ?? [])
      .filter((s) => names.has(s.pipeline))
      .map((s) => fromSnapshot(s, worker));
    const res = await client.reportMetrics(
      { worker, snapshots },
      callOptions(),
    );
    if (!res.known) {
      registered = false;
      await register();
      await client.reportMetrics({ worker, snapshots }, callOptions());
    }
  };
  const tick = async () => {
    timer = undefined;
    if (closed) return;
    try {
      await push();
      failures = 0;
    } catch (error) {
      failures++;
      options.onError?.(error);
    }
    if (closed) return;
    const delay = failures === 0
      ? interval
      : Math.min(30_000, interval * 2 ** Math.min(failures, 5));
    const next = setTimeout(() => {
      inflight = tick();
    }, delay);
    Deno.unrefTimer(next);
    timer = next;
  };
  inflight = tick();

  const close = async () => {
    if (closed) return;
    closed = true;
    if (timer !== undefined) clearTimeout(timer);
    await inflight;
    neverReady(new Error(`reporter for ${worker} closed before registering`));
    if (registered) {
      try {
        await client.deregisterWorker({ worker }, {
          ...callOptions(),
          timeoutMs: 2000,
        });
      } catch (error) {
        options.onError?.(error);
      }
    }
  };
  return {
    worker,
    ready,
    reportNow: async () => {
      await inflight;
      await push();
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
