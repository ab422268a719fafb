// Kinesis source options against moto: start positions, checkpoints in the lease table, lag and status.

import assert from "node:assert/strict";
import { DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import { KinesisClient } from "@aws-sdk/client-kinesis";
import { kinesisSource, type KinesisSourceOptions } from "../source/kinesis.ts";
import { awsConfig, eventually, service, uniqueName } from "./_stack.ts";
import { serviceTest } from "./_service.ts";
import { createStream, deleteStream, putEvents } from "./_kinesis.ts";

const dynamodb = new DynamoDBClient(awsConfig(await service("dynamodb")));
const kinesis = new KinesisClient(awsConfig(await service("kinesis")));

interface Note {
  n: string;
}

/** Reads a one-shard stream with `options` until `want` values arrived (acking each), then closes. */
async function collect(
  stream: string,
  options: Partial<KinesisSourceOptions<Note>>,
  afterAcquired: () => Promise<void>,
  want: number,
) {
  const leaseTable = uniqueName("kin_opt_leases");
  let acquired!: () => void;
  const ready = new Promise<void>((resolve) => acquired = resolve);
  const source = kinesisSource<Note>({
    stream,
    leaseTable,
    kinesis,
    dynamodb,
    pollInterval: 50,
    checkpointInterval: 50,
    onLease: (e) => e.type === "acquired" && acquired(),
    ...options,
  });
  const values: string[] = [];
  let status = source.status();
  let lag = -1;
  const reading = (async () => {
    for await (const batch of source) {
      for (const r of batch) {
        values.push(r.value!.n);
        r.ack();
      }
      status = source.status();
      lag = source.millisBehindLatest();
      // The iterator's return() closes the source, which checkpoints and frees the lease.
      if (values.length >= want) break;
    }
  })();
  await ready;
  await afterAcquired();
  await reading;
  await eventually("a checkpoint", async () => {
    const { Items } = await dynamodb.send(
      new ScanCommand({ TableName: leaseTable }),
    );
    const checkpoint = Items?.[0]?.checkpoint?.S;
    return checkpoint !== undefined && /^\d+$/.test(checkpoint)
      ? checkpoint
      : undefined;
  });
  await source.close();
  return { values, status, lag };
}

const notes = (...n: string[]) => n.map((x) => ({ n: x }));

serviceTest(
  "kinesis source: LATEST skips what was there, AT_TIMESTAMP starts at a moment, checkpoints land in the lease table",
  async () => {
    const stream = uniqueName("kin-options");
    await createStream(kinesis, stream, 1);
    try {
      await putEvents(kinesis, stream, notes("old1", "old2"), (e) => e.n);
      const latest = await collect(
        stream,
        { startPosition: "LATEST" },
        async () => {
          await new Promise((resolve) => setTimeout(resolve, 1500));
          await putEvents(kinesis, stream, notes("new1", "new2"), (e) => e.n);
        },
        2,
      );
      assert.deepEqual(latest.values, ["new1", "new2"]);
      assert.equal(latest.status.length, 1);
      assert.ok(latest.lag >= 0);

      await new Promise((resolve) => setTimeout(resolve, 50));
      const moment = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 50));
      await putEvents(kinesis, stream, notes("later"), (e) => e.n);
      const at = await collect(
        stream,
        { startPosition: { timestamp: moment } },
        () => Promise.resolve(),
        1,
      );
      assert.deepEqual(at.values, ["later"]);

      const all = await collect(stream, {}, () => Promise.resolve(), 5);
      assert.deepEqual(all.values, ["old1", "old2", "new1", "new2", "later"]);
    } finally {
      await deleteStream(kinesis, stream);
    }
  },
);
