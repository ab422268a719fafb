// S3 JSON-Lines source against moto: gzip by extension and content-encoding, key filter, dead letters, resume (also after SIGKILL), corrupt gzip.

import assert from "node:assert/strict";
import { S3Client } from "@aws-sdk/client-s3";
import { gzipSync } from "node:zlib";
import { sum } from "../monoid/mod.ts";
import { pipeline } from "../pipeline/mod.ts";
import { MemoryStore } from "../state/mod.ts";
import { run } from "../streaming/mod.ts";
import {
  MemoryCheckpoint,
  S3JsonLinesSource,
  S3ObjectError,
} from "../source/s3.ts";
import { awsConfig, service } from "./_stack.ts";
import {
  ackedIds,
  assertKilledScanResumesExact,
  LaggingCheckpoint,
} from "./_bootstrap.ts";
import { type TestObject, withBucket as withS3Bucket } from "./_s3.ts";
import { pageTotals, wrongTotals } from "./_totals.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };
const client = new S3Client(awsConfig(await service("s3")));

interface View {
  page: string;
}

function withBucket(
  objects: Readonly<Record<string, TestObject>>,
  body: (bucket: string) => Promise<void>,
): Promise<void> {
  return withS3Bucket(client, "s3src", objects, body);
}

function lines(pages: string[]): string {
  return pages.map((page) => JSON.stringify({ page })).join("\n") + "\n";
}

/**
 * `count` JSON-Lines objects of `perObject` views each, page `page(o, i)`
 * for line i of object o, named `key(o)` (gzipped when it ends in `.gz`).
 */
function pagedObjects(
  count: number,
  perObject: number,
  page: (o: number, i: number) => string,
  key: (o: number) => string,
): { objects: Record<string, TestObject>; pages: string[] } {
  const objects: Record<string, TestObject> = {};
  const pages: string[] = [];
  for (let o = 0; o < count; o++) {
    const ps = Array.from({ length: perObject }, (_, i) => page(o, i));
    pages.push(...ps);
    const text = lines(ps);
    objects[key(o)] = key(o).endsWith(".gz")
      ? gzipSync(new TextEncoder().encode(text))
      : text;
  }
  return { objects, pages };
}

function counter(source: S3JsonLinesSource<View>, store: MemoryStore) {
  return pipeline<View>("s3views")
    .from(source)
    .key((e) => e.page)
    .value(() => 1)
    .aggregate(sum())
    .storeIn(store)
    .build();
}

Deno.test(
  "S3JsonLinesSource reads plain, .gz and Content-Encoding gzip objects under a prefix, dead-lettering bad lines",
  integration,
  async () => {
    const enc = new TextEncoder();
    await withBucket({
      "views/a.jsonl": lines(["x", "y"]) + "{oops\n\n",
      "views/b.jsonl.gz": gzipSync(enc.encode(lines(["x", "x", "z"]))),
      "views/c.jsonl": {
        body: gzipSync(enc.encode(lines(["y"]))),
        encoding: "gzip",
      },
      "views/skip.txt": "not json\n",
      "other/d.jsonl": lines(["x"]),
    }, async (bucket) => {
      const source = new S3JsonLinesSource<View>({
        client,
        bucket,
        prefix: "views/",
        keys: (key) => key.includes(".jsonl"),
        concurrency: 2,
      });
      const store = new MemoryStore();
      const p = counter(source, store);
      const dead: string[] = [];
      const summary = await run(p, {
        dedup: true,
        deadLetter: (_r, error) => void dead.push(error.message),
      });
      assert.equal(summary.acked, 7);
      const get = (entity: string) =>
        store.get(p.scope, { entity, bucket: null });
      assert.equal(await get("x"), 3);
      assert.equal(await get("y"), 2);
      assert.equal(await get("z"), 1);
      assert.equal(dead.length, 1);
      assert.match(dead[0]!, new RegExp(`s3://${bucket}/views/a.jsonl line 3`));
      const progress = source.progress();
      assert.equal(progress.items, 3);
      assert.ok(progress.totalBytes > 0);
      assert.equal(
        progress.bytes,
        progress.totalBytes,
        "every listed byte was read",
      );
    });
  },
);

