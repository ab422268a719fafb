// The Kafka side: a long-running worker folding interactions from a topic into the shared Top-K.
//
//   deno run -A examples/recently_interacted_topk/worker.ts
//
// Environment: KAFKA_BROKERS (127.0.0.1:9092), KAFKA_TOPIC (interactions),
// CONSUMER_GROUP (recently_interacted_worker), plus those of pipeline.ts.

import { kafkaSource } from "../../source/kafka.ts";
import { run } from "../../streaming/mod.ts";
import {
  dynamoClient,
  type Interaction,
  recentlyInteracted,
  settings,
} from "./pipeline.ts";

const s = settings();
const client = dynamoClient(s);
const interactions = await recentlyInteracted(s, client);
const source = kafkaSource<Interaction>({
  brokers: (Deno.env.get("KAFKA_BROKERS") ?? "127.0.0.1:9092").split(","),
  topic: Deno.env.get("KAFKA_TOPIC") ?? "interactions",
  groupId: Deno.env.get("CONSUMER_GROUP") ?? "recently_interacted_worker",
});

const stop = new AbortController();
Deno.addSignalListener("SIGTERM", () => stop.abort());
Deno.addSignalListener("SIGINT", () => stop.abort());
const summary = await run(interactions, {
  source,
  dedup: true,
  batchWindow: { time: 250 },
  signal: stop.signal,
  metrics: {
    eventsIn: () => {},
    merged: () => {},
    flushed: (_p, records) => console.log(JSON.stringify({ flushed: records })),
    error: (_p, error) => console.error(String(error)),
    retried: () => {},
    deadLettered: () => {},
    dedupSkipped: () => {},
    debounced: () => {},
    lag: () => {},
  },
});
console.log(JSON.stringify({ stopped: summary.events }));
client.destroy();
