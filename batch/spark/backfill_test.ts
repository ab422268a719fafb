// backfillSql(): what Spark is asked to compute for each monoid kind, and the plan errors, without a server.

import assert from "node:assert/strict";
import { BackfillPlanError, backfillSql, type SparkColumn } from "./mod.ts";
import {
  count,
  daily,
  hourly,
  last,
  max,
  min,
  sum,
  sumBigInt,
} from "../../monoid/mod.ts";
import { hll } from "../../sketch/hll.ts";
import { topK } from "../../sketch/topk.ts";

const columns = (value = "long", time = "timestamp"): SparkColumn[] => [
  { name: "key", type: "string", nullable: true },
  { name: "time", type: time, nullable: true },
  { name: "value", type: value, nullable: true },
];
const SQL = "SELECT page AS key, ts AS time, n AS value FROM views;";

Deno.test("backfillSql() sums integral values as BIGINT and fractional ones as DOUBLE", () => {
  const target = { name: "v", monoid: sum(), window: daily() };
  assert.match(
    backfillSql(target, SQL, columns()),
    /SUM\(CAST\(`value` AS BIGINT\)\)/,
  );
  assert.match(
    backfillSql(target, SQL, columns("double")),
    /SUM\(CAST\(`value` AS DOUBLE\)\)/,
  );
  const big = { name: "v", monoid: sumBigInt(), window: null };
  assert.match(backfillSql(big, SQL, columns()), /DECIMAL\(38, 0\)/);
});

Deno.test("backfillSql() buckets by the window size from the time column's type", () => {
  const target = { name: "v", monoid: count(), window: hourly() };
  const ts = backfillSql(target, SQL, columns("long", "timestamp"));
  assert.match(
    ts,
    /unix_millis\(`time`\) - pmod\(unix_millis\(`time`\), 3600000\)/,
  );
  const ms = backfillSql(target, SQL, columns("long", "long"));
  assert.match(ms, /CAST\(`time` AS BIGINT\)/);
  const text = backfillSql(target, SQL, columns("long", "string"));
  assert.match(text, /CAST\(`time` AS TIMESTAMP\)/);
  // The user's trailing semicolon is dropped inside the subquery.
  assert.match(ts, /FROM views\) AS murmur_events/);
  const allTime = backfillSql({ ...target, window: null }, SQL, columns());
  assert.match(allTime, /CAST\(NULL AS BIGINT\) AS murmur_bucket/);
});

Deno.test("backfillSql() asks for MIN/MAX, distinct elements and per-item weights by kind", () => {
  const cols = columns("string");
  assert.match(
    backfillSql({ name: "v", monoid: min(), window: null }, SQL, cols),
    /MIN\(CAST/,
  );
  assert.match(
    backfillSql({ name: "v", monoid: max(), window: null }, SQL, cols),
    /MAX\(CAST/,
  );
  assert.match(
    backfillSql({ name: "v", monoid: hll(), window: null }, SQL, cols),
    /collect_set\(CAST\(`value` AS STRING\)\)/,
  );
  const top = backfillSql(
    { name: "v", monoid: topK({ k: 10 }), window: null },
    SQL,
    cols,
  );
  assert.match(top, /GROUP BY 1, 2, 3/);
  assert.match(top, /sort_array\(collect_list/);
});

Deno.test("backfillSql() refuses monoids Spark does not compute and names missing columns", () => {
  assert.throws(
    () =>
      backfillSql(
        { name: "seen", monoid: last(), window: null },
        SQL,
        columns(),
      ),
    (e) => e instanceof BackfillPlanError && /kind "last"/.test(e.message),
  );
  assert.throws(
    () =>
      backfillSql(
        { name: "v", monoid: sum(), window: daily() },
        SQL,
        columns().slice(0, 2),
      ),
    (e) =>
      e instanceof BackfillPlanError && /no column `value`/.test(e.message),
  );
  assert.throws(
    () =>
      backfillSql(
        { name: "v", monoid: sum(), window: daily() },
        SQL,
        columns("long", "boolean"),
      ),
    (e) => e instanceof BackfillPlanError && /type boolean/.test(e.message),
  );
  // Column names are matched case-insensitively and can be renamed.
  const renamed: SparkColumn[] = [
    { name: "Page", type: "string", nullable: true },
    { name: "amount", type: "long", nullable: true },
  ];
  assert.match(
    backfillSql({ name: "v", monoid: sum(), window: null }, SQL, renamed, {
      key: "page",
      value: "amount",
    }),
    /CAST\(`Page` AS STRING\)/,
  );
});
