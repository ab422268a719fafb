// Shared by the S3 source tests: a fresh bucket on the stack's S3 (moto) holding given objects, emptied and deleted afterwards.

import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { uniqueName } from "./_stack.ts";

/** An object's body, or a body with its `Content-Encoding`. */
export type TestObject =
  | Uint8Array
  | string
  | { readonly body: Uint8Array; readonly encoding: string };

/**
 * Creates a bucket named from `prefix`, puts `objects` (key → body) in it
 * and runs `body`; then deletes every object the bucket holds (also those
 * `body` added) and the bucket, whatever happened.
 */
export async function withBucket(
  client: S3Client,
  prefix: string,
  objects: Readonly<Record<string, TestObject>>,
  body: (bucket: string) => Promise<void>,
): Promise<void> {
  const Bucket = uniqueName(prefix);
  await client.send(new CreateBucketCommand({ Bucket }));
  try {
    for (const [Key, value] of Object.entries(objects)) {
      const put = typeof value === "string" || value instanceof Uint8Array
        ? { Body: value }
        : { Body: value.body, ContentEncoding: value.encoding };
      await client.send(new PutObjectCommand({ Bucket, Key, ...put }));
    }
    await body(Bucket);
  } finally {
    await emptyAndDelete(client, Bucket).catch(() => {});
  }
}

async function emptyAndDelete(client: S3Client, Bucket: string) {
  let ContinuationToken: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket, ContinuationToken }),
    );
    for (const { Key } of page.Contents ?? []) {
      await client.send(new DeleteObjectCommand({ Bucket, Key }));
    }
    ContinuationToken = page.NextContinuationToken;
  } while (ContinuationToken !== undefined);
  await client.send(new DeleteBucketCommand({ Bucket }));
}
