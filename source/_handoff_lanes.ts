// Reads a pinned list of objects or files in N lanes with stable positions, so a restart resumes exactly.

import { AckTracker } from "./ack_tracker.ts";
import type { SourceRecord } from "./source.ts";
import {
  type Checkpoint,
  CheckpointSaver,
  LaneMerge,
  lanePosition,
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
  readonly at: (string | null)[];
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
}

/** Builds one record of an item; `index` must grow within an item. */
export type MakeRecord<T> = (
  index: number,
  fields: {
    value: T | undefined;
    id: string;
    time: number;
    raw?: Uint8Array;
    error?: Error;
  },
) => SourceRecord<T>;

/** Reads one item from `fromIndex` on, handing batches to `emit` (which resolves `false` once stopped). */
export type ReadItem<T> = (
  item: string,
  fromIndex: number,
  make: MakeRecord<T>,
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
  readonly #tracker = new AckTracker();
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
    this.#saver = new CheckpointSaver(
      settings.checkpoint,
      settings.checkpointInterval,
      () => this.position(),
    );
  }

  #stream(lane: number, lanes: number): string {
    return `${this.#settings.kind}:${this.#settings.where}#${lane}/${lanes}`;
  }

  /** The checkpoint value: pinned list and committed lane positions. */
  position(): LaneState | null {
    const state = this.#state;
    if (state === null) return null;
    const at = state.at.map((old, lane) => {
      const p = this.#tracker.committable(this.#stream(lane, state.lanes));
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
    };
  }

  async #load(list: () => Promise<string[]>): Promise<LaneState> {
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
    const state: LaneState = {
      kind,
      where,
      lanes,
      items: await list(),
      at: new Array<string | null>(lanes).fill(null),
    };
    // Pin the list before reading, so a restart numbers items the same way.
    await checkpoint?.save(state);
    return state;
  }

  /** Lists (or loads) the items and reads them; yields merged batches. */
  async *read(
    list: () => Promise<string[]>,
    readItem: ReadItem<T>,
    capacity: number,
  ): AsyncGenerator<SourceRecord<T>[]> {
    const state = this.#state = await this.#load(list);
    const merge = this.#merge = new LaneMerge<SourceRecord<T>[]>(capacity);
    const lanes = state.lanes;
    for (let lane = 0; lane < lanes && lane < state.items.length; lane++) {
      const at = state.at[lane];
      const from = at === null || at === undefined
        ? { ordinal: -1, index: -1 }
        : splitLanePosition(BigInt(at));
      merge.run(async (signal) => {
        const stream = this.#stream(lane, lanes);
        for (let o = lane; o < state.items.length; o += lanes) {
          if (signal.aborted) return;
          if (o < from.ordinal) {
            this.#itemsDone++;
            continue;
          }
          const fromIndex = o === from.ordinal ? from.index : -1;
          const make: MakeRecord<T> = (index, fields) => {
            const position = lanePosition(o, index);
            this.#tracker.delivered(stream, position);
            this.#records++;
            let done = false;
            return {
              ...fields,
              stream,
              position,
              ack: () => {
                if (done) return;
                done = true;
                if (this.#tracker.ack(stream, position)) {
                  this.#acked++;
                  this.#saver.touch();
                }
              },
            };
          };
          await readItem(
            state.items[o]!,
            fromIndex,
            make,
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
