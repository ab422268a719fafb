// Lambda handlers under the real Runtime Interface Emulator, fed with events built from records read back from the stack.

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  DeleteTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  PutItemCommand,
} from "@aws-sdk/client-dynamodb";
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand as GetStreamRecordsCommand,
  GetShardIteratorCommand as GetStreamIteratorCommand,
} from "@aws-sdk/client-dynamodb-streams";
import { KinesisClient } from "@aws-sdk/client-kinesis";
import { count } from "../monoid/mod.ts";
import type { BatchResponse } from "../lambda/mod.ts";
import { DynamoDBStore, ensureTable } from "../state/dynamodb.ts";
import { awsConfig, eventually, service, uniqueName } from "./_stack.ts";
import { serviceTest } from "./_service.ts";
import {
  createStream,
  deleteStream,
  kinesisLambdaEvent as kinesisEvent,
  putEvents,
} from "./_kinesis.ts";
import { Emulator } from "./_lambda_rie.ts";
import { createItemTable } from "./_dynamodb.ts";

const dynamoEndpoint = await service("dynamodb");
const dynamodb = new DynamoDBClient(awsConfig(dynamoEndpoint));
const kinesis = new KinesisClient(awsConfig(await service("kinesis")));
const STATE = "murmur_lambda_state";
await ensureTable(dynamodb, STATE);
const store = new DynamoDBStore(dynamodb, STATE);
const BOOTSTRAP = fileURLToPath(
  new URL("./_lambda_bootstrap.ts", import.meta.url),
);

async function totals(
  name: string,
  pages: readonly string[],
): Promise<number[]> {
  const values = await store.getMany(
    { namespace: name, monoid: count() },
    pages.map((entity) => ({ entity, bucket: null })),
  );
  return values.map((v) => Number(v ?? 0));
}

function tally(pages: readonly string[], of: readonly string[]): number[] {
  return of.map((p) => pages.filter((x) => x === p).length);
}

serviceTest(
  "lambda kinesis handler under the emulator: a store failure halfway returns only the failed records, a redelivery counts once",
  async () => {
    const stream = uniqueName("lambda-kin");
    const name = uniqueName("lambda_views");
    const faults = await Deno.makeTempFile({ suffix: ".json" });
    await createStream(kinesis, stream, 1);
    const emulator = await Emulator.start(BOOTSTRAP, {
      MURMUR_LAMBDA_KIND: "kinesis",
      MURMUR_LAMBDA_TABLE: STATE,
      MURMUR_LAMBDA_PIPELINE: name,
      MURMUR_LAMBDA_FAULTS: faults,
    });
    try {
      const pageOf = (i: number) => `p${i % 3}`;
      const first = Array.from({ length: 12 }, (_, i) => ({ page: pageOf(i) }));
      await putEvents(kinesis, stream, first, (_, i) => `k${i}`);
      const batch1 = await kinesisEvent(kinesis, stream);
      assert.equal(batch1.length, 12);
      const pages = ["p0", "p1", "p2"];

      assert.deepEqual(await emulator.invoke({ Records: batch1 }), {
        batchItemFailures: [],
      });
      assert.deepEqual(
        await totals(name, pages),
        tally(first.map((e) => e.page), pages),
      );
      // Lambda delivers the same batch again (a timeout after the write): counted once.
      assert.deepEqual(await emulator.invoke({ Records: batch1 }), {
        batchItemFailures: [],
      });
      assert.deepEqual(
        await totals(name, pages),
        tally(first.map((e) => e.page), pages),
      );

      const second = Array.from(
        { length: 16 },
        (_, i) => ({ page: pageOf(i + 1) }),
      );
      await putEvents(kinesis, stream, second, (_, i) => `m${i}`);
      const batch2 = (await kinesisEvent(kinesis, stream)).slice(12);
      assert.equal(batch2.length, 16);
      await Deno.writeTextFile(faults, JSON.stringify({ failFrom: 2 }));
      const answer = await emulator.invoke({
        Records: batch2,
      }) as BatchResponse;
      const failed = answer.batchItemFailures.map((f) => f.itemIdentifier);
      const seqs = batch2.map((r) => r.kinesis.sequenceNumber);
      assert.ok(
        failed.length > 0 && failed.length < seqs.length,
        `failed ${failed.length} of ${seqs.length}`,
      );
      // The failures are exactly the records not written: a suffix of the batch.
      assert.deepEqual(failed, seqs.slice(seqs.length - failed.length));
      const durable = second.slice(0, seqs.length - failed.length).map((e) =>
        e.page
      );
      assert.deepEqual(
        await totals(name, pages),
        tally([...first.map((e) => e.page), ...durable], pages),
      );

      // Lambda retries from the lowest failed sequence number; the store works again.
      await Deno.writeTextFile(faults, "{}");
      const retry = batch2.filter((r) =>
        failed.includes(r.kinesis.sequenceNumber)
      );
      assert.deepEqual(await emulator.invoke({ Records: retry }), {
        batchItemFailures: [],
      });
      const all = [...first, ...second].map((e) => e.page);
      assert.deepEqual(await totals(name, pages), tally(all, pages));
      assert.deepEqual(await emulator.invoke({ Records: batch2 }), {
        batchItemFailures: [],
      });
      assert.deepEqual(await totals(name, pages), tally(all, pages));
    } finally {
      await emulator.stop();
      await deleteStream(kinesis, stream);
      await Deno.remove(faults).catch(() => {});
    }
  },
);

