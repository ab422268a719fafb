// `terraform fmt -check` over deploy/terraform, with terraform built from its Go module and cached.
//
// v1.5.7 is the newest release whose go.mod has no replace directives, so
// `go install` can build it from the module proxy; `fmt` needs no providers.
// The first run compiles it (minutes); later runs reuse ~/.cache/murmur/terraform.

import { equal } from "node:assert/strict";
import { homedir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const VERSION = "v1.5.7";
const DIR = join(homedir(), ".cache", "murmur", "terraform", VERSION);
const BINARY = join(DIR, "terraform");
const MODULE = fileURLToPath(new URL("../deploy/terraform/", import.meta.url));

async function run(
  command: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; output: string }> {
  const { code, stdout, stderr } = await new Deno.Command(command, {
    args,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code, output: text.decode(stdout) + text.decode(stderr) };
}

async function terraform(): Promise<string> {
  try {
    await Deno.stat(BINARY);
    return BINARY;
  } catch {
    // not built yet
  }
  const built = await run("go", [
    "install",
    `github.com/hashicorp/terraform@${VERSION}`,
  ], { GOBIN: DIR });
  if (built.code !== 0) {
    throw new Error(
      `building terraform ${VERSION} with \`go install\` failed; install Go (https://go.dev/dl) or put a terraform binary at ${BINARY}:\n${built.output}`,
    );
  }
  return BINARY;
}

Deno.test({
  name: "terraform fmt -check finds deploy/terraform formatted",
  sanitizeResources: false,
  fn: async () => {
    const binary = await terraform();
    const fmt = await run(binary, [
      "fmt",
      "-check",
      "-diff",
      "-recursive",
      MODULE,
    ], { TF_CLI_CONFIG_FILE: "/dev/null" });
    equal(fmt.code, 0, `terraform fmt -check:\n${fmt.output}`);
  },
});
