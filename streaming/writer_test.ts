import assert from "node:assert/strict";
import { count } from "../monoid/mod.ts";
import { pipeline } from "../pipeline/mod.ts";
import type { Source, SourceRecord } from "../source/mod.ts";
import {
  type Delta,
  DeltaRejectedError,
  MemoryStore,
  type MergeOptions,
  type MergeResult,
  type Scope,
} from "../state/mod.ts";
import { run } from "./mod.ts";

/** One batch of records without stream positions: dedup goes by claimed ids. */
function claimed(ids: readonly string[], key = "k"): Source<string> {
  const batch: SourceRecord<string>[] = ids.map((id) => ({
    value: key,
    id,
    time: 0,
    ack: () => {},
  }));
  return {
    name: "claimed",
    close: () => Promise.resolve(),
    async *[Symbol.asyncIterator]() {
      yield batch;
    },
  };
}

/** A memory store that refuses, as DynamoDB does, a delta with more claims than one transaction holds. */
class TransactionLimitStore extends MemoryStore {
  largest = 0;
  override merge<V>(
    scope: Scope<V>,
    deltas: readonly Delta<V>[],
    options?: MergeOptions,
  ): Promise<MergeResult> {
    const at = deltas.findIndex((d) => (d.claims?.length ?? 0) > 99);
    if (at >= 0) {
      return Promise.reject(
        new DeltaRejectedError(
          scope.namespace,
          at,
          deltas[at]!.key,
          "more than 99 claims for one transaction",
        ),
      );
    }
    for (const d of deltas) {
      this.largest = Math.max(this.largest, d.claims?.length ?? 0);
    }
    return super.merge(scope, deltas, options);
  }
}

Deno.test("run() folds a record redelivered inside one batch once, with dedup on", async () => {
  const store = new MemoryStore();
  const p = pipeline<string>("in_batch_redelivery").key((s) => s)
    .value(() => 1).aggregate(count()).storeIn(store).build();
  const dead: string[] = [];
  const summary = await run(p, {
    source: claimed(["x", "y", "x", "x"]),
    dedup: true,
    deadLetter: (record) => {
      dead.push(record.id);
    },
  });
  assert.deepEqual(dead, []);
  assert.equal(summary.acked, 4);
  assert.equal(summary.dedupSkips, 2);
  assert.equal(await store.get(p.scope, { entity: "k", bucket: null }), 2);
});

Deno.test("run() writes a key's many claimed records in ranges the store can hold", async () => {
  const store = new TransactionLimitStore();
  const p = pipeline<string>("many_claims").key((s) => s).value(() => 1)
    .aggregate(count()).storeIn(store).build();
  const ids = Array.from({ length: 800 }, (_, i) => `id-${i}`);
  const dead: string[] = [];
  const summary = await run(p, {
    source: claimed(ids),
    dedup: true,
    deadLetter: (record) => {
      dead.push(record.id);
    },
  });
  assert.deepEqual(dead, []);
  assert.equal(summary.acked, 800);
  assert.ok(store.largest <= 99, `a delta carried ${store.largest} claims`);
  assert.equal(await store.get(p.scope, { entity: "k", bucket: null }), 800);
  // The same batch again is all redelivery.
  const again = await run(p, { source: claimed(ids), dedup: true });
  assert.equal(again.dedupSkips, 800);
  assert.equal(await store.get(p.scope, { entity: "k", bucket: null }), 800);
});
