// Replay from the archives a config names: JSON-Lines in S3 (moto) and local Parquet files, each landing in its daily buckets.

import assert from "node:assert/strict";
import { S3Client } from "@aws-sdk/client-s3";
import { withBucket } from "./_s3.ts";
import { parquetWriteBuffer } from "hyparquet-writer";
import { awsConfig, service, uniqueName } from "./_stack.ts";
import { serviceTest } from "./_service.ts";
import { buildPipelines, openSource, parseConfig } from "../config/mod.ts";
import { replay } from "../streaming/replay.ts";
import { MemoryStore } from "../state/mod.ts";
import { sum } from "../monoid/mod.ts";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { createItemTable, putItems } from "./_dynamodb.ts";

const DAY = 86_400_000;
const START = Date.UTC(2026, 9, 1);
const scope = { namespace: "revenue", monoid: sum() };

/** Day d of October gets d + 1 orders of amount 3. */
function month(): { at: number; amount: number; shop: string }[] {
  const out = [];
  for (let d = 0; d < 31; d++) {
    for (let i = 0; i <= d; i++) {
      out.push({
        at: START + d * DAY + i * 60_000,
        amount: 3,
        shop: `s${i % 4}`,
      });
    }
  }
  return out;
}

const PIPELINE = `
pipelines:
  - name: revenue
    key: { const: all }
    value: amount
    aggregate: sum
    window: { every: day, retention: 3650d }
    time: at
`;

async function check(yaml: string) {
  const config = parseConfig(yaml);
  const shadow = new MemoryStore();
  const summary = await replay(
    openSource(config.replay!.source),
    buildPipelines(config, { store: new MemoryStore() }),
    { into: shadow },
  );
  assert.equal(summary.events, 496);
  assert.equal(summary.deadLetters, 0);
  assert.equal(summary.pipelines[0]!.buckets.length, 31);
  for (let d = 0; d < 31; d++) {
    assert.equal(
      await shadow.get(scope, { entity: "all", bucket: START + d * DAY }),
      3 * (d + 1),
    );
  }
}

serviceTest(
  "replay: a month of JSON-Lines in S3 lands in its daily buckets",
  async () => {
    const s3 = await service("s3");
    const client = new S3Client(awsConfig(s3));
    const events = month();
    const parts = Object.fromEntries([0, 1, 2, 3].map((part) => [
      `orders/part-${part}.jsonl`,
      events.filter((_, i) => i % 4 === part).map((e) =>
        JSON.stringify({ ...e, at: new Date(e.at).toISOString() }) + "\n"
      ).join(""),
    ]));
    await withBucket(client, "archive", parts, (bucket) =>
      check(`${PIPELINE}
replay:
  source: { kind: s3, bucket: ${bucket}, prefix: orders/, suffix: .jsonl, endpoint: "${s3.url}", concurrency: 2 }
`));
    client.destroy();
  },
);

Deno.test("replay: a month of local Parquet files lands in its daily buckets", async () => {
  const dir = await Deno.makeTempDir();
  const events = month();
  for (let part = 0; part < 2; part++) {
    const rows = events.filter((_, i) => i % 2 === part);
    await Deno.writeFile(
      `${dir}/part-${part}.parquet`,
      new Uint8Array(parquetWriteBuffer({
        columnData: [
          { name: "at", data: rows.map((r) => BigInt(r.at)), type: "INT64" },
          { name: "amount", data: rows.map((r) => r.amount), type: "INT32" },
          { name: "shop", data: rows.map((r) => r.shop), type: "STRING" },
        ],
        rowGroupSize: 50,
      })),
    );
  }
  await check(`${PIPELINE}
replay:
  source: { kind: parquet, path: ${dir}, columns: [at, amount] }
`);
  await Deno.remove(dir, { recursive: true });
});

serviceTest(
  "bootstrap: a DynamoDB table scan named by the config lands in its daily buckets",
  async () => {
    const dynamo = await service("dynamodb");
    const client = new DynamoDBClient(awsConfig(dynamo));
    const table = uniqueName("orders");
    await createItemTable(client, table);
    await putItems(
      client,
      table,
      month().map((e, i) => ({
        id: { S: `o${i}` },
        at: { N: String(e.at) },
        amount: { N: String(e.amount) },
        shop: { S: e.shop },
      })),
    );
    client.destroy();
    await check(`${PIPELINE}
replay:
  source: { kind: dynamodb, table: ${table}, endpoint: "${dynamo.url}", segments: 2, totalSegments: 4 }
`);
  },
);
