// examples/mongo_cdc_orderstats end to end: Mongo snapshot, then its change stream, into DynamoDB Local; upstream retries folded once.

import { equal, ok } from "node:assert/strict";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { MongoClient } from "mongodb";
import { DynamoDBStore, ensureTable } from "../state/dynamodb.ts";
import {
  bootstrapOrders,
  followOrders,
  orderPipelines,
} from "../examples/mongo_cdc_orderstats/orderstats.ts";
import { awsConfig, service, uniqueName } from "./_stack.ts";
import { serviceTest } from "./_service.ts";

const DAY = 86_400_000;

serviceTest(
  "mongo_cdc_orderstats: bootstrap then live, totals per customer per day, distinct products, upstream ids folded once",
  async () => {
    const [mongo, dynamo] = await Promise.all([
      service("mongo"),
      service("dynamodb"),
    ]);
    const client = new MongoClient(mongo.url, {
      serverSelectionTimeoutMS: 5000,
    });
    const dynamodb = new DynamoDBClient(awsConfig(dynamo));
    const db = uniqueName("shop");
    const table = uniqueName("orderstats");
    await ensureTable(dynamodb, table);
    const pipelines = orderPipelines(new DynamoDBStore(dynamodb, table));
    const orders = client.db(db).collection("orders");
    const day = Math.floor(Date.now() / DAY) * DAY - DAY;
    const at = day + 10 * 3_600_000;
    const order = (
      orderId: string,
      customer: string,
      items: [string, number, number][],
    ) => ({
      orderId,
      customer,
      items: items.map(([product, qty, price]) => ({ product, qty, price })),
      createdAt: at,
    });
    try {
      await orders.insertMany([
        order("o-1", "a", [["p1", 1, 100]]),
        order("o-2", "a", [["p2", 2, 25]]),
        order("o-3", "b", [["p1", 1, 25]]),
        // The checkout service retried o-2: the same order, a second document.
        order("o-2", "a", [["p2", 2, 25]]),
        // Not an order: dead-lettered, never a crash.
        { orderId: "o-bad", items: [] },
      ]);
      // The handoff, taken from the server's clock, covers its whole second:
      // let the history fall before it (else the live source delivers it).
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const { summary, handoff } = await bootstrapOrders({
        client,
        db,
        pipelines,
      });
      equal(summary.pipelines[0]!.deadLetters, 1);
      const read = async (
        p: { scope: unknown; name: string },
        entity: string,
      ) =>
        await (pipelines.totals.store.get as (
          s: unknown,
          k: unknown,
        ) => Promise<unknown>)(p.scope, { entity, bucket: day });
      equal(await read(pipelines.totals, "customer:a"), 150);
      equal(await read(pipelines.totals, "customer:b"), 25);
      equal(await read(pipelines.orders, "customer:a"), 2);

      // Live: new orders, two of them written twice upstream.
      await orders.insertMany([
        order("o-4", "a", [["p3", 3, 25]]),
        order("o-5", "b", [["p2", 1, 200]]),
        order("o-6", "c", [["p9", 1, 999]]),
        order("o-4", "a", [["p3", 3, 25]]),
        order("o-5", "b", [["p2", 1, 200]]),
      ]);
      const live = await followOrders({
        client,
        db,
        pipelines,
        handoff,
        idleTimeout: 1500,
      });
      equal(live.pipelines[0]!.deadLetters, 0);
      equal(await read(pipelines.totals, "customer:a"), 225);
      equal(await read(pipelines.totals, "customer:b"), 225);
      equal(await read(pipelines.totals, "customer:c"), 999);
      equal(await read(pipelines.orders, "customer:a"), 3);
      equal(await read(pipelines.orders, "customer:b"), 2);
      const products = async (entity: string) =>
        (await pipelines.products.store.get(pipelines.products.scope, {
          entity,
          bucket: day,
        }))!.count();
      equal(await products("customer:a"), 3);
      equal(await products("all"), 4);

      // A crash before the live checkpoint: the change stream is read again
      // from the handoff, and every order is already claimed.
      const again = await followOrders({
        client,
        db,
        pipelines,
        handoff,
        idleTimeout: 1500,
      });
      ok(again.pipelines[0]!.dedupSkips > 0);
      equal(await read(pipelines.totals, "customer:a"), 225);
      equal(await read(pipelines.totals, "customer:c"), 999);
      equal(await read(pipelines.orders, "customer:b"), 2);
    } finally {
      await client.db(db).dropDatabase().catch(() => {});
      await client.close();
      dynamodb.destroy();
    }
  },
);
