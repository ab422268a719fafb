// Child process for the SIGKILL bootstrap tests: a snapshot scan (Mongo, S3 or DynamoDB) with a file checkpoint into a Deno KV store, dedup on.
// Args: <kind> <checkpoint file> <kv file> <pipeline name> then, by kind:
//   mongo <url> <db> <collection> | s3 <bucket> <prefix> | dynamodb <table>.
// Prints a JSON line per batch read, per flush written, and one at the end; waits 10 ms after each batch.

import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { MongoClient } from "mongodb";
import { FileCheckpoint, type Source } from "../source/mod.ts";
import { DynamoDBSnapshotSource } from "../source/dynamodb.ts";
import { MongoSnapshotSource } from "../source/mongo.ts";
import { S3JsonLinesSource } from "../source/s3.ts";
import { KvStore } from "../state/kv.ts";
import { noopMetrics, run } from "../streaming/mod.ts";
import { pageCounter } from "./_bootstrap.ts";
import { awsConfig, service } from "./_stack.ts";

interface View {
  page: string;
}

const [kind, checkpointPath, kvPath, name, ...rest] = Deno.args;
const checkpoint = new FileCheckpoint(checkpointPath!);
const common = { batchSize: 50, checkpoint, checkpointInterval: 0 };
let snapshot: Source<View>;
let release: () => unknown;
if (kind === "mongo") {
  const [url, db, collection] = rest;
  const client = new MongoClient(url!, { serverSelectionTimeoutMS: 5000 });
  snapshot = new MongoSnapshotSource<View>({
    client,
    db: db!,
    collection: collection!,
    ...common,
  });
  release = () => client.close();
} else if (kind === "s3") {
  const [bucket, prefix] = rest;
  const client = new S3Client(awsConfig(await service("s3")));
  snapshot = new S3JsonLinesSource<View>({
    client,
    bucket: bucket!,
    prefix: prefix!,
    concurrency: 2,
    time: () => 0,
    ...common,
  });
  release = () => client.destroy();
} else if (kind === "dynamodb") {
  const client = new DynamoDBClient(awsConfig(await service("dynamodb")));
  snapshot = new DynamoDBSnapshotSource<View>({
    client,
    table: rest[0]!,
    segments: 2,
    ...common,
  });
  release = () => client.destroy();
} else {
  throw new Error(`unknown snapshot kind ${kind}`);
}
const source: Source<View> = {
  name: snapshot.name,
  close: () => snapshot.close(),
  async *[Symbol.asyncIterator]() {
    for await (const batch of snapshot) {
      console.log(JSON.stringify({ step: "batch", records: batch.length }));
      yield batch;
      // Slow enough that the test's SIGKILL lands mid-scan, whatever the store's speed.
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  },
};
const store = await KvStore.open(kvPath!);
const summary = await run(pageCounter<View>(store, name!), {
  source,
  dedup: true,
  metrics: {
    ...noopMetrics,
    flushed: (_pipeline, records) =>
      console.log(JSON.stringify({ step: "flushed", records })),
  },
});
console.log(JSON.stringify({ step: "done", acked: summary.acked }));
await release();
await store.close();
