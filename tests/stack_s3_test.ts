import assert from "node:assert/strict";
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { awsConfig, service, uniqueName } from "./_stack.ts";

Deno.test("stack: s3 put, get and list objects", async () => {
  const client = new S3Client(awsConfig(await service("s3")));
  const Bucket = uniqueName("stack-s3");
  const keys = ["events/2024-01-01.jsonl", "events/2024-01-02.jsonl"];
  try {
    await client.send(new CreateBucketCommand({ Bucket }));
    for (const Key of keys) {
      await client.send(
        new PutObjectCommand({ Bucket, Key, Body: `{"key":"${Key}"}\n` }),
      );
    }
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
  } finally {
    for (const Key of keys) {
      await client.send(new DeleteObjectCommand({ Bucket, Key })).catch(() =>
        undefined
      );
    }
    await client.send(new DeleteBucketCommand({ Bucket })).catch(() =>
      undefined
    );
    client.destroy();
  }
});
