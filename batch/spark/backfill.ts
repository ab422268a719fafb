// sparkBackfill(): runs a user's SQL on Spark, pre-aggregated the way the pipeline's monoid folds, and writes the result exactly once.

import type { Monoid } from "../../monoid/monoid.ts";
import type { Window } from "../../monoid/window.ts";
import {
  type Delta,
  entityProblem,
  type Scope,
  type Store,
  type StreamMark,
} from "../../state/store.ts";
import {
  type ExecuteStats,
  executeStats,
  type SparkColumn,
  type SparkConnectClient,
} from "./_client.ts";
import { planBackfill, type SparkColumns } from "./_plan.ts";
import { DeltaWriter, type RejectedKey } from "./_write.ts";

/**
 * The part of a pipeline a backfill needs. A built pipeline from
 * `@murmur/core/pipeline` satisfies it.
 *
 * @typeParam V The value type.
 */
export interface BackfillTarget<V> {
  /** The pipeline's name; the default namespace. */
  readonly name: string;
  /** The monoid: its kind decides what Spark computes. */
  readonly monoid: Monoid<V>;
  /** The window, or `null` for all-time values. */
  readonly window: Window | null;
  /** The store written by default. */
  readonly store: Store;
}

/** Options for {@linkcode sparkBackfill}. */
export interface SparkBackfillOptions {
  /** The Spark Connect session that runs the SQL. */
  readonly client: SparkConnectClient;
  /**
   * The SQL yielding one row per event, with a `key` column, a `time` column
   * (for a windowed pipeline) and a `value` column (the number to sum,
   * minimise or maximise, or the element to count distinct, to test
   * membership of, or to rank); `count` needs no value. Rename them with
   * `columns`.
   */
  readonly sql: string;
  /**
   * Names this backfill. Every value it writes carries the exactly-once mark
   * of stream `spark:<jobId>`, so a rerun of the same job (after a crash, or
   * by mistake) skips what an earlier run wrote. Use a new id for new data.
   */
  readonly jobId: string;
  /** The column names of `sql`. Default: `key`, `time`, `value`. */
  readonly columns?: SparkColumns;
  /** Where to write. Default: the pipeline's store. */
  readonly store?: Store;
  /** The namespace of the batch view. Default: the pipeline's name. */
  readonly namespace?: string;
  /** Deltas per `store.merge` call. Default: 100. */
  readonly writeBatch?: number;
  /** `store.merge` calls in flight at once. Default: 4. */
  readonly concurrency?: number;
  /** Cancels the backfill: Spark interrupts the query, no further writes start. */
  readonly signal?: AbortSignal;
  /** The clock for retention, in epoch ms: buckets already expired are not written. Default: `Date.now`. */
  readonly now?: () => number;
}

/** What {@linkcode sparkBackfill} did. */
export interface SparkBackfillResult {
  /** The job id. */
  readonly jobId: string;
  /** The exactly-once stream its values carry, `spark:<jobId>`. */
  readonly stream: string;
  /** The SQL Spark ran: the user's, wrapped in the aggregation. */
  readonly sql: string;
  /** Result rows read: one per key and bucket. */
  readonly rows: number;
  /** Source events Spark folded into them. */
  readonly events: number;
  /** Values written. */
  readonly applied: number;
  /** Values skipped because an earlier run of the same job wrote them. */
  readonly skipped: number;
  /** Rows dropped because their bucket is past the window's retention. */
  readonly expired: number;
  /** Rows not written, with the reason (null or oversized key, a value the store refuses). */
  readonly rejected: readonly RejectedKey[];
  /** Where the time went, in ms. */
  readonly timings: BackfillTimings;
  /** The Spark execution's counters. */
  readonly spark: Readonly<ExecuteStats>;
}

