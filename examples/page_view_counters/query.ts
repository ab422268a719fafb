// The page-view query server: a separate process that reads what the worker wrote.
//
//   deno run -A examples/page_view_counters/query.ts [--config file] [--port 8080]
//
// It builds the same pipelines from config.yaml (without a source) and
// serves the Connect QueryService, the admin API, the web UI, /healthz and
// /metrics on one port. Reads go through the Valkey cache when it answers.

import { parseArgs } from "node:util";
import { serve } from "../../admin/mod.ts";
import {
  buildPipelines,
  loadConfig,
  openCache,
  openStore,
} from "../../config/mod.ts";
import { CONFIG } from "./worker.ts";

if (import.meta.main) {
  const flags = parseArgs({
    args: Deno.args,
    options: {
      config: { type: "string" },
      port: { type: "string" },
      hostname: { type: "string" },
    },
  }).values;
  const config = await loadConfig(
    flags.config ?? Deno.env.get("PAGE_VIEWS_CONFIG") ?? CONFIG,
  );
  const store = await openStore(config.store);
  const cache = openCache(
    config,
    (error, operation) =>
      console.log(JSON.stringify({
        msg: "cache unavailable, reading the store",
        operation,
        error: String(error),
      })),
  );
  const pipelines = buildPipelines(config, { store: store.store, cache })
    .map((bound) => bound.pipeline);
  const stop = new AbortController();
  for (const name of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(name, () => stop.abort());
  }
  const server = await serve({
    pipelines,
    port: Number(flags.port ?? Deno.env.get("PORT") ?? 8080),
    hostname: flags.hostname ?? Deno.env.get("HOSTNAME") ?? "127.0.0.1",
    signal: stop.signal,
    onListen: ({ url }) =>
      console.log(JSON.stringify({ msg: "query server listening", url })),
  });
  await server.finished;
  await cache?.close();
  await store[Symbol.asyncDispose]();
}
