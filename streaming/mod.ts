/**
 * The streaming runtime: runs a pipeline over its source with batching,
 * retries, dead letters, exactly-once marks, metrics and graceful shutdown.
 *
 * @example Usage
 * ```ts
 * import { InMemoryMetrics } from "@murmur/core/streaming";
 * const metrics = new InMemoryMetrics();
 * metrics.eventsIn("page_views", 3);
 * console.log(metrics.snapshot("page_views").eventsIn); // 3
 * ```
 *
 * @module
 */

export {
  InMemoryMetrics,
  type InMemoryMetricsOptions,
  type MetricsRecorder,
  type MetricsSnapshot,
  noopMetrics,
  type Percentiles,
} from "./metrics.ts";
