// `deno task demo`: a page-view workload into a counter, a unique-visitors HLL and a top-pages Top-K on Deno KV.
//
//   deno task demo                          ~10 s at 2,000 events/s, then a summary
//   deno task demo --duration=30 --rate=5000
//   deno task demo --db=.stack/demo.kv      keep the database (default: a temp dir, removed at the end)
//   deno task demo --serve[=8080]           also serve the admin UI and query API on http://localhost:8080

import { daily, days } from "../monoid/mod.ts";
import { counter, type Pipeline, topN, uniqueCount } from "../pipeline/mod.ts";
import { SyntheticSource } from "../source/mod.ts";
import type { Store } from "../state/mod.ts";
import { KvStore } from "../state/kv.ts";
import { bind, InMemoryMetrics, runFanout } from "../streaming/mod.ts";
import type { HyperLogLog } from "../sketch/hll.ts";
import type { TopK } from "../sketch/topk.ts";
import { serve } from "../admin/mod.ts";

/** One page view. */
export interface PageView {
  /** The page, e.g. `"/p/42"`. */
  readonly page: string;
  /** The visitor's id. */
  readonly visitor: string;
  /** The visitor's country. */
  readonly country: string;
}

/** The demo's three pipelines over one store. */
export interface DemoPipelines {
  /** Views per page and in total, per day. */
  readonly views: Pipeline<PageView, number>;
  /** Distinct visitors per page and in total, per day (HyperLogLog). */
  readonly visitors: Pipeline<PageView, HyperLogLog>;
  /** The most viewed pages per day (Top-K). */
  readonly topPages: Pipeline<PageView, TopK>;
}

/**
 * Builds the demo's pipelines on a store.
 *
 * @param store Where state lives.
 * @returns The pipelines.
 */
export function demoPipelines(store: Store): DemoPipelines {
  const window = daily({ retention: days(30) });
  return {
    views: counter<PageView>("page_views")
      .keyMany((e) => [`page:${e.page}`, `country:${e.country}`, "global"])
      .window(window)
      .storeIn(store)
      .build(),
    visitors: uniqueCount<PageView>("unique_visitors", (e) => e.visitor)
      .keyMany((e) => [`page:${e.page}`, "global"])
      .window(window)
      .storeIn(store)
      .build(),
    topPages: topN<PageView>("top_pages", { k: 100, item: (e) => e.page })
      .key(() => "global")
      .window(window)
      .storeIn(store)
      .build(),
  };
}

/** The demo's command-line settings. */
export interface DemoOptions {
  /** How long to generate events, in seconds. */
  readonly duration: number;
  /** Events per second. */
  readonly rate: number;
  /** Distinct pages. */
  readonly pages: number;
  /** Distinct visitors. */
  readonly visitors: number;
  /** The database file, or `null` for a temp dir removed at the end. */
  readonly db: string | null;
  /** The port to serve the admin UI and query API on, or `null` for none. */
  readonly serve: number | null;
}

/**
 * Reads `--name=value` flags.
 *
 * @param args The command-line arguments.
 * @returns The settings.
 * @throws {RangeError} For an unknown flag or a bad number.
 */
export function parseDemoArgs(args: readonly string[]): DemoOptions {
  const settings: Record<string, string> = {};
  for (const arg of args) {
    const match = /^--([a-z]+)(?:=(.*))?$/.exec(arg);
    if (match === null) {
      throw new RangeError(
        `unknown argument ${arg}: use --duration=S --rate=N --pages=N --visitors=N --db=PATH --serve[=PORT]`,
      );
    }
    settings[match[1]!] = match[2] ?? "";
  }
  const number = (name: string, fallback: number) => {
    const raw = settings[name];
    delete settings[name];
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!(value > 0) || !Number.isFinite(value)) {
      throw new RangeError(`--${name} must be a positive number, got "${raw}"`);
    }
    return value;
  };
  const options: DemoOptions = {
    duration: number("duration", 10),
    rate: number("rate", 2000),
    pages: Math.floor(number("pages", 1000)),
    visitors: Math.floor(number("visitors", 20_000)),
    db: settings.db ?? null,
    serve: settings.serve === undefined
      ? null
      : settings.serve === ""
      ? 8080
      : number("serve", 8080),
  };
  delete settings.db;
  delete settings.serve;
  const unknown = Object.keys(settings);
  if (unknown.length > 0) {
    throw new RangeError(
      `unknown flag --${
        unknown[0]
      }: use --duration=S --rate=N --pages=N --visitors=N --db=PATH --serve[=PORT]`,
    );
  }
  return options;
}

const COUNTRIES = ["us", "de", "fr", "in", "br", "jp", "gb", "ca"];