serviceTest(
  "lambda dynamodb streams and sqs handlers under the emulator: changes read back from DynamoDB Local count once",
  async () => {
    const source = uniqueName("lambda_src");
    const name = uniqueName("lambda_changes");
    await createItemTable(dynamodb, source, { stream: true });
    const emulator = await Emulator.start(BOOTSTRAP, {
      MURMUR_LAMBDA_KIND: "dynamodb",
      MURMUR_LAMBDA_TABLE: STATE,
      MURMUR_LAMBDA_PIPELINE: name,
    });
    const streams = new DynamoDBStreamsClient(awsConfig(dynamoEndpoint));
    try {
      const pages = ["home", "cart"];
      const written = Array.from({ length: 9 }, (_, i) => pages[i % 2]!);
      for (const [i, page] of written.entries()) {
        await dynamodb.send(
          new PutItemCommand({
            TableName: source,
            Item: { id: { S: `i${i}` }, page: { S: page } },
          }),
        );
      }
      const arn =
        (await dynamodb.send(new DescribeTableCommand({ TableName: source })))
          .Table!.LatestStreamArn!;
      const described = await streams.send(
        new DescribeStreamCommand({ StreamArn: arn }),
      );
      const records = [];
      for (const shard of described.StreamDescription!.Shards ?? []) {
        const { ShardIterator } = await streams.send(
          new GetStreamIteratorCommand({
            StreamArn: arn,
            ShardId: shard.ShardId!,
            ShardIteratorType: "TRIM_HORIZON",
          }),
        );
        const page = await streams.send(
          new GetStreamRecordsCommand({ ShardIterator }),
        );
        records.push(...(page.Records ?? []));
      }
      assert.equal(records.length, written.length);
      const event = {
        Records: records.map((r) => ({
          ...r,
          eventSourceARN: arn,
          dynamodb: {
            ...r.dynamodb,
            ApproximateCreationDateTime:
              (r.dynamodb!.ApproximateCreationDateTime as Date).getTime() /
              1000,
          },
        })),
      };
      assert.deepEqual(await emulator.invoke(event), { batchItemFailures: [] });
      assert.deepEqual(await emulator.invoke(event), { batchItemFailures: [] });
      assert.deepEqual(await totals(name, pages), tally(written, pages));
    } finally {
      await emulator.stop();
      streams.destroy();
      await dynamodb.send(new DeleteTableCommand({ TableName: source })).catch(
        () => {},
      );
    }

    const queued = uniqueName("lambda_sqs");
    const sqs = await Emulator.start(BOOTSTRAP, {
      MURMUR_LAMBDA_KIND: "sqs",
      MURMUR_LAMBDA_TABLE: STATE,
      MURMUR_LAMBDA_PIPELINE: queued,
    });
    try {
      const messages = ["a", "b", "a"].map((page, i) => ({
        messageId: crypto.randomUUID(),
        receiptHandle: `handle-${i}`,
        body: JSON.stringify({ page }),
        attributes: {
          ApproximateReceiveCount: "1",
          SentTimestamp: String(Date.now()),
        },
        messageAttributes: {},
        md5OfBody: "",
        eventSource: "aws:sqs",
        eventSourceARN: "arn:aws:sqs:us-east-1:123456789012:murmur",
        awsRegion: "us-east-1",
      }));
      assert.deepEqual(await sqs.invoke({ Records: messages }), {
        batchItemFailures: [],
      });
      assert.deepEqual(await sqs.invoke({ Records: messages.slice(1) }), {
        batchItemFailures: [],
      });
      await eventually("sqs totals", async () => {
        const got = await totals(queued, ["a", "b"]);
        return got[0] === 2 && got[1] === 1 ? true : undefined;
      }, 5_000);
    } finally {
      await sqs.stop();
    }
  },
);

serviceTest(
  "lambda runtime under the emulator: a handler error and an init error reach the Runtime API",
  async () => {
    const throws = await Emulator.start(BOOTSTRAP, {
      MURMUR_LAMBDA_KIND: "throws",
    });
    try {
      const answer = await throws.invoke({ Records: [] }).catch((error) =>
        String(error)
      );
      assert.match(JSON.stringify(answer), /the handler refused the event/);
      assert.match(JSON.stringify(answer), /RangeError/);
    } finally {
      await throws.stop();
    }
    const broken = await Emulator.start(BOOTSTRAP, {
      MURMUR_LAMBDA_KIND: "broken-init",
    });
    try {
      const answer = await broken.invoke({ Records: [] }).catch((error) =>
        String(error)
      );
      assert.match(
        JSON.stringify(answer),
        /no table configured/,
      );
    } finally {
      await broken.stop();
    }
  },
);
