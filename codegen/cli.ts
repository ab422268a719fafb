// `murmur codegen`: pipeline definitions in, typed Connect services out.

import { parseArgs } from "node:util";
import { generate, loadPipelines } from "./generate.ts";
import { definedOnly } from "../internal/defined.ts";

const USAGE = `murmur codegen: typed Connect services, one per pipeline

  murmur codegen --pipelines <config.yaml | pipelines.ts> --out <dir> [options]

  --pipelines <file>   the YAML worker configuration, or a module exporting pipelines
  --out <dir>          where to write proto/, gen/ts/, gen/go/ and server.ts
  --package <name>     the proto package (default murmur.pipelines.v1)
  --go                 also generate the Go client (installs protoc-gen-go and
                       protoc-gen-connect-go with \`go install\`, cached)
  --go-package <path>  the Go import path of the generated package
  --codegen-import <s> how server.ts imports @murmur/core/codegen
  -h, --help           this text
`;

/**
 * Runs the subcommand.
 *
 * @param args The arguments after `codegen`.
 * @returns The exit code.
 */
export async function main(args: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      pipelines: { type: "string" },
      out: { type: "string" },
      package: { type: "string" },
      go: { type: "boolean", default: false },
      "go-package": { type: "string" },
      "codegen-import": { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.pipelines === undefined || values.out === undefined) {
    console.error(`--pipelines and --out are required\n\n${USAGE}`);
    return 2;
  }
  const { shapes, skipped } = await loadPipelines(values.pipelines);
  const result = await generate(shapes, {
    out: values.out,
    go: values.go,
    source: values.pipelines,
    ...(values.package === undefined ? {} : { protoPackage: values.package }),
    ...definedOnly({
      goPackage: values["go-package"],
      codegenImport: values["codegen-import"],
    }),
  });
  for (const shape of shapes) {
    console.log(
      `  ${shape.name}: ${
        shape.windowed ? "windowed" : "all-time"
      } ${shape.value}`,
    );
  }
  if (skipped.length > 0) {
    console.log(`  skipped (generic QueryService only): ${skipped.join(", ")}`);
  }
  console.log(`wrote ${result.proto}\nwrote ${result.server}`);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
