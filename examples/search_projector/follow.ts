// Feeds the projector: the counter table's current rows (a scan), then its DynamoDB Stream from the scan's handoff.

import {
  DynamoDBSnapshotSource,
  DynamoDBStreamSource,
} from "../../source/dynamodb.ts";
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
