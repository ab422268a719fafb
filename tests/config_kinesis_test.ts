// A Kinesis stream named by the YAML config feeds several pipelines (moto for Kinesis, DynamoDB Local for the leases).

import assert from "node:assert/strict";
import { KinesisClient } from "@aws-sdk/client-kinesis";
import { awsConfig, eventually, service, uniqueName } from "./_stack.ts";
import { createStream, deleteStream, putEvents } from "./_kinesis.ts";
import { buildPipelines, openSource, parseConfig } from "../config/mod.ts";
import { MemoryStore } from "../state/mod.ts";
import { runFanout } from "../streaming/mod.ts";
import { serviceTest } from "./_service.ts";

serviceTest(
  "config: a kinesis source feeds every pipeline of the config, exactly once",
  async () => {
    const [kinesisAt, dynamoAt] = await Promise.all([
      service("kinesis"),
      service("dynamodb"),
    ]);
    const client = new KinesisClient(awsConfig(kinesisAt));
    const stream = uniqueName("orders");
    await createStream(client, stream, 2);
    const orders = Array.from({ length: 300 }, (_, i) => ({
      shop: `s${i % 3}`,
      amount: 2,
    }));
    await putEvents(client, stream, orders, (_, i) => `k${i}`);
    const config = parseConfig(`
source:
  kind: kinesis
  stream: ${stream}
  leaseTable: ${uniqueName("leases")}
  endpoint: "${kinesisAt.url}"
  dynamodbEndpoint: "${dynamoAt.url}"
  startFrom: earliest
  pollInterval: 100ms
  leaseDuration: 10s
defaults: { dedup: true, batchWindow: 50ms }
pipelines:
  - { name: revenue, key: shop, value: amount, aggregate: sum }
  - { name: orders, key: { const: all }, aggregate: count }
`);
    const store = new MemoryStore();
    const bound = buildPipelines(config, { store });
    const stop = new AbortController();
    const running = runFanout(openSource(config.source!), bound, {
      signal: stop.signal,
    });
    const count = bound[1]!.pipeline.scope;
    await eventually(
      "every record counted",
      async () =>
        (await store.get(count, { entity: "all", bucket: null })) === 300 ||
        undefined,
      30_000,
    );
    stop.abort();
    const summary = await running;
    assert.ok(summary.pipelines.every((p) => p.unacked === 0));
    assert.equal(
      await store.get(bound[0]!.pipeline.scope, { entity: "s0", bucket: null }),
      200,
    );
    await deleteStream(client, stream);
    client.destroy();
  },
);
