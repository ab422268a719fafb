/**
 * DynamoDB bootstrap and live sources: {@linkcode DynamoDBSnapshotSource}
 * runs a ParallelScan (resumable), {@linkcode DynamoDBStreamSource} follows
 * the table's DynamoDB Stream from the snapshot's handoff, so a bootstrap
 * followed by the live source counts every item exactly once, including
 * items written while the scan ran.
 *
 * The handoff is taken before the scan: every open shard's last sequence
 * number. While it scans, the snapshot reads the stream from there and
 * leaves out items whose INSERT it finds (the live source delivers those).
 *
 * Positions that survive a restart: the table is scanned as
 * `totalSegments` fixed hash segments (pinned in the checkpoint), each read
 * whole and sorted by a hash of its key, so an item's position (segment,
 * key hash) is the same in every run, whatever was written or deleted
 * meanwhile. Memory is bounded by one segment per lane: the default picks
 * `totalSegments` so a segment holds about `itemsPerSegment` items.
 *
 * @example Bootstrap, then follow the stream
 * ```ts ignore
 * import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
 * import { DynamoDBStreamsClient } from "@aws-sdk/client-dynamodb-streams";
 * import { DynamoDBSnapshotSource, DynamoDBStreamSource, FileCheckpoint } from "@murmur/core/source/dynamodb";
 *
 * const snapshot = new DynamoDBSnapshotSource({ client: new DynamoDBClient({}), streams: new DynamoDBStreamsClient({}),
 *   table: "orders", checkpoint: new FileCheckpoint("orders.scan.json") });
 * await run(orderTotals, { source: snapshot, dedup: true });
 * const live = new DynamoDBStreamSource({ streams: new DynamoDBStreamsClient({}), handoff: await snapshot.handoff() });
 * ```
 *
 * @module
 */

import {
  DescribeTableCommand,
  type DescribeTableCommandOutput,
  ScanCommand,
  type ScanCommandOutput,
} from "@aws-sdk/client-dynamodb";
import { fnv1a32 } from "../internal/hash.ts";
import type { Source, SourceRecord } from "./source.ts";
import {
  type Checkpoint,
  CheckpointSaver,
  DeliveryQueue,
  FileCheckpoint,
  LaneMerge,
  MemoryCheckpoint,
  messageOf,
  positiveInteger,
  QueuedAck,
} from "./_handoff.ts";
import { CheckpointMismatchError } from "./_handoff_lanes.ts";
import {
  type AttributeValueLike,
  captureStreamHandoff,
  type DynamoDBHandoff,
  type DynamoDBSendLike,
  fromItem,
  keyText,
  listShards,
  readShard,
  streamsCommands,
  type WireItem,
} from "./_handoff_dynamodb.ts";

export type { Source, SourceRecord } from "./source.ts";
export {
  type AttributeValueLike,
  type Checkpoint,
  CheckpointMismatchError,
  type DynamoDBHandoff,
  type DynamoDBSendLike,
  FileCheckpoint,
  MemoryCheckpoint,
  type WireItem,
};
export {
  DynamoDBStreamSource,
  type DynamoDBStreamSourceOptions,
} from "./dynamodb_streams.ts";

/**
 * Options of {@linkcode DynamoDBSnapshotSource}.
 *
 * @typeParam T The event type.
 */
