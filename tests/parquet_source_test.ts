// Parquet source: local and S3 (moto), Hive partition pruning, projection, row groups, resume, corrupt files.

import assert from "node:assert/strict";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { parquetWriteBuffer } from "hyparquet-writer";
import { sum } from "../monoid/mod.ts";
import { pipeline } from "../pipeline/mod.ts";
import { MemoryStore } from "../state/mod.ts";
import { run } from "../streaming/mod.ts";
import { ParquetFileError, ParquetSource } from "../source/parquet.ts";
import { awsConfig, service } from "./_stack.ts";
import { LaggingCheckpoint } from "./_bootstrap.ts";
import { withBucket } from "./_s3.ts";
import { pageTotals, wrongTotals } from "./_totals.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };

interface View {
  page: string;
  n: number;
}

const DAYS = ["2026-12-01", "2026-12-02", "2026-12-03"];

/** Three daily partitions, two files each, 1,000 rows in row groups of 300. */
function dataset(): Map<string, { bytes: Uint8Array; pages: string[] }> {
  const files = new Map<string, { bytes: Uint8Array; pages: string[] }>();
  for (const [d, day] of DAYS.entries()) {
    for (let f = 0; f < 2; f++) {
      const pages = Array.from(
        { length: 1000 },
        (_, i) => `p${(i * 31 + d * 7 + f) % 17}`,
      );
      const bytes = new Uint8Array(parquetWriteBuffer({
        columnData: [
          { name: "page", data: pages, type: "STRING" },
          { name: "n", data: pages.map(() => 1), type: "INT32" },
          {
            name: "blob",
            data: pages.map((p) => p.repeat(20)),
            type: "STRING",
          },
        ],
        rowGroupSize: 300,
      }));
      files.set(`views/dt=${day}/part-${f}.parquet`, { bytes, pages });
    }
  }
  return files;
}

function counter(source: ParquetSource<View>, store: MemoryStore) {
  return pipeline<View>("pq")
    .from(source)
    .key((e) => e.page)
    .value((e) => e.n)
    .aggregate(sum())
    .storeIn(store)
    .build();
}

/** Checks that `store` holds one per page of `pages` (each row's `n` is 1). */
async function assertCounts(
  store: MemoryStore,
  p: ReturnType<typeof counter>,
  pages: Iterable<string>,
): Promise<void> {
  const want = pageTotals(pages, (page) => page);
  assert.deepEqual(await wrongTotals(store, p.scope, want), []);
}

/**
 * Writes `files` (path under the folder → content) into a fresh temporary
 * folder, runs `body` on it and removes it, whatever happened.
 */
async function withFolder(
  files: Iterable<readonly [string, Uint8Array | string]>,
  body: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    for (const [key, content] of files) {
      const path = `${dir}/${key}`;
      await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), {
        recursive: true,
      });
      if (typeof content === "string") await Deno.writeTextFile(path, content);
      else await Deno.writeFile(path, content);
    }
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The files of {@linkcode dataset} as (path, bytes). */
function bytesOf(files: ReturnType<typeof dataset>) {
  return [...files].map(([key, { bytes }]) => [key, bytes] as const);
}

/** A test over {@linkcode dataset} written to a temporary folder. */
function datasetTest(
  name: string,
  body: (dir: string, files: ReturnType<typeof dataset>) => Promise<void>,
): void {
  Deno.test(name, integration, async () => {
    const files = dataset();
    await withFolder(bytesOf(files), (dir) => body(dir, files));
  });
}

datasetTest(
  "ParquetSource prunes Hive partitions by time and projects columns, local files",
  async (dir, files) => {
    const source = new ParquetSource<View>({
      path: `${dir}/views`,
      columns: ["page", "n"],
      partitions: {
        from: Date.UTC(2026, 11, 2),
        to: Date.UTC(2026, 11, 3, 12),
      },
      batchSize: 128,
    });
    const store = new MemoryStore();
    const p = counter(source, store);
    let sawBlob = false;
    const summary = await run(p, {
      source: {
        name: source.name,
        close: () => source.close(),
        async *[Symbol.asyncIterator]() {
          for await (const batch of source) {
            for (const r of batch) sawBlob ||= "blob" in (r.value as object);
            yield batch;
          }
        },
      },
      dedup: true,
    });
    assert.equal(summary.acked, 4000);
    assert.equal(sawBlob, false, "only the projected columns are read");
    assert.equal(
      source.progress().items,
      4,
      "the 2026-12-01 files were pruned",
    );
    const kept = [...files].filter(([k]) => !k.includes(DAYS[0]!));
    await assertCounts(store, p, kept.flatMap(([, f]) => f.pages));
  },
);

datasetTest(
  "ParquetSource resumes after a lagging checkpoint and ends exact with dedup",
  async (dir, files) => {
    const checkpoint = new LaggingCheckpoint(3);
    const store = new MemoryStore();
    const first = new ParquetSource<View>({
      path: dir,
      checkpoint,
      checkpointInterval: 0,
      batchSize: 100,
    });
    await run(counter(first, store), { dedup: true });
    const second = new ParquetSource<View>({ path: dir, checkpoint });
    const p = counter(second, store);
    const summary = await run(p, { dedup: true });
    assert.ok(
      summary.acked > 0,
      "the second run read again what the checkpoint had not seen",
    );
    await assertCounts(
      store,
      p,
      [...files.values()].flatMap((f) => f.pages),
    );
  },
);

Deno.test(
  "ParquetSource reads S3 by range and names a corrupt object",
  integration,
  async () => {
    const client = new S3Client(awsConfig(await service("s3")));
    const files = dataset();
    const objects = Object.fromEntries(bytesOf(files));
    const brokenKey = "views/dt=2026-12-04/broken.parquet";
    await withBucket(client, "pqsrc", objects, async (Bucket) => {
      const store = new MemoryStore();
      const source = new ParquetSource<View>({
        client,
        bucket: Bucket,
        prefix: "views/",
        columns: ["page", "n"],
        concurrency: 3,
      });
      const p = counter(source, store);
      const summary = await run(p, { dedup: true });
      assert.equal(summary.acked, 6000);
      await assertCounts(
        store,
        p,
        [...files.values()].flatMap((f) => f.pages),
      );
      assert.ok(source.progress().bytes > 0);

      const good = files.values().next().value!.bytes;
      const broken = good.slice();
      broken.fill(7, 4, broken.length - 64);
      await client.send(
        new PutObjectCommand({ Bucket, Key: brokenKey, Body: broken }),
      );
      const again = new ParquetSource<View>({
        client,
        bucket: Bucket,
        prefix: "views/dt=2026-12-04/",
      });
      await assert.rejects(
        async () => {
          for await (const batch of again) for (const r of batch) r.ack();
        },
        (error: unknown) => {
          assert.ok(error instanceof ParquetFileError, String(error));
          assert.equal(error.file, `s3://${Bucket}/${brokenKey}`);
          return true;
        },
      );
    });
    client.destroy();
  },
);

Deno.test(
  "ParquetSource names a local file that is not Parquet",
  integration,
  async () => {
    const junk = [["x.parquet", "this is not parquet at all"]] as const;
    await withFolder(junk, async (dir) => {
      const source = new ParquetSource<View>({ path: dir });
      await assert.rejects(
        async () => {
          for await (const _ of source) { /* drain */ }
        },
        (error: unknown) =>
          error instanceof ParquetFileError &&
          error.file === `${dir}/x.parquet`,
      );
    });
  },
);
