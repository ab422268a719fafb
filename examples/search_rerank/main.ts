// The search service: the projector keeps the index current, /search re-ranks by live likes.
//
//   deno run -A examples/search_rerank/main.ts [--port 8090]
//
// Environment: MURMUR_QUERY_URL (http://127.0.0.1:8080, a Murmur query
// server with the likes and likes_daily pipelines), MURMUR_DYNAMODB_ENDPOINT
// (http://localhost:8000), COUNTER_TABLE (likes): the counter table whose
// stream the projector follows.

import { parseArgs } from "node:util";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBStreamsClient } from "@aws-sdk/client-dynamodb-streams";
import { createQueryClient } from "../../query/client.ts";
import { followCounters } from "../search_projector/follow.ts";
import {
  createPostIndex,
  indexPosts,
  SearchProjector,
} from "../search_projector/projector.ts";
import { createSearchHandler } from "./rerank.ts";

if (import.meta.main) {
  const { port } = parseArgs({
    args: Deno.args,
    options: { port: { type: "string", default: "8090" } },
  }).values;
  const config = {
    endpoint: Deno.env.get("MURMUR_DYNAMODB_ENDPOINT") ??
      "http://localhost:8000",
    region: Deno.env.get("AWS_REGION") ?? "us-east-1",
  };
  const index = createPostIndex();
  // The app would index its posts here; a few samples for the demo.
  await indexPosts(index, [
    { id: "post:1", title: "deno streams", body: "web streams in deno" },
    { id: "post:2", title: "deno streams in depth", body: "backpressure" },
    { id: "post:3", title: "deno kv", body: "a key-value store" },
  ]);
  const stop = new AbortController();
  Deno.addSignalListener("SIGINT", () => stop.abort());
  const following = followCounters(
    new SearchProjector(index, { pipeline: "likes" }),
    {
      client: new DynamoDBClient(config),
      streams: new DynamoDBStreamsClient(config),
      table: Deno.env.get("COUNTER_TABLE") ?? "likes",
      signal: stop.signal,
    },
  );
  const client = createQueryClient({
    baseUrl: Deno.env.get("MURMUR_QUERY_URL") ?? "http://127.0.0.1:8080",
    timeoutMs: 500,
  });
  const server = Deno.serve(
    { port: Number(port), hostname: "127.0.0.1", signal: stop.signal },
    createSearchHandler({ index, client }),
  );
  await Promise.all([server.finished, following]);
}