export interface DynamoDBSnapshotOptions<T> {
  /** The DynamoDB client (`DynamoDBClient`). */
  readonly client: DynamoDBSendLike;
  /** The table. */
  readonly table: string;
  /** A Streams client (`DynamoDBStreamsClient`): with it the snapshot takes a handoff for the live source. Default: none (no handoff). */
  readonly streams?: DynamoDBSendLike;
  /** The stream's ARN. Default: the table's latest stream. */
  readonly streamArn?: string;
  /** Use this handoff instead of capturing one (it must be from before the scan). */
  readonly handoff?: DynamoDBHandoff;
  /** Segments scanned at once. Default: 4. */
  readonly segments?: number;
  /** Hash segments the table is split into (pinned in the checkpoint). Default: from the item count, about `itemsPerSegment` each, a multiple of `segments`. */
  readonly totalSegments?: number;
  /** Target items per segment when `totalSegments` is computed. Default: 10,000. */
  readonly itemsPerSegment?: number;
  /** Items per Scan page. Default: 1,000. */
  readonly pageSize?: number;
  /** A FilterExpression with its names and values. Default: none. */
  readonly filter?: {
    readonly expression: string;
    readonly names?: Readonly<Record<string, string>>;
    readonly values?: WireItem;
  };
  /** Records per batch. Default: 1,000. */
  readonly batchSize?: number;
  /** Turns an item (plain values) into an event; throw to dead-letter it. Default: the item. */
  readonly decode?: (item: Record<string, unknown>) => T;
  /** The event time in epoch ms. Default: the clock. */
  readonly time?: (event: T, item: Record<string, unknown>) => number;
  /** Where the handoff, the segment split and each lane's committed position are kept. Default: none. */
  readonly checkpoint?: Checkpoint;
  /** Save the checkpoint at most this often, in ms. Default: 1,000. */
  readonly checkpointInterval?: number;
  /** The clock, in epoch ms. Default: `Date.now`. */
  readonly now?: () => number;
}

/** Progress of a DynamoDB snapshot. */
export interface DynamoDBSnapshotProgress {
  /** Hash segments in the table's split. */
  readonly segments: number;
  /** Segments read to their end. */
  readonly segmentsDone: number;
  /** Items read. */
  readonly scanned: number;
  /** Items left to the live source because their INSERT follows the handoff. */
  readonly handedOver: number;
  /** Records acked. */
  readonly acked: number;
}

interface ScanState {
  readonly kind: "ddb-scan";
  readonly table: string;
  readonly handoff: DynamoDBHandoff | null;
  readonly totalSegments: number;
  readonly lanes: number;
  readonly at: (string | null)[];
}

const MASK64 = (1n << 64n) - 1n;
/** FNV-1a's state after the byte 0x01: the key's second hash pass continues from it. */
const SECOND_PASS = fnv1a32("\u0001");

/** An item with its rank in its segment: the key's two 32-bit hashes. */
interface Ranked {
  readonly hi: number;
  readonly lo: number;
  readonly key: string;
  readonly item: WireItem;
}

/** A record of the scan: one object, no closure; id and position built when read. */
class ScanRecord<T> extends QueuedAck implements SourceRecord<T> {
  value: T | undefined = undefined;
  time = 0;
  readonly stream: string;
  error?: Error;
  readonly #base: bigint;
  readonly #hi: number;
  readonly #lo: number;
  readonly #table: string;
  readonly #key: string;
  #position: bigint | undefined = undefined;

  constructor(
    queue: DeliveryQueue,
    stream: string,
    base: bigint,
    hi: number,
    lo: number,
    table: string,
    key: string,
  ) {
    super(queue);
    this.stream = stream;
    this.#base = base;
    this.#hi = hi;
    this.#lo = lo;
    this.#table = table;
    this.#key = key;
  }

