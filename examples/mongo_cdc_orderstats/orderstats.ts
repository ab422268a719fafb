// Order statistics from a Mongo orders collection: bootstrap from a snapshot, then follow its change stream.

import { pipeline } from "../../pipeline/mod.ts";
import type { Pipeline } from "../../pipeline/mod.ts";
import { count, daily, days, sum } from "../../monoid/mod.ts";
import { hll, type HyperLogLog } from "../../sketch/mod.ts";
import type { Source, SourceRecord } from "../../source/mod.ts";
import {
  type Checkpoint,
  MongoChangeStreamSource,
  type MongoClientLike,
  type MongoDocument,
  type MongoHandoff,
  MongoSnapshotSource,
} from "../../source/mongo.ts";
import type { Store } from "../../state/mod.ts";
import {
  bind,
  type BoundPipeline,
  type FanoutSummary,
  runFanout,
} from "../../streaming/mod.ts";
import { definedOnly } from "../../internal/defined.ts";

/** One line of an order. */
export interface OrderItem {
  /** The product's id. */
  readonly product: string;
  /** How many. */
  readonly qty: number;
  /** Unit price. */
  readonly price: number;
}

/** An order as the upstream checkout service writes it. */
export interface Order {
  /** The upstream id: the checkout service may write the same order twice when it retries. */
  readonly orderId: string;
  /** The customer. */
  readonly customer: string;
  /** The lines. */
  readonly items: readonly OrderItem[];
  /** When the order was placed, in epoch ms. */
  readonly createdAt: number;
}

/** The order's total: Σ qty × price. */
export function orderTotal(order: Order): number {
  return order.items.reduce((total, i) => total + i.qty * i.price, 0);
}

/**
 * Reads a Mongo document as an order; throws (so the record is
 * dead-lettered with the reason) when a field is missing or of the wrong type.
 */
export function decodeOrder(doc: MongoDocument): Order {
  const { orderId, customer, items, createdAt } = doc as Record<
    string,
    unknown
  >;
  if (typeof orderId !== "string" || orderId === "") {
    throw new TypeError("order has no orderId");
  }
  if (typeof customer !== "string" || customer === "") {
    throw new TypeError(`order ${orderId} has no customer`);
  }
  if (!Array.isArray(items) || items.length === 0) {
    throw new TypeError(`order ${orderId} has no items`);
  }
  for (const item of items) {
    if (
      typeof item?.product !== "string" || !Number.isFinite(item?.qty) ||
      !Number.isFinite(item?.price)
    ) {
      throw new TypeError(
        `order ${orderId} has an item without product, qty or price`,
      );
    }
  }
  const at = createdAt instanceof Date ? createdAt.getTime() : createdAt;
  if (typeof at !== "number" || !Number.isFinite(at)) {
    throw new TypeError(`order ${orderId} has no createdAt`);
  }
  return { orderId, customer, items, createdAt: at };
}

/** The three pipelines. */
export interface OrderPipelines {
  /** Order totals per customer per day (`sum`). */
  readonly totals: Pipeline<Order, number>;
  /** Orders per customer per day (`count`). */
  readonly orders: Pipeline<Order, number>;
  /** Distinct products per customer per day, and over all customers (`all`). */
  readonly products: Pipeline<Order, HyperLogLog>;
}

/** Builds the pipelines over one store. */
export function orderPipelines(store: Store): OrderPipelines {
  const window = daily({ retention: days(90) });
  const customer = (o: Order) => `customer:${o.customer}`;
  const monoid = hll();
  return {
    totals: pipeline<Order>("order_totals").key(customer).value(orderTotal)
      .aggregate(sum()).window(window).time((o) => o.createdAt)
      .storeIn(store).build(),
    orders: pipeline<Order>("order_count").key(customer).value(() => 1)
      .aggregate(count()).window(window).time((o) => o.createdAt)
      .storeIn(store).build(),
    products: pipeline<Order>("distinct_products")
      .keyMany((o) => [customer(o), "all"])
      .value((o) => {
        const sketch = monoid.identity();
        sketch.addAll(o.items.map((i) => i.product));
        return sketch;
      })
      .aggregate(monoid).window(window).time((o) => o.createdAt)
      .storeIn(store).build(),
  };
}

