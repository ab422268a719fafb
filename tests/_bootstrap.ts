// Shared pieces of the source tests: a page-view counter, a source wrapper that writes between batches, a checkpoint that stops saving, reading ids, a SIGKILL-and-resume check.

import { sum } from "../monoid/mod.ts";
import { type Pipeline, pipeline } from "../pipeline/mod.ts";
import {
  MemoryCheckpoint,
  type Source,
  type SourceRecord,
} from "../source/mod.ts";
import type { Store } from "../state/mod.ts";
import { KvStore } from "../state/kv.ts";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { Worker } from "./_process.ts";
import { uniqueName } from "./_stack.ts";
import { pageTotals, wrongTotals } from "./_totals.ts";

/** Counts events per `page` into `store`, all time. */
export function pageCounter<E extends { page: string }>(
  store: Store,
  name: string,
): Pipeline<E, number> {
  return pipeline<E>(name)
    .key((e) => e.page)
    .value(() => 1)
    .aggregate(sum())
    .storeIn(store)
    .build();
}

/** Wraps a source, calling `between(i)` after batch `i` was handed on (to write while a scan runs). */
export function interleaved<T>(
  source: Source<T>,
  between: (i: number) => Promise<void>,
): Source<T> {
  return {
    name: source.name,
    close: () => source.close(),
    async *[Symbol.asyncIterator](): AsyncIterator<readonly SourceRecord<T>[]> {
      let i = 0;
      for await (const batch of source) {
        yield batch;
        await between(i++);
      }
    },
  };
}

/**
 * Keeps the first `keep` saves and ignores the rest, like a process killed
 * before it saved again; `kept` is the last value it kept.
 */
export class LaggingCheckpoint extends MemoryCheckpoint {
  /** The last value saved, `undefined` before the first save. */
  kept: unknown = undefined;
  #saves = 0;

  /** @param keep How many saves to keep. */
  constructor(readonly keep: number) {
    super();
  }

  override save(value: unknown): Promise<void> {
    if (++this.#saves > this.keep) return Promise.resolve();
    this.kept = value;
    return super.save(value);
  }
}

/**
 * Reads `source`, acking every record, until it ends or at least `atLeast`
 * records were read, then closes it.
 *
 * @returns The ids of the records read, in order.
 */
export async function ackedIds<T>(
  source: Source<T>,
  atLeast = Infinity,
): Promise<string[]> {
  const ids: string[] = [];
  for await (const batch of source) {
    for (const r of batch) {
      ids.push(r.id);
      r.ack();
    }
    if (ids.length >= atLeast) break;
  }
  await source.close();
  return ids;
}

/**
 * Runs a snapshot scan in a child process (`_snapshot_worker.ts` with
 * `kind` and `kindArgs`), kills it with SIGKILL once some of its flushes
 * were written and before it ends, runs it again to the end, and checks that
 * the second run resumed from the checkpoint and that the page totals of
 * `pages` (every record's page) are exact in the shared Deno KV store.
 */
export async function assertKilledScanResumesExact(
  kind: "mongo" | "s3" | "dynamodb",
  kindArgs: readonly string[],
  pages: readonly string[],
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const checkpointPath = `${dir}/checkpoint.json`;
  const kvPath = `${dir}/state.kv`;
  const name = uniqueName(`${kind}_kill`);
  const script = fileURLToPath(
    new URL("./_snapshot_worker.ts", import.meta.url),
  );
  const args = [kind, checkpointPath, kvPath, name, ...kindArgs];
  try {
    const first = new Worker(script, args);
    await first.until(
      (s) => s.step === "flushed" && first.total("flushed", "records") >= 500,
      60_000,
    );
    // Give the checkpoint a moment to save what those flushes acked.
    await new Promise((resolve) => setTimeout(resolve, 100));
    await first.kill();
    assert.equal(
      first.count("done"),
      0,
      "the first worker was killed before the end",
    );
    const second = new Worker(script, args);
    await second.until((s) => s.step === "done", 60_000);
    assert.ok(
      second.total("batch", "records") < pages.length,
      "the second worker resumed instead of starting over",
    );
    const store = await KvStore.open(kvPath);
    try {
      const p = pageCounter<{ page: string }>(store, name);
      const want = pageTotals(pages, (page) => page);
      assert.deepEqual(await wrongTotals(store, p.scope, want), []);
    } finally {
      await store.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