  /** (segment, key hash rank): the segment in the high 64 bits. */
  get position(): bigint {
    return this.#position ??= this.#base |
      (BigInt(this.#hi) << 32n) | BigInt(this.#lo);
  }

  /** `"<table>/<key>"`. */
  get id(): string {
    return `${this.#table}/${this.#key}`;
  }
}

/**
 * A finite source over a DynamoDB table: a ParallelScan of fixed hash
 * segments, `segments` at once. Record ids are `"<table>/<key>"`; each
 * record's stream is its lane and its position (segment, key hash), so
 * `dedup: true` makes a restart exact. With `streams`, the handoff for
 * {@linkcode DynamoDBStreamSource} is taken before the scan, and items whose
 * INSERT follows it are left to the live source.
 *
 * @typeParam T The event type.
 *
 * @example Usage
 * ```ts ignore
 * import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
 * import { DynamoDBSnapshotSource } from "@murmur/core/source/dynamodb";
 * import assert from "node:assert/strict";
 *
 * const source = new DynamoDBSnapshotSource({ client: new DynamoDBClient({}), table: "orders", segments: 8 });
 * let n = 0;
 * for await (const batch of source) for (const r of batch) { n++; r.ack(); }
 * assert.equal(source.progress().scanned, n);
 * ```
 */
export class DynamoDBSnapshotSource<T> implements Source<T> {
  /** `"dynamodb:<table>"`. */
  readonly name: string;
  readonly #o: DynamoDBSnapshotOptions<T>;
  /** Each lane's delivered records, by lane number, once reading started. */
  #queues: DeliveryQueue[] = [];
  readonly #saver: CheckpointSaver;
  readonly #batchSize: number;
  #state: ScanState | null = null;
  #handoff: Promise<DynamoDBHandoff | null> | null = null;
  #keyNames: string[] = [];
  #merge: LaneMerge<SourceRecord<T>[]> | null = null;
  #closed = false;
  #segmentsDone = 0;
  #scanned = 0;
  #handedOver = 0;
  #acked = 0;

  /**
   * Creates the source; nothing is read until it is iterated.
   *
   * @param options Client, table, streams, segments, filter, checkpoint.
   * @throws {TypeError} Without a client or table.
   * @throws {RangeError} For a bad size or count.
   */
  constructor(options: DynamoDBSnapshotOptions<T>) {
    if (options.client === undefined || !options.table) {
      throw new TypeError(
        'DynamoDBSnapshotSource needs { client: new DynamoDBClient(...), table: "name" }',
      );
    }
    this.#o = options;
    this.name = `dynamodb:${options.table}`;
    for (
      const name of [
        "segments",
        "totalSegments",
        "itemsPerSegment",
        "pageSize",
        "batchSize",
      ] as const
    ) {
      const v = options[name];
      if (v !== undefined) positiveInteger(this.name, name, v);
    }
    this.#batchSize = options.batchSize ?? 1000;
    this.#saver = new CheckpointSaver(options, () => this.position());
  }

  #lane(lane: number, lanes: number): string {
    return `${this.name}:scan#${lane}/${lanes}`;
  }

  /**
   * The value the checkpoint would hold now.
   *
   * @returns The position, or `null` before the start.
   */
  position(): unknown {
    const state = this.#state;
    if (state === null) return null;
    const at = state.at.map((old, lane) => {
      const p = this.#queues[lane]?.committed;
      return p === undefined ? old : p.toString();
    });
    return this.#state = { ...state, at };
  }

  /**
   * How far the scan got.
   *
   * @returns The counters.
   */
  progress(): DynamoDBSnapshotProgress {
    return {
      segments: this.#state?.totalSegments ?? 0,
      segmentsDone: this.#segmentsDone,
      scanned: this.#scanned,
      handedOver: this.#handedOver,
      acked: this.#acked,
    };
  }

  /**
   * The handoff for {@linkcode DynamoDBStreamSource}: from the checkpoint,
   * the options, or captured now (before any item is read).
   *
   * @returns The handoff, or `null` without a `streams` client.
   */
  handoff(): Promise<DynamoDBHandoff | null> {
    return this.#handoff ??= this.#start();
  }

  async #start(): Promise<DynamoDBHandoff | null> {
    const o = this.#o;
    const table = (await o.client.send(
      new DescribeTableCommand({ TableName: o.table }),
    ) as DescribeTableCommandOutput).Table;
    this.#keyNames = (table?.KeySchema ?? []).map((k) => k.AttributeName!)
      .sort();
    const saved = await o.checkpoint?.load() as Partial<ScanState> | undefined;
    if (saved !== undefined && saved !== null) {
      if (saved.kind !== "ddb-scan" || saved.table !== o.table) {
        throw new CheckpointMismatchError(
          this.name,
          `it is for ${String(saved.kind)} ${String(saved.table)}`,
        );
      }
      this.#state = saved as ScanState;
      return saved.handoff ?? null;
    }
    let handoff: DynamoDBHandoff | null = o.handoff ?? null;
    if (handoff === null && o.streams !== undefined) {
      const arn = o.streamArn ?? table?.LatestStreamArn;
      if (arn === undefined) {
        throw new TypeError(
          `${this.name}: the table has no stream; enable one (StreamSpecification) or drop the streams option`,
        );
      }
      handoff = await captureStreamHandoff(o.streams, o.table, arn);
    }
    const lanes = o.segments ?? 4;
    const count = Number(table?.ItemCount ?? 0);
    const per = o.itemsPerSegment ?? 10_000;
    const total = o.totalSegments ??
      lanes * Math.max(1, Math.ceil(count / (lanes * per)));
    this.#state = {
      kind: "ddb-scan",
      table: o.table,
      handoff,
      totalSegments: Math.min(total, 1_000_000),
      lanes,
      at: new Array<string | null>(lanes).fill(null),
    };
    await o.checkpoint?.save(this.#state);
    return handoff;
  }

