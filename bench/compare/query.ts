// Query `Get` side by side: ours over Connect JSON, Connect binary and gRPC against a minimal Go Connect server and a bare Deno.serve, same client, same load, one run.
//
//   deno run -A bench/compare/query.ts            40 000 requests per measurement, 3 rounds
//   deno run -A bench/compare/query.ts --quick    10 000 requests, 1 round
//
// Servers, each its own process: ours (`serve()` over a MemoryStore, 1 000
// entities, gRPC on its second port, in process), Go
// (bench/compare/go/query: connectrpc.com/connect answering
// `QueryService.Get` from a map, built with the Go module proxy), and a bare
// `Deno.serve` returning a fixed JSON body (the floor of Deno's HTTP). The
// client is h2load (Debian `nghttp2-client`), the same for all: 16 requests in
// flight (16 HTTP/1.1 connections; gRPC as 4 h2c connections × 4 streams) and
// 1 in flight for latency. Rounds alternate the servers so the machine's drift
// hits all of them. CPU µs per request come from /proc (the server process
// and any children).
//
// Not like for like: Go's answer is built from a map lookup, ours goes
// through the querier (limits, singleflight, the store's getMany, the monoid,
// the typed value); the bare server parses nothing. Both serve gRPC in
// process: Go with golang.org/x/net/http2, ours with rpc/_h2.ts.
// Prints one table and writes bench/results/compare_query.json.

import { join } from "node:path";
import { buildGo, writeResults } from "./_go.ts";

const quick = Deno.args.includes("--quick");
const N = quick ? 10_000 : 120_000;
const ROUNDS = quick ? 1 : 3;
const WARMUP = quick ? 3_000 : 8_000;
const ENTITIES = 1000;
const PATH = "/murmur.v1.QueryService/Get";

interface Server {
  readonly name: string;
  readonly child: Deno.ChildProcess;
  readonly port: number;
  readonly grpcPort?: number;
}

async function firstLine(child: Deno.ChildProcess): Promise<string> {
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`server exited before listening: ${text}`);
    text += value;
  }
  (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })().catch(() => {});
  return text.split("\n")[0]!;
}

async function start(
  name: string,
  cmd: string,
  args: string[],
): Promise<Server> {
  const child = new Deno.Command(cmd, {
    args,
    stdout: "piped",
    stderr: "inherit",
    stdin: "piped",
  }).spawn();
  const ports = JSON.parse(await firstLine(child)) as {
    port: number;
    grpcPort?: number;
  };
  return { name, child, ...ports };
}

/** CPU ticks of a process and its descendants. */
function cpuTicks(pid: number): number {
  let ticks = 0;
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks += Number(fields[11]) + Number(fields[12]);
    for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
      const children = Deno.readTextFileSync(
        `/proc/${pid}/task/${task.name}/children`,
      ).trim();
      for (const child of children === "" ? [] : children.split(" ")) {
        ticks += cpuTicks(Number(child));
      }
    }
  } catch {
    // Gone.
  }
  return ticks;
}
const TICK_US = 10_000; // CLK_TCK 100 on Linux

interface Run {
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly cpuUsPerRequest: number;
  readonly failed: number;
}

