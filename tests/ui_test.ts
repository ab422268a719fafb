// The admin UI in a real browser (Debian chromium via playwright-core) against a live server with running pipelines.

import assert from "node:assert/strict";
import { chromium, type Page } from "playwright-core";
import { daily, days, sum } from "../monoid/mod.ts";
import { hll, topK } from "../sketch/mod.ts";
import { MemorySource } from "../source/mod.ts";
import { MemoryCache } from "../state/mod.ts";
import { KvStore } from "../state/kv.ts";
import { pipeline } from "../pipeline/mod.ts";
import { InMemoryMetrics, run } from "../streaming/mod.ts";
import { serve } from "../admin/mod.ts";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = new URL("./artifacts/", import.meta.url);
const TOKEN = "ui-test-token-0123456789";

try {
  Deno.statSync(CHROMIUM);
} catch {
  throw new Error(
    `Debian's chromium is missing at ${CHROMIUM}: install it with \`apt-get install -y chromium\` (the UI tests need a real browser)`,
  );
}

interface View {
  page: string;
  user: string;
}

/** Three pipelines fed continuously, served with auth on. */
async function liveServer() {
  const store = await KvStore.open(":memory:");
  const cache = new MemoryCache({ name: "memory-cache" });
  const metrics = new InMemoryMetrics();
  const controller = new AbortController();
  const sources = {
    views: new MemorySource<View>({ name: "clickstream" }),
    visitors: new MemorySource<View>({ name: "clickstream" }),
    pages: new MemorySource<View>({ name: "clickstream" }),
  };
  const window = daily({ retention: days(90) });
  const views = pipeline<View>("page_views")
    .from(sources.views)
    .key((e) => e.page)
    .value(() => 1)
    .aggregate(sum())
    .window(window)
    .storeIn(store)
    .cache(cache)
    .build();
  const visitors = pipeline<View>("unique_visitors")
    .from(sources.visitors)
    .key((e) => e.page)
    .value((e) => {
      const sketch = hll().identity();
      sketch.add(e.user);
      return sketch;
    })
    .aggregate(hll())
    .window(window)
    .storeIn(store)
    .build();
  const pages = pipeline<View>("top_pages")
    .from(sources.pages)
    .key(() => "global")
    .value((e) => topK({ k: 10 }).identity().add(e.page))
    .aggregate(topK({ k: 10 }))
    .storeIn(store)
    .build();

  // Entities nothing writes to while the test runs, so the console's answer is exact.
  const today = window.bucketOf(Date.now());
  await store.merge(views.scope, [
    { key: { entity: "post:fixed", bucket: today }, value: 1234 },
    { key: { entity: "post:fixed", bucket: today - days(1) }, value: 766 },
  ]);
  const frozen = hll().identity();
  for (let i = 0; i < 500; i++) frozen.add(`reader-${i}`);
  await store.merge(visitors.scope, [
    { key: { entity: "post:fixed", bucket: today }, value: frozen },
  ]);

  // A skewed page mix (percent of traffic), so the top-K has a clear order.
  const mix: [string, number][] = [
    ["/", 40],
    ["/pricing", 25],
    ["/docs", 18],
    ["/blog", 10],
    ["/about", 7],
  ];
  const pick = (n: number) => {
    let roll = (n * 37) % 100;
    for (const [page, share] of mix) {
      if (roll < share) return page;
      roll -= share;
    }
    return "/";
  };
  let n = 0;
  let tick = 0;
  const pump = setInterval(() => {
    const batch: View[] = [];
    const size = 25 + Math.round(20 * Math.sin(tick++ / 6));
    for (let i = 0; i < size; i++, n++) {
      batch.push({ page: pick(n), user: `user-${n % 97}` });
    }
    sources.views.push(...batch);
    sources.visitors.push(...batch);
    sources.pages.push(...batch);
  }, 100);

  const runs = [views, visitors, pages].map((p) =>
    run(p as Parameters<typeof run>[0], {
      metrics,
      signal: controller.signal,
      batchWindow: { time: 100 },
    })
  );
  const server = await serve({
    pipelines: [views, visitors, pages],
    metrics,
    port: 0,
    tokens: [TOKEN],
    sampleIntervalMs: 500,
    onListen: () => {},
  });
  return {
    url: server.url,
    frozenEstimate: frozen.estimate().estimate,
    async [Symbol.asyncDispose]() {
      clearInterval(pump);
      controller.abort();
      for (const source of Object.values(sources)) source.end();
      await Promise.allSettled(runs);
      await server.shutdown();
      await store.close();
    },
  };
}

