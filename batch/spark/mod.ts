/**
 * The batch side: a Spark Connect client and a backfill executor that folds
 * the result of a user's SQL into the same state a live pipeline writes.
 *
 * {@linkcode SparkConnectClient} speaks Spark Connect (gRPC over HTTP/2,
 * generated from Spark 4.0.1's own `.proto` files) and streams results as
 * Arrow record batches; broken result streams are resumed with
 * `ReattachExecute`, an aborted signal interrupts the query on the server,
 * and SQL errors arrive as {@linkcode SparkSqlError} with Spark's message and
 * the position in the SQL.
 *
 * {@linkcode sparkBackfill} lets the pipeline's monoid decide what Spark
 * computes (SUM, COUNT, MIN, MAX per key and window bucket; the distinct
 * elements of each key for sketches, folded here into the same bytes the
 * live pipeline writes) and merges one value per key and bucket with an
 * exactly-once mark, so a rerun of the same job changes nothing. Serve the
 * batch view together with the live layer with `lambdaQuery` from
 * `@murmur/core/query`.
 *
 * @example Plan a backfill without a server
 * ```ts
 * import { backfillSql } from "@murmur/core/batch/spark";
 * import { daily, sum } from "@murmur/core/monoid";
 * import assert from "node:assert/strict";
 *
 * const sql = backfillSql(
 *   { name: "revenue", monoid: sum(), window: daily() },
 *   "SELECT shop AS key, ts AS time, amount AS value FROM orders",
 *   [
 *     { name: "key", type: "string", nullable: true },
 *     { name: "time", type: "timestamp", nullable: true },
 *     { name: "value", type: "long", nullable: true },
 *   ],
 * );
 * assert.match(sql, /SUM\(CAST\(`value` AS BIGINT\)\)/);
 * assert.match(sql, /GROUP BY 1, 2/);
 * ```
 *
 * @module
 */

export {
  type ExecuteOptions,
  type ExecuteStats,
  executeStats,
  type SparkColumn,
  SparkConnectClient,
  type SparkConnectOptions,
} from "./_client.ts";
export {
  SparkError,
  type SparkErrorInfo,
  SparkSqlError,
  SparkUnavailableError,
  type SqlPosition,
} from "./_errors.ts";
export { BackfillPlanError, SPARK_KINDS, type SparkColumns } from "./_plan.ts";
export type { RejectedKey } from "./_write.ts";
export {
  backfillSql,
  type BackfillTarget,
  type BackfillTimings,
  sparkBackfill,
  type SparkBackfillOptions,
  type SparkBackfillResult,
} from "./backfill.ts";
