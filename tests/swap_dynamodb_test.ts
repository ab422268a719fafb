// End to end against DynamoDB Local: replay into a shadow table while the live worker writes the current one, swap, and lose nothing.

import assert from "node:assert/strict";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { awsConfig, eventually, service, uniqueName } from "./_stack.ts";
import { serviceTest } from "./_service.ts";
import { DynamoDBStore, ensureTable } from "../state/dynamodb.ts";
import {
  AliasConflictError,
  DynamoDBAliasRegistry,
  ensureAliasTable,
  prepareShadow,
  swap,
  SwappableStore,
} from "../state/swap.ts";
import {
  buildPipelines,
  type ConfigEvent,
  parseConfig,
} from "../config/mod.ts";
import { JsonLinesSource, MemorySource } from "../source/mod.ts";
import { runFanout } from "../streaming/mod.ts";
import { replay } from "../streaming/replay.ts";
import { sum } from "../monoid/mod.ts";

const DAY = 86_400_000;
const D0 = Date.UTC(2026, 10, 1);
const CUT = D0 + 10 * DAY;
const scope = { namespace: "revenue", monoid: sum() };

interface Order extends ConfigEvent {
  readonly shop: string;
  readonly amount: number;
  readonly at: number;
}

const orders = (
  n: number,
  firstDay: number,
  days: number,
  seed: number,
): Order[] =>
  Array.from({ length: n }, (_, i) => ({
    shop: "all",
    amount: 1 + ((i * 7 + seed) % 13),
    at: firstDay +
      Math.floor(
        ((i * 2654435761 + seed * 97) % 4294967296) / 4294967296 * days * DAY,
      ),
  }));

function perDay(events: readonly Order[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const e of events) {
    const day = e.at - (e.at % DAY);
    out.set(day, (out.get(day) ?? 0) + e.amount);
  }
  return out;
}

serviceTest(
  "swap: replay into a shadow while live writes, swap, and queries and the live worker move to the new table with no event lost",
  async () => {
    const endpoint = await service("dynamodb");
    const client = new DynamoDBClient(awsConfig(endpoint));
    const v1 = uniqueName("orders-v1");
    const v2 = uniqueName("orders-v2");
    const aliases = uniqueName("aliases");
    await Promise.all([
      ensureTable(client, v1),
      ensureTable(client, v2),
      ensureAliasTable(client, aliases),
    ]);
    const registry = new DynamoDBAliasRegistry(client, aliases);
    await swap(registry, "orders", v1);
    const open = (table: string) => new DynamoDBStore(client, table);

    // The archive: history plus the live events already past, all before the cut.
    const history = orders(2000, D0, 10, 1);
    const early = orders(300, CUT - DAY, 1, 2);
    const dir = await Deno.makeTempDir();
    await Deno.writeTextFile(
      `${dir}/archive.jsonl`,
      [...history, ...early].map((e) => JSON.stringify(e)).join("\n"),
    );

    const config = parseConfig(`
pipelines:
  - name: revenue
    key: shop
    value: amount
    aggregate: sum
    window: { every: day, retention: 3650d }
    time: at
    batchWindow: 20ms
    dedup: true
`);
    const swaps: string[] = [];
    const workerStore = await SwappableStore.open(registry, "orders", open, {
      pollInterval: 50,
      onSwap: (from, to) => swaps.push(`${from.version}->${to.version}`),
    });
    const queryStore = await SwappableStore.open(registry, "orders", open, {
      pollInterval: 50,
    });
    const live = new MemorySource<Order>({ name: "live" });
    let pushed = 0;
    const push = (...events: Order[]) => {
      pushed += events.length;
      live.push(...events);
    };
    const worker = runFanout(
      live,
      buildPipelines(config, { store: workerStore }),
    );

    push(...early);
    await eventually(
      "the early events are written",
      () => live.acked === early.length || undefined,
    );

    // The events carry synthetic times in the past: the cut is past too.
    await prepareShadow(registry, "orders", { target: v2, from: CUT }, {
      allowPastCut: true,
    });
    await eventually(
      "the worker sees the shadow",
      () => workerStore.record.shadow !== null || undefined,
    );

    // Live traffic goes on (event times after the cut) while the replay fills the shadow.
    const after = [
      orders(400, CUT, 3, 3),
      orders(400, CUT, 3, 4),
      orders(400, CUT + 3 * DAY, 1, 5),
      orders(200, CUT + 5 * DAY, 1, 6),
    ];
    const pushing = (async () => {
      for (const e of after[0]!.concat(after[1]!)) {
        push(e);
        if (pushed % 50 === 0) await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const summary = await replay(
      new JsonLinesSource<ConfigEvent>(`${dir}/archive.jsonl`),
      buildPipelines(config, { store: workerStore }),
      { into: open(v2), until: CUT },
    );
    await pushing;
    assert.equal(summary.events, history.length + early.length);
    assert.equal(summary.deadLetters, 0);
    assert.equal(summary.pipelines[0]!.buckets.length, 10);

    // Swap while writes are in flight; a second operator who read the same version loses.
    const seen = (await registry.read("orders"))!.version;
    const swapping = (async () => {
      for (const e of after[2]!) {
        push(e);
        if (pushed % 20 === 0) await new Promise((r) => setTimeout(r, 2));
      }
    })();
    const [mine, theirs] = await Promise.allSettled([
      swap(registry, "orders", v2, { expectVersion: seen }),
      swap(registry, "orders", v2, { expectVersion: seen }),
    ]);
    await swapping;
    const won = mine.status === "fulfilled" ? mine : theirs;
    const lost = mine.status === "fulfilled" ? theirs : mine;
    assert.equal(won.status, "fulfilled");
    assert.equal(lost.status, "rejected");
    assert.ok(
      (lost as PromiseRejectedResult).reason instanceof AliasConflictError,
    );
    await eventually(
      "the worker follows the swap",
      () => workerStore.target === v2 || undefined,
    );
    await eventually(
      "the query server follows the swap",
      () => queryStore.target === v2 || undefined,
    );

    // After the swap the worker writes the new table only.
    push(...after[3]!);
    await eventually(
      "every live event is acked",
      () => live.acked === pushed || undefined,
    );
    live.end();
    const run = await worker;
    assert.equal(run.pipelines[0]!.deadLetters, 0);
    assert.equal(run.pipelines[0]!.unacked, 0);

    const expected = perDay([...history, ...early, ...after.flat()]);
    for (const [day, total] of expected) {
      assert.equal(
        await queryStore.get(scope, { entity: "all", bucket: day }),
        total,
        `day ${new Date(day).toISOString()} answered from the new table`,
      );
    }
    const old = open(v1);
    assert.equal(
      await old.get(scope, { entity: "all", bucket: CUT + 5 * DAY }),
      undefined,
      "the old table gets nothing after the swap",
    );
    assert.ok(
      swaps.length >= 2,
      `the worker followed the shadow and the swap (${swaps})`,
    );
    await workerStore.close();
    await queryStore.close();
    client.destroy();
    await Deno.remove(dir, { recursive: true });
  },
);
