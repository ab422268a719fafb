/**
 * Mongo bootstrap and live sources: {@linkcode MongoSnapshotSource} scans a
 * collection in `_id` order (resumable), and
 * {@linkcode MongoChangeStreamSource} follows its change stream from the
 * snapshot's handoff, so a bootstrap followed by the live source counts every
 * document exactly once, including those written while the scan ran.
 *
 * How the two meet: the snapshot takes the handoff (a change-stream position)
 * before it reads anything, and while it scans it watches the same change
 * stream from there. A scanned document whose insert appears in that stream
 * is left out of the snapshot: the live source, starting at the same handoff,
 * delivers that insert. So each document is counted by exactly one of them,
 * without per-record claims, and each side's own restarts stay exact through
 * the runtime's marks (`dedup: true`).
 *
 * @example Bootstrap, then follow live
 * ```ts ignore
 * import { MongoClient } from "mongodb";

const EJSON = BSON.EJSON;
 * import { FileCheckpoint, MongoChangeStreamSource, MongoSnapshotSource } from "@murmur/core/source/mongo";
 * import { run } from "@murmur/core/streaming";
 *
 * const client = new MongoClient("mongodb://localhost:27017/?directConnection=true");
 * const snapshot = new MongoSnapshotSource({ client, db: "shop", collection: "orders",
 *   checkpoint: new FileCheckpoint("orders.snapshot.json") });
 * await run(orderTotals, { source: snapshot, dedup: true });
 * const live = new MongoChangeStreamSource({ client, db: "shop", collection: "orders",
 *   handoff: await snapshot.handoff(), checkpoint: new FileCheckpoint("orders.live.json") });
 * await run(orderTotals, { source: live, dedup: true, signal });
 * ```
 *
 * @module
 */

import { BSON, type Document, type FindCursor } from "mongodb";
import type { Source, SourceRecord } from "./source.ts";
import {
  type Checkpoint,
  CheckpointSaver,
  DeliveryQueue,
  FileCheckpoint,
  MemoryCheckpoint,
  QueuedAck,
} from "./_handoff.ts";
import { CheckpointMismatchError } from "./_handoff_lanes.ts";
import {
  batchSizeOf,
  captureHandoff,
  changeFilter,
  collectionOf,
  decodeDocument,
  hasIdPosition,
  idPosition,
  idText,
  type MongoClientLike,
  type MongoCommonOptions,
  type MongoDocument,
  type MongoHandoff,
  startOptions,
} from "./_handoff_mongo.ts";

const EJSON = BSON.EJSON;

export type { Source, SourceRecord } from "./source.ts";
export {
  type Checkpoint,
  CheckpointMismatchError,
  FileCheckpoint,
  MemoryCheckpoint,
  type MongoClientLike,
  type MongoCommonOptions,
  type MongoDocument,
  type MongoHandoff,
};
export {
  type MongoChangeStreamOptions,
  MongoChangeStreamSource,
} from "./mongo_change_stream.ts";

/**
 * Options of {@linkcode MongoSnapshotSource}.
 *
 * @typeParam T The event type.
 */
export interface MongoSnapshotOptions<T> extends MongoCommonOptions<T> {
  /** Only documents matching this filter (top-level fields and `$and`/`$or`/`$nor`). Default: all. */
  readonly filter?: MongoDocument;
  /** Fields to read (`_id` is always read). Default: all. */
  readonly projection?: MongoDocument;
  /** Documents per batch and per cursor round trip. Default: 1,000. */
  readonly batchSize?: number;
  /**
   * Use this handoff instead of capturing one (it must be from before the
   * scan), or `false` for a snapshot with no live source after it (no
   * change stream is read). Default: captured at start.
   */
  readonly handoff?: MongoHandoff | false;
  /** Where the handoff and the last committed `_id` are kept, to resume. Default: none. */
  readonly checkpoint?: Checkpoint;
  /** Save the checkpoint at most this often, in ms. Default: 1,000. */
  readonly checkpointInterval?: number;
}

/** Progress of a snapshot scan. */
export interface MongoSnapshotProgress {
  /** Documents read from the collection. */
  readonly scanned: number;
  /** Documents left to the live source because their insert follows the handoff. */
  readonly handedOver: number;
  /** Records acked. */
  readonly acked: number;
}

/** Batches read ahead of each look at the change stream. */
const READ_AHEAD = 8;

/** What the snapshot checkpoint holds. */
interface ScanState {
  readonly kind: "mongo-scan";
  readonly ns: string;
  readonly handoff: MongoHandoff | null;
  readonly after?: string;
}

