// murmur codegen end to end: generate the typed services, serve them from Deno through the querier, call them from the generated TypeScript and Go clients.

import { deepEqual, equal, ok } from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { generate, loadPipelines } from "../codegen/mod.ts";
import { createQuerier } from "../query/mod.ts";
import * as defs from "./_codegen_pipelines.ts";

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 5, 15, 12);

async function seed(): Promise<void> {
  const { store, likes, daily_likes, revenue, visitors, top_posts } = defs;
  const scope = <V>(p: { name: string; monoid: V }) => ({
    namespace: p.name,
    monoid: p.monoid,
  });
  await store.merge(scope(likes), [{
    key: { entity: "post:1", bucket: null },
    value: 42,
  }]);
  const day = (t: number) => daily_likes.window.bucketOf(t);
  await store.merge(scope(daily_likes), [
    { key: { entity: "post:1", bucket: day(NOW) }, value: 5 },
    { key: { entity: "post:1", bucket: day(NOW - DAY) }, value: 7 },
    { key: { entity: "post:1", bucket: day(NOW - 10 * DAY) }, value: 100 },
  ]);
  await store.merge(scope(revenue), [
    { key: { entity: "cust:1", bucket: null }, value: 19.75 },
  ]);
  const sketch = visitors.monoid.identity();
  sketch.addAll(Array.from({ length: 1000 }, (_, i) => `v${i}`));
  await store.merge(scope(visitors), [
    { key: { entity: "page:/", bucket: day(NOW) }, value: sketch },
  ]);
  const top = top_posts.monoid.identity().add("post:1", 50).add("post:2", 30)
    .add("post:3", 20).add("post:4", 1);
  await store.merge(scope(top_posts), [
    { key: { entity: "all", bucket: null }, value: top },
  ]);
}

const CONFIG = new URL("../deno.json", import.meta.url).pathname;

const TS_CLIENT = `
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import {
  DailyLikesService,
  LikesService,
  RevenueService,
  TopPostsService,
  VisitorsService,
} from "./gen/ts/murmur/pipelines/v1/pipelines_pb.ts";

const transport = createConnectTransport({ baseUrl: Deno.args[0]! });
const likes: bigint | undefined = (await createClient(LikesService, transport)
  .getLikes({ entity: "post:1" })).value?.value;
const week: bigint | undefined = (await createClient(DailyLikesService, transport)
  .getDailyLikesWindow({ entity: "post:1", last: 7, atMs: ${NOW}n })).value?.value;
const seen = (await createClient(VisitorsService, transport)
  .getVisitorsWindow({ entity: "page:/", last: 1, atMs: ${NOW}n })).value!;
const estimate: number = seen.estimate;
const ranked = (await createClient(TopPostsService, transport)
  .getTopPosts({ entity: "all" })).value!.entries;
const revenue: number = (await createClient(RevenueService, transport)
  .getRevenue({ entity: "cust:1" })).value!.value;
console.log(JSON.stringify({
  likes: String(likes),
  week: String(week),
  inInterval: seen.lower <= 1000 && 1000 <= seen.upper && estimate > 0,
  top: ranked.map((e) => e.key),
  revenue,
}));
`;

