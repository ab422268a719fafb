// Renders pipeline metrics and RPC counters in the Prometheus text exposition format (0.0.4).

import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type {
  MetricsSnapshot,
  PipelineInfo,
} from "../proto/gen/murmur/admin/v1/admin_pb.ts";

interface ProcedureStats {
  readonly codes: Map<string, number>;
  seconds: number;
  count: number;
}

/** Counts RPCs per procedure and outcome, and their total duration. */
export class RpcStats {
  readonly #procedures = new Map<string, ProcedureStats>();

  /** A server interceptor that records every call. */
  readonly interceptor: Interceptor = (next) => async (req) => {
    const procedure = `/${req.service.typeName}/${req.method.name}`;
    const began = performance.now();
    try {
      const res = await next(req);
      this.record(procedure, "ok", performance.now() - began);
      return res;
    } catch (error) {
      this.record(
        procedure,
        codeName(ConnectError.from(error).code),
        performance.now() - began,
      );
      throw error;
    }
  };

  /** Records one call. */
  record(procedure: string, code: string, ms: number): void {
    let stats = this.#procedures.get(procedure);
    if (stats === undefined) {
      stats = { codes: new Map(), seconds: 0, count: 0 };
      this.#procedures.set(procedure, stats);
    }
    stats.codes.set(code, (stats.codes.get(code) ?? 0) + 1);
    stats.seconds += ms / 1000;
    stats.count++;
  }

  /** The recorded procedures, sorted. */
  entries(): [string, ProcedureStats][] {
    return [...this.#procedures.entries()].sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0
    );
  }
}

function codeName(code: Code): string {
  return (Code[code] ?? "unknown").replace(/([a-z])([A-Z])/g, "$1_$2")
    .toLowerCase();
}

function label(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(
    /\n/g,
    "\\n",
  );
}

function num(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/** What {@linkcode renderPrometheus} reports. */
export interface PrometheusInput {
  readonly pipelines: readonly PipelineInfo[];
  readonly snapshots: readonly MetricsSnapshot[];
  readonly rpc: RpcStats;
  readonly uptimeMs: number;
}

/** Renders the exposition text. */
export function renderPrometheus(input: PrometheusInput): string {
  const out: string[] = [];
  const family = (
    name: string,
    type: "counter" | "gauge" | "summary",
    help: string,
    samples: [labels: Record<string, string>, value: number][],
    suffixes?: boolean,
  ) => {
    if (samples.length === 0) return;
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) {
      const entries = Object.entries(labels);
      const suffix = suffixes === true ? labels["__suffix"] ?? "" : "";
      const rendered = entries
        .filter(([key]) => key !== "__suffix")
        .map(([key, v]) => `${key}="${label(v)}"`)
        .join(",");
      out.push(
        `${name}${suffix}${rendered === "" ? "" : `{${rendered}}`} ${
          num(value)
        }`,
      );
    }
  };
  family(
    "murmur_admin_uptime_seconds",
    "gauge",
    "Seconds since the admin server started.",
    [
      [{}, input.uptimeMs / 1000],
    ],
  );
  family(
    "murmur_pipeline_info",
    "gauge",
    "Pipelines the admin server knows, with their shape as labels.",
    input.pipelines.map((p) => [{
      pipeline: p.name,
      monoid: p.monoidKind,
      window: p.window?.granularity ?? "",
      source: p.source,
      store: p.store,
      cache: p.cache,
      worker: p.worker,
    }, 1]),
  );
  family(
    "murmur_pipeline_online",
    "gauge",
    "1 while the pipeline's process reports within its lease.",
    input.pipelines.map((p) => [{ pipeline: p.name }, p.online ? 1 : 0]),
  );
  const per = (pick: (s: MetricsSnapshot) => number | undefined) =>
    input.snapshots.flatMap((s): [Record<string, string>, number][] => {
      const value = pick(s);
      return value === undefined ? [] : [[{ pipeline: s.pipeline }, value]];
    });
  const quantiles = (
    pick: (
      s: MetricsSnapshot,
    ) => { p50: number; p95: number; p99: number } | undefined,
  ) =>
    input.snapshots.flatMap((s): [Record<string, string>, number][] => {
      const q = pick(s);
      if (q === undefined) return [];
      return [
        [{ pipeline: s.pipeline, quantile: "0.5" }, q.p50],
        [{ pipeline: s.pipeline, quantile: "0.95" }, q.p95],
        [{ pipeline: s.pipeline, quantile: "0.99" }, q.p99],
      ];
    });
  family(
    "murmur_events_total",
    "counter",
    "Records read from the source.",
    per((s) => s.eventsIn),
  );
  family(
    "murmur_events_per_second",
    "gauge",
    "Recent records read per second.",
    per((s) => s.eventsPerSecond),
  );
  family(
    "murmur_merges_total",
    "counter",
    "Store merge calls.",
    per((s) => s.merges),
  );
  family(
    "murmur_merges_per_second",
    "gauge",
    "Recent store merge calls per second.",
    per((s) => s.mergesPerSecond),
  );
  family(
    "murmur_merge_latency_ms",
    "gauge",
    "Store merge latency percentiles in milliseconds.",
    quantiles((s) => s.mergeLatencyMs),
  );
  family(
    "murmur_flush_size",
    "gauge",
    "Deltas per flush, percentiles.",
    quantiles((s) => s.flushSize),
  );
  family(
    "murmur_errors_total",
    "counter",
    "Errors, retried ones included.",
    per((s) => s.errors),
  );
  family(
    "murmur_retries_total",
    "counter",
    "Store call retries.",
    per((s) => s.retries),
  );
  family(
    "murmur_dead_letters_total",
    "counter",
    "Records sent to the dead-letter path.",
    per((s) => s.deadLetters),
  );
  family(
    "murmur_dedup_skips_total",
    "counter",
    "Deltas or records skipped as already applied.",
    per((s) => s.dedupSkips),
  );
  family(
    "murmur_debounced_total",
    "counter",
    "Records dropped by debouncers.",
    per((s) => s.debounced),
  );
  family(
    "murmur_lag_ms",
    "gauge",
    "Age of the newest durable record (event time to store), in milliseconds.",
    per((s) => s.lagMs),
  );
  const rpc = input.rpc.entries();
  family(
    "murmur_rpc_requests_total",
    "counter",
    "Connect, gRPC-Web and gRPC calls by procedure and outcome.",
    rpc.flatMap(([procedure, stats]) =>
      [...stats.codes.entries()].sort().map((
        [code, count],
      ): [Record<string, string>, number] => [{ procedure, code }, count])
    ),
  );
  family(
    "murmur_rpc_duration_seconds",
    "summary",
    "Time spent answering calls, by procedure.",
    rpc.flatMap(([procedure, stats]): [Record<string, string>, number][] => [
      [{ procedure, __suffix: "_sum" }, stats.seconds],
      [{ procedure, __suffix: "_count" }, stats.count],
    ]),
    true,
  );
  return out.join("\n") + "\n";
}