/** A record of the scan: one object, no closure; id and position built when read. */
class ScanRecord<T> extends QueuedAck implements SourceRecord<T> {
  value: T | undefined = undefined;
  time = 0;
  error?: Error;
  /** The document's `_id`: where a restart resumes once this record is the last committed. */
  readonly docId: unknown;
  /** Whether the checkpoint state already holds this record's `_id`. */
  saved = false;
  readonly #ns: string;

  constructor(queue: DeliveryQueue, ns: string, id: unknown) {
    super(queue);
    this.#ns = ns;
    this.docId = id;
  }

  /** `"<db>.<collection>/<_id>"`. */
  get id(): string {
    return `${this.#ns}/${idText(this.docId)}`;
  }
}

/** A scan record whose `_id` orders as a position (ObjectIds and integers); other ids dedup by claim. */
class PositionedScanRecord<T> extends ScanRecord<T> {
  /** `"mongo:<db>.<collection>:scan"`. */
  readonly stream: string;
  #position: bigint | undefined = undefined;

  constructor(queue: DeliveryQueue, stream: string, ns: string, id: unknown) {
    super(queue, ns, id);
    this.stream = stream;
  }

  /** The `_id` as a position, built when first read. */
  get position(): bigint {
    return this.#position ??= idPosition(this.docId)!;
  }
}

/**
 * A finite source over a collection, in `_id` order, `batchSize` documents
 * a round trip. Record ids are `"<db>.<collection>/<_id>"`; integer and
 * ObjectId `_id`s give each record a stream position (the runtime's marks
 * make a restart exact); other `_id` types fall back to per-record claims.
 * A document that `decode` or `time` refuses becomes an error record.
 *
 * With a `checkpoint`, the handoff is saved before the scan starts and the
 * last committed `_id` as acks advance; a restart (even after SIGKILL)
 * resumes after that `_id` with the same handoff.
 *
 * @typeParam T The event type.
 *
 * @example Usage
 * ```ts ignore
 * import { MongoClient } from "mongodb";
 * import { MongoSnapshotSource } from "@murmur/core/source/mongo";
 * import assert from "node:assert/strict";
 *
 * const client = new MongoClient("mongodb://127.0.0.1:27017/?directConnection=true");
 * const source = new MongoSnapshotSource({ client, db: "shop", collection: "orders", filter: { status: "paid" } });
 * let n = 0;
 * for await (const batch of source) for (const r of batch) { n++; r.ack(); }
 * assert.equal(source.progress().scanned >= n, true);
 * ```
 */
export class MongoSnapshotSource<T> implements Source<T> {
  /** `"mongo:<db>.<collection>"`. */
  readonly name: string;
  readonly #options: MongoSnapshotOptions<T>;
  readonly #ns: string;
  readonly #batchSize: number;
  /** Delivered records in `_id` order; the last of the acked prefix is the resume point. */
  readonly #queue: DeliveryQueue;
  /** The stream of records whose `_id` has a position. */
  readonly #stream: string;
  readonly #saver: CheckpointSaver;
  #state: ScanState | null = null;
  #begun: Promise<void> | null = null;
  #cursor: FindCursor<Document> | null = null;
  #closed = false;
  #scanned = 0;
  #handedOver = 0;
  #acked = 0;

