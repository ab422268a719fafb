// The page-view worker: Kafka → the pipelines of config.yaml → DynamoDB (through Valkey).
//
//   deno run -A examples/page_view_counters/worker.ts [--config file] [worker flags]
//
// It is examples/worker.ts pointed at this example's config; every flag of
// that worker (--brokers, --topic, --table, --port, …) works here too.

import { fileURLToPath } from "node:url";
import { runWorker, workerConfig } from "../worker.ts";

/** The example's configuration file. */
export const CONFIG: string = fileURLToPath(
  new URL("./config.yaml", import.meta.url),
);

if (import.meta.main) {
  const args = Deno.args.includes("--config")
    ? Deno.args
    : ["--config", Deno.env.get("PAGE_VIEWS_CONFIG") ?? CONFIG, ...Deno.args];
  const config = await workerConfig(args, (name) => Deno.env.get(name));
  if (config === "help") {
    console.log("see examples/page_view_counters/README.md");
    Deno.exit(0);
  }
  const stop = new AbortController();
  for (const name of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(name, () => stop.abort(new Error(name)));
  }
  const summary = await runWorker(config, stop.signal);
  console.log(JSON.stringify({
    msg: "worker stopped",
    events: summary.pipelines[0]?.events ?? 0,
    stoppedBy: summary.stoppedBy,
  }));
  Deno.exit(0);
}
