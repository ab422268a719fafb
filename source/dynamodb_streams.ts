// The live DynamoDB source: a table's stream from a snapshot's handoff, shards in lineage order, contiguous checkpoints.

import { delay } from "../internal/async.ts";
import { AckTracker } from "./ack_tracker.ts";
import type { Source, SourceRecord } from "./source.ts";
import { type Checkpoint, CheckpointSaver, messageOf } from "./_handoff.ts";
import { CheckpointMismatchError } from "./_handoff_lanes.ts";
import {
  type DynamoDBHandoff,
  type DynamoDBSendLike,
  fromItem,
  keyText,
  listShards,
  type StreamRecordLike,
  type StreamsCommands,
  streamsCommands,
} from "./_handoff_dynamodb.ts";

/**
 * Options of {@linkcode DynamoDBStreamSource}.
 *
 * @typeParam T The event type.
 */
export interface DynamoDBStreamSourceOptions<T> {
  /** The Streams client (`DynamoDBStreamsClient`). */
  readonly streams: DynamoDBSendLike;
  /** Where to start when the checkpoint holds nothing: the snapshot's `handoff()`. Required then. */
  readonly handoff?: DynamoDBHandoff;
  /**
   * Which changes are events. `"INSERT"` delivers new items (the record id
   * is the one the snapshot uses); `"MODIFY"` delivers the item after the
   * change, with id `"<table>/<key>@<sequence>"`. The stream must carry new
   * images (`NEW_IMAGE` or `NEW_AND_OLD_IMAGES`). Default: `["INSERT"]`.
   */
  readonly events?: readonly ("INSERT" | "MODIFY")[];
  /** Records per batch at most. Default: 1,000. */
  readonly batchSize?: number;
  /** Wait between polls of a quiet stream, in ms. Default: 250. */
  readonly pollInterval?: number;
  /** Look for new shards this often, in ms. Default: 10,000. */
  readonly refreshInterval?: number;
  /** Turns an item image (plain values) into an event; throw to dead-letter it. Default: the image. */
  readonly decode?: (image: Record<string, unknown>) => T;
  /** The event time in epoch ms. Default: the record's approximate creation time. */
  readonly time?: (event: T, image: Record<string, unknown>) => number;
  /** Where each shard's committed sequence number is kept. Default: none. */
  readonly checkpoint?: Checkpoint;
  /** Save the checkpoint at most this often, in ms. Default: 1,000. */
  readonly checkpointInterval?: number;
  /** End the source when nothing arrives for this many ms (catch up, then stop). Default: never. */
  readonly idleTimeout?: number;
  /** The clock, in epoch ms. Default: `Date.now`. */
  readonly now?: () => number;
}

interface LiveState {
  readonly kind: "ddb-streams";
  readonly table: string;
  readonly streamArn: string;
  /** Shard → committed sequence number, `null` (from its start) or `"done"`. */
  readonly shards: Record<string, string | null>;
}

interface Shard {
  at: string | null;
  parent: string | undefined;
  status: "waiting" | "reading" | "ended" | "done";
  iterator: string | undefined;
  /** The last sequence number read (where a fresh iterator starts). */
  delivered: string | null;
  /** The last sequence number handed out as a record (what must be acked before the shard is done). */
  tracked: string | null;
}

/**
 * A live source over a table's DynamoDB Stream. Each shard is one ordered
 * stream (position: the sequence number); a child shard is read only once
 * its parent was read to its end and every record of it was acked, so
 * per-key order holds across resharding and the checkpoint never passes an
 * unfinished record. Starts at the checkpoint, else at `handoff`.
 *
 * @typeParam T The event type.
 *
 * @example Usage
 * ```ts ignore
 * import { DynamoDBStreamsClient } from "@aws-sdk/client-dynamodb-streams";
 * import { DynamoDBStreamSource } from "@murmur/core/source/dynamodb";
 *
 * const live = new DynamoDBStreamSource({ streams: new DynamoDBStreamsClient({}), handoff, idleTimeout: 5_000 });
 * ```
 */
export class DynamoDBStreamSource<T> implements Source<T> {
  /** `"dynamodb-streams:<table>"` once started, else `"dynamodb-streams"`. */
  name: string;
  readonly #o: DynamoDBStreamSourceOptions<T>;
  readonly #tracker = new AckTracker();
  readonly #shards = new Map<string, Shard>();
  readonly #saver: CheckpointSaver;
  #state: LiveState | null = null;
  #commands: StreamsCommands | null = null;
  #closed = false;
  #acked = 0;

