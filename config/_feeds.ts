// The live feeds that follow a snapshot: a Mongo change stream and a DynamoDB stream, each started from the handoff its bootstrap saved.

import { DynamoDBStreamsClient } from "@aws-sdk/client-dynamodb-streams";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { MongoClient } from "mongodb";
import type { Source, SourceRecord } from "../source/mod.ts";
import {
  type Checkpoint,
  FileCheckpoint,
  MongoChangeStreamSource,
  MongoSnapshotSource,
} from "../source/mongo.ts";
import {
  DynamoDBSnapshotSource,
  DynamoDBStreamSource,
} from "../source/dynamodb.ts";
import { definedOnly } from "../internal/defined.ts";
import type { ConfigEvent } from "./build.ts";

/** Settings of a `mongoChangeStream` or `dynamodbStreams` source, as parsed. */
type Settings = Readonly<Record<string, unknown>>;

/**
 * Thrown when a live feed (`mongoChangeStream`, `dynamodbStreams`) has
 * neither its own checkpoint nor a bootstrap's handoff to start from: run the
 * bootstrap first.
 *
 * @example Told apart from other errors
 * ```ts
 * import { MissingHandoffError } from "@murmur/core/config";
 * import assert from "node:assert/strict";
 *
 * const e = new MissingHandoffError("mongo:shop.orders:changes", "orders.snapshot.json");
 * assert.match(e.message, /murmur bootstrap/);
 * ```
 */
export class MissingHandoffError extends Error {
  /**
   * Creates the error.
   *
   * @param source The live source's name.
   * @param path The `handoffFrom` file that holds no handoff.
   */
  constructor(source: string, path: string) {
    super(
      `${source}: no handoff at ${path} (handoffFrom). Run the bootstrap first ` +
        `(\`deno task murmur bootstrap --config <this file>\`) with a bootstrap source ` +
        `whose checkpoint is ${path}; the live feed starts where that snapshot began.`,
    );
    this.name = "MissingHandoffError";
  }
}

/** The client endpoint settings of a local server (DynamoDB Local) or AWS. */
export function awsEndpoint(endpoint: unknown): Record<string, unknown> {
  return typeof endpoint === "string" && endpoint !== ""
    ? {
      endpoint,
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
    }
    : {};
}

/**
 * A feed opened when it is first iterated, so building a config stays
 * synchronous. `open` gets the bootstrap's checkpoint when the feed starts
 * fresh (it has no checkpoint of its own yet), `undefined` when it resumes;
 * a fresh feed without a saved handoff throws {@linkcode MissingHandoffError}.
 */
function feed(
  name: string,
  s: Settings,
  open: (
    from: Checkpoint | undefined,
    checkpoint: Checkpoint | undefined,
  ) => Promise<Source<ConfigEvent>>,
  release: () => unknown,
): Source<ConfigEvent> {
  const checkpoint = s.checkpoint === undefined
    ? undefined
    : new FileCheckpoint(s.checkpoint as string);
  const start = async () => {
    const own = await checkpoint?.load();
    if (own !== undefined && own !== null) return open(undefined, checkpoint);
    const path = s.handoffFrom as string;
    const from = new FileCheckpoint(path);
    const saved = await from.load();
    if (saved === undefined || saved === null) {
      throw new MissingHandoffError(name, path);
    }
    return open(from, checkpoint);
  };
  let opened: Promise<Source<ConfigEvent>> | null = null;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    try {
      if (opened !== null) await (await opened.catch(() => null))?.close();
    } finally {
      await release();
    }
  };
  return {
    name,
    close,
    [Symbol.asyncDispose]: close,
    async *[Symbol.asyncIterator](): AsyncGenerator<
      readonly SourceRecord<ConfigEvent>[]
    > {
      if (closed) return;
      yield* await (opened ??= start());
    },
  };
}

function num(s: Settings, k: string): Record<string, number> {
  return s[k] === undefined ? {} : { [k]: s[k] as number };
}

/**
 * A `mongoChangeStream` source: the collection's change stream from the
 * handoff in the bootstrap's checkpoint, then from its own checkpoint.
 */
export function openMongoFeed(s: Settings): Source<ConfigEvent> {
  const client = new MongoClient(s.url as string);
  const db = s.db as string;
  const collection = s.collection as string;
  const name = `mongo:${db}.${collection}:changes`;
  return feed(name, s, async (from, checkpoint) => {
    const handoff = from === undefined
      ? undefined
      : await new MongoSnapshotSource({
        client,
        db,
        collection,
        checkpoint: from,
      }).handoff();
    return new MongoChangeStreamSource<ConfigEvent>({
      client,
      db,
      collection,
      ...definedOnly({
        handoff,
        checkpoint,
        filter: s.filter as Record<string, unknown> | undefined,
        operations: s.operations as
          | ("insert" | "update" | "replace")[]
          | undefined,
      }),
      ...num(s, "batchSize"),
      ...num(s, "checkpointInterval"),
    });
  }, () => client.close());
}

/**
 * A `dynamodbStreams` source: the table's stream from the handoff in the
 * bootstrap's checkpoint, then from its own checkpoint.
 */
export function openDynamoDBFeed(s: Settings): Source<ConfigEvent> {
  const region = (s.region as string | undefined) ?? "us-east-1";
  const client = new DynamoDBClient({ region, ...awsEndpoint(s.endpoint) });
  const streams = new DynamoDBStreamsClient({
    region,
    ...awsEndpoint(s.endpoint),
  });
  const table = s.table as string;
  const name = `dynamodb-streams:${table}`;
  return feed(name, s, async (from, checkpoint) => {
    let handoff;
    if (from !== undefined) {
      handoff = await new DynamoDBSnapshotSource({
        client,
        table,
        checkpoint: from,
      }).handoff();
      if (handoff === null) {
        throw new TypeError(
          `${name}: the bootstrap checkpoint ${s.handoffFrom} holds no handoff; ` +
            `give the dynamodb bootstrap source \`streams: true\` and run it again`,
        );
      }
    }
    return new DynamoDBStreamSource<ConfigEvent>({
      streams,
      ...definedOnly({
        handoff: handoff ?? undefined,
        checkpoint,
        events: s.events as ("INSERT" | "MODIFY")[] | undefined,
      }),
      ...num(s, "batchSize"),
      ...num(s, "pollInterval"),
      ...num(s, "checkpointInterval"),
    });
  }, () => {
    client.destroy();
    streams.destroy();
  });
}