const GO_MAIN = `package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"

	"connectrpc.com/connect"
	v1 "example.com/murmur/gen/go/murmur/pipelines/v1"
	"example.com/murmur/gen/go/murmur/pipelines/v1/pipelinesv1connect"
)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func main() {
	base := os.Args[1]
	ctx := context.Background()
	h := http.DefaultClient
	likes := pipelinesv1connect.NewLikesServiceClient(h, base)
	daily := pipelinesv1connect.NewDailyLikesServiceClient(h, base)
	revenue := pipelinesv1connect.NewRevenueServiceClient(h, base)
	visitors := pipelinesv1connect.NewVisitorsServiceClient(h, base)
	top := pipelinesv1connect.NewTopPostsServiceClient(h, base)

	var total int64 = must(likes.GetLikes(ctx, connect.NewRequest(&v1.GetLikesRequest{Entity: "post:1"}))).Msg.Value.Value
	week := must(daily.GetDailyLikesWindow(ctx, connect.NewRequest(&v1.GetDailyLikesWindowRequest{Entity: "post:1", Last: 7, AtMs: ${NOW}}))).Msg.Value
	var money float64 = must(revenue.GetRevenue(ctx, connect.NewRequest(&v1.GetRevenueRequest{Entity: "cust:1"}))).Msg.Value.Value
	seen := must(visitors.GetVisitorsWindow(ctx, connect.NewRequest(&v1.GetVisitorsWindowRequest{Entity: "page:/", Last: 1, AtMs: ${NOW}}))).Msg.Value
	ranked := must(top.GetTopPosts(ctx, connect.NewRequest(&v1.GetTopPostsRequest{Entity: "all"}))).Msg.Value.Entries
	many := must(likes.GetLikesMany(ctx, connect.NewRequest(&v1.GetLikesManyRequest{Entities: []string{"post:1", "post:9"}}))).Msg.Values
	_, bad := likes.GetLikes(ctx, connect.NewRequest(&v1.GetLikesRequest{Entity: ""}))

	keys := []string{}
	for _, e := range ranked {
		keys = append(keys, e.Key)
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{
		"likes":       total,
		"week":        week.Value,
		"weekPresent": week.Present,
		"weekStart":   week.StartMs,
		"revenue":     money,
		"estimate":    seen.Estimate,
		"lower":       seen.Lower,
		"upper":       seen.Upper,
		"top":         keys,
		"topCount":    ranked[0].Count,
		"manyPresent": []bool{many[0].Present, many[1].Present},
		"badCode":     connect.CodeOf(bad).String(),
	})
}
`;
import { serviceTest } from "./_service.ts";

async function command(
  cmd: string,
  args: string[],
  cwd: string,
): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command(cmd, {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  if (code !== 0) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed:\n${text.decode(stdout)}${
        text.decode(stderr)
      }`,
    );
  }
  return text.decode(stdout);
}

serviceTest(
  "murmur codegen: the generated TypeScript and Go clients get typed answers from the generated services",
  async () => {
    await seed();
    const out = await Deno.makeTempDir({ prefix: "murmur-codegen-" });
    try {
      const { shapes, skipped } = await loadPipelines(
        new URL("./_codegen_pipelines.ts", import.meta.url).pathname,
      );
      deepEqual(skipped, []);
      const result = await generate(shapes, { out, go: true });
      const stub = await import(pathToFileURL(result.server).href);
      const querier = createQuerier(
        [
          defs.likes,
          defs.daily_likes,
          defs.revenue,
          defs.visitors,
          defs.top_posts,
        ],
      );
      const typed = stub.createPipelinesHandler(querier) as (
        r: Request,
      ) => Promise<Response | undefined>;
      await using server = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen: () => {} },
        async (request) =>
          (await typed(request)) ?? new Response("not found", { status: 404 }),
      );
      const baseUrl = `http://127.0.0.1:${server.addr.port}`;

      // TypeScript client: a program against the generated module, type-checked.
      await Deno.writeTextFile(join(out, "client.ts"), TS_CLIENT);
      const ts = JSON.parse(
        await command(Deno.execPath(), [
          "run",
          "--check",
          "-A",
          "--no-lock",
          "--config",
          CONFIG,
          join(out, "client.ts"),
          baseUrl,
        ], out),
      );
      deepEqual(ts, {
        likes: "42",
        week: "12",
        inInterval: true,
        top: ["post:1", "post:2", "post:3"],
        revenue: 19.75,
      });

      // Go client.
      await Deno.writeTextFile(
        join(out, "go.mod"),
        "module example.com/murmur\n\ngo 1.22\n",
      );
      await Deno.mkdir(join(out, "cmd", "client"), { recursive: true });
      await Deno.writeTextFile(join(out, "cmd", "client", "main.go"), GO_MAIN);
      await command("go", ["mod", "tidy"], out);
      const go = JSON.parse(
        await command("go", ["run", "./cmd/client", baseUrl], out),
      );
      equal(go.likes, 42);
      equal(go.week, 12);
      equal(go.weekPresent, true);
      equal(go.weekStart, daily_start());
      equal(go.revenue, 19.75);
      ok(go.lower <= 1000 && 1000 <= go.upper, JSON.stringify(go));
      ok(Math.abs(go.estimate - 1000) < 50);
      deepEqual(go.top, ["post:1", "post:2", "post:3"]);
      equal(go.topCount, 50);
      deepEqual(go.manyPresent, [true, false]);
      equal(go.badCode, "invalid_argument");
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
);

function daily_start(): number {
  const bucket = defs.daily_likes.window.bucketOf(NOW);
  return bucket - 6 * DAY;
}
