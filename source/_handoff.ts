// Shared machinery of the bootstrap sources: checkpoints, a bounded merge of parallel lanes, line splitting.

/**
 * Where a bootstrap source keeps its resume position between runs: a small
 * JSON value it loads once at start and saves as acked records advance. A
 * checkpoint may lag behind the state (it is saved every
 * `checkpointInterval` ms and at close); with `dedup: true` the runtime's
 * exactly-once marks skip what a restart reads again, so the totals stay
 * exact.
 */
export interface Checkpoint {
  /** Reads the saved position, or `undefined` when there is none (a fresh run). */
  load(): Promise<unknown>;
  /** Replaces the saved position. */
  save(value: unknown): Promise<void>;
}

/**
 * A {@linkcode Checkpoint} held in memory: for tests, and to pass positions
 * between two sources in one process.
 *
 * @example Usage
 * ```ts
 * import { MemoryCheckpoint } from "@murmur/core/source/s3";
 * import assert from "node:assert/strict";
 *
 * const checkpoint = new MemoryCheckpoint();
 * await checkpoint.save({ at: 3 });
 * assert.deepEqual(await checkpoint.load(), { at: 3 });
 * ```
 */
export class MemoryCheckpoint implements Checkpoint {
  #value: string | undefined;

  /**
   * Creates the checkpoint.
   *
   * @param value A position to start from. Default: none.
   */
  constructor(value?: unknown) {
    this.#value = value === undefined ? undefined : JSON.stringify(value);
  }

  /**
   * Reads the saved position.
   *
   * @returns A copy of the value, or `undefined`.
   */
  load(): Promise<unknown> {
    return Promise.resolve(
      this.#value === undefined ? undefined : JSON.parse(this.#value),
    );
  }

  /**
   * Replaces the saved position.
   *
   * @param value A JSON value.
   * @returns A promise that resolves once saved.
   */
  save(value: unknown): Promise<void> {
    this.#value = JSON.stringify(value);
    return Promise.resolve();
  }
}

/**
 * A {@linkcode Checkpoint} in a JSON file, replaced atomically (written to a
 * temporary file, then renamed), so a process killed mid-save leaves the
 * previous position intact.
 *
 * @example Usage
 * ```ts
 * import { FileCheckpoint } from "@murmur/core/source/s3";
 * import assert from "node:assert/strict";
 *
 * const path = await Deno.makeTempFile();
 * await Deno.remove(path);
 * const checkpoint = new FileCheckpoint(path);
 * assert.equal(await checkpoint.load(), undefined);
 * await checkpoint.save({ line: 12 });
 * assert.deepEqual(await new FileCheckpoint(path).load(), { line: 12 });
 * await Deno.remove(path);
 * ```
 */
export class FileCheckpoint implements Checkpoint {
  /** The file's path. */
  readonly path: string;
  #saves = 0;

  /**
   * Creates the checkpoint; nothing is read or written yet.
   *
   * @param path The JSON file.
   */
  constructor(path: string) {
    this.path = path;
  }

  /**
   * Reads the file.
   *
   * @returns The value, or `undefined` when the file does not exist.
   * @throws {SyntaxError} When the file is not JSON.
   */
  async load(): Promise<unknown> {
    let text: string;
    try {
      text = await Deno.readTextFile(this.path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new SyntaxError(
        `checkpoint file ${this.path} is not JSON; delete it to start over`,
        { cause: error },
      );
    }
  }

  /**
   * Writes the file atomically.
   *
   * @param value A JSON value.
   * @returns A promise that resolves once the file is renamed into place.
   */
  async save(value: unknown): Promise<void> {
    const temp = `${this.path}.${Deno.pid}.${++this.#saves}.tmp`;
    await Deno.writeTextFile(temp, JSON.stringify(value));
    await Deno.rename(temp, this.path);
  }
}

/** Saves a checkpoint value at most every `interval` ms, never two saves at once. */
export class CheckpointSaver {
  readonly #checkpoint: Checkpoint | undefined;
  readonly #interval: number;
  readonly #value: () => unknown;
  #last = -Infinity;
  #saving: Promise<void> | null = null;
  #dirty = false;
  /** The last save's failure, rethrown by {@linkcode flush}. */
  #error: unknown = undefined;

  /**
   * @param settings The source's `checkpoint` (none: nothing is saved) and
   * `checkpointInterval` in ms (default 1,000).
   * @param value Reads the position to save.
   */
  constructor(
    settings: {
      readonly checkpoint?: Checkpoint | undefined;
      readonly checkpointInterval?: number | undefined;
    },
    value: () => unknown,
  ) {
    this.#checkpoint = settings.checkpoint;
    this.#interval = settings.checkpointInterval ?? 1000;
    this.#value = value;
  }

