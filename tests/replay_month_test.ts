// Replay honours event time: a month of archived events lands in its daily buckets of a shadow table, whatever day it runs.

import assert from "node:assert/strict";
import { replay, ReplayConfigError } from "../streaming/replay.ts";
import { bind } from "../streaming/mod.ts";
import {
  buildPipelines,
  type ConfigEvent,
  parseConfig,
} from "../config/mod.ts";
import { JsonLinesSource } from "../source/mod.ts";
import { MemoryStore } from "../state/mod.ts";
import { pipeline } from "../pipeline/mod.ts";
import { count } from "../monoid/mod.ts";
import { seededRandom } from "../internal/prng.ts";
import { DAY, REVENUE_PIPELINE, START } from "./_orders.ts";

/** Writes a month of orders (plus two bad lines) as JSON-Lines; returns the expected totals. */
async function archive(path: string) {
  const random = seededRandom(7);
  const perDay = new Map<number, number>();
  const perShopDay = new Map<string, number>();
  const lines: string[] = [];
  for (let i = 0; i < 3100; i++) {
    const at = START + Math.floor(random() * 31 * DAY);
    const shop = `shop-${Math.floor(random() * 20)}`;
    const amount = 1 + Math.floor(random() * 50);
    const day = at - (at % DAY);
    perDay.set(day, (perDay.get(day) ?? 0) + amount);
    perShopDay.set(
      `${shop}|${day}`,
      (perShopDay.get(`${shop}|${day}`) ?? 0) + amount,
    );
    lines.push(
      JSON.stringify({ shop, amount, at: new Date(at).toISOString() }),
    );
    if (i === 1000) lines.push("{not json");
    if (i === 2000) lines.push(JSON.stringify({ shop, amount }));
  }
  await Deno.writeTextFile(path, lines.join("\n") + "\n");
  return { perDay, perShopDay, events: lines.length };
}

Deno.test("replay: a month of events lands in the right daily buckets of the shadow table", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/orders.jsonl`;
  const expected = await archive(path);
  const config = parseConfig(`
store: { kind: memory }
pipelines:
${REVENUE_PIPELINE}    batchWindow: 50ms
    dedup: true
`);
  const live = new MemoryStore();
  const shadow = new MemoryStore();
  const bound = buildPipelines(config, { store: live });
  const progress: number[] = [];
  const summary = await replay(
    new JsonLinesSource<ConfigEvent>(path, { batchSize: 200 }),
    bound,
    {
      into: shadow,
      onProgress: (p) => progress.push(p.events),
      progressInterval: 5,
    },
  );
  const [revenue] = summary.pipelines;
  assert.equal(summary.events, expected.events);
  assert.equal(
    summary.deadLetters,
    2,
    "the bad JSON line and the event without time",
  );
  assert.equal(revenue!.unacked, 0);
  assert.equal(revenue!.keys, 21, "20 shops and 'all'");
  assert.equal(revenue!.buckets.length, 31);
  assert.deepEqual(
    revenue!.buckets,
    [...expected.perDay.keys()].sort((a, b) => a - b),
  );
  assert.equal(revenue!.buckets[0], START);
  assert.ok(revenue!.from! >= START && revenue!.to! < START + 31 * DAY);
  assert.equal(progress.at(-1), expected.events);

  const scope = bound[0]!.pipeline.scope;
  for (const [day, total] of expected.perDay) {
    assert.equal(
      await shadow.get(scope, { entity: "all", bucket: day }),
      total,
    );
  }
  for (const [k, total] of expected.perShopDay) {
    const [shop, day] = k.split("|");
    assert.equal(
      await shadow.get(scope, { entity: shop!, bucket: Number(day) }),
      total,
    );
  }
  const today = Date.now() - (Date.now() % DAY);
  assert.equal(
    await shadow.get(scope, { entity: "all", bucket: today }),
    undefined,
    "nothing in today's bucket",
  );
  assert.equal(
    await live.get(scope, { entity: "all", bucket: START }),
    undefined,
    "the live table is untouched",
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("replay: buckets at or after the swap cut are left to the live writers", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/orders.jsonl`;
  const expected = await archive(path);
  const config = parseConfig(`
pipelines: [{ name: revenue, key: { const: all }, value: amount, aggregate: sum, window: { every: day, retention: 3650d }, time: at }]
`);
  const shadow = new MemoryStore();
  const cut = START + 20 * DAY;
  const summary = await replay(
    new JsonLinesSource<ConfigEvent>(path),
    buildPipelines(config, { store: new MemoryStore() }),
    { into: shadow, until: cut },
  );
  const [revenue] = summary.pipelines;
  assert.equal(revenue!.buckets.length, 20);
  assert.ok(revenue!.afterCut > 0);
  const scope = {
    namespace: "revenue",
    monoid: (await import("../monoid/mod.ts")).sum(),
  };
  assert.equal(
    await shadow.get(scope, { entity: "all", bucket: cut - DAY }),
    expected.perDay.get(cut - DAY),
  );
  assert.equal(
    await shadow.get(scope, { entity: "all", bucket: cut }),
    undefined,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("replay: refuses a pipeline without event time, which would land in today's bucket", async () => {
  const p = pipeline<{ k: string }>("no_time").key((e) => e.k).value(() => 1)
    .aggregate(count()).storeIn(new MemoryStore()).build();
  const source = new JsonLinesSource<{ k: string }>(
    ReadableStream.from<Uint8Array>([]),
  );
  await assert.rejects(() => replay(source, [bind(p)]), ReplayConfigError);
  await source.close();
});