  /**
   * Creates the source; nothing is read until it is iterated.
   *
   * @param options Client, collection, filter, projection, batch size, checkpoint.
   * @throws {TypeError} Without a client, db or collection.
   * @throws {RangeError} For a bad batch size.
   */
  constructor(options: MongoSnapshotOptions<T>) {
    collectionOf(options as MongoCommonOptions<unknown>);
    this.#options = options;
    this.#ns = `${options.db}.${options.collection}`;
    this.name = `mongo:${this.#ns}`;
    this.#stream = `${this.name}:scan`;
    this.#batchSize = batchSizeOf(this.name, options.batchSize);
    this.#saver = new CheckpointSaver(options, () => this.#position());
    this.#queue = new DeliveryQueue(() => {
      this.#acked++;
      this.#saver.touch();
    });
  }

  #position(): ScanState | null {
    const state = this.#state;
    if (state === null) return null;
    const last = this.#queue.last as ScanRecord<T> | undefined;
    if (last === undefined || last.saved) return state;
    last.saved = true;
    const after = EJSON.stringify(last.docId, { relaxed: false });
    return this.#state = { ...state, after };
  }

  /**
   * The handoff for the live source: loaded from the checkpoint, given in
   * the options, or captured now (before any document is read).
   *
   * @returns The handoff.
   * @throws {CheckpointMismatchError} When the checkpoint is for another collection.
   * @throws {TypeError} When the source was created with `{ handoff: false }`.
   */
  async handoff(): Promise<MongoHandoff> {
    await this.#begin();
    const handoff = this.#state!.handoff;
    if (handoff === null) {
      throw new TypeError(
        `${this.name} was created with { handoff: false }: it has no handoff for a live source`,
      );
    }
    return handoff;
  }

  #begin(): Promise<void> {
    return this.#begun ??= this.#start();
  }

  async #start(): Promise<void> {
    const { checkpoint } = this.#options;
    const saved = await checkpoint?.load() as Partial<ScanState> | undefined;
    if (saved !== undefined && saved !== null) {
      if (
        saved.kind !== "mongo-scan" || saved.ns !== this.#ns ||
        saved.handoff === undefined
      ) {
        throw new CheckpointMismatchError(
          this.name,
          `it is for ${String(saved.kind)} ${String(saved.ns)}`,
        );
      }
      this.#state = saved as ScanState;
      return;
    }
    const { db, collection } = collectionOf(
      this.#options as MongoCommonOptions<unknown>,
    );
    const given = this.#options.handoff;
    const handoff = given === false
      ? null
      : given ?? await captureHandoff(db, collection);
    this.#state = { kind: "mongo-scan", ns: this.#ns, handoff };
    // The handoff is durable before the first document is read.
    await checkpoint?.save(this.#state);
  }

  /**
   * How far the scan got.
   *
   * @returns The counters.
   */
  progress(): MongoSnapshotProgress {
    return {
      scanned: this.#scanned,
      handedOver: this.#handedOver,
      acked: this.#acked,
    };
  }

  #record(doc: Document): SourceRecord<T> {
    const o = this.#options;
    const record = hasIdPosition(doc._id)
      ? new PositionedScanRecord<T>(
        this.#queue,
        this.#stream,
        this.#ns,
        doc._id,
      )
      : new ScanRecord<T>(this.#queue, this.#ns, doc._id);
    const decoded = decodeDocument(doc, o, o.now ?? Date.now, () => record.id);
    record.value = decoded.value;
    record.time = decoded.time;
    if (decoded.error !== undefined) record.error = decoded.error;
    this.#queue.push(record);
    return record;
  }

  /**
   * Captures or loads the handoff, then yields the collection's documents in `_id` order.
   *
   * @returns The batch iterator.
   */
  async *[Symbol.asyncIterator](): AsyncIterator<readonly SourceRecord<T>[]> {
    if (this.#closed) return;
    await this.#begin();
    const handoff = this.#state!.handoff;
    const o = this.#options;
    const { collection } = collectionOf(o as MongoCommonOptions<unknown>);
    const filter = o.filter ?? {};
    const after = this.#state?.after;
    const query = after === undefined
      ? filter
      : { $and: [filter, { _id: { $gt: EJSON.parse(after) } }] };
    const peek = handoff === null ? null : collection.watch(
      [{ $match: { operationType: "insert", ...changeFilter(filter) } }],
      { ...startOptions(handoff), maxAwaitTimeMS: 1 },
    );
    const inserted = new Set<string>();
    const cursor = this.#cursor = collection.find(query, {
      sort: { _id: 1 },
      batchSize: this.#batchSize,
      ...(o.projection === undefined ? {} : { projection: o.projection }),
    });
    try {
      for (;;) {
        // Read several batches before each look at the change stream: fewer round trips, bounded memory.
        const docs: Document[] = [];
        const chunk = this.#batchSize * READ_AHEAD;
        while (docs.length < chunk && !this.#closed) {
          if (!await cursor.hasNext()) break;
          for (const doc of cursor.readBufferedDocuments(chunk - docs.length)) {
            docs.push(doc);
          }
        }
        if (docs.length === 0 || this.#closed) break;
        this.#scanned += docs.length;
        // Every insert committed before these documents were fetched is in the stream by now.
        while (peek !== null) {
          const change = await peek.tryNext();
          if (change === null) break;
          const key = (change as { documentKey?: { _id?: unknown } })
            .documentKey?._id;
          if (key !== undefined) inserted.add(idText(key));
        }
        let batch: SourceRecord<T>[] = [];
        for (const doc of docs) {
          if (inserted.size > 0 && inserted.has(idText(doc._id))) {
            this.#handedOver++;
            continue;
          }
          batch.push(this.#record(doc));
          if (batch.length >= this.#batchSize) {
            yield batch;
            batch = [];
          }
        }
        if (batch.length > 0) yield batch;
      }
    } finally {
      this.#cursor = null;
      await cursor.close().catch(() => {});
      await peek?.close().catch(() => {});
    }
  }

  /**
   * Stops reading and saves the checkpoint. Safe to call more than once.
   *
   * @returns A promise that resolves once saved.
   */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#cursor?.close().catch(() => {});
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