  /** Notes that the position moved; saves when the interval has passed. */
  touch(): void {
    if (this.#checkpoint === undefined) return;
    this.#dirty = true;
    if (this.#saving !== null) return;
    if (performance.now() - this.#last < this.#interval) return;
    this.#start();
  }

  #start(): void {
    this.#dirty = false;
    this.#last = performance.now();
    const value = this.#value();
    this.#saving = this.#checkpoint!.save(value).catch((error) => {
      this.#error = error;
    }).finally(() => {
      this.#saving = null;
    });
  }

  /** Saves now (after any save in flight). */
  async flush(): Promise<void> {
    if (this.#checkpoint === undefined) return;
    while (this.#saving !== null) await this.#saving;
    this.#start();
    await this.#saving;
    if (this.#error !== undefined) {
      const error = this.#error;
      this.#error = undefined;
      throw error;
    }
  }
}

/**
 * Merges batches produced by parallel lanes into one async iterator, holding
 * at most `capacity` batches: a lane waits while the queue is full, so memory
 * stays bounded by the batch size times the capacity.
 */
export class LaneMerge<B> {
  readonly #capacity: number;
  readonly #queue: B[] = [];
  #waitingPush: (() => void)[] = [];
  #waitingPull: (() => void) | null = null;
  #running = 0;
  #error: unknown = undefined;
  #failed = false;
  /** Aborted when the consumer stops or a lane fails: lanes should stop. */
  readonly stop: AbortController = new AbortController();

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  #wake(): void {
    const pull = this.#waitingPull;
    this.#waitingPull = null;
    pull?.();
  }

  /** Adds a batch, waiting while the queue is full. Resolves `false` once stopped. */
  async push(batch: B): Promise<boolean> {
    while (this.#queue.length >= this.#capacity && !this.stop.signal.aborted) {
      await new Promise<void>((resolve) => this.#waitingPush.push(resolve));
    }
    if (this.stop.signal.aborted) return false;
    this.#queue.push(batch);
    this.#wake();
    return true;
  }

  /** Starts a lane; its failure stops the others and is thrown to the consumer. */
  run(lane: (signal: AbortSignal) => Promise<void>): void {
    this.#running++;
    lane(this.stop.signal).catch((error) => {
      if (!this.#failed) {
        this.#failed = true;
        this.#error = error;
      }
      this.#halt();
    }).finally(() => {
      this.#running--;
      this.#wake();
    });
  }

  #halt(): void {
    this.stop.abort();
    for (const resolve of this.#waitingPush.splice(0)) resolve();
    this.#wake();
  }

  /** Stops every lane; the iterator ends after what is queued is dropped. */
  close(): void {
    this.#queue.length = 0;
    this.#halt();
  }

  /** Yields batches until every lane finished; throws the first lane failure. */
  async *drain(): AsyncGenerator<B> {
    try {
      for (;;) {
        if (this.#failed) throw this.#error;
        const next = this.#queue.shift();
        if (next !== undefined) {
          const resume = this.#waitingPush.shift();
          resume?.();
          yield next;
          continue;
        }
        if (this.#running === 0 || this.stop.signal.aborted) {
          if (this.#failed) throw this.#error;
          return;
        }
        await new Promise<void>((resolve) => this.#waitingPull = resolve);
      }
    } finally {
      this.#halt();
    }
  }
}

/**
 * The lines one chunk of a text stream completed: line `first + i` is
 * `texts[i]` (its first KiB when too long). One object per chunk, none per line.
 */
export interface LineChunk {
  /** The 1-based number of `texts[0]`. */
  readonly first: number;
  /** The lines, without `\n` (nor the `\r` of `\r\n`). */
  readonly texts: string[];
  /** Indexes into `texts` of lines longer than `maxChars`, or `null` when none (the usual case). */
  readonly tooLong: ReadonlySet<number> | null;
}

/**
 * Splits a UTF-8 byte stream into lines, yielding the lines each chunk
 * completes. Decoding is not fatal: a bad byte becomes U+FFFD (and the
 * line usually fails to parse). A line longer than `maxChars` is listed in
 * `tooLong` and keeps only its first KiB; `\r\n` endings lose the `\r`.
 * Each chunk is split with one native `split("\n")`.
 */
export async function* splitLines(
  stream: ReadableStream<Uint8Array>,
  maxChars: number,
  signal?: AbortSignal,
): AsyncGenerator<LineChunk> {
  // Typed as a plain transform: with Node's types in the same program,
  // TextDecoderStream's writable side is BufferSource, not Uint8Array.
  const decoder = new TextDecoderStream() as unknown as TransformStream<
    Uint8Array,
    string
  >;
  const reader = stream.pipeThrough(decoder).getReader();
  let rest = "";
  // The line in `rest` already overflowed (only its first KiB is kept).
  let restLong = false;
  let next = 1;
  const finish = (texts: string[], restLongAtStart: boolean): LineChunk => {
    let tooLong: Set<number> | null = null;
    for (let i = 0; i < texts.length; i++) {
      let text = texts[i]!;
      if ((i === 0 && restLongAtStart) || text.length > maxChars) {
        (tooLong ??= new Set()).add(i);
        texts[i] = text.slice(0, 1024);
      } else if (text.length > 0 && text.charCodeAt(text.length - 1) === 13) {
        text = texts[i] = text.slice(0, -1);
      }
    }
    const chunk = { first: next, texts, tooLong };
    next += texts.length;
    return chunk;
  };
  try {
    for (;;) {
      if (signal?.aborted) return;
      const { done, value } = await reader.read();
      if (done) break;
      if (value.indexOf("\n") < 0) {
        // No line ends here: grow the pending line (bounded once too long).
        if (!restLong) {
          rest += value;
          if (rest.length > maxChars) {
            rest = rest.slice(0, 1024);
            restLong = true;
          }
        }
        continue;
      }
      const texts: string[] = (restLong ? value : rest + value).split("\n");
      if (restLong) texts[0] = rest;
      const wasLong = restLong;
      const tail: string = texts.pop()!;
      restLong = tail.length > maxChars;
      rest = restLong ? tail.slice(0, 1024) : tail;
      yield finish(texts, wasLong);
    }
    if (rest.length > 0 || restLong) yield finish([rest], restLong);
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/** Bits of a lane position that hold the index within one object or file. */
export const INDEX_BITS = 40n;

/** Splits a lane position into ordinal and index. */
export function splitLanePosition(
  position: bigint,
): { ordinal: number; index: number } {
  return {
    ordinal: Number(position >> INDEX_BITS),
    index: Number(position & ((1n << INDEX_BITS) - 1n)),
  };
}

export { positiveInteger } from "../internal/defined.ts";

/** A short message of any thrown value. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * What the S3 and Parquet sources need of an S3 client: the AWS SDK v3
 * `S3Client` from `npm:@aws-sdk/client-s3` fits.
 */
export interface S3ClientLike {
  /** Sends a command; the sources pass commands of `@aws-sdk/client-s3`. */
  send(
    command: unknown,
    options?: { abortSignal?: AbortSignal },
  ): Promise<unknown>;
}

/** A delivered record as a {@linkcode DeliveryQueue} sees it. */
export interface QueuedRecord {
  /** Its position in its stream (read only for the committed one). */
  readonly position?: bigint | undefined;
  /** Whether it was acked. */
  readonly isAcked: boolean;
}

/**
 * One stream's delivered records, in order. A stream whose positions only
 * grow commits the last record of its acked prefix: an ack flags its record
 * and, at the head, walks the prefix (no search, no bigint arithmetic per
 * record; the committed position is built only when asked for).
 */
export class DeliveryQueue {
  #records: QueuedRecord[] = [];
  #head = 0;
  #last: QueuedRecord | undefined = undefined;
  readonly #onAck: () => void;

  /** @param onAck Called once per record acked (counters, checkpoint). */
  constructor(onAck: () => void) {
    this.#onAck = onAck;
  }

  /** The highest position at or below which every delivered record was acked. */
  get committed(): bigint | undefined {
    return this.#last?.position;
  }

  /** The last record of the acked prefix, or `undefined` before the first. */
  get last(): QueuedRecord | undefined {
    return this.#last;
  }

  /** Records a delivery; positions must grow. */
  push(record: QueuedRecord): void {
    this.#records.push(record);
  }

  /** Call once when `record` (delivered here, now flagged acked) is acked. */
  acked(record: QueuedRecord): void {
    this.#onAck();
    const records = this.#records;
    let h = this.#head;
    if (records[h] !== record) return;
    while (h < records.length && records[h]!.isAcked) h++;
    this.#last = records[h - 1];
    if (h === records.length) {
      this.#records = [];
      this.#head = 0;
    } else if (h > 1024 && h * 2 > records.length) {
      // Drop the acked prefix once it is the larger part: pushes and acks stay amortized O(1).
      this.#records = records.slice(h);
      this.#head = 0;
    } else {
      this.#head = h;
    }
  }
}

/**
 * The ack half of a source record held by a {@linkcode DeliveryQueue}: the
 * first `ack()` flags it and tells the queue; later calls do nothing.
 */
export class QueuedAck implements QueuedRecord {
  #queue: DeliveryQueue | null;

  /** @param queue The queue the record was (or is about to be) pushed to. */
  constructor(queue: DeliveryQueue) {
    this.#queue = queue;
  }

  /** Whether the record was acked. */
  get isAcked(): boolean {
    return this.#queue === null;
  }

  /** Acks the record (once). */
  ack(): void {
    const queue = this.#queue;
    if (queue === null) return;
    this.#queue = null;
    queue.acked(this);
  }
}
