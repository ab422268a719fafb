// Reads a pinned list of objects or files in N lanes with stable positions, so a restart resumes exactly.

import type { SourceRecord } from "./source.ts";
import {
  type Checkpoint,
  CheckpointSaver,
  DeliveryQueue,
  INDEX_BITS,
  LaneMerge,
  QueuedAck,
  splitLanePosition,
} from "./_handoff.ts";

/** Thrown when a checkpoint belongs to another source or list. */
export class CheckpointMismatchError extends Error {
  /**
   * Creates the error.
   *
   * @param source The source's name.
   * @param detail What differs.
   */
  constructor(source: string, detail: string) {
    super(
      `${source}: the checkpoint was written by another source (${detail}); pass a fresh checkpoint or delete the old one`,
    );
    this.name = "CheckpointMismatchError";
  }
}

/** What a lane checkpoint holds: the pinned item list and each lane's committed position. */
interface LaneState {
  readonly kind: string;
  readonly where: string;
  readonly lanes: number;
  readonly items: string[];
  /** Each item's size in bytes, when the listing gave it. */
  readonly sizes?: number[];
  readonly at: (string | null)[];
}

/** An object or file found by a listing, with its size in bytes. */
export interface Listed {
  readonly name: string;
  readonly size: number;
}

/** Progress of a lane source. */
export interface LaneProgress {
  /** Objects or files to read. */
  readonly items: number;
  /** Objects or files read to their end. */
  readonly itemsDone: number;
  /** Records delivered. */
  readonly records: number;
  /** Records acked. */
  readonly acked: number;
  /** Bytes read (compressed, as transferred). */
  readonly bytes: number;
  /** Bytes of all items, as listed (S3 objects and local files): with `bytes`, an ETA. */
  readonly totalBytes: number;
}

/** Builds one record of an item; `index` must grow within an item. An error record has `value` undefined. */
export type MakeRecord<T> = (
  index: number,
  value: T | undefined,
  time: number,
  error?: Error,
  raw?: Uint8Array,
) => SourceRecord<T>;

/** What every record of one item shares: one object per item, not per record. */
class ItemContext {
  constructor(
    readonly queue: DeliveryQueue,
    readonly stream: string,
    readonly base: bigint,
    readonly prefix: string,
  ) {
    // Below 2^53 the position is exact as a number: one BigInt() per record, no bigint arithmetic.
    this.baseNumber = base < SAFE_BASE_LIMIT ? Number(base) : -1;
  }

  /** `base` as a number when every position of the item stays below 2^53, else -1. */
  readonly baseNumber: number;
}

/** Items whose ordinal is below 2^13 have all positions (ordinal << 40 | index) below 2^53. */
const SAFE_BASE_LIMIT = 1n << 53n;

/** A record of a lane source; a class, so a record costs one object and no closure. */
class LaneRecord<T> extends QueuedAck implements SourceRecord<T> {
  readonly value: T | undefined;
  readonly time: number;
  readonly #item: ItemContext;
  readonly #index: number;

  constructor(
    item: ItemContext,
    index: number,
    value: T | undefined,
    time: number,
  ) {
    super(item.queue);
    this.#item = item;
    this.#index = index;
    this.value = value;
    this.time = time;
  }

  /** The lane's stream name. */
  get stream(): string {
    return this.#item.stream;
  }

