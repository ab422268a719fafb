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
