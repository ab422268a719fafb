// examples/recently_interacted_topk end to end: a Kafka worker and a Kinesis Lambda (under the emulator) feed one Top-K.

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { KinesisClient } from "@aws-sdk/client-kinesis";
import { awsConfig, eventually, service, uniqueName } from "./_stack.ts";
import { createTopic, produce } from "./_kafka.ts";
import {
  createStream,
  deleteStream,
  kinesisLambdaEvent,
  putEvents,
} from "./_kinesis.ts";
import { Emulator } from "./_lambda_rie.ts";
import { serviceTest } from "./_service.ts";

const example = (file: string) =>
  fileURLToPath(
    new URL(`../examples/recently_interacted_topk/${file}`, import.meta.url),
  );

serviceTest(
  "recently interacted top-k: Kafka worker and Kinesis Lambda write one ranking, a redelivered batch counts once",
  async () => {
    const kafka = await service("kafka");
    const dynamo = await service("dynamodb");
    const kinesis = new KinesisClient(awsConfig(await service("kinesis")));
    const topic = uniqueName("interactions");
    const stream = uniqueName("interactions");
    const env = {
      MURMUR_PIPELINE: uniqueName("recently_interacted").replaceAll("-", "_"),
      DDB_TABLE: "murmur_recently_interacted",
      DDB_ENDPOINT: dynamo.url,
      TOPK_N: "10",
      KAFKA_BROKERS: kafka.brokers.join(","),
      KAFKA_TOPIC: topic,
      CONSUMER_GROUP: uniqueName("recently-worker"),
    };
    const { ranking } = await import(example("query.ts"));
    const settings = {
      pipeline: env.MURMUR_PIPELINE,
      table: env.DDB_TABLE,
      endpoint: env.DDB_ENDPOINT,
      n: 10,
    };

    await createTopic(kafka.brokers, topic, 2);
    await produce(
      kafka.brokers,
      topic,
      ["A", "A", "A", "A", "B"].map((item, i) => ({
        key: `u${i}`,
        value: JSON.stringify({ user: `u${i}`, item }),
      })),
    );
    const worker = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", example("worker.ts")],
      env,
      stdout: "null",
      stderr: "inherit",
    }).spawn();
    await createStream(kinesis, stream, 1);
    const lambda = await Emulator.start(example("lambda.ts"), env);
    try {
      await putEvents(
        kinesis,
        stream,
        ["A", "A", "C"].map((item, i) => ({ user: `k${i}`, item })),
        (e) => e.user,
      );
      const batch = { Records: await kinesisLambdaEvent(kinesis, stream) };
      assert.deepEqual(await lambda.invoke(batch), { batchItemFailures: [] });
      assert.deepEqual(await lambda.invoke(batch), { batchItemFailures: [] });

      const expected = [{ key: "A", count: 6 }, { key: "B", count: 1 }, {
        key: "C",
        count: 1,
      }];
      let last: unknown;
      await eventually("the merged ranking", async () => {
        const items = (await ranking(30, settings)) as {
          key: string;
          count: number;
        }[];
        last = items;
        const sorted = items.map(({ key, count }) => ({ key, count })).sort((
          a,
          b,
        ) => b.count - a.count || a.key.localeCompare(b.key));
        return JSON.stringify(sorted) === JSON.stringify(expected)
          ? true
          : undefined;
      }, 60_000).catch((error) => {
        throw new Error(`ranking ${JSON.stringify(last)}`, { cause: error });
      });
    } finally {
      worker.kill("SIGTERM");
      await worker.status;
      await lambda.stop();
      await deleteStream(kinesis, stream);
      kinesis.destroy();
    }
  },
);
