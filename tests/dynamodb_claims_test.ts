// Claimed records against DynamoDB Local: in-batch redeliveries and a key with more claims than one transaction holds.

import assert from "node:assert/strict";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { count } from "../monoid/mod.ts";
import { pipeline } from "../pipeline/mod.ts";
import { MemorySource, type Source } from "../source/mod.ts";
import { DynamoDBStore, ensureTable } from "../state/dynamodb.ts";
import { run } from "../streaming/mod.ts";
import { serviceTest } from "./_service.ts";
import { awsConfig, service, uniqueName } from "./_stack.ts";

const endpoint = await service("dynamodb");

/** One batch of records without stream positions: dedup goes by claimed ids. */
function claimed(ids: readonly string[]): Source<string> {
  return MemorySource.of(ids.map(() => "k"), {
    name: "claimed",
    stream: null,
    batchSize: ids.length,
    id: (_key, position) => ids[position]!,
    time: () => 0,
  });
}

serviceTest(
  "dynamodb: claimed records — in-batch redeliveries fold once, 300 claims on one key all land",
  async () => {
    const client = new DynamoDBClient(awsConfig(endpoint));
    const table = uniqueName("murmur_claims");
    await ensureTable(client, table);
    await using store = new DynamoDBStore(client, table);
    const p = pipeline<string>("claims").key((s) => s).value(() => 1)
      .aggregate(count()).storeIn(store).build();
    const ids = Array.from({ length: 300 }, (_, i) => `id-${i}`);
    const dead: string[] = [];
    const summary = await run(p, {
      source: claimed([...ids, "id-7", "id-7", "id-299"]),
      dedup: true,
      deadLetter: (record) => {
        dead.push(record.id);
      },
    });
    assert.deepEqual(dead, []);
    assert.equal(summary.acked, 303);
    assert.equal(summary.dedupSkips, 3);
    assert.equal(await store.get(p.scope, { entity: "k", bucket: null }), 300);
    const again = await run(p, { source: claimed(ids), dedup: true });
    assert.equal(again.dedupSkips, 300);
    assert.equal(await store.get(p.scope, { entity: "k", bucket: null }), 300);
  },
);
