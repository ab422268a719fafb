// Child process for the Mongo SIGKILL test: a snapshot scan with a file checkpoint into a Deno KV store, dedup on.
// Args: <mongo url> <db> <collection> <checkpoint file> <kv file> <pipeline name>. Prints a JSON line per batch.

import { MongoClient } from "mongodb";
import { sum } from "../monoid/mod.ts";
import { pipeline } from "../pipeline/mod.ts";
import { FileCheckpoint, MongoSnapshotSource } from "../source/mongo.ts";
import { KvStore } from "../state/kv.ts";
import { run } from "../streaming/mod.ts";

const [url, db, collection, checkpointPath, kvPath, name] = Deno.args;
const client = new MongoClient(url!, { serverSelectionTimeoutMS: 5000 });
const store = await KvStore.open(kvPath!);
const snapshot = new MongoSnapshotSource<{ page: string }>({
  client,
  db: db!,
  collection: collection!,
  batchSize: 50,
  checkpoint: new FileCheckpoint(checkpointPath!),
  checkpointInterval: 0,
});
const source = {
  name: snapshot.name,
  close: () => snapshot.close(),
  async *[Symbol.asyncIterator]() {
    for await (const batch of snapshot) {
      console.log(JSON.stringify({ step: "batch", records: batch.length }));
      yield batch;
    }
  },
};
const counts = pipeline<{ page: string }>(name!)
  .key((e) => e.page)
  .value(() => 1)
  .aggregate(sum())
  .storeIn(store)
  .build();
const summary = await run(counts, { source, dedup: true });
console.log(JSON.stringify({ step: "done", acked: summary.acked }));
await client.close();
await store.close();
