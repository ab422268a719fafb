// The app's typed PostsService, served next to Murmur's generic QueryService on one port.
//
//   deno run -A examples/typed_wrapper/server.ts [--port 8080]
//
// GetPostLikes(postId) → { likes, lastWeek } is two querier reads; the
// generic /murmur.v1.QueryService/* (and the admin UI) stay available for
// tools and dashboards.

import { parseArgs } from "node:util";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  createConnectRouter,
} from "@connectrpc/connect";
import { createFetchHandler } from "@connectrpc/connect/protocol";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { createHandler } from "../../admin/mod.ts";
import {
  createQuerier,
  InvalidQueryError,
  type Querier,
} from "../../query/mod.ts";
import { DynamoDBStore, ensureTable } from "../../state/dynamodb.ts";
import { PostsService } from "./gen/app/posts/v1/posts_pb.ts";
import { type LikePipelines, likePipelines, postEntity } from "./pipelines.ts";

/** Registers PostsService: the app's words on top of the querier's. */
export function registerPostsService(
  router: ConnectRouter,
  querier: Querier,
  pipelines: LikePipelines,
): void {
  router.service(PostsService, {
    async getPostLikes(request, context) {
      if (request.postId.trim() === "") {
        throw new ConnectError(
          "post_id is empty: send the id of the post",
          Code.InvalidArgument,
        );
      }
      const entity = postEntity(request.postId);
      try {
        const [all, week] = await Promise.all([
          querier.get(pipelines.likes, entity, { signal: context.signal }),
          querier.getWindow(pipelines.dailyLikes, entity, 7, {
            signal: context.signal,
          }),
        ]);
        return { likes: BigInt(all.value), lastWeek: BigInt(week.value) };
      } catch (error) {
        if (error instanceof InvalidQueryError) {
          throw new ConnectError(error.message, Code.InvalidArgument);
        }
        throw error;
      }
    },
  });
}

/** The app's handler: PostsService first, then Murmur's generic services, UI and /healthz. */
export interface AppHandler extends AsyncDisposable {
  /** Answers one request. */
  (request: Request): Promise<Response>;
}

/** Builds the one fetch handler of the app's query server. */
export function createAppHandler(pipelines: LikePipelines): AppHandler {
  const querier = createQuerier([pipelines.likes, pipelines.dailyLikes]);
  const generic = createHandler({ querier });
  const router = createConnectRouter();
  registerPostsService(router, querier, pipelines);
  const typed = new Map(
    router.handlers.map((h) => [h.requestPath, createFetchHandler(h)]),
  );
  const handler = async (request: Request): Promise<Response> => {
    const own = typed.get(new URL(request.url).pathname);
    if (own === undefined) return generic(request);
    const response = await own(request);
    return new Response(await response.arrayBuffer(), response);
  };
  return Object.assign(handler, {
    [Symbol.asyncDispose]: () => generic.close(),
  });
}

if (import.meta.main) {
  const { port } = parseArgs({
    args: Deno.args,
    options: { port: { type: "string", default: "8080" } },
  }).values;
  const endpoint = Deno.env.get("MURMUR_DYNAMODB_ENDPOINT") ??
    "http://localhost:8000";
  const client = new DynamoDBClient({
    endpoint,
    region: Deno.env.get("AWS_REGION") ?? "us-east-1",
  });
  const table = Deno.env.get("POSTS_TABLE") ?? "posts";
  await ensureTable(client, table);
  const handler = createAppHandler(
    likePipelines(new DynamoDBStore(client, table)),
  );
  Deno.serve({ port: Number(port), hostname: "127.0.0.1" }, handler);
}
