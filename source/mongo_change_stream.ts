// The live Mongo source: a collection's change stream from a snapshot's handoff, with checkpoints and exact positions.

import {
  BSON,
  type ChangeStream,
  type ChangeStreamDocument,
  type Document,
} from "mongodb";

const EJSON = BSON.EJSON;
import { delay } from "../internal/async.ts";
import { AckTracker } from "./ack_tracker.ts";
import type { Source, SourceRecord } from "./source.ts";
import { type Checkpoint, CheckpointSaver } from "./_handoff.ts";
import { CheckpointMismatchError } from "./_handoff_lanes.ts";
import {
  batchSizeOf,
  changeFilter,
  clusterBigInt,
  collectionOf,
  documentRecord,
  idText,
  type MongoCommonOptions,
  type MongoDocument,
  type MongoHandoff,
  startOptions,
} from "./_handoff_mongo.ts";

/**
 * Options of {@linkcode MongoChangeStreamSource}.
 *
 * @typeParam T The event type.
 */
export interface MongoChangeStreamOptions<T> extends MongoCommonOptions<T> {
  /** Where to start when the checkpoint holds nothing: the snapshot's `handoff()`. Required then. */
  readonly handoff?: MongoHandoff;
  /** Only documents matching this filter (as the snapshot's). Default: all. */
  readonly filter?: MongoDocument;
  /**
   * Which changes are events. `"insert"` delivers new documents (the record
   * id is the one the snapshot uses); `"update"` and `"replace"` deliver the
   * document after the change (looked up), as a new event with id
   * `"<ns>/<_id>@<cluster time>"`. Default: `["insert"]`.
   */
  readonly operations?: readonly ("insert" | "update" | "replace")[];
  /** Changes per batch at most. Default: 1,000. */
  readonly batchSize?: number;
  /** Where the last committed change is kept, to resume. Default: none. */
  readonly checkpoint?: Checkpoint;
  /** Save the checkpoint at most this often, in ms. Default: 1,000. */
  readonly checkpointInterval?: number;
  /** End the source when no change arrives for this many ms (catch up, then stop). Default: never. */
  readonly idleTimeout?: number;
}

/** What the live checkpoint holds. */
interface LiveState {
  readonly kind: "mongo-changes";
  readonly ns: string;
  readonly handoff: MongoHandoff;
  /** The last committed change's resume token (extended JSON). */
  readonly token?: string;
  /** Its position. */
  readonly position?: string;
}

/**
 * A live source over a collection's change stream. It starts at the
 * checkpoint's last committed change, else at `handoff`. Each change's
 * position is its cluster time (shifted, plus a counter for changes that
 * share one, e.g. in a transaction), one stream per collection, so the
 * runtime's marks make redelivery after a restart exact.
 *
 * @typeParam T The event type.
 *
 * @example Usage
 * ```ts ignore
 * import { MongoClient } from "mongodb";
 * import { MongoChangeStreamSource, MongoSnapshotSource } from "@murmur/core/source/mongo";
 *
 * const client = new MongoClient("mongodb://127.0.0.1:27017/?directConnection=true");
 * const snapshot = new MongoSnapshotSource({ client, db: "shop", collection: "orders" });
 * const live = new MongoChangeStreamSource({ client, db: "shop", collection: "orders", handoff: await snapshot.handoff() });
 * ```
 */
export class MongoChangeStreamSource<T> implements Source<T> {
  /** `"mongo:<db>.<collection>:changes"`. */
  readonly name: string;
  readonly #options: MongoChangeStreamOptions<T>;
  readonly #ns: string;
  readonly #batchSize: number;
  readonly #tracker = new AckTracker();
  /** Delivered position → resume token, until committed. */
  readonly #tokens = new Map<bigint, string>();
  readonly #saver: CheckpointSaver;
  #state: LiveState | null = null;
  #stream: ChangeStream | null = null;
  #closed = false;
  #acked = 0;

  /**
   * Creates the source; nothing is read until it is iterated.
   *
   * @param options Client, collection, handoff, filter, operations, checkpoint.
   * @throws {TypeError} Without a client, db or collection.
   */
  constructor(options: MongoChangeStreamOptions<T>) {
    collectionOf(options as MongoCommonOptions<unknown>);
    this.#options = options;
    this.#ns = `${options.db}.${options.collection}`;
    this.name = `mongo:${this.#ns}:changes`;
    this.#batchSize = batchSizeOf(this.name, options.batchSize);
    this.#saver = new CheckpointSaver(options, () => this.position());
  }

  /** Records acked so far. */
  get acked(): number {
    return this.#acked;
  }

