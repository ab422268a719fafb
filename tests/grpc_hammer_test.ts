// Defect 1 of issue 9: HTTP/2 clients that close connections mid-stream must never crash the server (native gRPC port and the main port).

import assert from "node:assert/strict";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { serve } from "../admin/mod.ts";
import { sum } from "../monoid/mod.ts";
import { MemoryStore } from "../state/mod.ts";
import { QueryService } from "../proto/gen/murmur/v1/query_pb.ts";

const HAMMER = new URL("./_h2_hammer.ts", import.meta.url).pathname;

async function hammer(url: string, calls: number, contentType: string) {
  // The client runs in its own process: node:http2 may abort it too.
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-lock", HAMMER, url, String(calls), contentType],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return out.code;
}

/** Calls Get over native gRPC until it answers, for at most 20 s. */
async function answersOverGrpc(url: string): Promise<number> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const client = createClient(
      QueryService,
      createGrpcTransport({ baseUrl: url }),
    );
    try {
      const res = await client.get({ pipeline: "likes", entity: "post:1" }, {
        timeoutMs: 5000,
      });
      return res.answer?.value?.kind.value as number;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

Deno.test("HTTP/2 clients closing 2 400 calls mid-stream never take the server down; gRPC answers afterwards", async () => {
  const store = new MemoryStore();
  await store.merge({ namespace: "likes", monoid: sum() }, [
    { key: { entity: "post:1", bucket: null }, value: 7 },
  ]);
  const likes = { name: "likes", monoid: sum(), window: null, store };
  await using server = await serve({
    pipelines: [likes],
    port: 0,
    grpcPort: 0,
    onListen() {},
  });
  assert.ok(server.grpcUrl);
  assert.equal(await answersOverGrpc(server.grpcUrl), 7);

  // The native gRPC port (our own HTTP/2, in this process).
  for (let round = 0; round < 2; round++) {
    await hammer(server.grpcUrl, 800, "application/grpc");
  }
  // The main port speaks HTTP/2 cleartext too (Deno.serve): gRPC-Web over it.
  await hammer(server.url, 800, "application/grpc-web+proto");

  // This process is still alive (a crash would have killed the test), and
  // both ports answer.
  assert.equal(await answersOverGrpc(server.grpcUrl), 7);
  const res = await fetch(`${server.url}/murmur.v1.QueryService/Get`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ pipeline: "likes", entity: "post:1" }),
  });
  assert.equal((await res.json()).answer.value.number, 7);
});