/** Polls `check` every 100 ms until it holds, for at most `ms`. */
async function until(check: () => Promise<boolean>, ms = 15_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met in ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function shot(page: Page, name: string) {
  await Deno.mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({
    path: new URL(name, ARTIFACTS).pathname,
    fullPage: true,
  });
}

async function browser() {
  const instance = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return {
    instance,
    [Symbol.asyncDispose]: () => instance.close(),
  };
}

Deno.test({
  name:
    "admin UI: token prompt, pipelines list, DAG, moving charts and a typed console answer",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using server = await liveServer();
    await using b = await browser();
    const page = await b.instance.newPage({
      viewport: { width: 1440, height: 900 },
    });
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(error.message));
    const authorized: string[] = [];
    page.on("request", (request) => {
      const auth = request.headers()["authorization"];
      if (request.url().includes("AdminService") && auth !== undefined) {
        authorized.push(auth);
      }
    });

    await page.goto(`${server.url}/`);
    // Auth is on: the UI asks for the token once and keeps it.
    await page.waitForSelector("#token-dialog[open]");
    await shot(page, "ui-token.png");
    await page.fill("#token-input", TOKEN);
    await page.click("#token-form button[type=submit]");

    await page.waitForSelector('.card[data-pipeline="page_views"]');
    await until(async () =>
      (await page.$$eval(
        ".card .stat .v",
        (els) => els.map((e) => e.textContent),
      ))
        .some((text) => text !== "0")
    );
    const names = await page.$$eval(
      ".card",
      (cards) => cards.map((c) => c.getAttribute("data-pipeline")),
    );
    assert.deepEqual(names, ["page_views", "top_pages", "unique_visitors"]);
    assert.equal(
      await page.evaluate(() => localStorage.getItem("murmur.adminToken")),
      TOKEN,
    );
    assert.ok(authorized.length > 0);
    assert.ok(authorized.every((header) => header === `Bearer ${TOKEN}`));
    await page.waitForTimeout(2500);
    await shot(page, "ui-pipelines.png");

    // The pipeline page: DAG and live charts.
    await page.click('.card[data-pipeline="page_views"]');
    await page.waitForSelector("svg.dag");
    const kinds = await page.$$eval(
      "svg.dag g.node",
      (nodes) => nodes.map((n) => n.getAttribute("data-kind")),
    );
    assert.deepEqual(kinds, [
      "source",
      "extract",
      "window",
      "aggregate",
      "store",
      "cache",
    ]);
    assert.equal(await page.locator("svg.dag path.edge").count(), 5);
    await page.waitForSelector("svg.dag.flowing");

    const chart = async () =>
      await page.$eval("#chart-throughput", (svg) => ({
        points: Number(svg.getAttribute("data-points")),
        path: svg.querySelector('path.line[data-series="events"]')
          ?.getAttribute("d") ?? "",
      }));
    await until(async () => (await chart()).points >= 2);
    const before = await chart();
    await page.waitForTimeout(2500);
    const after = await chart();
    assert.ok(
      after.points > before.points,
      `${before.points} → ${after.points}`,
    );
    assert.notEqual(after.path, before.path);
    const rate = await page.$eval(
      ".tiles .tile .value",
      (el) => Number(el.textContent?.replace(/,/g, "")),
    );
    assert.ok(rate > 0, `events/s tile shows ${rate}`);
    await page.waitForTimeout(3000);
    await shot(page, "ui-pipeline.png");

    // The console: a sum over the last 7 days, then an HLL estimate.
    await page.goto(`${server.url}/#/query?pipeline=page_views`);
    await page.waitForSelector("#query-form");
    await page.fill("#q-entity", "post:fixed");
    await page.fill("#q-last", "7");
    await page.click("#q-run");
    await page.waitForSelector("#answer-value");
    assert.equal(
      await page.getAttribute("#answer-value", "data-value"),
      "2000",
    );
    assert.equal(await page.getAttribute("#answer", "data-present"), "true");
    await shot(page, "ui-console-sum.png");

    await page.selectOption("#q-pipeline", "unique_visitors");
    await page.click("#q-run");
    await page.locator(".answer-head .kind", { hasText: "hll" }).waitFor();
    assert.equal(
      Number(await page.getAttribute("#answer-value", "data-value")),
      server.frozenEstimate,
    );
    await shot(page, "ui-console-hll.png");

    await page.selectOption("#q-pipeline", "top_pages");
    await page.fill("#q-entity", "global");
    await page.click("#q-run");
    await page.waitForSelector("#answer-topk .topk-row");
    const keys = await page.$$eval(
      "#answer-topk .topk-row",
      (rows) => rows.map((r) => r.getAttribute("data-key")),
    );
    assert.deepEqual(keys, ["/", "/pricing", "/docs", "/blog", "/about"]);
    await shot(page, "ui-console-topk.png");

    await page.fill("#q-entity", "nobody");
    await page.selectOption("#q-pipeline", "page_views");
    await page.click("#q-run");
    await page.locator('#answer[data-present="false"]').waitFor();
    assert.deepEqual(pageErrors, []);
  },
});
