// SparkConnectClient against a real Spark Connect server: schemas, Arrow results, resuming a broken stream, sessions.

import assert from "node:assert/strict";
import {
  executeStats,
  SparkConnectClient,
  SparkUnavailableError,
} from "../batch/spark/mod.ts";
import { freePort } from "../tools/stack/probe.ts";
import { sparkService } from "./_spark.ts";
import { serviceTest } from "./_service.ts";

const spark = await sparkService();

/**
 * A TCP proxy to Spark that cuts its first connection once `cutAfter` bytes
 * came back from the server: a result stream broken in the middle.
 */
function cuttingProxy(cutAfter: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let connections = 0;
  let cuts = 0;
  const pipes: Promise<void>[] = [];
  (async () => {
    for await (const downstream of listener) {
      const first = connections++ === 0;
      pipes.push((async () => {
        const upstream = await Deno.connect({
          hostname: spark.host,
          port: spark.port,
        });
        let sent = 0;
        const close = () => {
          try {
            downstream.close();
          } catch { /* closed */ }
          try {
            upstream.close();
          } catch { /* closed */ }
        };
        const up = downstream.readable.pipeTo(upstream.writable).catch(
          () => undefined,
        );
        const down = upstream.readable.pipeTo(
          new WritableStream({
            async write(chunk) {
              if (first && sent + chunk.byteLength > cutAfter) {
                cuts++;
                close();
                throw new Error("cut");
              }
              sent += chunk.byteLength;
              const writer = downstream.writable.getWriter();
              try {
                await writer.write(chunk);
              } finally {
                writer.releaseLock();
              }
            },
          }),
        ).catch(() => undefined);
        await Promise.all([up, down]);
        close();
      })());
    }
  })().catch(() => undefined);
  const port = (listener.addr as Deno.NetAddr).port;
  return {
    url: `http://127.0.0.1:${port}`,
    get cuts() {
      return cuts;
    },
    close: () => listener.close(),
  };
}

serviceTest(
  "client.columns() reports the schema and client.rows() the values",
  async () => {
    await using client = new SparkConnectClient({ url: spark.url });
    assert.match(client.sessionId, /^[0-9a-f-]{36}$/);
    const sql =
      "SELECT CAST(7 AS BIGINT) AS n, 'a' AS s, 1.5D AS d, TIMESTAMP '2024-03-01 00:00:00' AS t, array('x', 'y') AS xs";
    assert.deepEqual(
      (await client.columns(sql)).map((c) => `${c.name}:${c.type}`),
      ["n:long", "s:string", "d:double", "t:timestamp", "xs:array"],
    );
    const [row] = await client.rows(sql);
    assert.equal(row?.["n"], 7n);
    assert.equal(row?.["s"], "a");
    assert.equal(row?.["d"], 1.5);
  },
);

serviceTest(
  "client.sql() resumes a stream broken mid-result with ReattachExecute and loses no row",
  async () => {
    const proxy = cuttingProxy(3_000_000);
    await using client = new SparkConnectClient({ url: proxy.url });
    const stats = executeStats();
    const n = 100_000;
    let rows = 0;
    let sum = 0n;
    for await (
      const batch of client.sql(
        `SELECT id, repeat('x', 200) AS pad FROM range(0, ${n}, 1, 2)`,
        { stats },
      )
    ) {
      const ids = batch.getChild("id")!;
      for (let i = 0; i < batch.numRows; i++) sum += ids.get(i) as bigint;
      rows += batch.numRows;
    }
    assert.equal(proxy.cuts, 1);
    assert.ok(stats.reattaches >= 1, `reattached ${stats.reattaches} times`);
    assert.equal(rows, n);
    assert.equal(sum, BigInt(n) * BigInt(n - 1) / 2n);
    proxy.close();
  },
);

serviceTest("client.sql() names the server when nothing listens", async () => {
  const url = `http://127.0.0.1:${freePort()}`;
  await using client = new SparkConnectClient({ url });
  const error = await client.rows("SELECT 1").then(() => undefined, (e) => e);
  assert.ok(error instanceof SparkUnavailableError, String(error));
  assert.match(error.message, /stack:up spark/);
});

serviceTest(
  "two clients with their own sessions do not see each other's views",
  async () => {
    await using a = new SparkConnectClient({ url: spark.url, userId: "alice" });
    await using b = new SparkConnectClient({ url: spark.url, userId: "bob" });
    await a.rows("CREATE OR REPLACE TEMP VIEW mine AS SELECT 1 AS x");
    assert.deepEqual(await a.rows("SELECT x FROM mine"), [{ x: 1 }]);
    const error = await b.rows("SELECT x FROM mine").then(
      () => undefined,
      (e) => e,
    );
    assert.match(String(error?.message), /TABLE_OR_VIEW_NOT_FOUND/);
  },
);

serviceTest(
  "an aborted client.sql() interrupts the operation on the server, which keeps running otherwise",
  async () => {
    await using client = new SparkConnectClient({ url: spark.url });
    const stats = executeStats();
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("enough")), 1000);
    const error = await client.rows(
      "SELECT count(*) FROM range(0, 100000000000)",
      { signal: controller.signal, stats },
    ).then(() => undefined, (e) => e);
    assert.equal(error?.message, "enough");
    assert.equal(stats.interrupted, 1);
    assert.deepEqual(await client.rows("SELECT 1 AS one"), [{ one: 1 }]);
  },
);
