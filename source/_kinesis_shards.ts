// Shard discovery of the Kinesis source: list the stream's shards, and create leases for new ones, parents first.

import { type KinesisClient, ListShardsCommand } from "@aws-sdk/client-kinesis";
import { type Lease, type LeaseTable, SHARD_END } from "./_kinesis_leases.ts";

/** What the source knows of one shard from the listing. */
export interface ShardInfo {
  /** The parent and the adjacent parent of a resharded shard. */
  readonly parents: string[];
  /** Whether the shard has an ending sequence number (it was split or merged). */
  readonly closed: boolean;
}

/** Lists every shard of a stream, following pages. */
export async function listShards(
  client: KinesisClient,
  stream: string,
  signal: AbortSignal,
): Promise<Map<string, ShardInfo>> {
  const shards = new Map<string, ShardInfo>();
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListShardsCommand(
        token === undefined ? { StreamName: stream } : { NextToken: token },
      ),
      { abortSignal: signal },
    );
    for (const shard of page.Shards ?? []) {
      if (shard.ShardId === undefined) continue;
      const parents = [shard.ParentShardId, shard.AdjacentParentShardId]
        .filter((p): p is string => typeof p === "string" && p !== "");
      shards.set(shard.ShardId, {
        parents,
        closed: shard.SequenceNumberRange?.EndingSequenceNumber !== undefined,
      });
    }
    token = page.NextToken;
  } while (token !== undefined);
  return shards;
}

/** How many listed ancestors a shard has: parents sort before their children. */
function depth(shards: ReadonlyMap<string, ShardInfo>, id: string): number {
  let d = 0;
  let frontier = shards.get(id)?.parents ?? [];
  while (frontier.length > 0 && d < 1000) {
    d++;
    frontier = frontier.flatMap((p) => shards.get(p)?.parents ?? []);
  }
  return d;
}

/**
 * Creates a lease for every listed shard the table lacks, parents before
 * children (so no worker sees a child whose parent has no lease yet). A
 * child of a leased parent starts at `TRIM_HORIZON`; other shards start at
 * `start`, except that a closed shard has nothing to read at `LATEST`.
 */
export async function createMissingLeases(
  table: LeaseTable,
  shards: ReadonlyMap<string, ShardInfo>,
  leases: readonly Lease[],
  start: string,
): Promise<void> {
  const leased = new Set(leases.map((l) => l.shard));
  const order = [...shards.keys()].sort((a, b) =>
    depth(shards, a) - depth(shards, b)
  );
  for (const id of order) {
    if (leased.has(id)) continue;
    const info = shards.get(id)!;
    const checkpoint = info.parents.some((p) => leased.has(p))
      ? "TRIM_HORIZON"
      : start === "LATEST" && info.closed
      ? SHARD_END
      : start;
    await table.create(id, checkpoint, info.parents);
    leased.add(id);
  }
}