Deno.test(
  "S3JsonLinesSource resumes each lane after its committed line and ends exact with dedup",
  integration,
  async () => {
    const { objects, pages } = pagedObjects(
      5,
      400,
      (o, i) => `p${(i * 7 + o) % 13}`,
      (o) => `part-${o}.jsonl`,
    );
    await withBucket(objects, async (bucket) => {
      // The checkpoint keeps only its first saves: the state runs ahead of it, as after a SIGKILL.
      const checkpoint = new LaggingCheckpoint(4);
      const store = new MemoryStore();
      const first = new S3JsonLinesSource<View>({
        client,
        bucket,
        concurrency: 3,
        batchSize: 50,
        checkpoint,
        checkpointInterval: 0,
      });
      await run(counter(first, store), { dedup: true });
      const kept = checkpoint.kept as { at: (string | null)[] };
      assert.ok(kept.at.some((at) => at !== null), "some progress was saved");
      // Second run restarts from the checkpoint; a third (already done) reads nothing new.
      const second = new S3JsonLinesSource<View>({
        client,
        bucket,
        concurrency: 1, // ignored: the checkpoint pinned 3 lanes
        batchSize: 50,
        checkpoint,
      });
      const p = counter(second, store);
      await run(p, { dedup: true });
      const expected = pageTotals(pages, (page) => page);
      assert.deepEqual(await wrongTotals(store, p.scope, expected), []);
      const done = new MemoryCheckpoint(second.position());
      const third = new S3JsonLinesSource<View>({
        client,
        bucket,
        checkpoint: done,
      });
      let again = 0;
      for await (const batch of third) again += batch.length;
      assert.equal(again, 0);
    });
  },
);

Deno.test(
  "S3JsonLinesSource killed with SIGKILL mid-scan resumes by (object, line) and ends exact",
  integration,
  async () => {
    // Two plain and two gzipped objects: a resumed gzip stream skips to its line too.
    const { objects, pages } = pagedObjects(
      4,
      2000,
      (o, i) => `k${(i * 11 + o) % 17}`,
      (o) => `views/part-${o}.jsonl${o % 2 === 1 ? ".gz" : ""}`,
    );
    await withBucket(objects, async (bucket) => {
      await assertKilledScanResumesExact("s3", [bucket, "views/"], pages);
    });
  },
);

Deno.test(
  "S3JsonLinesSource resumed mid-object skips exactly the committed lines",
  integration,
  async () => {
    const ps = Array.from({ length: 300 }, (_, i) => `q${i % 5}`);
    await withBucket({ "one.jsonl": lines(ps) }, async (bucket) => {
      const checkpoint = new MemoryCheckpoint();
      const source = new S3JsonLinesSource<View>({
        client,
        bucket,
        batchSize: 100,
        checkpoint,
      });
      await ackedIds(source, 100);
      const rest = new S3JsonLinesSource<View>({ client, bucket, checkpoint });
      const ids = await ackedIds(rest);
      assert.equal(ids.length, 200);
      assert.equal(ids[0], `s3://${bucket}/one.jsonl:101`);
    });
  },
);

Deno.test(
  "S3JsonLinesSource names the object of a corrupt gzip",
  integration,
  async () => {
    const good = gzipSync(new TextEncoder().encode(lines(["a", "b", "c"])));
    const corrupt = good.slice();
    corrupt.fill(0x41, 12, corrupt.length - 8);
    await withBucket({ "bad.jsonl.gz": corrupt }, async (bucket) => {
      const source = new S3JsonLinesSource<View>({ client, bucket });
      await assert.rejects(
        async () => {
          for await (const batch of source) for (const r of batch) r.ack();
        },
        (error: unknown) => {
          assert.ok(error instanceof S3ObjectError);
          assert.equal(error.object, `s3://${bucket}/bad.jsonl.gz`);
          assert.match(error.message, /corrupt gzip/);
          return true;
        },
      );
    });
  },
);
