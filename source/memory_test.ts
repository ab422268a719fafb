import assert from "node:assert/strict";
import { MemorySource } from "./memory.ts";
import type { SourceRecord } from "./source.ts";

async function take<T>(source: MemorySource<T>): Promise<SourceRecord<T>[]> {
  const out: SourceRecord<T>[] = [];
  for await (const batch of source) for (const r of batch) out.push(r);
  return out;
}

Deno.test("MemorySource.of() yields the events in batches with ids, times and positions", async () => {
  const source = MemorySource.of(["a", "b", "c"], {
    name: "m",
    batchSize: 2,
    time: (_, i) => 100 + i,
    startAt: 10,
  });
  const records = await take(source);
  assert.deepEqual(
    records.map((r) => [r.value, r.id, r.time, r.stream, r.position]),
    [
      ["a", "m:10", 110, "memory:m", 10n],
      ["b", "m:11", 111, "memory:m", 11n],
      ["c", "m:12", 112, "memory:m", 12n],
    ],
  );
  assert.equal(source.delivered, 3);
});

Deno.test("MemorySource tracks acks and the committable position", async () => {
  const source = MemorySource.of([1, 2, 3, 4]);
  const records = await take(source);
  records[2]!.ack();
  records[1]!.ack();
  assert.equal(source.committable(), undefined);
  records[0]!.ack();
  assert.equal(source.committable(), 2n);
  records[0]!.ack();
  assert.equal(source.acked, 3);
});

Deno.test("MemorySource without a stream gives records no position", async () => {
  const records = await take(
    MemorySource.of(["x"], { stream: null, id: (v) => `id-${v}` }),
  );
  assert.equal(records[0]!.stream, undefined);
  assert.equal(records[0]!.position, undefined);
  assert.equal(records[0]!.id, "id-x");
});

Deno.test("MemorySource push(), pushUndecodable(), end() and close()", async () => {
  const source = new MemorySource<number>();
  const seen: SourceRecord<number>[] = [];
  const reading = (async () => {
    for await (const batch of source) seen.push(...batch);
  })();
  source.push(1);
  source.pushUndecodable("{x", new SyntaxError("bad"));
  await new Promise((r) => setTimeout(r, 5));
  source.end();
  await reading;
  assert.equal(seen.length, 2);
  assert.equal(seen[1]!.error?.message, "bad");
  assert.deepEqual(seen[1]!.raw, new TextEncoder().encode("{x"));
  assert.throws(() => source.push(2), TypeError);
  const open = new MemorySource<number>();
  const it = open[Symbol.asyncIterator]();
  const next = it.next();
  await open.close();
  assert.equal((await next).done, true);
  assert.throws(() => new MemorySource({ batchSize: 0 }), RangeError);
});