  async #readSegment(
    segment: number,
    total: number,
    signal: AbortSignal,
  ): Promise<WireItem[]> {
    const o = this.#o;
    const items: WireItem[] = [];
    let start: WireItem | undefined;
    do {
      const page = await o.client.send(
        new ScanCommand({
          TableName: o.table,
          Segment: segment,
          TotalSegments: total,
          Limit: o.pageSize ?? 1000,
          ...(start === undefined ? {} : { ExclusiveStartKey: start as never }),
          ...(o.filter === undefined ? {} : {
            FilterExpression: o.filter.expression,
            ...(o.filter.names === undefined
              ? {}
              : { ExpressionAttributeNames: { ...o.filter.names } }),
            ...(o.filter.values === undefined
              ? {}
              : { ExpressionAttributeValues: o.filter.values as never }),
          }),
        }),
        { abortSignal: signal },
      ) as ScanCommandOutput;
      for (const item of page.Items ?? []) {
        items.push(item as unknown as WireItem);
      }
      start = page.LastEvaluatedKey as unknown as WireItem | undefined;
    } while (start !== undefined && !signal.aborted);
    this.#scanned += items.length;
    return items;
  }

  /**
   * Yields the table's items, segment by segment, `segments` at once.
   *
   * @returns The batch iterator.
   */
  async *[Symbol.asyncIterator](): AsyncIterator<readonly SourceRecord<T>[]> {
    if (this.#closed) return;
    const handoff = await this.handoff();
    const state = this.#state!;
    const peek = handoff === null || this.#o.streams === undefined
      ? null
      : new InsertPeek(this.#o.streams, handoff, this.#keyNames);
    const merge = this.#merge = new LaneMerge<SourceRecord<T>[]>(
      state.lanes * 2,
    );
    const onAck = () => {
      this.#acked++;
      this.#saver.touch();
    };
    for (let lane = 0; lane < state.lanes; lane++) {
      const at = state.at[lane];
      const from = at === null || at === undefined ? -1n : BigInt(at);
      const queue = this.#queues[lane] = new DeliveryQueue(onAck);
      merge.run(async (signal) => {
        const stream = this.#lane(lane, state.lanes);
        for (let s = lane; s < state.totalSegments; s += state.lanes) {
          if (signal.aborted) return;
          if (from >= 0n && BigInt(s) < from >> 64n) {
            this.#segmentsDone++;
            continue;
          }
          const items = await this.#readSegment(s, state.totalSegments, signal);
          const inserted = peek === null ? null : await peek.drain();
          // Ranks are 64-bit key hashes kept as two 32-bit numbers: compared
          // and sorted without BigInt; a position is built only when read.
          const skip = from >= 0n && BigInt(s) === from >> 64n
            ? from & MASK64
            : -1n;
          const skipHi = skip < 0n ? -1 : Number(skip >> 32n);
          const skipLo = skip < 0n ? -1 : Number(skip & 0xffffffffn);
          const ranked: Ranked[] = [];
          for (const item of items) {
            const key = keyText(item, this.#keyNames);
            if (inserted?.has(key)) {
              this.#handedOver++;
              continue;
            }
            const hi = fnv1a32(key);
            const lo = fnv1a32(key, SECOND_PASS);
            if (hi > skipHi || (hi === skipHi && lo > skipLo)) {
              ranked.push({ hi, lo, key, item });
            }
          }
          ranked.sort((a, b) => a.hi - b.hi || a.lo - b.lo);
          let batch: SourceRecord<T>[] = [];
          // Equal hashes (rare) take the next free rank, as they always did.
          let lastHi = -1;
          let lastLo = -1;
          const base = BigInt(s) << 64n;
          const readAt = (this.#o.now ?? Date.now)();
          for (const r of ranked) {
            let { hi, lo } = r;
            if (hi < lastHi || (hi === lastHi && lo <= lastLo)) {
              hi = lastHi;
              lo = lastLo + 1;
              if (lo > 0xffffffff) {
                lo = 0;
                hi++;
              }
            }
            lastHi = hi;
            lastLo = lo;
            const record = this.#record(
              queue,
              stream,
              base,
              hi,
              lo,
              r.key,
              r.item,
              readAt,
            );
            queue.push(record);
            batch.push(record);
            if (batch.length >= this.#batchSize) {
              if (!await merge.push(batch)) return;
              batch = [];
            }
          }
          if (batch.length > 0 && !await merge.push(batch)) return;
          this.#segmentsDone++;
        }
      });
    }
    yield* merge.drain();
  }

  #record(
    queue: DeliveryQueue,
    stream: string,
    base: bigint,
    hi: number,
    lo: number,
    key: string,
    item: WireItem,
    readAt: number,
  ): ScanRecord<T> {
    const o = this.#o;
    const record = new ScanRecord<T>(queue, stream, base, hi, lo, o.table, key);
    try {
      const plain = fromItem(item);
      record.value = o.decode === undefined ? plain as T : o.decode(plain);
      record.time = o.time === undefined ? readAt : o.time(record.value, plain);
    } catch (error) {
      record.value = undefined;
      record.time = readAt;
      record.error = new TypeError(`${record.id}: ${messageOf(error)}`, {
        cause: error,
      });
    }
    return record;
  }

  /**
   * Stops reading and saves the checkpoint. Safe to call more than once.
   *
   * @returns A promise that resolves once saved.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#merge?.close();
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

/** Follows the stream from the handoff during the scan, collecting the keys of INSERTs. */
class InsertPeek {
  readonly #client: DynamoDBSendLike;
  readonly #handoff: DynamoDBHandoff;
  readonly #keyNames: readonly string[];
  readonly #inserted = new Set<string>();
  /** Shard → last sequence read (`null`: from its start), or `true` once ended. */
  readonly #shards = new Map<string, string | null | true>();
  #chain: Promise<void> = Promise.resolve();

  constructor(
    client: DynamoDBSendLike,
    handoff: DynamoDBHandoff,
    keyNames: readonly string[],
  ) {
    this.#client = client;
    this.#handoff = handoff;
    this.#keyNames = keyNames;
    for (const [id, last] of Object.entries(handoff.shards)) {
      this.#shards.set(id, last);
    }
    for (const id of handoff.closed) this.#shards.set(id, true);
  }

  /** Catches up with the stream (after the caller's reads) and returns the INSERT keys so far. */
  async drain(): Promise<ReadonlySet<string>> {
    const run = this.#chain.then(() => this.#catchUp());
    this.#chain = run.catch(() => {});
    await run;
    return this.#inserted;
  }

  async #catchUp(): Promise<void> {
    const commands = await streamsCommands();
    const arn = this.#handoff.streamArn;
    for (const shard of await listShards(this.#client, commands, arn)) {
      const id = shard.ShardId!;
      if (!this.#shards.has(id)) this.#shards.set(id, null);
    }
    for (const [id, at] of this.#shards) {
      if (at === true) continue;
      const { last, ended } = await readShard(
        this.#client,
        commands,
        arn,
        id,
        at,
        (records) => {
          for (const r of records) {
            if (r.eventName === "INSERT" && r.dynamodb?.Keys !== undefined) {
              this.#inserted.add(keyText(r.dynamodb.Keys, this.#keyNames));
            }
          }
        },
      );
      this.#shards.set(id, ended ? true : last);
    }
  }
}
