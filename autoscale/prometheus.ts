// The Prometheus emitter: keeps the last samples as gauges and appends them to the admin server's /metrics.

import type { AutoscaleSample, Emitter } from "./signal.ts";

/** A fetch handler, e.g. the admin server's `createHandler(...)`. */
export type FetchHandler = (
  request: Request,
  info?: Deno.ServeHandlerInfo,
) => Response | Promise<Response>;

function escape(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(
    /\n/g,
    "\\n",
  );
}

/**
 * Keeps the latest autoscaling samples as Prometheus gauges. Serve them with
 * {@linkcode PrometheusEmitter.wrap} around the admin handler (its `/metrics`
 * answer, auth included, gets the gauges appended) or read
 * {@linkcode PrometheusEmitter.render} yourself.
 *
 * Gauges: `murmur_autoscale_consumer_lag_records{pipeline}`,
 * `murmur_autoscale_partition_lag_records{pipeline,stream}`,
 * `murmur_autoscale_behind_ms{pipeline}`,
 * `murmur_autoscale_events_per_second{pipeline}`,
 * `murmur_autoscale_flush_latency_ms{pipeline}`.
 *
 * @example Usage
 * ```ts
 * import { PrometheusEmitter } from "@murmur/core/autoscale";
 * import assert from "node:assert/strict";
 *
 * const prometheus = new PrometheusEmitter();
 * await prometheus.emit([{ pipeline: "likes", at: 0, lagRecords: 7, maxPartitionLagRecords: 7, behindMs: null, eventsPerSecond: 120, flushLatencyMs: 4, partitions: [] }]);
 * const handler = prometheus.wrap(() => new Response("murmur_up 1\n"));
 * const text = await (await handler(new Request("http://localhost/metrics"))).text();
 * assert.match(text, /^murmur_up 1\n/);
 * assert.match(text, /murmur_autoscale_consumer_lag_records\{pipeline="likes"\} 7/);
 * ```
 */
export class PrometheusEmitter implements Emitter {
  #samples: readonly AutoscaleSample[] = [];

  /** {@inheritDoc Emitter.emit} */
  emit(samples: readonly AutoscaleSample[]): Promise<void> {
    this.#samples = samples;
    return Promise.resolve();
  }

  /**
   * The gauges of the latest samples in the Prometheus text format.
   *
   * @returns The exposition text (empty when nothing was emitted yet).
   */
  render(): string {
    const out: string[] = [];
    const family = (
      name: string,
      help: string,
      rows: [Record<string, string>, number | null][],
    ) => {
      const known = rows.filter(([, v]) => v !== null && Number.isFinite(v));
      if (known.length === 0) return;
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
      for (const [labels, value] of known) {
        const text = Object.entries(labels).map(([k, v]) =>
          `${k}="${escape(v)}"`
        ).join(",");
        out.push(`${name}{${text}} ${value}`);
      }
    };
    const s = this.#samples;
    family(
      "murmur_autoscale_consumer_lag_records",
      "Records behind over all partitions of the pipeline's source.",
      s.map((x) => [{ pipeline: x.pipeline }, x.lagRecords]),
    );
    family(
      "murmur_autoscale_partition_lag_records",
      "Records behind, per partition.",
      s.flatMap((x) =>
        x.partitions.map((p): [Record<string, string>, number | null] => [
          { pipeline: x.pipeline, stream: p.stream },
          p.records,
        ])
      ),
    );
    family(
      "murmur_autoscale_behind_ms",
      "Largest milliseconds behind the stream's tip (Kinesis).",
      s.map((x) => [{ pipeline: x.pipeline }, x.behindMs]),
    );
    family(
      "murmur_autoscale_events_per_second",
      "Records read per second, recent.",
      s.map((x) => [{ pipeline: x.pipeline }, x.eventsPerSecond]),
    );
    family(
      "murmur_autoscale_flush_latency_ms",
      "95th percentile of the store flush latency in milliseconds.",
      s.map((x) => [{ pipeline: x.pipeline }, x.flushLatencyMs]),
    );
    return out.length === 0 ? "" : out.join("\n") + "\n";
  }

  /**
   * Wraps a fetch handler so a successful `GET /metrics` answer carries the
   * autoscaling gauges after its own text; everything else passes through.
   *
   * @param handler The handler to wrap, e.g. the admin server's.
   * @returns The wrapped handler.
   */
  wrap(handler: FetchHandler): FetchHandler {
    return async (request, info) => {
      const response = await handler(request, info);
      const path = new URL(request.url).pathname;
      if (
        request.method !== "GET" || path !== "/metrics" || !response.ok
      ) return response;
      const text = await response.text();
      const headers = new Headers(response.headers);
      headers.delete("content-length");
      return new Response(text + this.render(), {
        status: response.status,
        headers,
      });
    };
  }
}
