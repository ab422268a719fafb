import assert from "node:assert/strict";
import {
  buildPipelines,
  ConfigError,
  openAlias,
  openStore,
  parseConfig,
} from "./mod.ts";
import { swap, type SwappableStore } from "../state/swap.ts";
import { count } from "../monoid/mod.ts";
import { MemorySource } from "../source/mod.ts";
import { MemoryCache, MemoryStore } from "../state/mod.ts";
import { runFanout } from "../streaming/mod.ts";
import type { HyperLogLog } from "../sketch/hll.ts";
import type { TopK } from "../sketch/topk.ts";

const DAY = Date.UTC(2026, 10, 3);
const events = [
  { user: "u1", page: "/a", amount: 5, at: DAY + 1000, geo: { country: "fr" } },
  { user: "u2", page: "/a", amount: 7, at: DAY + 2000, geo: { country: "fr" } },
  {
    user: "u1",
    page: "/b",
    amount: "3",
    at: DAY + 3000,
    geo: { country: "de" },
  },
];

async function runYaml(yaml: string) {
  const config = parseConfig(yaml, { file: "t.yaml" });
  const store = new MemoryStore();
  const bound = buildPipelines(config, { store });
  const source = MemorySource.of(events);
  const summary = await runFanout(source, bound);
  const read = (name: string, entity: string, bucket: number | null = null) => {
    const p = bound.find((b) => b.pipeline.name === name)!.pipeline;
    return store.get(p.scope, { entity, bucket });
  };
  return { summary, read, source, bound };
}

Deno.test("config: each monoid kind from YAML folds what the DSL would", async () => {
  const { read, summary } = await runYaml(`
pipelines:
  - { name: total, key: user, value: amount, aggregate: sum }
  - { name: views, key: page, aggregate: count }
  - { name: smallest, key: user, value: amount, aggregate: min }
  - { name: largest, key: user, value: amount, aggregate: max }
  - { name: last_page, key: user, value: page, aggregate: latest, time: at }
  - { name: visitors, key: page, aggregate: { kind: uniqueCount, of: user } }
  - name: top_pages
    key: { const: all }
    aggregate: { kind: topN, of: page, n: 1, weight: amount }
  - { name: trend, key: page, value: amount, aggregate: { kind: decayedSum, halfLife: 1h }, time: at }
`);
  assert.ok(summary.pipelines.every((p) => p.deadLetters === 0));
  assert.equal(await read("total", "u1"), 8);
  assert.equal(await read("views", "/a"), 2);
  assert.equal(await read("smallest", "u1"), 3);
  assert.equal(await read("largest", "u1"), 5);
  assert.deepEqual(await read("last_page", "u1"), {
    value: "/b",
    time: DAY + 3000,
  });
  assert.equal(
    Math.round((await read("visitors", "/a") as HyperLogLog).count()),
    2,
  );
  const top = await read("top_pages", "all") as TopK;
  assert.equal(top.top(1)[0]!.key, "/a");
  assert.equal(top.top(1)[0]!.count, 12);
  const trend = await read("trend", "/a") as { value: number; time: number };
  assert.equal(trend.time, DAY + 2000);
  assert.ok(trend.value > 11 && trend.value <= 12);
});

Deno.test("config: keys roll up, windows bucket by the event-time field", async () => {
  const { read } = await runYaml(`
pipelines:
  - name: revenue
    keys:
      - { field: user, prefix: "user:" }
      - { template: "country:{geo.country}" }
      - { const: global }
    value: amount
    aggregate: sum
    window: { every: day, retention: 3650d }
    time: at
`);
  assert.equal(await read("revenue", "user:u1", DAY), 8);
  assert.equal(await read("revenue", "country:fr", DAY), 12);
  assert.equal(await read("revenue", "global", DAY), 15);
  assert.equal(await read("revenue", "global", null), undefined);
});

Deno.test("config: several pipelines fan out from one source, acked once each", async () => {
  const { summary, source } = await runYaml(`
defaults: { batchWindow: 10ms, dedup: true }
pipelines:
  - { name: a, key: user, aggregate: count }
  - { name: b, key: page, aggregate: count }
  - { name: c, key: geo.country, aggregate: count }
`);
  assert.equal(summary.pipelines.length, 3);
  assert.ok(summary.pipelines.every((p) => p.events === 3 && p.acked === 3));
  assert.equal(source.acked, 3);
});

Deno.test("config: an event missing its key, value or time field is dead-lettered, not a crash", async () => {
  const config = parseConfig(
    "pipelines: [{ name: s, key: user, value: amount, aggregate: sum, time: at, window: day }]",
  );
  const store = new MemoryStore();
  const letters: string[] = [];
  const bound = buildPipelines(config, {
    store,
    run: { deadLetter: (_r, e) => void letters.push(e.message) },
  });
  await runFanout(
    MemorySource.of<Record<string, unknown>>([
      { amount: 1, at: 1 },
      { user: "u", at: 1 },
      { user: "u", amount: 1 },
      { user: "u", amount: 1, at: "yesterday" },
      { user: "u", amount: 2, at: "2026-11-03T00:00:00Z" },
    ]),
    bound,
  );
  assert.equal(letters.length, 4);
  assert.match(letters.join("\n"), /no "user"/);
  assert.match(letters.join("\n"), /no "amount"/);
  assert.match(letters.join("\n"), /no time field "at"/);
  assert.equal(
    await store.get(bound[0]!.pipeline.scope, { entity: "u", bucket: DAY }),
    2,
  );
});