/** Where a backfill's time went, in ms. */
export interface BackfillTimings {
  /** Waiting for Spark: planning, running and sending the result. */
  readonly sparkMs: number;
  /** Decoding Arrow IPC batches. */
  readonly decodeMs: number;
  /** Turning rows into values (the sketch folds). */
  readonly foldMs: number;
  /** Handing deltas to the store and waiting for it (back-pressure and the final drain). */
  readonly storeMs: number;
  /** The whole backfill. */
  readonly totalMs: number;
}

const MARK_POSITION = 0n;

/**
 * Backfills a pipeline from Spark: runs `options.sql` on a Spark Connect
 * server, pre-aggregated by key and window bucket the way the pipeline's
 * monoid folds, and merges one value per key and bucket into the store.
 *
 * What Spark computes follows the monoid's kind: `SUM` for sum, `COUNT(*)`
 * for count, `MIN`/`MAX` for min/max; for sketches (hll, bloom, set) the
 * distinct elements of each key (`collect_set`), folded here into the
 * pipeline's own sketch format, so an HLL from a backfill has exactly the
 * bytes the live pipeline writes for the same events; for topk the weight
 * per item, folded heaviest first.
 *
 * Each value is written with the exactly-once mark of stream
 * `spark:<jobId>`: the store remembers per key that the job was applied,
 * atomically with the value, so rerunning the job changes nothing. Because
 * a job writes each key and bucket once, one position per key suffices, and
 * Spark's row order (which is not stable) does not matter.
 *
 * @typeParam V The value type.
 * @param pipeline The pipeline whose state to fill.
 * @param options The session, the SQL, the job id; see {@linkcode SparkBackfillOptions}.
 * @returns Counts, rejections and timings.
 * @throws {BackfillPlanError} When the monoid has no Spark counterpart or a column is missing.
 * @throws {SparkSqlError} When Spark refuses or fails the SQL.
 * @throws {SparkUnavailableError} When the server cannot be reached.
 *
 * @example Usage
 * ```ts ignore
 * import { SparkConnectClient, sparkBackfill } from "@murmur/core/batch/spark";
 *
 * await using spark = new SparkConnectClient({ url: "http://127.0.0.1:15002" });
 * const result = await sparkBackfill(pageViews, {
 *   client: spark,
 *   jobId: "page-views-2024",
 *   sql: "SELECT page AS key, ts AS time, 1 AS value FROM json.`/data/views`",
 * });
 * console.log(result.applied, result.skipped);
 * ```
 */
