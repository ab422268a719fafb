// Lambda: the per-batch cost of kinesisHandler against a handler that only parses the event, one run.
//
//   deno run -A bench/lambda.ts           batches of 100 and 1,000 records
//   deno run -A bench/lambda.ts --quick   fewer batches
//
// Needs DynamoDB Local for the last rows (`deno task stack:up`). Prints a
// markdown table and writes bench/results/lambda.json.
//
// Rows per batch size, each over fresh Kinesis events (new sequence numbers, so dedup never skips):
//   parse     base64-decode and JSON.parse every record, answer no failures (the baseline)
//   memory    kinesisHandler: count per page into an in-memory store, exactly-once on
//   dynamodb  kinesisHandler: the same into DynamoDB Local (one write per page, marks and progress intent)

import { writeResults } from "./_results.ts";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { count } from "../monoid/mod.ts";
import { pipeline } from "../pipeline/mod.ts";
import {
  type BatchResponse,
  kinesisHandler,
  type KinesisStreamEvent,
} from "../lambda/mod.ts";
import { MemoryStore, type Store } from "../state/mod.ts";
import { DynamoDBStore, ensureTable } from "../state/dynamodb.ts";
import { awsConfig, service, uniqueName } from "../tests/_stack.ts";
import { benchFlags } from "./_flags.ts";

const { quick } = benchFlags({});

let seq = 1_000_000n;
function event(size: number): KinesisStreamEvent {
  return {
    Records: Array.from({ length: size }, (_, i) => {
      seq++;
      return {
        eventID: `shardId-000000000000:${seq}`,
        eventSourceARN:
          "arn:aws:kinesis:us-east-1:123456789012:stream/bench-lambda",
        kinesis: {
          partitionKey: `u${i}`,
          sequenceNumber: String(seq),
          data: btoa(JSON.stringify({ page: `/p${i % 50}`, user: i })),
          approximateArrivalTimestamp: Date.now() / 1000,
        },
      };
    }),
  };
}

const decoder = new TextDecoder();
function parseOnly(e: KinesisStreamEvent): Promise<BatchResponse> {
  for (const r of e.Records) {
    const bytes = Uint8Array.from(atob(r.kinesis.data), (c) => c.charCodeAt(0));
    JSON.parse(decoder.decode(bytes));
  }
  return Promise.resolve({ batchItemFailures: [] });
}

function handlerOver(store: Store) {
  const views = pipeline<{ page: string }>(uniqueName("bench_lambda"))
    .key((e) => e.page)
    .value(() => 1)
    .aggregate(count())
    .storeIn(store)
    .build();
  return kinesisHandler(views);
}

interface Row {
  handler: string;
  batchSize: number;
  batches: number;
  msPerBatch: number;
  overheadMs: number;
}

async function measure(
  name: string,
  size: number,
  batches: number,
  handle: (e: KinesisStreamEvent) => Promise<BatchResponse>,
): Promise<Omit<Row, "overheadMs">> {
  const events = Array.from({ length: batches + 2 }, () => event(size));
  for (const e of events.slice(0, 2)) await handle(e); // warm up
  const started = performance.now();
  for (const e of events.slice(2)) {
    const answer = await handle(e);
    if (answer.batchItemFailures.length > 0) {
      throw new Error(`${name}: ${answer.batchItemFailures.length} failures`);
    }
  }
  return {
    handler: name,
    batchSize: size,
    batches,
    msPerBatch: (performance.now() - started) / batches,
  };
}

const dynamodb = new DynamoDBClient(awsConfig(await service("dynamodb")));
const TABLE = "murmur_bench_lambda";
await ensureTable(dynamodb, TABLE);

const rows: Row[] = [];
for (const size of [100, 1000]) {
  const many = quick ? 20 : size === 100 ? 300 : 60;
  const base = await measure("parse only", size, many, parseOnly);
  const mem = await measure(
    "kinesisHandler → memory store",
    size,
    many,
    handlerOver(new MemoryStore()),
  );
  const ddb = await measure(
    "kinesisHandler → DynamoDB Local",
    size,
    quick ? 5 : 20,
    handlerOver(new DynamoDBStore(dynamodb, TABLE)),
  );
  for (const r of [base, mem, ddb]) {
    rows.push({ ...r, overheadMs: r.msPerBatch - base.msPerBatch });
  }
}

console.log("\nLambda handler per batch (in process, Kinesis events)\n");
console.log(
  "| handler | batch | batches | ms per batch | overhead vs parse (ms) |",
);
console.log("| --- | ---: | ---: | ---: | ---: |");
for (const r of rows) {
  console.log(
    `| ${r.handler} | ${r.batchSize} | ${r.batches} | ${
      r.msPerBatch.toFixed(2)
    } | ${r.overheadMs.toFixed(2)} |`,
  );
}
await writeResults("lambda", {
  harness: "lambda",
  date: new Date().toISOString(),
  rows,
});
dynamodb.destroy();