function errorOf(yaml: string): ConfigError {
  try {
    parseConfig(yaml, { file: "w.yaml" });
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("config: errors name the file, line and column of the bad value", () => {
  const base =
    "source:\n  kind: kafka\n  brokers: [localhost:9092]\n  topic: t\n  groupId: g\n";
  const cases: [string, number, RegExp][] = [
    [
      `${base}pipelines:\n  - name: v\n    key: page\n    aggregate: avg\n`,
      9,
      /aggregate: must be one of sum, count/,
    ],
    [
      `${base}pipelines:\n  - name: v\n    key: page\n    aggregate: { kind: topN, n: 3 }\n`,
      9,
      /missing field "of"/,
    ],
    [
      `${base}pipelines:\n  - name: v\n    key: page\n    aggregate: count\n    window: { every: week }\n`,
      10,
      /window.every: must be one of minute, hour, day/,
    ],
    [
      `${base}  sessionTimeout: soon\npipelines:\n  - { name: v, key: page, aggregate: count }\n`,
      6,
      /source.sessionTimeout: must be a duration/,
    ],
    [
      `${base}pipelines:\n  - name: v\n    key: page\n    aggregate: count\n    colour: red\n`,
      10,
      /unknown field "colour"/,
    ],
    [
      `${base}pipelines:\n  - name: v\n    aggregate: sum\n    key: page\n`,
      7,
      /aggregates with sum but has no value/,
    ],
    [
      `${base}pipelines:\n  - { name: v, key: p, aggregate: count }\n  - { name: v, key: q, aggregate: count }\n`,
      8,
      /two pipelines are named "v"/,
    ],
    [`${base}pipelines:\n  - { name: v, aggregate: count }\n`, 7, /has no key/],
    [
      `${base}pipelines:\n  - { name: v, key: "a b", aggregate: count }\n`,
      7,
      /must be a field path/,
    ],
    [`${base}pipelines: [\n`, 7, /not valid YAML/],
    [
      `source: { kind: rabbitmq }\npipelines: [{ name: v, key: p, aggregate: count }]\n`,
      1,
      /source.kind: must be one of kafka, kinesis, jsonl, s3, parquet, mongo, dynamodb/,
    ],
    [
      `store: { kind: dynamodb, table: "\${NOPE_UNSET}" }\npipelines: [{ name: v, key: p, aggregate: count }]\n`,
      1,
      /environment variable NOPE_UNSET is not set/,
    ],
  ];
  for (const [yaml, line, message] of cases) {
    const error = errorOf(yaml);
    assert.equal(error.line, line, `${error.message}\n--- for ---\n${yaml}`);
    assert.match(error.message, new RegExp(`^w\\.yaml:${line}:\\d+: `));
    assert.match(error.message, message);
  }
});

Deno.test("config: ${ENV} and ${ENV:-default} fill strings, numbers and flags", () => {
  const config = parseConfig(
    `store: { kind: dynamodb, table: "\${TABLE}", createTable: "\${CREATE:-true}", concurrency: "\${CONC:-4}" }
pipelines: [{ name: v, key: p, aggregate: count }]
health: { port: "\${PORT:-9000}" }`,
    { env: (n) => (n === "TABLE" ? "t1" : undefined) },
  );
  assert.deepEqual(
    [
      config.store.kind === "dynamodb" && config.store.table,
      config.health.port,
    ],
    ["t1", 9000],
  );
  assert.equal(
    config.store.kind === "dynamodb" && config.store.createTable,
    true,
  );
  assert.equal(config.store.kind === "dynamodb" && config.store.concurrency, 4);
});

Deno.test("config: the shipped example and schema agree", async () => {
  const text = await Deno.readTextFile(
    new URL("../examples/worker.yaml", import.meta.url),
  );
  const config = parseConfig(text, { file: "examples/worker.yaml" });
  assert.ok(config.pipelines.length >= 2);
  assert.equal(config.source?.kind, "kafka");
});

Deno.test("config: lateData says what happens to an event past retention", async () => {
  const old = [{ user: "u", amount: 1, at: Date.UTC(2020, 0, 1) }];
  for (
    const [policy, late, dead] of [["drop", 1, 0], [
      "deadLetter",
      0,
      1,
    ]] as const
  ) {
    const config = parseConfig(
      `pipelines: [{ name: s, key: user, value: amount, aggregate: sum, time: at, window: { every: day, retention: 7d }, lateData: ${policy} }]`,
    );
    const store = new MemoryStore();
    const summary = await runFanout(
      MemorySource.of(old),
      buildPipelines(config, { store }),
    );
    assert.equal(summary.pipelines[0]!.late, late, policy);
    assert.equal(summary.pipelines[0]!.deadLetters, dead, policy);
  }
});

Deno.test("config: behind a swap alias each table has its own cache, so a swap never serves the old table's values", async () => {
  const dir = await Deno.makeTempDir();
  const spec = parseConfig(
    `store: { kind: kv, path: ${dir}/s.kv, alias: orders }\npipelines: [{ name: v, key: k, aggregate: count }]`,
  ).store;
  {
    await using created = await openAlias(spec);
    await swap(created.aliases!, "orders", "t1");
  }
  const caches: string[] = [];
  await using opened = await openStore(spec, {
    cache: (table) => {
      caches.push(table);
      return new MemoryCache();
    },
  });
  const scope = { namespace: "v", monoid: count() };
  const key = { entity: "a", bucket: null };
  await opened.store.merge(scope, [{ key, value: 3 }]);
  assert.equal(await opened.store.get(scope, key), 3); // now cached for t1
  await swap(opened.aliases!, "orders", "t2");
  await (opened.store as SwappableStore).refresh();
  assert.equal(await opened.store.get(scope, key), undefined);
  await opened.store.merge(scope, [{ key, value: 4 }]);
  assert.equal(await opened.store.get(scope, key), 4);
  assert.deepEqual(caches, ["t1", "t2"]);
  await opened.close();
  await Deno.remove(dir, { recursive: true });
});
