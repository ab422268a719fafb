// The murmur CLI as a subprocess: status, bootstrap, replay with a summary, swap with a lost race, config errors with a line.

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { KvStore } from "../state/kv.ts";
import { sum } from "../monoid/mod.ts";
import { DAY, REVENUE_PIPELINE, START } from "./_orders.ts";

const CLI = fileURLToPath(new URL("../cli/murmur.ts", import.meta.url));

async function murmur(...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test("cli: status, bootstrap, replay into a shadow, swap with a lost race, as a subprocess", async () => {
  const dir = await Deno.makeTempDir();
  const archive: string[] = [];
  const perDay = new Map<number, number>();
  for (let i = 0; i < 3100; i++) {
    const at = START +
      Math.floor(((i * 2654435761) % 4294967296) / 4294967296 * 31 * DAY);
    const day = at - (at % DAY);
    perDay.set(day, (perDay.get(day) ?? 0) + 2);
    archive.push(JSON.stringify({ shop: `s${i % 7}`, amount: 2, at }));
  }
  await Deno.writeTextFile(`${dir}/archive.jsonl`, archive.join("\n") + "\n");
  await Deno.writeTextFile(
    `${dir}/snapshot.jsonl`,
    `{"shop":"s1","amount":5,"at":${START}}\n{"shop":"s1","amount":6,"at":${START}}\n`,
  );
  const config = `${dir}/murmur.yaml`;
  await Deno.writeTextFile(
    config,
    `store: { kind: kv, path: ${dir}/state.kv, alias: orders }
bootstrap:
  source: { kind: jsonl, path: ${dir}/snapshot.jsonl }
replay:
  source: { kind: jsonl, path: ${dir}/archive.jsonl }
  into: orders_v2
pipelines:
${REVENUE_PIPELINE}`,
  );

  const help = await murmur("help");
  assert.equal(help.code, 0);
  assert.match(help.stdout, /bootstrap/);

  const noAlias = await murmur("bootstrap", "--config", config);
  assert.equal(noAlias.code, 2, "the alias does not exist yet");
  assert.match(noAlias.stderr, /alias "orders" does not exist/);

  const created = await murmur("swap", "--config", config, "--to", "orders_v1");
  assert.equal(created.code, 0, created.stderr);
  assert.match(created.stdout, /orders → orders_v1 \(version 1/);

  const boot = await murmur("bootstrap", "--config", config);
  assert.equal(boot.code, 0, boot.stderr);
  assert.match(
    boot.stdout,
    /^progress: /m,
    "plain progress lines when stdout is not a terminal",
  );
  assert.match(boot.stdout, /bootstrap: 2 events, 0 dead letters/);

  const replayed = await murmur("replay", "--config", config, "--json");
  assert.equal(replayed.code, 0, replayed.stderr);
  const summary = JSON.parse(replayed.stdout);
  assert.equal(summary.events, 3100);
  assert.equal(summary.deadLetters, 0);
  assert.equal(summary.pipelines[0].keys, 8);
  assert.equal(summary.pipelines[0].buckets.length, 31);
  assert.equal(summary.pipelines[0].from >= START, true);

  const status = await murmur("status", "--config", config, "--json");
  assert.equal(JSON.parse(status.stdout).alias.version, 1);

  const swapped = await murmur(
    "swap",
    "--config",
    config,
    "--to",
    "orders_v2",
    "--expect-version",
    "1",
  );
  assert.equal(swapped.code, 0, swapped.stderr);
  const late = await murmur(
    "swap",
    "--config",
    config,
    "--to",
    "orders_v1",
    "--expect-version",
    "1",
  );
  assert.equal(late.code, 3, "the second operator loses");
  assert.match(late.stderr, /alias "orders" is at version 2, not 1/);
  const after = await murmur("status", "--config", config);
  assert.match(after.stdout, /orders → orders_v2 \(version 2/);

  // A shadow with a cut: the replay takes the cut from the alias and leaves later buckets to live writers.
  const cut = START + 20 * DAY;
  const prepare = [
    "swap",
    "--config",
    config,
    "--prepare",
    "orders_v3",
    "--from",
    new Date(cut).toISOString(),
  ];
  const prepared = await murmur(...prepare);
  assert.equal(prepared.code, 2, "a past cut is refused");
  assert.match(prepared.stderr, /is not in the future/);
  const forced = await murmur(...prepare, "--allow-past-cut");
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(
    forced.stdout,
    /shadow: orders_v3, copying buckets from 2026-10-21/,
  );
  const partial = await murmur(
    "replay",
    "--config",
    config,
    "--into",
    "orders_v3",
    "--json",
  );
  assert.equal(partial.code, 0, partial.stderr);
  const cutSummary = JSON.parse(partial.stdout).pipelines[0];
  assert.equal(cutSummary.buckets.length, 20);
  assert.ok(cutSummary.afterCut > 0);

  const kv = await Deno.openKv(`${dir}/state.kv`);
  const scope = { namespace: "revenue", monoid: sum() };
  const v1 = new KvStore(kv, { prefix: ["murmur", "orders_v1"] });
  const v2 = new KvStore(kv, { prefix: ["murmur", "orders_v2"] });
  assert.equal(
    await v1.get(scope, { entity: "s1", bucket: START }),
    11,
    "bootstrap wrote the live table",
  );
  for (const [day, total] of perDay) {
    assert.equal(await v2.get(scope, { entity: "all", bucket: day }), total);
  }
  kv.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("cli: a bad config exits 2 and names its line", async () => {
  const dir = await Deno.makeTempDir();
  const config = `${dir}/bad.yaml`;
  await Deno.writeTextFile(
    config,
    "store: { kind: memory }\npipelines:\n  - name: v\n    key: page\n    aggregate: median\n",
  );
  const out = await murmur("status", "--config", config);
  assert.equal(out.code, 2);
  assert.match(
    out.stderr,
    new RegExp(`bad\\.yaml:5:16: pipelines\\[0\\]\\.aggregate: must be one of`),
  );
  const unknown = await murmur("launch", "--config", config);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "launch"/);
  await Deno.remove(dir, { recursive: true });
});