export async function sparkBackfill<V>(
  pipeline: BackfillTarget<V>,
  options: SparkBackfillOptions,
): Promise<SparkBackfillResult> {
  const started = performance.now();
  const { client, signal } = options;
  const jobId = options.jobId;
  if (typeof jobId !== "string" || jobId.length === 0) {
    throw new TypeError(
      `backfill of pipeline "${pipeline.name}": jobId must be a non-empty string, e.g. "views-2024-03"`,
    );
  }
  const store = options.store ?? pipeline.store;
  const scope: Scope<V> = {
    namespace: options.namespace ?? pipeline.name,
    monoid: pipeline.monoid,
  };
  const window = pipeline.window;
  const now = (options.now ?? Date.now)();
  const stream = `spark:${jobId}`;
  const marks: readonly StreamMark[] = [{
    stream,
    from: MARK_POSITION,
    to: MARK_POSITION,
  }];

  const prepared = performance.now();
  // UTC, so timestamps without a zone and date strings bucket as the live pipeline's epoch ms do.
  await client.setConf({ "spark.sql.session.timeZone": "UTC" });
  const columns = await client.columns(options.sql, signal ? { signal } : {});
  const plan = planBackfill(
    {
      name: pipeline.name,
      monoid: pipeline.monoid,
      bucketMs: window?.size ?? null,
    },
    options.sql,
    columns,
    options.columns,
  );

  const prepareMs = performance.now() - prepared;
  const writer = new DeltaWriter<V>(store, scope, {
    batch: options.writeBatch ?? 100,
    concurrency: options.concurrency ?? 4,
    ...(signal ? { signal } : {}),
  });
  const stats = executeStats();
  let rows = 0;
  let events = 0;
  let expired = 0;
  let foldMs = 0;
  let storeMs = 0;
  const rejected: RejectedKey[] = [];
  const row: Record<string, unknown> = {};
  for await (
    const batch of client.sql(plan.sql, {
      stats,
      ...(signal ? { signal } : {}),
    })
  ) {
    const keys = batch.getChild("murmur_key");
    const buckets = batch.getChild("murmur_bucket");
    const values = batch.getChild("murmur_value");
    const counts = batch.getChild("murmur_events");
    for (let i = 0; i < batch.numRows; i++) {
      const t0 = performance.now();
      rows++;
      events += Number(counts?.get(i) ?? 0);
      const entity: unknown = keys?.get(i);
      const rawBucket: unknown = buckets?.get(i);
      const bucket = window === null || rawBucket == null
        ? null
        : Number(rawBucket);
      if (typeof entity !== "string") {
        rejected.push({ entity: null, bucket, reason: "the key is null" });
        foldMs += performance.now() - t0;
        continue;
      }
      const problem = entityProblem(store, entity);
      if (problem !== undefined) {
        rejected.push({ entity, bucket, reason: problem });
        foldMs += performance.now() - t0;
        continue;
      }
      const expiresAt = bucket === null ? undefined : window!.expiresAt(bucket);
      if (expiresAt !== undefined && expiresAt <= now) {
        expired++;
        foldMs += performance.now() - t0;
        continue;
      }
      row["murmur_value"] = values?.get(i);
      const value = plan.read(row);
      foldMs += performance.now() - t0;
      if (value === undefined) continue;
      const delta: Delta<V> = expiresAt === undefined
        ? { key: { entity, bucket }, value, marks }
        : { key: { entity, bucket }, value, marks, expiresAt };
      const w0 = performance.now();
      await writer.push(delta);
      storeMs += performance.now() - w0;
    }
  }
  const w0 = performance.now();
  await writer.drain();
  storeMs += performance.now() - w0;
  rejected.push(...writer.rejected);
  return {
    jobId,
    stream,
    sql: plan.sql,
    rows,
    events,
    applied: writer.counts.applied,
    skipped: writer.counts.skipped,
    expired,
    rejected,
    timings: {
      sparkMs: prepareMs + stats.waitMs,
      decodeMs: stats.decodeMs,
      foldMs,
      storeMs,
      totalMs: performance.now() - started,
    },
    spark: stats,
  };
}

/**
 * The SQL {@linkcode sparkBackfill} would run for a pipeline, given the
 * user SQL's columns (from {@linkcode SparkConnectClient.columns}): to
 * review or explain it before a long backfill.
 *
 * @typeParam V The value type.
 * @param pipeline The pipeline (name, monoid, window).
 * @param sql The user's SQL, one row per event.
 * @param columns Its result columns.
 * @param names Its column names. Default: `key`, `time`, `value`.
 * @returns The wrapped SQL.
 * @throws {BackfillPlanError} When the monoid has no Spark counterpart or a column is missing.
 *
 * @example Usage
 * ```ts
 * import { backfillSql } from "@murmur/core/batch/spark";
 * import { count } from "@murmur/core/monoid";
 * import assert from "node:assert/strict";
 *
 * const sql = backfillSql(
 *   { name: "views", monoid: count(), window: null },
 *   "SELECT page AS key FROM views",
 *   [{ name: "key", type: "string", nullable: true }],
 * );
 * assert.match(sql, /COUNT\(\*\) AS murmur_value/);
 * ```
 */
export function backfillSql<V>(
  pipeline: Pick<BackfillTarget<V>, "name" | "monoid" | "window">,
  sql: string,
  columns: readonly SparkColumn[],
  names?: SparkColumns,
): string {
  return planBackfill(
    {
      name: pipeline.name,
      monoid: pipeline.monoid,
      bucketMs: pipeline.window?.size ?? null,
    },
    sql,
    columns,
    names,
  ).sql;
}
