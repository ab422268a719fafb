// Builds the Go baselines of bench/compare (our own Go code, modules from the Go proxy) into a cache.

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { BUF, ensureGoPlugins } from "../../codegen/generate.ts";

export { writeResults } from "../_results.ts";

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
  const dir = join(here, "go", name);
  // A baseline with a buf.gen.yaml speaks our protocol: its Go code is
  // generated from proto/ at build time rather than kept in the tree.
  const template = join(dir, "buf.gen.yaml");
  if (await Deno.stat(template).then(() => true, () => false)) {
    const plugins = await ensureGoPlugins();
    const generated = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        BUF,
        "generate",
        "--template",
        template,
        "--path",
        "murmur/v1/query.proto",
        "-o",
        dir,
      ],
      cwd: join(here, "..", "..", "proto"),
      env: { PATH: `${plugins}:${Deno.env.get("PATH") ?? ""}` },
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (!generated.success) {
      throw new Error(`buf generate for bench/compare/go/${name} failed`);
    }
  }
  const result = await new Deno.Command("go", {
    args: ["build", "-o", output, "."],
    cwd: dir,
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
