// examples/page_view_counters end to end: the worker and the query server as two processes, against Kafka, DynamoDB and Valkey.

import { deepEqual, equal, ok } from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { createQueryClient } from "../query/client.ts";
import { createTopic, produce } from "./_kafka.ts";
import { eventually, service, uniqueName } from "./_stack.ts";
import { serviceTest } from "./_service.ts";

const DIR = fileURLToPath(
  new URL("../examples/page_view_counters/", import.meta.url),
);

/** A child process whose stdout is scanned for a JSON line. */
class Child {
  readonly lines: Record<string, unknown>[] = [];
  readonly #child: Deno.ChildProcess;
  readonly #done: Promise<void>;

  constructor(script: string, args: string[], env: Record<string, string>) {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", DIR + script, ...args],
      env,
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#child = child;
    this.#done = (async () => {
      let buffer = "";
      for await (
        const chunk of child.stdout.pipeThrough(new TextDecoderStream())
      ) {
        buffer += chunk;
        const parts = buffer.split("\n");
        buffer = parts.pop()!;
        for (const line of parts) {
          if (line.startsWith("{")) this.lines.push(JSON.parse(line));
        }
      }
    })();
  }

  async stop(): Promise<Deno.CommandStatus> {
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // already exited
    }
    const status = await this.#child.status;
    await this.#done;
    return status;
  }
}

serviceTest(
  "page_view_counters: the worker counts, the separate query server answers",
  async () => {
    const [kafka, dynamo, valkey] = await Promise.all([
      service("kafka"),
      service("dynamodb"),
      service("valkey"),
    ]);
    const topic = uniqueName("page-views");
    const table = uniqueName("page_views").replaceAll("-", "_");
    await createTopic(kafka.brokers, topic, 2);
    const day = Date.UTC(2026, 10, 30, 12);
    const views: { page: string; visitor: string; at: number }[] = [];
    for (let i = 0; i < 300; i++) {
      views.push({ page: "/home", visitor: `v${i % 120}`, at: day + i });
    }
    for (let i = 0; i < 120; i++) {
      views.push({ page: "/pricing", visitor: `v${i % 40}`, at: day + i });
    }
    for (let i = 0; i < 30; i++) {
      views.push({ page: "/docs", visitor: `v${i}`, at: day - 86_400_000 });
    }
    await produce(
      kafka.brokers,
      topic,
      views.map((v) => ({ key: v.page, value: JSON.stringify(v) })),
    );
    const env = {
      MURMUR_KAFKA_BROKERS: kafka.url,
      MURMUR_DYNAMODB_ENDPOINT: dynamo.url,
      MURMUR_VALKEY_URL: valkey.url,
      AWS_ACCESS_KEY_ID: "murmur",
      AWS_SECRET_ACCESS_KEY: "murmur-secret",
      PAGE_VIEWS_TOPIC: topic,
      PAGE_VIEWS_GROUP: uniqueName("pv-group"),
      PAGE_VIEWS_TABLE: table,
      AUTOSCALE_INTERVAL_MS: "300",
    };
    const worker = new Child("worker.ts", ["--port", "0"], env);
    const query = new Child("query.ts", ["--port", "0"], env);
    try {
      const url = await eventually(
        "the query server's URL",
        () =>
          query.lines.find((l) => l.msg === "query server listening")
            ?.url as string | undefined,
        60_000,
      );
      const client = createQueryClient({ baseUrl: url });
      const at = day;
      const home = await eventually("300 views of /home", async () => {
        try {
          const n = await client.number("page_views").window("page:/home", 1, {
            at,
            freshRead: true,
          });
          return n === 300 ? n : undefined;
        } catch {
          return undefined;
        }
      }, 90_000);
      equal(home, 300);
      const pages = client.number("page_views");
      deepEqual(
        await pages.windowMany(["page:/pricing", "page:/docs"], 1, { at }),
        [120, 0],
      );
      equal(await pages.window("page:/docs", 2, { at }), 30);
      const visitors = await client.cardinality("page_visitors").window(
        "page:/home",
        1,
        { at },
      );
      ok(visitors.lower <= 120 && 120 <= visitors.upper);
      const top = await client.topK("top_pages").window("all", 1, { at });
      deepEqual(top.map((e) => [e.key, e.count]), [["/home", 300], [
        "/pricing",
        120,
      ]]);
      // The worker's autoscaling signal sees the group catch up: lag 0.
      const lags = () =>
        worker.lines.filter((l) => l.msg === "autoscale").map((l) =>
          l.lagRecords
        );
      await eventually(
        "the consumer lag to reach 0",
        () => lags().includes(0) ? true : undefined,
        30_000,
      );
      ok(lags().every((n) => typeof n === "number" && n >= 0 && n <= 450));
    } finally {
      equal((await worker.stop()).success, true);
      await query.stop();
    }
  },
);
