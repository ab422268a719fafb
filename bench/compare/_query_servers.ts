// The servers bench/compare/query.ts loads, one per process: `ours` (the admin server over a MemoryStore, with its gRPC port) or `bare` (Deno.serve answering a fixed JSON body).
//
//   deno run -A bench/compare/_query_servers.ts ours <entities>
//   deno run -A bench/compare/_query_servers.ts bare
//
// Prints one JSON line with the ports once listening.

import { serve } from "../../admin/mod.ts";
import { sum } from "../../monoid/mod.ts";
import { MemoryStore } from "../../state/mod.ts";

const [kind, entitiesArg] = Deno.args;
if (kind === "bare") {
  const body = JSON.stringify({
    answer: {
      pipeline: "likes",
      entity: "post:7",
      present: true,
      value: { number: 7 },
    },
  });
  const server = Deno.serve({
    port: 0,
    hostname: "127.0.0.1",
    onListen: (addr) => console.log(JSON.stringify({ port: addr.port })),
  }, async (request) => {
    await request.arrayBuffer();
    return new Response(body, {
      headers: { "content-type": "application/json" },
    });
  });
  await server.finished;
} else {
  const entities = Number(entitiesArg ?? 1000);
  const store = new MemoryStore();
  await store.merge(
    { namespace: "likes", monoid: sum() },
    Array.from({ length: entities }, (_, i) => ({
      key: { entity: `post:${i}`, bucket: null },
      value: i % 1000,
    })),
  );
  const server = await serve({
    pipelines: [{ name: "likes", monoid: sum(), window: null, store }],
    port: 0,
    grpcPort: 0,
    onListen() {},
  });
  // A graceful stop (so `--cpu-prof` can write its profile).
  Deno.addSignalListener("SIGTERM", () => void server.shutdown());
  console.log(JSON.stringify({
    port: server.port,
    grpcPort: Number(new URL(server.grpcUrl!).port),
  }));
  await server.finished;
}
