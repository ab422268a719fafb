// Projects a counter table's like counts into an in-memory Orama index and logs the write savings.
//
//   deno run -A examples/search_projector/main.ts
//
// Environment: MURMUR_DYNAMODB_ENDPOINT (http://localhost:8000),
// COUNTER_TABLE (likes), COUNTER_PIPELINE (likes). The table's stream must
// carry new images; this enables one when it is missing (development only).

import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBStreamsClient } from "@aws-sdk/client-dynamodb-streams";
import { ensureCounterTable, followCounters } from "./follow.ts";
import { createPostIndex, indexPosts, SearchProjector } from "./projector.ts";

if (import.meta.main) {
  const config = {
    endpoint: Deno.env.get("MURMUR_DYNAMODB_ENDPOINT") ??
      "http://localhost:8000",
    region: Deno.env.get("AWS_REGION") ?? "us-east-1",
  };
  const client = new DynamoDBClient(config);
  const streams = new DynamoDBStreamsClient(config);
  const table = Deno.env.get("COUNTER_TABLE") ?? "likes";
  await ensureCounterTable(client, table);
  const index = createPostIndex();
  await indexPosts(
    index,
    Array.from({ length: 100 }, (_, i) => ({
      id: `post:${i}`,
      title: `post ${i}`,
      body: "",
    })),
  );
  const projector = new SearchProjector(index, {
    pipeline: Deno.env.get("COUNTER_PIPELINE") ?? "likes",
  });
  const stop = new AbortController();
  Deno.addSignalListener("SIGINT", () => stop.abort());
  const timer = setInterval(
    () => console.log(JSON.stringify(projector.stats)),
    5000,
  );
  await followCounters(projector, {
    client,
    streams,
    table,
    signal: stop.signal,
  });
  clearInterval(timer);
  console.log(JSON.stringify(projector.stats));
}