async function h2load(
  url: string,
  n: number,
  args: string[],
  pid: number,
): Promise<Run> {
  const log = await Deno.makeTempFile({ suffix: ".h2load" });
  const before = cpuTicks(pid);
  const out = await new Deno.Command("h2load", {
    args: ["-n", String(n), "--log-file", log, ...args, url],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const cpu = (cpuTicks(pid) - before) * TICK_US / n;
  const text = new TextDecoder().decode(out.stdout);
  const rps = Number(/finished in [^,]+, ([\d.]+) req\/s/.exec(text)?.[1]);
  const succeeded = Number(/(\d+) succeeded/.exec(text)?.[1] ?? 0);
  const twoxx = Number(/status codes: (\d+) 2xx/.exec(text)?.[1] ?? 0);
  const latencies = (await Deno.readTextFile(log)).trim().split("\n")
    .map((line) => Number(line.split("\t")[2]) / 1000)
    .filter((ms) => Number.isFinite(ms))
    .sort((a, b) => a - b);
  await Deno.remove(log);
  const at = (q: number) =>
    latencies[
      Math.min(latencies.length - 1, Math.floor(q * latencies.length))
    ] ??
      NaN;
  return {
    perSecond: Math.round(rps),
    p50Ms: Number(at(0.5).toFixed(3)),
    p99Ms: Number(at(0.99).toFixed(3)),
    cpuUsPerRequest: Math.round(cpu),
    failed: n - Math.min(succeeded, twoxx),
  };
}

function median(runs: Run[]): Run {
  const sorted = [...runs].sort((a, b) => a.perSecond - b.perSecond);
  return sorted[Math.floor(sorted.length / 2)]!;
}

// --- inputs -----------------------------------------------------------------
try {
  await new Deno.Command("h2load", { args: ["--version"], stdout: "null" })
    .output();
} catch {
  console.error(
    "h2load is missing: install it with `apt-get install nghttp2-client` (Debian)",
  );
  Deno.exit(1);
}
const dir = await Deno.makeTempDir({ prefix: "murmur-query-bench-" });
const enc = new TextEncoder();
const jsonBody = join(dir, "get.json");
await Deno.writeTextFile(
  jsonBody,
  JSON.stringify({ pipeline: "likes", entity: "post:7" }),
);
const message = Uint8Array.of(
  0x0a,
  5,
  ...enc.encode("likes"),
  0x12,
  6,
  ...enc.encode("post:7"),
);
const binBody = join(dir, "get.bin");
await Deno.writeFile(binBody, message);
const grpcBody = join(dir, "get.grpc");
await Deno.writeFile(
  grpcBody,
  Uint8Array.of(0, 0, 0, 0, message.length, ...message),
);

// --- servers ----------------------------------------------------------------
const goBinary = await buildGo("query");
const here = new URL(".", import.meta.url).pathname;
const ours = await start("ours", Deno.execPath(), [
  "run",
  "-A",
  "--no-lock",
  join(here, "_query_servers.ts"),
  "ours",
  String(ENTITIES),
]);
const bare = await start("bare Deno.serve", Deno.execPath(), [
  "run",
  "-A",
  "--no-lock",
  join(here, "_query_servers.ts"),
  "bare",
]);
const go = await start("Go connect", goBinary, ["0", String(ENTITIES)]);

// Every server answers the same request before any load.
for (const server of [ours, go]) {
  const res = await fetch(`http://127.0.0.1:${server.port}${PATH}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: await Deno.readTextFile(jsonBody),
  });
  const json = await res.json();
  if (json.answer?.value?.number !== 7) {
    throw new Error(`${server.name} answered ${JSON.stringify(json)}`);
  }
}

const JSON_ARGS = ["-d", jsonBody, "-H", "content-type: application/json"];
const BIN_ARGS = ["-d", binBody, "-H", "content-type: application/proto"];
const GRPC_ARGS = [
  "-d",
  grpcBody,
  "-H",
  "content-type: application/grpc",
  "-H",
  "te: trailers",
];
interface Target {
  readonly server: Server;
  readonly port: number;
}
interface Case {
  readonly name: string;
  readonly args: string[];
  readonly n: number;
  readonly targets: Target[];
}
const cases: Case[] = [
  {
    name: "Connect JSON, 16 in flight",
    args: ["--h1", "-c", "16", ...JSON_ARGS],
    n: N,
    targets: [ours, go, bare].map((s) => ({ server: s, port: s.port })),
  },
  {
    name: "Connect binary, 16 in flight",
    args: ["--h1", "-c", "16", ...BIN_ARGS],
    n: N,
    targets: [ours, go].map((s) => ({ server: s, port: s.port })),
  },
  {
    name: "gRPC, 16 in flight (h2c 4×4)",
    args: ["-c", "4", "-m", "4", ...GRPC_ARGS],
    n: Math.round(N / 4),
    targets: [
      { server: ours, port: ours.grpcPort! },
      { server: go, port: go.port },
    ],
  },
  {
    name: "Connect JSON, 1 in flight",
    args: ["--h1", "-c", "1", ...JSON_ARGS],
    n: Math.round(N / 8),
    targets: [ours, go, bare].map((s) => ({ server: s, port: s.port })),
  },
];

interface Row extends Run {
  readonly case: string;
  readonly server: string;
  readonly rounds: number;
}
const rows: Row[] = [];
try {
  for (const c of cases) {
    const runs = new Map<Target, Run[]>();
    for (const t of c.targets) {
      const url = `http://127.0.0.1:${t.port}${PATH}`;
      await h2load(url, WARMUP, c.args, t.server.child.pid);
      runs.set(t, []);
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (const t of c.targets) {
        const url = `http://127.0.0.1:${t.port}${PATH}`;
        runs.get(t)!.push(await h2load(url, c.n, c.args, t.server.child.pid));
      }
    }
    for (const t of c.targets) {
      const m = median(runs.get(t)!);
      rows.push({ case: c.name, server: t.server.name, rounds: ROUNDS, ...m });
      console.error(`${c.name} · ${t.server.name}: ${m.perSecond} req/s`);
    }
  }
} finally {
  for (const s of [ours, bare, go]) {
    try {
      s.child.kill("SIGTERM");
    } catch {
      // Gone.
    }
    await s.child.status;
  }
  await Deno.remove(dir, { recursive: true });
}

// --- report -----------------------------------------------------------------
const find = (c: string, s: string) =>
  rows.find((r) => r.case === c && r.server === s);
const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || b === 0
    ? NaN
    : Number((a / b).toFixed(2));
console.log(
  "\n| case | server | req/s | p50 ms | p99 ms | CPU µs/req | failed | req/s vs Go | p99 vs bare |",
);
console.log("|---|---|---:|---:|---:|---:|---:|---:|---:|");
for (const r of rows) {
  const goRow = find(r.case, "Go connect");
  const bareRow = find(r.case, "bare Deno.serve");
  console.log(
    `| ${r.case} | ${r.server} | ${r.perSecond} | ${r.p50Ms} | ${r.p99Ms} | ${r.cpuUsPerRequest} | ${r.failed} | ${
      ratio(r.perSecond, goRow?.perSecond)
    } | ${bareRow === undefined ? "" : ratio(r.p99Ms, bareRow.p99Ms)} |`,
  );
}
const J = "Connect JSON, 16 in flight";
const B = "Connect binary, 16 in flight";
const G = "gRPC, 16 in flight (h2c 4×4)";
const goals = {
  connectJsonVsGo: ratio(
    find(J, "ours")?.perSecond,
    find(J, "Go connect")?.perSecond,
  ),
  connectBinaryVsGo: ratio(
    find(B, "ours")?.perSecond,
    find(B, "Go connect")?.perSecond,
  ),
  p99VsBare: ratio(find(J, "ours")?.p99Ms, find(J, "bare Deno.serve")?.p99Ms),
  grpcVsConnectBinary: ratio(
    find(G, "ours")?.perSecond,
    find(B, "ours")?.perSecond,
  ),
};
console.log(
  `\ngoals: Connect JSON ${goals.connectJsonVsGo}× Go (≥ 1.0), Connect binary ${goals.connectBinaryVsGo}× Go (≥ 1.0), p99 ${goals.p99VsBare}× bare Deno.serve (≤ 2), gRPC ${goals.grpcVsConnectBinary}× our Connect binary (≥ 0.67)`,
);
await writeResults("compare_query", {
  date: new Date().toISOString(),
  requests: N,
  rounds: ROUNDS,
  client: "h2load",
  rows,
  goals,
});
