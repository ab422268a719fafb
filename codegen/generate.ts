// Writes the typed services to disk: the .proto, buf's TypeScript and Go code, and the server stub.

import { dirname, join, relative, resolve } from "node:path";
import { homedir } from "node:os";
import { pathToFileURL } from "node:url";
import {
  CodegenError,
  type PipelineLike,
  type PipelineShape,
  shapeOf,
  shapeOfSpec,
} from "./model.ts";
import { type RenderOptions, renderProto, renderServer } from "./render.ts";

/** The buf CLI, the same pin as the `proto:gen` task. */
export const BUF = "npm:@bufbuild/buf@1.74.0";
/** protoc-gen-es, the same pin as `proto/buf.gen.yaml`. */
export const PROTOC_GEN_ES = "npm:@bufbuild/protoc-gen-es@2.17.0";
/** Go plugins installed with `go install` from the module proxy. */
export const GO_PLUGINS: Readonly<Record<string, string>> = Object.freeze({
  "protoc-gen-go": "google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12",
  "protoc-gen-connect-go":
    "connectrpc.com/connect/cmd/protoc-gen-connect-go@v1.21.1",
});

/** Options for {@linkcode generate}. */
export interface GenerateOptions extends RenderOptions {
  /** The output directory. */
  readonly out: string;
  /** Generate the Go client (needs `go` on PATH for the plugins). Default: `false`. */
  readonly go?: boolean;
  /** Where the Go plugins are cached. Default: `~/.cache/murmur/go-bin`. */
  readonly goBin?: string;
}

/** What {@linkcode generate} wrote. */
export interface GenerateResult {
  /** The `.proto` file. */
  readonly proto: string;
  /** The server stub (`server.ts`). */
  readonly server: string;
  /** The generated TypeScript module of the services. */
  readonly tsModule: string;
  /** The generated Go package directory, when `go` was set. */
  readonly goDir: string | null;
  /** Every pipeline that got a service. */
  readonly shapes: readonly PipelineShape[];
}

/** Pipelines read from a file, and those no typed answer fits. */
export interface LoadedPipelines {
  /** Pipelines that get a typed service. */
  readonly shapes: PipelineShape[];
  /** Names of pipelines left to the generic QueryService. */
  readonly skipped: string[];
}

function isPipelineLike(value: unknown): value is PipelineLike {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  const monoid = v.monoid as Record<string, unknown> | undefined;
  return typeof v.name === "string" && typeof monoid === "object" &&
    monoid !== null && typeof monoid.kind === "string" && "window" in v;
}

/**
 * Reads pipeline definitions: a YAML worker configuration (`.yaml`/`.yml`,
 * through `config/`) or a TypeScript/JavaScript module whose exports are
 * pipelines or arrays of pipelines.
 *
 * @param path The file.
 * @returns The shapes, and the pipelines skipped.
 * @throws {CodegenError} When the file defines no pipeline.
 */
export async function loadPipelines(path: string): Promise<LoadedPipelines> {
  const shapes: PipelineShape[] = [];
  const skipped: string[] = [];
  if (/\.ya?ml$/i.test(path)) {
    const { loadConfig } = await import("../config/mod.ts");
    const config = await loadConfig(path);
    for (const spec of config.pipelines) {
      const shape = shapeOfSpec(spec);
      if (shape === undefined) skipped.push(spec.name);
      else shapes.push(shape);
    }
  } else {
    const module = await import(pathToFileURL(resolve(path)).href) as Record<
      string,
      unknown
    >;
    const seen = new Set<string>();
    for (const value of Object.values(module)) {
      for (const item of Array.isArray(value) ? value : [value]) {
        if (!isPipelineLike(item) || seen.has(item.name)) continue;
        seen.add(item.name);
        const shape = shapeOf(item);
        if (shape === undefined) skipped.push(item.name);
        else shapes.push(shape);
      }
    }
  }
  if (shapes.length === 0) {
    throw new CodegenError(
      `codegen: ${path} defines no pipeline a typed service fits${
        skipped.length > 0 ? ` (skipped: ${skipped.join(", ")})` : ""
      }; give a YAML config or a module exporting built pipelines`,
    );
  }
  return { shapes, skipped };
}

