/**
 * `deno task doc:lint`: runs `deno doc --lint` on every entry point listed in
 * the `exports` map of deno.json, so a new export is linted without editing a
 * task.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));

/**
 * Reads the entry files of the package's `exports` map.
 *
 * @param configPath Path of deno.json.
 * @returns The entry files, relative to the repository root, without duplicates.
 * @throws {TypeError} When deno.json has no `exports`.
 */
export async function exportEntries(configPath: string): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(configPath)) as {
    exports?: string | Record<string, string>;
  };
  const exports = config.exports;
  if (exports === undefined) {
    throw new TypeError(`${configPath} has no "exports" map`);
  }
  const entries = typeof exports === "string"
    ? [exports]
    : Object.values(exports);
  return [...new Set(entries)];
}

if (import.meta.main) {
  const entries = await exportEntries(join(root, "deno.json"));
  const missing: string[] = [];
  for (const entry of entries) {
    try {
      await Deno.stat(join(root, entry));
    } catch {
      missing.push(entry);
    }
  }
  if (missing.length > 0) {
    console.error(
      `doc:lint: exports point at missing files: ${missing.join(", ")}`,
    );
    Deno.exit(1);
  }
  console.error(`doc:lint: deno doc --lint on ${entries.length} entries`);
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--lint", ...entries],
    cwd: root,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  Deno.exit(code);
}
