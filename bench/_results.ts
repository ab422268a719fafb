// Private: where every bench harness leaves its figures, bench/results/<name>.json.

/**
 * Writes `data` as indented JSON to `bench/results/<name>.json` (creating
 * the folder) and says where on stderr, so stdout keeps only the table.
 */
export async function writeResults(name: string, data: unknown): Promise<void> {
  const dir = new URL("./results/", import.meta.url);
  await Deno.mkdir(dir, { recursive: true });
  const file = new URL(`${name}.json`, dir);
  await Deno.writeTextFile(file, JSON.stringify(data, null, 2) + "\n");
  console.error(`wrote ${file.pathname}`);
}

/** A column of {@linkcode markdownTable}: a heading, and whether its cells align right (numbers). */
export interface Column {
  /** The heading. */
  readonly head: string;
  /** Align right, as numbers read best. Default: left. */
  readonly right?: boolean;
}

/**
 * A markdown table: one heading row, the alignment row and one row per
 * entry of `rows`; an `undefined` or `null` cell prints as `–`.
 */
export function markdownTable(
  columns: readonly Column[],
  rows: readonly (readonly unknown[])[],
): string {
  const line = (cells: readonly unknown[]) =>
    `| ${cells.map((c) => c ?? "–").join(" | ")} |`;
  return [
    line(columns.map((c) => c.head)),
    line(columns.map((c) => (c.right ? "---:" : "---"))),
    ...rows.map(line),
  ].join("\n");
}