  /**
   * Creates the source; nothing is read until it is iterated.
   *
   * @param options Streams client, handoff, events, polling, checkpoint.
   * @throws {TypeError} Without a streams client.
   */
  constructor(options: DynamoDBStreamSourceOptions<T>) {
    if (options.streams === undefined) {
      throw new TypeError(
        "DynamoDBStreamSource needs { streams: new DynamoDBStreamsClient(...) }",
      );
    }
    this.#o = options;
    this.name = options.handoff === undefined
      ? "dynamodb-streams"
      : `dynamodb-streams:${options.handoff.table}`;
    this.#saver = new CheckpointSaver(options, () => this.position());
  }

  /** Records acked so far. */
  get acked(): number {
    return this.#acked;
  }

  #stream(shard: string): string {
    return `${this.name}:${shard}`;
  }

  /**
   * The value the checkpoint would hold now.
   *
   * @returns Each shard's committed sequence number, or `null` before the start.
   */
  position(): unknown {
    const state = this.#state;
    if (state === null) return null;
    const shards: Record<string, string | null> = {};
    for (const [id, shard] of this.#shards) {
      const c = this.#tracker.committable(this.#stream(id));
      shards[id] = shard.status === "done"
        ? "done"
        : c === undefined
        ? shard.at
        : sequenceText(c);
    }
    return this.#state = { ...state, shards };
  }

  async #load(): Promise<LiveState> {
    const saved = await this.#o.checkpoint?.load() as
      | Partial<LiveState>
      | undefined;
    const handoff = this.#o.handoff;
    if (saved !== undefined && saved !== null) {
      if (
        saved.kind !== "ddb-streams" ||
        (handoff !== undefined && saved.streamArn !== handoff.streamArn)
      ) {
        throw new CheckpointMismatchError(
          this.name,
          `it is for ${String(saved.kind)} ${String(saved.streamArn)}`,
        );
      }
      return saved as LiveState;
    }
    if (handoff === undefined) {
      throw new TypeError(
        "DynamoDBStreamSource has no checkpoint to resume from: pass { handoff: await snapshot.handoff() }",
      );
    }
    const shards: Record<string, string | null> = { ...handoff.shards };
    for (const id of handoff.closed) shards[id] = "done";
    return {
      kind: "ddb-streams",
      table: handoff.table,
      streamArn: handoff.streamArn,
      shards,
    };
  }

  async #refresh(): Promise<void> {
    const state = this.#state!;
    const listed = await listShards(
      this.#o.streams,
      this.#commands!,
      state.streamArn,
    );
    for (const info of listed) {
      const id = info.ShardId!;
      if (!this.#shards.has(id)) {
        this.#shards.set(id, {
          at: null,
          parent: info.ParentShardId,
          status: "waiting",
          iterator: undefined,
          delivered: null,
          tracked: null,
        });
      } else this.#shards.get(id)!.parent ??= info.ParentShardId;
    }
    for (const [id, shard] of this.#shards) {
      if (shard.status === "ended") {
        const c = this.#tracker.committable(this.#stream(id));
        if (
          shard.tracked === null ||
          (c !== undefined && c === BigInt(shard.tracked))
        ) {
          shard.status = "done";
        }
      }
    }
    for (const shard of this.#shards.values()) {
      if (shard.status !== "waiting") continue;
      const parent = shard.parent === undefined
        ? undefined
        : this.#shards.get(shard.parent);
      if (parent === undefined || parent.status === "done") {
        shard.status = "reading";
      }
    }
  }

  async #iterator(id: string, shard: Shard): Promise<string | undefined> {
    const after = shard.delivered ?? shard.at;
    const out = await this.#o.streams.send(
      after === null
        ? this.#commands!.getShardIterator(
          this.#state!.streamArn,
          id,
          "TRIM_HORIZON",
        )
        : this.#commands!.getShardIterator(
          this.#state!.streamArn,
          id,
          "AFTER_SEQUENCE_NUMBER",
          after,
        ),
    ) as { ShardIterator?: string };
    return out.ShardIterator;
  }

  #record(id: string, r: StreamRecordLike): SourceRecord<T> | undefined {
    const o = this.#o;
    const events = o.events ?? ["INSERT"];
    const seq = r.dynamodb?.SequenceNumber;
    if (seq === undefined) return undefined;
    const shard = this.#shards.get(id)!;
    shard.delivered = seq;
    if (!events.includes(r.eventName as "INSERT")) return undefined;
    shard.tracked = seq;
    const stream = this.#stream(id);
    const position = BigInt(seq);
    const keys = r.dynamodb?.Keys ?? {};
    const key = keyText(keys, Object.keys(keys).sort());
    const recordId = r.eventName === "INSERT"
      ? `${this.#state!.table}/${key}`
      : `${this.#state!.table}/${key}@${seq}`;
    this.#tracker.delivered(stream, position);
    let done = false;
    const ack = () => {
      if (done) return;
      done = true;
      if (this.#tracker.ack(stream, position)) {
        this.#acked++;
        this.#saver.touch();
      }
    };
    const now = o.now ?? Date.now;
    const created = r.dynamodb?.ApproximateCreationDateTime;
    const fallback = created instanceof Date
      ? created.getTime()
      : typeof created === "number"
      ? created * 1000
      : now();
    const fields = { id: recordId, stream, position, ack };
    const image = r.dynamodb?.NewImage;
    if (image === undefined) {
      return {
        ...fields,
        value: undefined,
        time: fallback,
        error: new TypeError(
          `${recordId}: the stream record has no new image; set the stream view type to NEW_IMAGE or NEW_AND_OLD_IMAGES`,
        ),
      };
    }
    try {
      const plain = fromItem(image);
      const value = o.decode === undefined ? plain as T : o.decode(plain);
      const time = o.time === undefined ? fallback : o.time(value, plain);
      return { ...fields, value, time };
    } catch (error) {
      return {
        ...fields,
        value: undefined,
        time: fallback,
        error: new TypeError(`${recordId}: ${messageOf(error)}`, {
          cause: error,
        }),
      };
    }
  }

  /**
   * Follows the stream, yielding batches as records arrive.
   *
   * @returns The batch iterator.
   */
  async *[Symbol.asyncIterator](): AsyncIterator<readonly SourceRecord<T>[]> {
    if (this.#closed) return;
    const o = this.#o;
    this.#commands = await streamsCommands();
    const state = this.#state = await this.#load();
    this.name = `dynamodb-streams:${state.table}`;
    for (const [id, at] of Object.entries(state.shards)) {
      this.#shards.set(id, {
        at: at === "done" ? null : at,
        parent: undefined,
        status: at === "done" ? "done" : "waiting",
        iterator: undefined,
        delivered: null,
        tracked: null,
      });
    }
    const batchSize = o.batchSize ?? 1000;
    const refreshEvery = o.refreshInterval ?? 10_000;
    let refreshed = -Infinity;
    let idleSince = performance.now();
    while (!this.#closed) {
      if (performance.now() - refreshed >= refreshEvery) {
        await this.#refresh();
        refreshed = performance.now();
      }
      const batch: SourceRecord<T>[] = [];
      let ended = false;
      for (const [id, shard] of this.#shards) {
        if (shard.status !== "reading" || batch.length >= batchSize) continue;
        shard.iterator ??= await this.#iterator(id, shard);
        if (shard.iterator === undefined) {
          shard.status = "ended";
          ended = true;
          continue;
        }
        let page: { Records?: StreamRecordLike[]; NextShardIterator?: string };
        try {
          page = await o.streams.send(
            this.#commands.getRecords(shard.iterator, batchSize - batch.length),
          ) as typeof page;
        } catch (error) {
          if (
            (error as { name?: string }).name === "ExpiredIteratorException"
          ) {
            shard.iterator = undefined;
            continue;
          }
          throw error;
        }
        for (const r of page.Records ?? []) {
          const record = this.#record(id, r);
          if (record !== undefined) batch.push(record);
        }
        shard.iterator = page.NextShardIterator ?? undefined;
        if (shard.iterator === undefined) {
          shard.status = "ended";
          ended = true;
        }
      }
      // An ended shard may free its children as soon as its records are acked.
      if (ended) refreshed = -Infinity;
      if (batch.length > 0) {
        idleSince = performance.now();
        yield batch;
        continue;
      }
      if (
        o.idleTimeout !== undefined &&
        performance.now() - idleSince >= o.idleTimeout
      ) return;
      if ([...this.#shards.values()].some((s) => s.status === "ended")) {
        refreshed = -Infinity;
      }
      await delay(o.pollInterval ?? 250);
    }
  }

  /**
   * Stops following and saves the checkpoint. Safe to call more than once.
   *
   * @returns A promise that resolves once saved.
   */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#state !== null) await this.#saver.flush();
  }

  /**
   * Calls {@linkcode close}.
   *
   * @returns A promise that resolves once closed.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** A sequence number as DynamoDB writes it: at least 21 digits, zero-padded. */
function sequenceText(position: bigint): string {
  return position.toString().padStart(21, "0");
}
