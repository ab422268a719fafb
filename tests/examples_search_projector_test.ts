// examples/search_projector end to end: counter writes in DynamoDB Local → its stream → bucket transitions in an Orama index.

import { deepEqual, equal, ok } from "node:assert/strict";
import { getByID, search } from "@orama/orama";
import { count } from "../monoid/mod.ts";
import {
  createPostIndex,
  indexPosts,
  SearchProjector,
} from "../examples/search_projector/projector.ts";
import { followCounters } from "../examples/search_projector/follow.ts";
import { eventually } from "./_stack.ts";
import { counterTable } from "./_search.ts";
import { serviceTest } from "./_service.ts";

serviceTest(
  "search_projector: a counter rising to 1 M re-indexes a handful of times, a wobbling one never flaps",
  async () => {
    const { client, streams, table, store } = await counterTable("counters");
    const scope = { namespace: "likes", monoid: count() };
    const add = (entity: string, value: number) =>
      store.merge(scope, [{ key: { entity, bucket: null }, value }]);
    // Before the projector starts: the scan projects it.
    await add("post:3", 5000);
    await store.merge({ namespace: "views", monoid: count() }, [
      { key: { entity: "post:1", bucket: null }, value: 7 },
    ]);

    const index = createPostIndex();
    await indexPosts(
      index,
      Array.from({ length: 20 }, (_, i) => ({
        id: `post:${i + 1}`,
        title: i < 3 ? `deno streaming part ${i + 1}` : `gardening tip ${i}`,
        body: "",
      })),
    );
    const projector = new SearchProjector(index, { pipeline: "likes" });
    const stop = new AbortController();
    const following = followCounters(projector, {
      client,
      streams,
      table,
      signal: stop.signal,
    });
    try {
      await eventually(
        "the snapshot projection",
        () => getByID(index, "post:3")?.likes_bucket === 4 ? true : undefined,
      );

      // 1 M likes on post:1, folded by the runtime into 2,000 writes of 500;
      // post:2 climbs to 1,000 and then wobbles ±20 around it 200 times.
      const rising = (async () => {
        for (let i = 0; i < 2000; i++) await add("post:1", 500);
      })();
      const wobbling = (async () => {
        await add("post:2", 1000);
        for (let i = 0; i < 200; i++) await add("post:2", i % 2 ? 20 : -20);
      })();
      await Promise.all([rising, wobbling]);
      const writes = 1 + 2000 + 201;
      await eventually(
        "every counter write projected",
        () => projector.stats.counterChanges >= writes ? true : undefined,
        60_000,
      );
      const post1 = getByID(index, "post:1")!;
      equal(post1.likes_bucket, 6);
      equal(post1.likes_label, "100k-1M");
      equal(getByID(index, "post:2")!.likes_bucket, 4);
      equal(getByID(index, "post:3")!.likes_label, "1k-10k");
      const { reindexes, withoutHysteresis, counterChanges, records } =
        projector.stats;
      ok(reindexes <= 6, `reindexes ${reindexes}`);
      ok(reindexes >= 3, `reindexes ${reindexes}`);
      ok(withoutHysteresis >= 200, `plain buckets ${withoutHysteresis}`);
      const found = await search(index, {
        term: "deno",
        where: { likes_bucket: { gte: 5 } },
      });
      deepEqual(found.hits.map((h) => h.id), ["post:1"]);
      console.log(JSON.stringify({
        measured: {
          likeEvents: 1_000_000 + 1000 + 200 * 20 + 5000,
          counterWrites: counterChanges,
          streamRecords: records,
          indexWritesWithoutProjection: counterChanges,
          indexWritesPlainBuckets: withoutHysteresis,
          indexWritesHysteresis: reindexes,
          reduction: `${(counterChanges / reindexes).toFixed(0)}x`,
        },
      }));
    } finally {
      stop.abort();
      await following;
      client.destroy();
      streams.destroy();
    }
  },
);

Deno.test("search_projector: the Lambda handler reads wire-format records, REMOVE projects 0", async () => {
  const index = createPostIndex();
  await indexPosts(index, [{ id: "post:9", title: "x", body: "" }]);
  const projector = new SearchProjector(index, { pipeline: "likes" });
  const handler = projector.lambdaHandler();
  let sequence = 0;
  const record = (
    eventName: "INSERT" | "MODIFY" | "REMOVE",
    v?: string,
    sk = "all",
  ) => ({
    eventID: `e${++sequence}`,
    eventName,
    dynamodb: {
      SequenceNumber: String(sequence),
      Keys: { pk: { S: "likes#post:9" }, sk: { S: sk } },
      ...(v === undefined ? {} : { NewImage: { v: { N: v } } }),
    },
  });
  deepEqual(
    await handler({
      Records: [
        record("INSERT", "40"),
        record("MODIFY", "20000"),
        record("MODIFY", "99", "0001767225600000"),
      ],
    }),
    { batchItemFailures: [] },
  );
  equal(getByID(index, "post:9")!.likes_label, "10k-100k");
  await handler({ Records: [record("REMOVE")] });
  equal(getByID(index, "post:9")!.likes_bucket, 0);
  equal(projector.stats.reindexes, 2);
});
