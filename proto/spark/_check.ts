// Verifies that proto/spark/gen is what buf generates now from the vendored Spark Connect protos.
//
// Run: deno task proto:check (exits 1 and names the stale files when it is not).
// The .proto files are Apache Spark's, byte for byte from spark-connect_2.13-4.0.1.jar,
// so they are not linted here; only the generated code is compared.

const BUF = "npm:@bufbuild/buf@1.74.0";
const dir = decodeURIComponent(new URL(".", import.meta.url).pathname);

async function files(root: string, sub = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(`${root}/${sub}`)) {
    const path = sub === "" ? entry.name : `${sub}/${entry.name}`;
    if (entry.isDirectory) out.push(...await files(root, path));
    else if (entry.isFile) out.push(path);
  }
  return out.sort();
}

async function main(): Promise<number> {
  const temp = await Deno.makeTempDir({ prefix: "murmur-spark-proto-" });
  try {
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", BUF, "generate", "--output", temp],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (code !== 0) {
      console.error(
        `buf generate failed (exit ${code}):\n${
          new TextDecoder().decode(stderr)
        }`,
      );
      return 1;
    }
    const fresh = `${temp}/gen`;
    const committed = `${dir}gen`;
    const stale: string[] = [];
    const all = new Set([
      ...await files(fresh),
      ...await files(committed).catch(() => []),
    ]);
    for (const file of all) {
      const [a, b] = await Promise.all([
        Deno.readTextFile(`${fresh}/${file}`).catch(() => null),
        Deno.readTextFile(`${committed}/${file}`).catch(() => null),
      ]);
      if (a !== b) stale.push(file);
    }
    if (stale.length > 0) {
      console.error(
        `proto/spark/gen is out of date: run \`deno task proto:gen\` and commit the result.\n  ${
          stale.join("\n  ")
        }`,
      );
      return 1;
    }
    console.log(`proto/spark/gen is up to date (${all.size} files)`);
    return 0;
  } finally {
    await Deno.remove(temp, { recursive: true });
  }
}

if (import.meta.main) Deno.exit(await main());
