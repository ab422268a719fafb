import assert from "node:assert/strict";
import {
  GetObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from "@aws-sdk/client-s3";
import { awsConfig, service } from "./_stack.ts";
import { withBucket } from "./_s3.ts";

Deno.test("stack: s3 put, get and list objects", async () => {
  const client = new S3Client(awsConfig(await service("s3")));
  const keys = ["events/2024-01-01.jsonl", "events/2024-01-02.jsonl"];
  const objects = Object.fromEntries(
    keys.map((Key) => [Key, `{"key":"${Key}"}\n`]),
  );
  try {
    // withBucket creates the bucket and puts the objects, then deletes both.
    await withBucket(client, "stack-s3", objects, async (Bucket) => {
      const got = await client.send(
        new GetObjectCommand({ Bucket, Key: keys[0] }),
      );
      assert.equal(
        await got.Body?.transformToString(),
        `{"key":"${keys[0]}"}\n`,
      );
      const listed = await client.send(
        new ListObjectsV2Command({ Bucket, Prefix: "events/" }),
      );
      assert.deepEqual(listed.Contents?.map((o) => o.Key), keys);
    });
  } finally {
    client.destroy();
  }
});
