import { deepEqual, equal, match, rejects, throws } from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { count, max, set, sum, sumBigInt } from "../monoid/mod.ts";
import { hll, topK } from "../sketch/mod.ts";
import {
  camel,
  CodegenError,
  loadPipelines,
  methodsOf,
  pascal,
  renderProto,
  renderServer,
  shapeOf,
} from "./mod.ts";

Deno.test("shapeOf() maps monoid kinds to answer types", () => {
  const of = (monoid: { kind: string; identity(): unknown }) =>
    shapeOf({ name: "p", monoid, window: null })?.value;
  equal(of(count()), "int64");
  equal(of(sumBigInt()), "int64");
  equal(of(sum()), "double");
  equal(of(max()), "double");
  equal(of(hll()), "cardinality");
  equal(of(topK({ k: 5 })), "ranked");
  equal(of(set()), undefined);
  throws(
    () => shapeOf({ name: "Page-Views", monoid: count(), window: null }),
    CodegenError,
  );
});

Deno.test("pascal() and camel() spell names as protoc-gen-es does", () => {
  equal(pascal("page_views"), "PageViews");
  equal(camel("GetPageViewsWindow"), "getPageViewsWindow");
});

Deno.test("loadPipelines() reads the YAML worker configuration", async () => {
  const config = fileURLToPath(
    new URL("../examples/page_view_counters/config.yaml", import.meta.url),
  );
  const { shapes, skipped } = await loadPipelines(config);
  deepEqual(shapes, [
    { name: "page_views", value: "int64", windowed: true },
    { name: "page_visitors", value: "cardinality", windowed: true },
    { name: "top_pages", value: "ranked", windowed: true },
  ]);
  deepEqual(skipped, []);
});

Deno.test("loadPipelines() refuses a file without pipelines", async () => {
  const empty = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(empty, "export const x = 1;\n");
  await rejects(loadPipelines(empty), CodegenError);
  await Deno.remove(empty);
});

Deno.test("renderProto() writes one service per pipeline, RPCs by window", () => {
  const shapes = [
    { name: "likes", value: "int64", windowed: false },
    { name: "visitors", value: "cardinality", windowed: true },
    { name: "top_posts", value: "ranked", windowed: false },
  ] as const;
  deepEqual(methodsOf(shapes[1]).map((m) => m.rpc), [
    "GetVisitorsWindow",
    "GetVisitorsWindowMany",
    "GetVisitorsRange",
  ]);
  const proto = renderProto(shapes, { protoPackage: "shop.stats.v1" });
  match(proto, /^package shop\.stats\.v1;$/m);
  match(
    proto,
    /option go_package = "example\.com\/murmur\/gen\/go\/shop\/stats\/v1;statsv1";/,
  );
  match(proto, /service LikesService \{\n {2}rpc GetLikes\(GetLikesRequest\)/);
  match(
    proto,
    /message VisitorsValue \{[^}]*double estimate = 3;[^}]*double upper = 5;/,
  );
  match(proto, /message GetTopPostsRequest \{[^}]*int32 top = 3;/);
  match(proto, /message RankedEntry \{/);
  const server = renderServer(shapes, "./gen/x_pb.ts");
  match(server, /getVisitorsWindowMany: \(request, context\) =>\s*typedCall\(/);
  match(server, /import \{ LikesService, VisitorsService, TopPostsService \}/);
});
