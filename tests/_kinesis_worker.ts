// A Kinesis worker for the multi-process tests: stream → count per page → DynamoDB with dedup, one JSON line per step.
//
// Usage: deno run -A tests/_kinesis_worker.ts <stream> <leaseTable> <stateTable> <pipeline> <marks|claims> <workerId>

import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { KinesisClient } from "@aws-sdk/client-kinesis";
import { sum } from "../monoid/mod.ts";
import { pipeline } from "../pipeline/mod.ts";
import { kinesisSource } from "../source/kinesis.ts";
import { DynamoDBStore } from "../state/dynamodb.ts";
import { run } from "../streaming/mod.ts";
import { awsConfig, service } from "./_stack.ts";
import { say, stepMetrics, stopOnSigterm, workerArgs } from "./_steps.ts";

const { stream, leaseTable, stateTable, name, mode, workerId } = workerArgs(
  "_kinesis_worker.ts",
  ["stream", "leaseTable", "stateTable", "name", "mode", "workerId"],
);

interface View {
  readonly page: string;
  readonly id: string;
}

const dynamodb = new DynamoDBClient(awsConfig(await service("dynamodb")));
const kinesis = new KinesisClient(awsConfig(await service("kinesis")));
const store = new DynamoDBStore(dynamodb, stateTable);
const views = pipeline<View>(name)
  .key((e) => e.page)
  .value(() => 1)
  .aggregate(sum())
  .storeIn(store)
  .build();

const source = kinesisSource<View>({
  stream,
  leaseTable,
  kinesis,
  dynamodb,
  workerId,
  batchSize: 200,
  pollInterval: 100,
  leaseDuration: 3_000,
  discoveryInterval: 1_000,
  checkpointInterval: 200,
  closeTimeout: 5_000,
  ...(mode === "claims" ? { eventId: (e: View) => e.id } : {}),
  onLease: (event) => say({ step: "lease", at: Date.now(), ...event }),
});

const signal = stopOnSigterm();
say({ step: "started", worker: workerId });
const summary = await run(views, {
  source,
  batchWindow: { time: 200 },
  dedup: true,
  signal,
  metrics: stepMetrics(),
});
say({ step: "stopped", events: summary.events, unacked: summary.unacked });
kinesis.destroy();
dynamodb.destroy();
Deno.exit(0);