/**
 * Gives every record the upstream id as its dedup id (`order:<orderId>`) and
 * drops its stream position, so the runtime claims each order once
 * (per pipeline, key and bucket): the same order written twice upstream, or
 * delivered again by the snapshot and the change stream, is folded once.
 *
 * @param source The Mongo snapshot or change stream.
 * @returns The same records with upstream ids.
 */
export function byUpstreamId(source: Source<Order>): Source<Order> {
  return {
    name: `${source.name} by orderId`,
    close: () => source.close(),
    [Symbol.asyncDispose]: () => source.close(),
    async *[Symbol.asyncIterator]() {
      for await (const batch of source) {
        const seen = new Set<string>();
        const out: SourceRecord<Order>[] = [];
        for (const record of batch) {
          if (record.value === undefined) {
            out.push(record);
            continue;
          }
          const id = `order:${record.value.orderId}`;
          // A retry in the same batch has no effect of its own: ack it now.
          // Across batches (and restarts) the runtime's claims decide.
          if (seen.has(id)) {
            record.ack();
            continue;
          }
          seen.add(id);
          out.push({
            value: record.value,
            id,
            time: record.time,
            ...(record.raw === undefined ? {} : { raw: record.raw }),
            ack: () => record.ack(),
          });
        }
        yield out;
      }
    },
  };
}

/** Options of {@linkcode bootstrapOrders} and {@linkcode followOrders}. */
export interface OrderStatsOptions {
  /** The Mongo client. */
  readonly client: MongoClientLike;
  /** The database. Default: `"shop"`. */
  readonly db?: string;
  /** The collection. Default: `"orders"`. */
  readonly collection?: string;
  /** The pipelines. */
  readonly pipelines: OrderPipelines;
  /** Where the source keeps its position, to resume after a restart. Default: none. */
  readonly checkpoint?: Checkpoint;
}

function bound(p: OrderPipelines): BoundPipeline<Order>[] {
  const options = { dedup: true, batchWindow: { time: 200 } };
  return [
    bind(p.totals, options),
    bind(p.orders, options),
    bind(p.products, options),
  ];
}

/**
 * Folds every order already in the collection, then answers the handoff the
 * live source starts from.
 */
export async function bootstrapOrders(
  options: OrderStatsOptions,
): Promise<{ summary: FanoutSummary; handoff: MongoHandoff }> {
  const snapshot = new MongoSnapshotSource<Order>({
    client: options.client,
    db: options.db ?? "shop",
    collection: options.collection ?? "orders",
    decode: decodeOrder,
    time: (o) => o.createdAt,
    ...(options.checkpoint === undefined
      ? {}
      : { checkpoint: options.checkpoint }),
  });
  const summary = await runFanout(
    byUpstreamId(snapshot),
    bound(options.pipelines),
  );
  return { summary, handoff: await snapshot.handoff() };
}

/** Follows the collection's change stream from a snapshot's handoff until `signal` (or `idleTimeout`). */
export function followOrders(
  options: OrderStatsOptions & {
    readonly handoff: MongoHandoff;
    readonly signal?: AbortSignal;
    readonly idleTimeout?: number;
  },
): Promise<FanoutSummary> {
  const live = new MongoChangeStreamSource<Order>({
    client: options.client,
    db: options.db ?? "shop",
    collection: options.collection ?? "orders",
    handoff: options.handoff,
    decode: decodeOrder,
    time: (o) => o.createdAt,
    ...definedOnly({
      checkpoint: options.checkpoint,
      idleTimeout: options.idleTimeout,
    }),
  });
  return runFanout(
    byUpstreamId(live),
    bound(options.pipelines),
    definedOnly({ signal: options.signal }),
  );
}
