// examples/typed_wrapper end to end: likes folded into DynamoDB Local, PostsService and the generic QueryService on one port.

import { equal, rejects } from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { MemorySource } from "../source/mod.ts";
import { DynamoDBStore, ensureTable } from "../state/dynamodb.ts";
import { run } from "../streaming/mod.ts";
import { createQueryClient } from "../query/client.ts";
import { PostsService } from "../examples/typed_wrapper/gen/app/posts/v1/posts_pb.ts";
import {
  type Like,
  likePipelines,
} from "../examples/typed_wrapper/pipelines.ts";
import { createAppHandler } from "../examples/typed_wrapper/server.ts";
import { awsConfig, service, uniqueName } from "./_stack.ts";
import { serviceTest } from "./_service.ts";

const DAY = 86_400_000;

serviceTest(
  "typed_wrapper: GetPostLikes answers likes and last week's likes beside the generic service",
  async () => {
    const client = new DynamoDBClient(awsConfig(await service("dynamodb")));
    const table = uniqueName("posts");
    await ensureTable(client, table);
    const pipelines = likePipelines(new DynamoDBStore(client, table));
    const now = Date.now();
    const likes: Like[] = [];
    const add = (postId: string, n: number, daysAgo: number) => {
      for (let i = 0; i < n; i++) {
        likes.push({
          postId,
          userId: `u${likes.length}`,
          at: now - daysAgo * DAY,
        });
      }
    };
    add("42", 10, 0);
    add("42", 5, 3);
    add("42", 7, 20);
    add("7", 1, 10);
    for (const p of [pipelines.likes, pipelines.dailyLikes]) {
      const summary = await run(p, {
        source: MemorySource.of(likes),
        dedup: true,
      });
      equal(summary.acked, likes.length);
    }
    await using handler = createAppHandler(pipelines);
    await using server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      handler,
    );
    const baseUrl = `http://127.0.0.1:${server.addr.port}`;
    const posts = createClient(
      PostsService,
      createConnectTransport({ baseUrl }),
    );
    const hot = await posts.getPostLikes({ postId: "42" });
    equal(hot.likes, 22n);
    equal(hot.lastWeek, 15n);
    const old = await posts.getPostLikes({ postId: "7" });
    equal(old.likes, 1n);
    equal(old.lastWeek, 0n);
    const none = await posts.getPostLikes({ postId: "404" });
    equal(none.likes, 0n);
    await rejects(
      posts.getPostLikes({ postId: "" }),
      (e) => e instanceof ConnectError && e.code === Code.InvalidArgument,
    );
    // The generic service answers the same numbers from the same port.
    const generic = createQueryClient({ baseUrl });
    equal(await generic.number("post_likes").get("post:42"), 22);
    equal(await generic.number("post_likes_daily").window("post:42", 7), 15);
    client.destroy();
  },
);

Deno.test("typed_wrapper: gen/ is what buf generates from proto/", async () => {
  const dir = fileURLToPath(
    new URL("../examples/typed_wrapper/", import.meta.url),
  );
  const out = await Deno.makeTempDir({ prefix: "murmur-typed-wrapper-" });
  try {
    const buf = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--no-lock",
        "npm:@bufbuild/buf@1.74.0",
        "generate",
        "--output",
        out,
      ],
      cwd: dir + "proto",
      stdout: "piped",
      stderr: "piped",
    }).output();
    equal(buf.code, 0, new TextDecoder().decode(buf.stderr));
    const file = "app/posts/v1/posts_pb.ts";
    const fresh = `${out}/${file}`;
    // buf writes relative to the template's out (../gen) under --output.
    const generated = await Deno.readTextFile(fresh).catch(() =>
      Deno.readTextFile(`${out}/../gen/${file}`)
    );
    const formatted = await new Deno.Command(Deno.execPath(), {
      args: ["fmt", "--ext", "ts", "-"],
      stdin: "piped",
      stdout: "piped",
    }).spawn();
    const writer = formatted.stdin.getWriter();
    await writer.write(new TextEncoder().encode(generated));
    await writer.close();
    const result = await formatted.output();
    equal(
      new TextDecoder().decode(result.stdout),
      await Deno.readTextFile(`${dir}gen/${file}`),
      "examples/typed_wrapper/gen is stale: run buf generate in examples/typed_wrapper/proto, then deno fmt examples/typed_wrapper/gen",
    );
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