  /** The item's ordinal in the high bits, the index in the low ones; built when read (dedup only). */
  get position(): bigint {
    const item = this.#item;
    return item.baseNumber >= 0
      ? BigInt(item.baseNumber + this.#index)
      : item.base | BigInt(this.#index);
  }

  /** `"<item>:<index>"`, built when asked (most records never need it). */
  get id(): string {
    return `${this.#item.prefix}:${this.#index}`;
  }
}

/** A record that failed to decode: carries the error and the raw line, for the dead letter. */
class LaneErrorRecord<T> extends LaneRecord<T> {
  readonly error: Error;
  readonly raw?: Uint8Array;

  constructor(
    item: ItemContext,
    index: number,
    time: number,
    error: Error,
    raw: Uint8Array | undefined,
  ) {
    super(item, index, undefined, time);
    this.error = error;
    if (raw !== undefined) this.raw = raw;
  }
}

/** Reads one item from `fromIndex` on, handing batches to `emit` (which resolves `false` once stopped). */
export type ReadItem<T> = (
  item: string,
  fromIndex: number,
  records: (idPrefix: string) => MakeRecord<T>,
  emit: (batch: SourceRecord<T>[]) => Promise<boolean>,
  signal: AbortSignal,
) => Promise<void>;

/** Settings of {@linkcode LaneReader}. */
export interface LaneSettings {
  readonly name: string;
  readonly kind: string;
  readonly where: string;
  readonly lanes: number;
  readonly checkpoint: Checkpoint | undefined;
  readonly checkpointInterval: number;
}

/** The engine behind the S3 and Parquet sources. */
export class LaneReader<T> {
  readonly #settings: LaneSettings;
  /** Each lane's queue, by lane number, once reading started. */
  #queues: DeliveryQueue[] = [];
  #state: LaneState | null = null;
  #saver: CheckpointSaver;
  #merge: LaneMerge<SourceRecord<T>[]> | null = null;
  #itemsDone = 0;
  #records = 0;
  #acked = 0;
  /** Bytes read; readers add to it. */
  bytes = 0;

  constructor(settings: LaneSettings) {
    this.#settings = settings;
    this.#saver = new CheckpointSaver(settings, () => this.position());
  }

  #stream(lane: number, lanes: number): string {
    return `${this.#settings.kind}:${this.#settings.where}#${lane}/${lanes}`;
  }

  /** The checkpoint value: pinned list and committed lane positions. */
  position(): LaneState | null {
    const state = this.#state;
    if (state === null) return null;
    const at = state.at.map((old, lane) => {
      const p = this.#queues[lane]?.committed;
      return p === undefined ? old : p.toString();
    });
    return { ...state, at };
  }

  /** Progress so far. */
  progress(): LaneProgress {
    return {
      items: this.#state?.items.length ?? 0,
      itemsDone: this.#itemsDone,
      records: this.#records,
      acked: this.#acked,
      bytes: this.bytes,
      totalBytes: (this.#state?.sizes ?? []).reduce((a, b) => a + b, 0),
    };
  }

  async #load(list: () => Promise<Listed[]>): Promise<LaneState> {
    const { checkpoint, kind, where, name } = this.#settings;
    const saved = await checkpoint?.load();
    if (saved !== undefined && saved !== null) {
      const s = saved as Partial<LaneState>;
      if (
        s.kind !== kind || s.where !== where || !Array.isArray(s.items) ||
        !Array.isArray(s.at) || typeof s.lanes !== "number"
      ) {
        throw new CheckpointMismatchError(
          name,
          `it is for ${String(s.kind)} ${String(s.where)}`,
        );
      }
      return s as LaneState;
    }
    const lanes = this.#settings.lanes;
    const listed = (await list()).sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0
    );
    const state: LaneState = {
      kind,
      where,
      lanes,
      items: listed.map((l) => l.name),
      sizes: listed.map((l) => l.size),
      at: new Array<string | null>(lanes).fill(null),
    };
    // Pin the list before reading, so a restart numbers items the same way.
    await checkpoint?.save(state);
    return state;
  }

  /** Lists (or loads) the items and reads them; yields merged batches. */
  async *read(
    list: () => Promise<Listed[]>,
    readItem: ReadItem<T>,
    capacity: number,
  ): AsyncGenerator<SourceRecord<T>[]> {
    const state = this.#state = await this.#load(list);
    const merge = this.#merge = new LaneMerge<SourceRecord<T>[]>(capacity);
    const onAck = () => {
      this.#acked++;
      this.#saver.touch();
    };
    const lanes = state.lanes;
    for (let lane = 0; lane < lanes && lane < state.items.length; lane++) {
      const at = state.at[lane];
      const from = at === null || at === undefined
        ? { ordinal: -1, index: -1 }
        : splitLanePosition(BigInt(at));
      const queue = this.#queues[lane] = new DeliveryQueue(onAck);
      merge.run(async (signal) => {
        const stream = this.#stream(lane, lanes);
        for (let o = lane; o < state.items.length; o += lanes) {
          if (signal.aborted) return;
          if (o < from.ordinal) {
            this.#itemsDone++;
            continue;
          }
          const fromIndex = o === from.ordinal ? from.index : -1;
          const base = BigInt(o) << INDEX_BITS;
          const records = (prefix: string): MakeRecord<T> => {
            const item = new ItemContext(queue, stream, base, prefix);
            return (index, value, time, error, raw) => {
              this.#records++;
              const record = error === undefined
                ? new LaneRecord<T>(item, index, value, time)
                : new LaneErrorRecord<T>(item, index, time, error, raw);
              queue.push(record);
              return record;
            };
          };
          await readItem(
            state.items[o]!,
            fromIndex,
            records,
            (batch) => merge.push(batch),
            signal,
          );
          this.#itemsDone++;
        }
      });
    }
    yield* merge.drain();
  }

  /** Stops the lanes and saves the checkpoint. */
  async close(): Promise<void> {
    this.#merge?.close();
    if (this.#state !== null) await this.#saver.flush();
  }
}
