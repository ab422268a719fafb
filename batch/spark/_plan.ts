// From a pipeline's monoid kind to the Spark SQL that pre-aggregates a user's events, and from a result row back to a value.

import type { Monoid, MonoidKind } from "../../monoid/monoid.ts";
import type { SparkColumn } from "./_client.ts";

/** The column names the user's SQL yields; see {@linkcode SparkColumns}. */
export interface SparkColumns {
  /** The entity column. Default: `"key"`. */
  readonly key?: string;
  /** The event-time column (timestamp, date, ISO string, or epoch ms). Default: `"time"`. */
  readonly time?: string;
  /** The value (sum, min, max) or element (hll, bloom, set, topk item) column. Default: `"value"`. */
  readonly value?: string;
  /** The weight column of a Top-K item. Default: none (weight 1 per row). */
  readonly weight?: string;
}

/**
 * Thrown before anything runs when a backfill cannot be planned: the
 * pipeline's monoid has no Spark counterpart, or the SQL lacks a column.
 *
 * @example Usage
 * ```ts
 * import { BackfillPlanError } from "@murmur/core/batch/spark";
 * import assert from "node:assert/strict";
 *
 * const error = new BackfillPlanError("views", "the SQL yields no column `key`");
 * assert.match(error.message, /views/);
 * ```
 */
export class BackfillPlanError extends Error {
  /** The pipeline. */
  readonly pipeline: string;
  /**
   * Creates the error.
   *
   * @param pipeline The pipeline.
   * @param problem What is wrong and what to do.
   */
  constructor(pipeline: string, problem: string) {
    super(`backfill of pipeline "${pipeline}": ${problem}`);
    this.name = "BackfillPlanError";
    this.pipeline = pipeline;
  }
}

/** The monoid kinds Spark can compute, and how. */
export const SPARK_KINDS: readonly MonoidKind[] = [
  "sum",
  "count",
  "min",
  "max",
  "hll",
  "bloom",
  "set",
  "topk",
];

/** How one result row becomes a value. */
export type ReadValue<V> = (row: ResultRow) => V | undefined;

/** A result row as the Arrow decoder hands it over (column name → value). */
export type ResultRow = Readonly<Record<string, unknown>>;

/** A planned backfill: the SQL to run and how to turn its rows into values. */
export interface BackfillPlan<V> {
  /** The SQL Spark runs: the user's, wrapped in the aggregation. */
  readonly sql: string;
  /** Reads a row's value. */
  readonly read: ReadValue<V>;
}

const INTEGRAL = new Set(["byte", "short", "integer", "long"]);
const FRACTIONAL = new Set(["float", "double", "decimal"]);

/** Quotes a Spark SQL identifier. */
export function quote(name: string): string {
  return "`" + name.replaceAll("`", "``") + "`";
}

function find(
  pipeline: string,
  columns: readonly SparkColumn[],
  name: string,
  role: string,
): SparkColumn {
  const column = columns.find((c) =>
    c.name.toLowerCase() === name.toLowerCase()
  );
  if (!column) {
    throw new BackfillPlanError(
      pipeline,
      `the SQL yields no column ${quote(name)} for the ${role} (it yields ${
        columns.map((c) => quote(c.name)).join(", ") || "nothing"
      }): alias one with AS ${name}, or name yours in options.columns`,
    );
  }
  return column;
}

/** The epoch-ms expression of the time column, by its type. */
function epochMs(pipeline: string, column: SparkColumn): string {
  const c = quote(column.name);
  if (column.type === "timestamp") return `unix_millis(${c})`;
  if (
    column.type === "timestampNtz" || column.type === "date" ||
    column.type === "string"
  ) {
    return `unix_millis(CAST(${c} AS TIMESTAMP))`;
  }
  if (INTEGRAL.has(column.type)) return `CAST(${c} AS BIGINT)`;
  if (FRACTIONAL.has(column.type)) return `CAST(FLOOR(${c}) AS BIGINT)`;
  throw new BackfillPlanError(
    pipeline,
    `the time column ${c} is of type ${column.type}: give a timestamp, a date, an ISO string or epoch ms`,
  );
}

/** What the planner needs to know about the pipeline. */
export interface PlanTarget<V> {
  /** The pipeline's name. */
  readonly name: string;
  /** Its monoid. */
  readonly monoid: Monoid<V>;
  /** Its bucket size in ms, or `null` when unwindowed. */
  readonly bucketMs: number | null;
}

/**
 * Wraps the user's SQL in the aggregation the pipeline's monoid needs.
 *
 * @param target The pipeline.
 * @param sql The user's SQL, one row per event.
 * @param columns The user SQL's result schema.
 * @param names Its column names.
 * @returns The SQL and the row reader.
 * @throws {BackfillPlanError} When the monoid or the columns do not fit.
 */
