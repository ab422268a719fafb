// Bootstrap the order stats from the orders collection, then follow it live.
//
//   deno run -A examples/mongo_cdc_orderstats/main.ts
//
// Environment: MONGO_URL (mongodb://localhost:27017/?directConnection=true),
// MONGO_DB (shop), MONGO_COLLECTION (orders), MURMUR_DYNAMODB_ENDPOINT
// (http://localhost:8000), ORDERSTATS_TABLE (orderstats), ORDERSTATS_STATE
// (.orderstats: the checkpoint files, so a restart resumes).

import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { MongoClient } from "mongodb";
import { FileCheckpoint } from "../../source/mongo.ts";
import { DynamoDBStore, ensureTable } from "../../state/dynamodb.ts";
import { bootstrapOrders, followOrders, orderPipelines } from "./orderstats.ts";

if (import.meta.main) {
  const env = (name: string, fallback: string) =>
    Deno.env.get(name) ?? fallback;
  const mongo = new MongoClient(
    env("MONGO_URL", "mongodb://localhost:27017/?directConnection=true"),
  );
  const dynamo = new DynamoDBClient({
    endpoint: env("MURMUR_DYNAMODB_ENDPOINT", "http://localhost:8000"),
    region: env("AWS_REGION", "us-east-1"),
  });
  const table = env("ORDERSTATS_TABLE", "orderstats");
  await ensureTable(dynamo, table);
  const state = env("ORDERSTATS_STATE", ".orderstats");
  await Deno.mkdir(state, { recursive: true });
  const options = {
    client: mongo,
    db: env("MONGO_DB", "shop"),
    collection: env("MONGO_COLLECTION", "orders"),
    pipelines: orderPipelines(new DynamoDBStore(dynamo, table)),
  };
  const stop = new AbortController();
  for (const name of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(name, () => stop.abort());
  }
  const { summary, handoff } = await bootstrapOrders({
    ...options,
    checkpoint: new FileCheckpoint(`${state}/snapshot.json`),
  });
  console.log(JSON.stringify({
    msg: "bootstrapped",
    orders: summary.pipelines[0]?.acked,
    deadLetters: summary.pipelines[0]?.deadLetters,
  }));
  const live = await followOrders({
    ...options,
    handoff,
    signal: stop.signal,
    checkpoint: new FileCheckpoint(`${state}/live.json`),
  });
  console.log(JSON.stringify({
    msg: "stopped",
    orders: live.pipelines[0]?.acked,
  }));
  await mongo.close();
  dynamo.destroy();
}
