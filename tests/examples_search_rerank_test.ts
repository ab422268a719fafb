// examples/search_rerank end to end: counters in DynamoDB Local, the projected index, the query server, the HTTP search service.

import { deepEqual, equal, ok } from "node:assert/strict";
import { getByID } from "@orama/orama";
import { createHandler } from "../admin/mod.ts";
import { count, daily, days } from "../monoid/mod.ts";
import { createQueryClient } from "../query/client.ts";
import { followCounters } from "../examples/search_projector/follow.ts";
import {
  createPostIndex,
  indexPosts,
  SearchProjector,
} from "../examples/search_projector/projector.ts";
import {
  createSearchHandler,
  type SearchAnswer,
} from "../examples/search_rerank/rerank.ts";
import { eventually } from "./_stack.ts";
import { counterTable } from "./_search.ts";
import { serviceTest } from "./_service.ts";

serviceTest(
  "search_rerank: recall from the projected index, re-rank by live likes, degrade to relevance without counters",
  async () => {
    const { client, streams, table, store } = await counterTable("likes");
    const likes = { name: "likes", monoid: count(), window: null, store };
    const window = daily({ retention: days(7) });
    const likesDaily = { name: "likes_daily", monoid: count(), window, store };
    const today = window.bucketOf(Date.now());
    const put = async (entity: string, all: number, day: number) => {
      await store.merge({ namespace: "likes", monoid: count() }, [
        { key: { entity, bucket: null }, value: all },
      ]);
      await store.merge({ namespace: "likes_daily", monoid: count() }, [
        { key: { entity, bucket: today }, value: day },
      ]);
    };
    await put("post:1", 10, 0);
    await put("post:2", 5000, 900);
    await put("post:3", 1, 1);

    const index = createPostIndex();
    await indexPosts(index, [
      { id: "post:1", title: "deno streams", body: "" },
      { id: "post:2", title: "deno streams in depth with examples", body: "" },
      { id: "post:3", title: "deno kv", body: "" },
      { id: "post:4", title: "gardening", body: "" },
    ]);
    const stop = new AbortController();
    const following = followCounters(
      new SearchProjector(index, { pipeline: "likes" }),
      { client, streams, table, signal: stop.signal },
    );
    const admin = createHandler({ pipelines: [likes, likesDaily], ui: false });
    const queryServer = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      admin,
    );
    const searchHandler = createSearchHandler({
      index,
      client: createQueryClient({
        baseUrl: `http://127.0.0.1:${queryServer.addr.port}`,
        timeoutMs: 1000,
      }),
    });
    await using searchServer = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      searchHandler,
    );
    const base = `http://127.0.0.1:${searchServer.addr.port}`;
    const get = async (path: string) => {
      const res = await fetch(base + path);
      return { status: res.status, body: await res.json() };
    };
    try {
      await eventually(
        "the projected facets",
        () =>
          getByID(index, "post:2")?.likes_label === "1k-10k" ? true : undefined,
      );

      // Relevance alone puts the short "deno streams" first; today's likes lift post:2.
      const { body } = await get("/search?q=deno%20streams") as {
        body: SearchAnswer;
      };
      equal(body.degraded, false);
      deepEqual(body.results.map((r) => r.id), ["post:2", "post:1", "post:3"]);
      ok(body.results[1]!.relevance > body.results[0]!.relevance);
      deepEqual(
        body.results.map((r) => [r.likes, r.likesToday]),
        [[5000, 900], [10, 0], [1, 1]],
      );
      equal(body.results[0]!.likesLabel, "1k-10k");

      // The projected facet filters the recall (an Orama update indexes its
      // fields a moment after the document is stored: poll).
      const popular = await eventually(
        "post:1 in the 10-100 facet",
        async () => {
          const ids =
            ((await get("/search?q=deno&min_bucket=2")).body as SearchAnswer)
              .results.map((r) => r.id);
          return ids.length === 2 ? ids : undefined;
        },
      );
      deepEqual(popular, ["post:2", "post:1"]);
      equal((await get("/search?q=")).status, 400);

      // Without the query server: relevance order, flagged degraded.
      await queryServer.shutdown();
      const degraded = (await get("/search?q=deno%20streams"))
        .body as SearchAnswer;
      equal(degraded.degraded, true);
      const byRelevance = [...degraded.results].sort((a, b) =>
        b.relevance - a.relevance
      );
      deepEqual(degraded.results, byRelevance);
      equal(degraded.results[0]!.id, "post:1");
      equal(degraded.results[0]!.likes, null);
      const stats = (await get("/stats")).body as {
        searches: number;
        degraded: number;
      };
      equal(stats.degraded, 1);
      ok(stats.searches >= 3);
    } finally {
      stop.abort();
      await following;
      await admin.close();
      client.destroy();
      streams.destroy();
    }
  },
);
