// Verifies that proto/gen is what buf would generate now: lints the .proto sources, regenerates into a temp dir and compares.
//
// Run: deno task proto:check (exits 1 and names the stale files when it is not).

const BUF = "npm:@bufbuild/buf@1.74.0";
const protoDir = new URL(".", import.meta.url);
const genDir = new URL("./gen/", protoDir);

async function buf(args: string[]): Promise<void> {
  const { code, stderr, stdout } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", BUF, ...args],
    cwd: protoDir,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (code !== 0) {
    const text = new TextDecoder();
    throw new Error(
      `buf ${args.join(" ")} failed (exit ${code}):\n${text.decode(stdout)}${
        text.decode(stderr)
      }`,
    );
  }
}

async function listFiles(root: string, dir = ""): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(`${root}/${dir}`)) {
    const path = dir === "" ? entry.name : `${dir}/${entry.name}`;
    if (entry.isDirectory) files.push(...await listFiles(root, path));
    else if (entry.isFile) files.push(path);
  }
  return files.sort();
}

async function main(): Promise<number> {
  await buf(["lint"]);
  const temp = await Deno.makeTempDir({ prefix: "murmur-proto-" });
  try {
    await buf(["generate", "--output", temp]);
    const fresh = `${temp}/gen`;
    const committed = decodeURIComponent(genDir.pathname).replace(/\/$/, "");
    const want = await listFiles(fresh);
    const have = await listFiles(committed).catch(() => []);
    const stale: string[] = [];
    for (const file of new Set([...want, ...have])) {
      const [a, b] = await Promise.all([
        Deno.readTextFile(`${fresh}/${file}`).catch(() => null),
        Deno.readTextFile(`${committed}/${file}`).catch(() => null),
      ]);
      if (a === null) stale.push(`${file} (not generated any more)`);
      else if (b === null) stale.push(`${file} (missing)`);
      else if (a !== b) stale.push(`${file} (differs)`);
    }
    if (stale.length > 0) {
      console.error(
        `proto/gen is out of date: run \`deno task proto:gen\` and commit the result.\n  ${
          stale.join("\n  ")
        }`,
      );
      return 1;
    }
    console.log(`proto/gen is up to date (${want.length} files)`);
    return 0;
  } finally {
    await Deno.remove(temp, { recursive: true });
  }
}

if (import.meta.main) Deno.exit(await main());