export function planBackfill<V>(
  target: PlanTarget<V>,
  sql: string,
  columns: readonly SparkColumn[],
  names: SparkColumns = {},
): BackfillPlan<V> {
  const { name, monoid } = target;
  if (!SPARK_KINDS.includes(monoid.kind)) {
    throw new BackfillPlanError(
      name,
      `it folds with ${monoid.name} (kind "${monoid.kind}"), which Spark does not compute here: the Spark executor handles ${
        SPARK_KINDS.join(", ")
      }; run the pipeline over a bootstrap source instead`,
    );
  }
  const key = quote(find(name, columns, names.key ?? "key", "key").name);
  const time = target.bucketMs === null
    ? undefined
    : find(name, columns, names.time ?? "time", "event time");
  const bucket = time === undefined
    ? "CAST(NULL AS BIGINT)"
    : `(${epochMs(name, time)} - pmod(${
      epochMs(name, time)
    }, ${target.bucketMs}))`;
  const events = `(${sql.trim().replace(/;\s*$/, "")}) AS murmur_events`;
  const needsValue = monoid.kind !== "count";
  const value = needsValue
    ? find(name, columns, names.value ?? "value", "value")
    : undefined;
  const v = value === undefined ? "" : quote(value.name);
  const wrap = (aggregate: string, from = events) =>
    `SELECT CAST(${key} AS STRING) AS murmur_key, ${bucket} AS murmur_bucket, ` +
    `${aggregate} AS murmur_value, COUNT(*) AS murmur_events FROM ${from} ` +
    `GROUP BY 1, 2`;
  switch (monoid.kind) {
    case "count":
      return {
        sql: wrap("COUNT(*)"),
        read: (row) => Number(row["murmur_value"]) as V,
      };
    case "sum": {
      const big = typeof monoid.identity() === "bigint";
      if (big) {
        return {
          sql: wrap(`CAST(SUM(CAST(${v} AS DECIMAL(38, 0))) AS STRING)`),
          read: (row) => {
            const value = row["murmur_value"];
            return (value == null ? undefined : BigInt(String(value))) as V;
          },
        };
      }
      const integral = INTEGRAL.has(value!.type);
      return {
        sql: wrap(
          integral ? `SUM(CAST(${v} AS BIGINT))` : `SUM(CAST(${v} AS DOUBLE))`,
        ),
        read: (row) => optionalNumber(row) as V,
      };
    }
    case "min":
    case "max":
      return {
        sql: wrap(`${monoid.kind.toUpperCase()}(CAST(${v} AS DOUBLE))`),
        read: (row) => optionalNumber(row) as V,
      };
    case "hll":
    case "bloom":
      return {
        sql: wrap(`collect_set(CAST(${v} AS STRING))`),
        read: (row) => {
          const sketch = monoid.identity() as unknown as {
            add(item: string): unknown;
          };
          for (const item of elements(row)) sketch.add(item);
          return sketch as V;
        },
      };
    case "set":
      return {
        sql: wrap(`collect_set(CAST(${v} AS STRING))`),
        read: (row) =>
          monoid.combine(
            monoid.identity(),
            new Set(elements(row)) as unknown as V,
          ),
      };
    case "topk": {
      const weight = names.weight === undefined
        ? "1"
        : `CAST(${
          quote(find(name, columns, names.weight, "weight").name)
        } AS DOUBLE)`;
      // Per item first, then one list per key sorted heaviest first (ties by
      // item), so the fold into the sketch is the same on every run.
      const perItem =
        `SELECT CAST(${key} AS STRING) AS murmur_key, ${bucket} AS murmur_bucket, ` +
        `CAST(${v} AS STRING) AS murmur_item, SUM(${weight}) AS murmur_weight, ` +
        `COUNT(*) AS murmur_n FROM ${events} WHERE ${v} IS NOT NULL GROUP BY 1, 2, 3`;
      return {
        sql: "SELECT murmur_key, murmur_bucket, " +
          "sort_array(collect_list(named_struct('w', murmur_weight, 'i', murmur_item)), false) AS murmur_value, " +
          `SUM(murmur_n) AS murmur_events FROM (${perItem}) AS murmur_items GROUP BY 1, 2`,
        read: (row) => {
          const sketch = monoid.identity() as unknown as {
            add(item: string, weight: number): unknown;
          };
          for (const entry of list(row["murmur_value"])) {
            const e = entry as { i?: unknown; w?: unknown } | null;
            if (e?.i == null) continue;
            sketch.add(String(e.i), Number(e.w));
          }
          return sketch as V;
        },
      };
    }
    default:
      throw new BackfillPlanError(name, `unexpected kind ${monoid.kind}`);
  }
}

/** The row's aggregate as a number, or `undefined` when SQL gave NULL (no value in the group). */
function optionalNumber(row: ResultRow): number | undefined {
  const value = row["murmur_value"];
  return value == null ? undefined : Number(value);
}

function list(value: unknown): Iterable<unknown> {
  if (value == null) return [];
  if (typeof (value as Iterable<unknown>)[Symbol.iterator] === "function") {
    return value as Iterable<unknown>;
  }
  return [];
}

function* elements(row: ResultRow): Iterable<string> {
  for (const item of list(row["murmur_value"])) {
    if (item != null) yield String(item);
  }
}
