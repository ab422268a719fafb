// Builds the Go baselines of bench/compare (our own Go code, modules from the Go proxy) into a cache.

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const cache = join(
  Deno.env.get("HOME") ?? "/tmp",
  ".cache",
  "murmur",
  "bench-go",
);

/**
 * Builds `bench/compare/go/<name>` with `go build` (modules resolved from the
 * Go module proxy, cached by Go) and returns the binary's path.
 */
export async function buildGo(name: string): Promise<string> {
  await Deno.mkdir(cache, { recursive: true });
  const output = join(cache, name);
  const result = await new Deno.Command("go", {
    args: ["build", "-o", output, "."],
    cwd: join(here, "go", name),
    env: { GOFLAGS: "-mod=mod" },
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!result.success) {
    throw new Error(
      `go build of bench/compare/go/${name} failed: is Go installed and the module proxy reachable?`,
    );
  }
  return output;
}

/** Writes `bench/results/<name>.json`. */
export async function writeResults(name: string, data: unknown): Promise<void> {
  const dir = join(here, "..", "results");
  await Deno.mkdir(dir, { recursive: true });
  const path = join(dir, `${name}.json`);
  await Deno.writeTextFile(path, JSON.stringify(data, null, 2) + "\n");
  console.log(`\nwrote ${path}`);
}