async function main(args: readonly string[]): Promise<void> {
  const options = parseDemoArgs(args);
  const temp = options.db === null
    ? await Deno.makeTempDir({ prefix: "murmur-demo-" })
    : null;
  const path = options.db ?? `${temp}/demo.kv`;
  const store = await KvStore.open(path);
  const pipelines = demoPipelines(store);
  const total = Math.round(options.duration * options.rate);
  const source = new SyntheticSource<PageView>({
    name: "page_views",
    entities: options.pages,
    skew: 1.1,
    seed: 42,
    rate: options.rate,
    total,
    batchSize: Math.max(10, Math.min(1000, Math.round(options.rate / 20))),
    make: (d) => ({
      page: `/p/${d.rank}`,
      visitor: `v${Math.floor(d.random() * options.visitors)}`,
      country: COUNTRIES[Math.floor(d.random() * COUNTRIES.length)]!,
    }),
  });
  const metrics = new InMemoryMetrics();
  const controller = new AbortController();
  const stop = () => controller.abort();
  Deno.addSignalListener("SIGINT", stop);
  const server = options.serve === null ? null : await serve({
    pipelines: [pipelines.views, pipelines.visitors, pipelines.topPages],
    metrics,
    port: options.serve,
    onListen: ({ url }) => console.log(`admin UI and query API on ${url}/`),
  });
  console.log(
    `murmur demo: ${
      total.toLocaleString("en")
    } page views at ${options.rate}/s over ${options.pages} pages (Zipf 1.1) into Deno KV at ${path}`,
  );
  const tty = Deno.stdout.isTerminal();
  const started = performance.now();
  const progress = setInterval(() => {
    const s = metrics.snapshot("page_views");
    const line = `  ${
      ((performance.now() - started) / 1000).toFixed(1)
    } s  events ${s.eventsIn.toLocaleString("en")}  ${
      Math.round(s.eventsPerSecond)
    }/s  acked ${
      source.acked.toLocaleString("en")
    }  merges ${s.merges}  p99 merge ${
      s.mergeLatencyMs.p99.toFixed(1)
    } ms  lag ${s.lag === null ? "-" : `${Math.round(s.lag)} ms`}`;
    if (tty) {
      Deno.stdout.writeSync(new TextEncoder().encode(`\r${line.padEnd(100)}`));
    } else console.log(line);
  }, tty ? 250 : 1000);
  try {
    const summary = await runFanout(source, [
      bind(pipelines.views, {
        metrics,
        batchWindow: { time: 500 },
        dedup: true,
      }),
      bind(pipelines.visitors, { metrics, batchWindow: { time: 500 } }),
      bind(pipelines.topPages, { metrics, batchWindow: { time: 500 } }),
    ], { signal: controller.signal });
    clearInterval(progress);
    if (tty) console.log();
    await report(store, pipelines, summary.durationMs, source.acked);
    if (server !== null && !controller.signal.aborted) {
      console.log(`\nstill serving ${server.url}/ — press Ctrl-C to stop`);
      await new Promise((resolve) =>
        controller.signal.addEventListener("abort", resolve, { once: true })
      );
    }
  } finally {
    clearInterval(progress);
    Deno.removeSignalListener("SIGINT", stop);
    await server?.shutdown();
    await store.close();
    if (temp !== null) await Deno.remove(temp, { recursive: true });
  }
}

async function report(
  store: Store,
  p: DemoPipelines,
  durationMs: number,
  acked: number,
): Promise<void> {
  const today = p.views.window!.bucketOf(Date.now());
  const key = (entity: string) => ({ entity, bucket: today });
  const views = await store.get(p.views.scope, key("global")) ?? 0;
  const visitors = await store.get(p.visitors.scope, key("global"));
  const top = await store.get(p.topPages.scope, key("global"));
  const estimate = visitors?.estimate();
  console.log(
    `\ndone in ${(durationMs / 1000).toFixed(1)} s: ${
      acked.toLocaleString("en")
    } events acked`,
  );
  console.log(`\n| measure (today) | value |\n|---|---|`);
  console.log(`| page views | ${views.toLocaleString("en")} |`);
  if (estimate !== undefined) {
    console.log(
      `| unique visitors (HLL) | ~${
        Math.round(estimate.estimate).toLocaleString("en")
      } (${Math.round(estimate.lower).toLocaleString("en")} – ${
        Math.round(estimate.upper).toLocaleString("en")
      }) |`,
    );
  }
  console.log(
    `\n| # | page | views (Top-K ± error) | views (exact counter) |\n|---|---|---|---|`,
  );
  const items = top?.top(5) ?? [];
  const exact = await store.getMany(
    p.views.scope,
    items.map((i) => key(`page:${i.key}`)),
  );
  items.forEach((item, i) =>
    console.log(
      `| ${i + 1} | ${item.key} | ${item.count} ± ${item.error} | ${
        exact[i] ?? 0
      } |`,
    )
  );
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (error) {
    console.error(
      `demo failed: ${error instanceof Error ? error.message : String(error)}`,
    );
    Deno.exit(1);
  }
}
