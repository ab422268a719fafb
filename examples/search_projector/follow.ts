// Feeds the projector: the counter table's current rows (a scan), then its DynamoDB Stream from the scan's handoff.

import {
  DescribeTableCommand,
  type DynamoDBClient,
  UpdateTableCommand,
} from "@aws-sdk/client-dynamodb";
import {
  DynamoDBSnapshotSource,
  DynamoDBStreamSource,
} from "../../source/dynamodb.ts";
import { ensureTable } from "../../state/dynamodb.ts";
import type { Source } from "../../source/mod.ts";
import { changeFromImage, type SearchProjector } from "./projector.ts";

/** What the projector needs of DynamoDB. */
export interface FollowOptions {
  /** The DynamoDB client (`DynamoDBClient`). */
  readonly client: { send(command: unknown): Promise<unknown> };
  /** The Streams client (`DynamoDBStreamsClient`). */
  readonly streams: { send(command: unknown): Promise<unknown> };
  /** The counter (state) table; its stream must carry new images. */
  readonly table: string;
  /** Stops following. */
  readonly signal?: AbortSignal;
  /** Stop once the stream has been quiet this long, in ms. Default: never. */
  readonly idleTimeout?: number;
}

async function drain(
  source: Source<Record<string, unknown>>,
  projector: SearchProjector,
  signal?: AbortSignal,
): Promise<void> {
  const stop = () => source.close();
  signal?.addEventListener("abort", stop, { once: true });
  try {
    for await (const batch of source) {
      await projector.apply(
        batch.map((r) =>
          r.value === undefined ? undefined : changeFromImage(r.value)
        ),
      );
      for (const record of batch) record.ack();
    }
  } finally {
    signal?.removeEventListener("abort", stop);
    await source.close();
  }
}

/**
 * Creates the counter table when it is missing (the store's layout) and
 * turns its stream on with new and old images when it is off, as the
 * projector needs (development and tests; production tables get their
 * stream from infrastructure code).
 *
 * @param client The DynamoDB client.
 * @param table The counter table.
 */
export async function ensureCounterTable(
  client: DynamoDBClient,
  table: string,
): Promise<void> {
  await ensureTable(client, table);
  const described = await client.send(
    new DescribeTableCommand({ TableName: table }),
  );
  if (described.Table?.StreamSpecification?.StreamEnabled === true) return;
  await client.send(
    new UpdateTableCommand({
      TableName: table,
      StreamSpecification: {
        StreamEnabled: true,
        StreamViewType: "NEW_AND_OLD_IMAGES",
      },
    }),
  );
}

/**
 * Projects every counter row of the table, then follows its stream: the
 * index catches up on start and stays current, and a restart re-projects
 * from a fresh scan (projection is idempotent: a bucket is a function of the
 * value and the indexed bucket).
 */
export async function followCounters(
  projector: SearchProjector,
  options: FollowOptions,
): Promise<void> {
  const snapshot = new DynamoDBSnapshotSource<Record<string, unknown>>({
    client: options.client,
    streams: options.streams,
    table: options.table,
  });
  await drain(snapshot, projector, options.signal);
  if (options.signal?.aborted) return;
  const handoff = await snapshot.handoff();
  if (handoff === null) {
    throw new Error(
      `table ${options.table} has no stream: enable one with NEW_IMAGE or NEW_AND_OLD_IMAGES (deploy/terraform does)`,
    );
  }
  const live = new DynamoDBStreamSource<Record<string, unknown>>({
    streams: options.streams,
    handoff,
    events: ["INSERT", "MODIFY"],
    pollInterval: 100,
    ...(options.idleTimeout === undefined
      ? {}
      : { idleTimeout: options.idleTimeout }),
  });
  await drain(live, projector, options.signal);
}