async function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<void> {
  const { code, stdout, stderr } = await new Deno.Command(command, {
    args,
    stdout: "piped",
    stderr: "piped",
    ...options,
  }).output();
  if (code !== 0) {
    const text = new TextDecoder();
    throw new CodegenError(
      `codegen: ${command} ${args.join(" ")} failed (exit ${code}):\n${
        text.decode(stdout)
      }${text.decode(stderr)}`,
    );
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Installs the Go protobuf and Connect plugins from the module proxy into a
 * cache directory, unless they are there already.
 *
 * @param goBin The cache directory. Default: `~/.cache/murmur/go-bin`.
 * @returns The directory holding the plugins.
 * @throws {CodegenError} When `go install` fails (for example without `go` on PATH).
 */
export async function ensureGoPlugins(goBin?: string): Promise<string> {
  const dir = goBin ?? join(homedir(), ".cache", "murmur", "go-bin");
  for (const [binary, module] of Object.entries(GO_PLUGINS)) {
    const version = module.split("@")[1]!;
    const stamp = join(dir, `${binary}.${version}`);
    if (await exists(stamp) && await exists(join(dir, binary))) continue;
    try {
      await run("go", ["install", module], {
        env: { GOBIN: dir, GOFLAGS: "-mod=mod" },
      });
    } catch (error) {
      throw new CodegenError(
        `codegen: installing ${binary} needs Go (https://go.dev/dl) on PATH: ${
          (error as Error).message
        }`,
      );
    }
    await Deno.writeTextFile(stamp, module + "\n");
  }
  return dir;
}

/**
 * Writes the typed services of some pipelines: `proto/<package>/pipelines.proto`
 * (linted by buf), `gen/ts/…_pb.ts` (protoc-gen-es: the services and
 * messages, which `createClient` of `@connectrpc/connect` turns into a
 * client), `gen/go/…` (protoc-gen-go + protoc-gen-connect-go) when `go` is
 * set, and `server.ts`, the stub that serves them through a querier.
 *
 * @param shapes The pipelines.
 * @param options Output directory, package names, Go.
 * @returns What was written.
 * @throws {CodegenError} When buf or a plugin fails.
 */
export async function generate(
  shapes: readonly PipelineShape[],
  options: GenerateOptions,
): Promise<GenerateResult> {
  const out = resolve(options.out);
  const pkg = options.protoPackage ?? "murmur.pipelines.v1";
  const pkgPath = pkg.split(".").join("/");
  const protoRoot = join(out, "proto");
  const proto = join(protoRoot, pkgPath, "pipelines.proto");
  await Deno.mkdir(dirname(proto), { recursive: true });
  await Deno.writeTextFile(proto, renderProto(shapes, options));
  await Deno.writeTextFile(
    join(protoRoot, "buf.yaml"),
    "version: v2\nlint:\n  use:\n    - STANDARD\n",
  );
  const plugins = [
    `  - local: ["deno", "run", "-A", "--no-lock", "${PROTOC_GEN_ES}"]`,
    "    out: ../gen/ts",
    "    opt: [target=ts, import_extension=ts]",
  ];
  let path = Deno.env.get("PATH") ?? "";
  if (options.go === true) {
    const goBin = await ensureGoPlugins(options.goBin);
    path = `${goBin}:${path}`;
    plugins.push(
      "  - local: protoc-gen-go",
      "    out: ../gen/go",
      "    opt: [paths=source_relative]",
      "  - local: protoc-gen-connect-go",
      "    out: ../gen/go",
      "    opt: [paths=source_relative]",
    );
  }
  await Deno.writeTextFile(
    join(protoRoot, "buf.gen.yaml"),
    `version: v2\nplugins:\n${plugins.join("\n")}\n`,
  );
  const env = { PATH: path };
  await run(Deno.execPath(), ["run", "-A", "--no-lock", BUF, "lint"], {
    cwd: protoRoot,
    env,
  });
  await run(Deno.execPath(), ["run", "-A", "--no-lock", BUF, "generate"], {
    cwd: protoRoot,
    env,
  });
  const tsModule = join(out, "gen", "ts", pkgPath, "pipelines_pb.ts");
  const server = join(out, "server.ts");
  let specifier = relative(out, tsModule).split("\\").join("/");
  if (!specifier.startsWith(".")) specifier = `./${specifier}`;
  await Deno.writeTextFile(server, renderServer(shapes, specifier, options));
  await run(Deno.execPath(), ["fmt", "--quiet", server]);
  return {
    proto,
    server,
    tsModule,
    goDir: options.go === true ? join(out, "gen", "go", pkgPath) : null,
    shapes,
  };
}
