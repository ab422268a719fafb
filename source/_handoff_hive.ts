// Hive-style partitions in paths (`dt=2026-12-01/`, `year=2026/month=12/`) and the time span each one covers.

/**
 * The Hive partitions of a path or key: every `name=value` folder (the file
 * name itself is not one), values URL-decoded.
 *
 * @param path A file path or object key.
 * @returns The partitions by name.
 *
 * @example Usage
 * ```ts
 * import { hivePartitions } from "@murmur/core/source/parquet";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(hivePartitions("views/dt=2026-12-01/region=eu/part-0.parquet"), {
 *   dt: "2026-12-01",
 *   region: "eu",
 * });
 * ```
 */
export function hivePartitions(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  const segments = path.split("/");
  segments.pop();
  for (const segment of segments) {
    const eq = segment.indexOf("=");
    if (eq <= 0 || eq === segment.length - 1) continue;
    try {
      out[decodeURIComponent(segment.slice(0, eq))] = decodeURIComponent(
        segment.slice(eq + 1),
      );
    } catch {
      out[segment.slice(0, eq)] = segment.slice(eq + 1);
    }
  }
  return out;
}

/**
 * The UTC time span `[start, end)` in epoch ms that a file's partitions
 * cover: from a date partition (`dt=2026-12-01`, `dt=2026-12`,
 * `dt=2026-12-01-05` or `dt=2026-12-01T05`, `dt=20261201`) or from
 * `year=`/`month=`/`day=`/`hour=` folders.
 *
 * @param partitions The partitions, from {@linkcode hivePartitions}.
 * @param key The date partition's name. Default: `"dt"`.
 * @returns The span, or `undefined` when the partitions carry no time.
 *
 * @example Usage
 * ```ts
 * import { partitionRange } from "@murmur/core/source/parquet";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(partitionRange({ dt: "2026-12-01" }), {
 *   start: Date.UTC(2026, 11, 1),
 *   end: Date.UTC(2026, 11, 2),
 * });
 * assert.deepEqual(partitionRange({ year: "2026", month: "12" }), {
 *   start: Date.UTC(2026, 11, 1),
 *   end: Date.UTC(2027, 0, 1),
 * });
 * ```
 */
export function partitionRange(
  partitions: Record<string, string>,
  key = "dt",
): { start: number; end: number } | undefined {
  const dated = partitions[key];
  if (dated !== undefined) {
    const m = /^(\d{4})-?(\d{2})?(?:-?(\d{2}))?(?:[-T ](\d{2}))?/.exec(dated);
    if (m === null) return undefined;
    return span(m[1], m[2], m[3], m[4]);
  }
  if (partitions.year === undefined) return undefined;
  return span(
    partitions.year,
    partitions.month,
    partitions.day,
    partitions.hour,
  );
}

function span(
  year: string | undefined,
  month: string | undefined,
  day: string | undefined,
  hour: string | undefined,
): { start: number; end: number } | undefined {
  const y = Number(year);
  if (!Number.isInteger(y)) return undefined;
  if (month === undefined) {
    return { start: Date.UTC(y, 0, 1), end: Date.UTC(y + 1, 0, 1) };
  }
  const mo = Number(month) - 1;
  if (day === undefined) {
    return { start: Date.UTC(y, mo, 1), end: Date.UTC(y, mo + 1, 1) };
  }
  const d = Number(day);
  if (hour === undefined) {
    return { start: Date.UTC(y, mo, d), end: Date.UTC(y, mo, d + 1) };
  }
  const h = Number(hour);
  return { start: Date.UTC(y, mo, d, h), end: Date.UTC(y, mo, d, h + 1) };
}
