// Runs every benchmark harness in bench/ in turn and prints where their results went.
//
//   deno task bench                 all harnesses, full size
//   deno task bench --quick         all harnesses, small inputs (a smoke run)
//   deno task bench sketch runtime  only the named harnesses
//
// Each harness prints its own markdown table and writes bench/results/<name>.json.
// Harnesses that need the service stack (kafka_e2e, query, store, bootstrap,
// kinesis, lambda, spark) expect `deno task stack:up` (and `stack:up spark`) to
// have run. The side-by-side comparisons with Go baselines live in bench/compare/.

const HARNESSES = [
  "monoid",
  "sketch",
  "runtime",
  "store",
  "kafka_e2e",
  "query",
  "bootstrap",
  "kinesis",
  "lambda",
  "spark",
] as const;

const args = Deno.args.filter((a) => !a.startsWith("--"));
const flags = Deno.args.filter((a) => a.startsWith("--"));
const unknown = args.filter((a) =>
  !(HARNESSES as readonly string[]).includes(a)
);
if (unknown.length > 0) {
  console.error(
    `unknown benchmark ${unknown.join(", ")}: choose from ${
      HARNESSES.join(", ")
    }`,
  );
  Deno.exit(2);
}
const chosen = args.length > 0 ? args : [...HARNESSES];

const outcomes: { name: string; ok: boolean; seconds: number }[] = [];
for (const name of chosen) {
  const file = new URL(`./${name}.ts`, import.meta.url);
  console.log(`\n## bench/${name}.ts ${flags.join(" ")}\n`);
  const started = performance.now();
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", file.pathname, ...flags],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  outcomes.push({
    name,
    ok: code === 0,
    seconds: (performance.now() - started) / 1000,
  });
}

console.log("\n| harness | result | seconds | JSON |\n|---|---|---|---|");
for (const o of outcomes) {
  console.log(
    `| ${o.name} | ${o.ok ? "ok" : "FAILED"} | ${
      o.seconds.toFixed(1)
    } | bench/results/${o.name}.json |`,
  );
}
if (outcomes.some((o) => !o.ok)) Deno.exit(1);
