/**
 * The control plane: one `Deno.serve` handler serving the Connect query and
 * admin services (Connect binary and JSON, GET for reads, gRPC-Web), a web UI
 * with each pipeline's DAG and live charts, `/healthz` and a Prometheus
 * `/metrics`; plus the worker side that registers pipelines of other
 * processes and pushes their metrics.
 *
 * - {@linkcode serve} listens (loopback without auth by default; anywhere
 *   else only with bearer tokens) and can add a native gRPC port.
 * - {@linkcode createHandler} is the fetch handler alone, to mount yourself.
 * - {@linkcode reportToAdmin} registers a worker's pipelines with a remote
 *   admin server and pushes their metrics.
 *
 * @example Usage
 * ```ts
 * import { createHandler } from "@murmur/core/admin";
 * import { sum } from "@murmur/core/monoid";
 * import { MemoryStore } from "@murmur/core/state";
 * import assert from "node:assert/strict";
 *
 * const store = new MemoryStore();
 * const likes = { name: "likes", monoid: sum(), window: null, store };
 * await store.merge({ namespace: "likes", monoid: sum() }, [
 *   { key: { entity: "post:1", bucket: null }, value: 3 },
 * ]);
 * await using handler = createHandler({ pipelines: [likes] });
 * const res = await handler(new Request("http://localhost/murmur.v1.QueryService/Get", {
 *   method: "POST",
 *   headers: { "Content-Type": "application/json" },
 *   body: JSON.stringify({ pipeline: "likes", entity: "post:1" }),
 * }));
 * const { answer } = await res.json();
 * assert.equal(answer.value.number, 3);
 * assert.equal(answer.present, true);
 * ```
 *
 * @module
 */

export {
  type AdminHandler,
  type AdminHandlerOptions,
  type AdminPipeline,
  type AdminServer,
  AuthRequiredError,
  createHandler,
  type MetricsSource,
  serve,
  type ServeOptions,
} from "./server.ts";
export {
  BearerAuth,
  bearerToken,
  Cors,
  CORS_ALLOWED_HEADERS,
  CORS_EXPOSED_HEADERS,
  type CorsOptions,
  isLoopback,
} from "./auth.ts";
export {
  type AdminReporter,
  reportToAdmin,
  type ReportToAdminOptions,
} from "./reporter.ts";