  /**
   * The value the checkpoint would hold now.
   *
   * @returns The last committed change, or `null` before the start.
   */
  position(): unknown {
    const state = this.#state;
    if (state === null) return null;
    const at = this.#tracker.committable(this.name);
    if (at === undefined) return state;
    const token = this.#tokens.get(at);
    for (const p of this.#tokens.keys()) {
      if (p > at) break;
      this.#tokens.delete(p);
    }
    if (token === undefined) return state;
    return this.#state = { ...state, token, position: at.toString() };
  }

  async #load(): Promise<LiveState> {
    const saved = await this.#options.checkpoint?.load() as
      | Partial<LiveState>
      | undefined;
    if (saved !== undefined && saved !== null) {
      if (saved.kind !== "mongo-changes" || saved.ns !== this.#ns) {
        throw new CheckpointMismatchError(
          this.name,
          `it is for ${String(saved.kind)} ${String(saved.ns)}`,
        );
      }
      return saved as LiveState;
    }
    const handoff = this.#options.handoff;
    if (handoff === undefined) {
      throw new TypeError(
        `${this.name} has no checkpoint to resume from: pass { handoff: await snapshot.handoff() }`,
      );
    }
    if (handoff.ns !== this.#ns) {
      throw new TypeError(
        `${this.name}: the handoff is for ${handoff.ns}, not ${this.#ns}`,
      );
    }
    return { kind: "mongo-changes", ns: this.#ns, handoff };
  }

  #record(
    change: ChangeStreamDocument,
    position: bigint,
  ): SourceRecord<T> | undefined {
    const o = this.#options;
    const now = o.now ?? Date.now;
    const doc = (change as { fullDocument?: Document | null }).fullDocument;
    const key = (change as { documentKey?: { _id?: unknown } }).documentKey
      ?._id;
    const base = `${this.#ns}/${idText(key)}`;
    const id = change.operationType === "insert"
      ? base
      : `${base}@${position >> 16n}.${position & 0xffffn}`;
    this.#tokens.set(position, EJSON.stringify(change._id, { relaxed: false }));
    this.#tracker.delivered(this.name, position);
    let done = false;
    const ack = () => {
      if (done) return;
      done = true;
      if (this.#tracker.ack(this.name, position)) {
        this.#acked++;
        this.#saver.touch();
        // Without a checkpoint nothing saves: drop committed tokens now and then.
        if (
          this.#options.checkpoint === undefined && (this.#acked & 1023) === 0
        ) {
          this.position();
        }
      }
    };
    const fields = { id, stream: this.name, position, ack };
    if (doc === undefined || doc === null) {
      return {
        ...fields,
        value: undefined,
        time: now(),
        error: new TypeError(
          `${id}: the ${change.operationType} change carries no document (deleted since?)`,
        ),
      };
    }
    return documentRecord(fields, doc, o, now);
  }

  /**
   * Follows the change stream, yielding batches as changes arrive.
   *
   * @returns The batch iterator.
   * @throws {CheckpointMismatchError} When the checkpoint is for another collection.
   */
  async *[Symbol.asyncIterator](): AsyncIterator<readonly SourceRecord<T>[]> {
    if (this.#closed) return;
    const state = this.#state = await this.#load();
    const o = this.#options;
    const { collection } = collectionOf(o as MongoCommonOptions<unknown>);
    const operations = o.operations ?? ["insert"];
    const start = state.token !== undefined
      ? { resumeAfter: EJSON.parse(state.token) }
      : startOptions(state.handoff);
    const stream = this.#stream = collection.watch([
      {
        $match: {
          operationType: { $in: [...operations] },
          ...changeFilter(o.filter ?? {}),
        },
      },
    ], {
      ...start,
      maxAwaitTimeMS: 200,
      ...(operations.some((op) => op !== "insert")
        ? { fullDocument: "updateLookup" }
        : {}),
    });
    let last = state.position === undefined ? -1n : BigInt(state.position);
    let idleSince = performance.now();
    try {
      while (!this.#closed) {
        const batch: SourceRecord<T>[] = [];
        while (batch.length < this.#batchSize) {
          const change = await stream.tryNext();
          if (change === null) break;
          const time = clusterBigInt(
            (change as { clusterTime?: unknown }).clusterTime,
          );
          // Changes sharing a cluster time (a transaction) count up in the low 16 bits.
          let position = time === undefined ? last + 1n : time << 16n;
          if (position <= last) position = last + 1n;
          last = position;
          const record = this.#record(change, position);
          if (record !== undefined) batch.push(record);
        }
        if (batch.length > 0) {
          idleSince = performance.now();
          yield batch;
          continue;
        }
        if (
          o.idleTimeout !== undefined &&
          performance.now() - idleSince >= o.idleTimeout
        ) return;
        if (stream.closed) return;
        await delay(20);
      }
    } finally {
      this.#stream = null;
      await stream.close().catch(() => {});
    }
  }

  /**
   * Stops following and saves the checkpoint. Safe to call more than once.
   *
   * @returns A promise that resolves once saved.
   */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#stream?.close().catch(() => {});
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
