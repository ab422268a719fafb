/**
 * A bootstrap or replay source over JSON-Lines objects in S3: a prefix scan
 * (gzip by `.gz` or `Content-Encoding`), N objects in parallel, resumable by
 * (object, line) through a {@linkcode Checkpoint}.
 *
 * @example Count the lines of an archive
 * ```ts ignore
 * import { S3Client } from "@aws-sdk/client-s3";
 * import { FileCheckpoint, S3JsonLinesSource } from "@murmur/core/source/s3";
 *
 * const source = new S3JsonLinesSource<{ page: string }>({
 *   client: new S3Client({ region: "eu-west-1" }),
 *   bucket: "archive",
 *   prefix: "page_views/2026/",
 *   checkpoint: new FileCheckpoint("page_views.checkpoint.json"),
 * });
 * ```
 *
 * @module
 */

import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
} from "@aws-sdk/client-s3";
import type { Source, SourceRecord } from "./source.ts";
import {
  type Checkpoint,
  FileCheckpoint,
  MemoryCheckpoint,
  messageOf,
  positiveInteger,
  type S3ClientLike,
  splitLines,
} from "./_handoff.ts";
import {
  CheckpointMismatchError,
  type LaneProgress,
  LaneReader,
  type Listed,
  type MakeRecord,
} from "./_handoff_lanes.ts";

export type { Source, SourceRecord } from "./source.ts";
export {
  type Checkpoint,
  CheckpointMismatchError,
  FileCheckpoint,
  type LaneProgress,
  MemoryCheckpoint,
  type S3ClientLike,
};

/**
 * Options of {@linkcode S3JsonLinesSource}.
 *
 * @typeParam T The event type.
 */
export interface S3JsonLinesOptions<T> {
  /** The S3 client (region, endpoint, credentials are its business). */
  readonly client: S3ClientLike;
  /** The bucket. */
  readonly bucket: string;
  /** Only keys starting with this. Default: `""` (the whole bucket). */
  readonly prefix?: string;
  /** Only keys this returns `true` for. Default: every key not ending in `/`. */
  readonly keys?: (key: string) => boolean;
  /** How many objects are read at once. Pinned in the checkpoint on the first run. Default: 4. */
  readonly concurrency?: number;
  /** Records per batch. Default: 1,000. */
  readonly batchSize?: number;
  /** Lines longer than this many characters (UTF-16 units, about bytes for ASCII) become dead letters. Default: 1 Mi. */
  readonly maxLineBytes?: number;
  /** Turns a parsed line into an event; throw to dead-letter it. Default: the JSON value. */
  readonly decode?: (json: unknown, key: string, line: number) => T;
  /** The event time in epoch ms. Default: the clock when the line was read. */
  readonly time?: (event: T, key: string, line: number) => number;
  /** Where the object list and the committed (object, line) of each lane are kept. Default: none (no resume). */
  readonly checkpoint?: Checkpoint;
  /** Save the checkpoint at most this often, in ms. Default: 1,000. */
  readonly checkpointInterval?: number;
  /** The clock, in epoch ms. Default: `Date.now`. */
  readonly now?: () => number;
}

/** Thrown when an object cannot be listed, fetched or decompressed. */
export class S3ObjectError extends Error {
  /** The object's `s3://bucket/key` address. */
  readonly object: string;

  /**
   * Creates the error.
   *
   * @param object The object's address.
   * @param what What failed and what to do.
   * @param cause The underlying error.
   */
  constructor(object: string, what: string, cause?: unknown) {
    super(`${object}: ${what}`, { cause });
    this.name = "S3ObjectError";
    this.object = object;
  }
}

/**
 * Reads every JSON-Lines object under a prefix, in key order, `concurrency`
 * objects at once. Each non-blank line is a record with id
 * `"s3://<bucket>/<key>:<line>"`. Objects ending in `.gz` or stored with
 * `Content-Encoding: gzip` are gunzipped while they stream. A line that is
 * not JSON, that `decode` refuses or that is too long becomes an error
 * record (the runtime dead-letters it, the message names object and line).
 *
 * Objects are dealt to lanes (`ordinal % concurrency`); a lane is one ordered
 * stream whose position is (object ordinal, line), so acks commit in order
 * and `dedup: true` is exact across a restart. With a `checkpoint`, the first
 * run pins the object list there, and a restart resumes each lane after its
 * last committed line.
 *
 * @typeParam T The event type.
 *
 * @example Usage
 * ```ts ignore
 * import { S3Client } from "@aws-sdk/client-s3";
 * import { S3JsonLinesSource } from "@murmur/core/source/s3";
 * import assert from "node:assert/strict";
 *
 * const source = new S3JsonLinesSource({ client: new S3Client({}), bucket: "b", prefix: "events/" });
 * let lines = 0;
 * for await (const batch of source) for (const r of batch) { lines++; r.ack(); }
 * assert.equal(source.progress().records, lines);
 * ```
 */
export class S3JsonLinesSource<T> implements Source<T> {
  /** `"s3:<bucket>/<prefix>"`. */
  readonly name: string;
  readonly #client: S3ClientLike;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #keys: (key: string) => boolean;
  readonly #batchSize: number;
  readonly #maxLine: number;
  readonly #decode: ((json: unknown, key: string, line: number) => T) | null;
  readonly #time: ((event: T, key: string, line: number) => number) | null;
  readonly #now: () => number;
  readonly #lanes: LaneReader<T>;
  readonly #concurrency: number;
  #closed = false;

  /**
   * Creates the source; nothing is listed until it is iterated.
   *
   * @param options Client, bucket, prefix, filters, parallelism, decoding, checkpoint.
   * @throws {TypeError} Without a client or bucket.
   * @throws {RangeError} For a bad size or count.
   */
  constructor(options: S3JsonLinesOptions<T>) {
    if (options.client === undefined) {
      throw new TypeError(
        "S3JsonLinesSource needs { client: new S3Client(...) }",
      );
    }
    if (typeof options.bucket !== "string" || options.bucket === "") {
      throw new TypeError('S3JsonLinesSource needs { bucket: "name" }');
    }
    this.#client = options.client;
    this.#bucket = options.bucket;
    this.#prefix = options.prefix ?? "";
    this.name = `s3:${this.#bucket}/${this.#prefix}`;
    this.#keys = options.keys ?? ((key) => !key.endsWith("/"));
    this.#concurrency = positiveInteger(
      this.name,
      "concurrency",
      options.concurrency ?? 4,
    );
    this.#batchSize = positiveInteger(
      this.name,
      "batchSize",
      options.batchSize ?? 1000,
    );
    this.#maxLine = positiveInteger(
      this.name,
      "maxLineBytes",
      options.maxLineBytes ?? 1024 * 1024,
    );
    this.#decode = options.decode ?? null;
    this.#time = options.time ?? null;
    this.#now = options.now ?? Date.now;
    this.#lanes = new LaneReader<T>({
      name: this.name,
      kind: "s3",
      where: `${this.#bucket}/${this.#prefix}`,
      lanes: this.#concurrency,
      checkpoint: options.checkpoint,
      checkpointInterval: options.checkpointInterval ?? 1000,
    });
  }

  /**
   * How far the scan got: objects, records, acks and bytes.
   *
   * @returns The counters.
   */
  progress(): LaneProgress {
    return this.#lanes.progress();
  }

  /**
   * The value the checkpoint would hold now (pinned keys and each lane's committed position).
   *
   * @returns The position, or `null` before the first listing.
   */
  position(): unknown {
    return this.#lanes.position();
  }

  async #list(): Promise<Listed[]> {
    const keys: Listed[] = [];
    let token: string | undefined;
    do {
      let page;
      try {
        page = (await this.#client.send(
          new ListObjectsV2Command({
            Bucket: this.#bucket,
            Prefix: this.#prefix,
            ...(token === undefined ? {} : { ContinuationToken: token }),
          }),
        )) as ListObjectsV2CommandOutput;
      } catch (error) {
        throw new S3ObjectError(
          `s3://${this.#bucket}/${this.#prefix}`,
          `cannot list objects: ${messageOf(error)}`,
          error,
        );
      }
      for (const o of page.Contents ?? []) {
        if (o.Key !== undefined && this.#keys(o.Key)) {
          keys.push({ name: o.Key, size: o.Size ?? 0 });
        }
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return keys;
  }

  #record(
    make: MakeRecord<T>,
    key: string,
    object: string,
    line: number,
    text: string,
    tooLong: boolean,
    readAt: number,
  ): SourceRecord<T> {
    let why: string;
    let cause: unknown = undefined;
    if (tooLong) {
      why = `longer than ${this.#maxLine} characters; raise maxLineBytes`;
    } else {
      let value: T | undefined = undefined;
      try {
        const json: unknown = JSON.parse(text);
        value = this.#decode === null
          ? json as T
          : this.#decode(json, key, line);
        const time = this.#time === null
          ? readAt
          : this.#time(value, key, line);
        return make(line, value, time);
      } catch (error) {
        cause = error;
        why = value === undefined
          ? messageOf(error)
          : `time extractor failed: ${messageOf(error)}`;
      }
    }
    return make(
      line,
      undefined,
      readAt,
      new SyntaxError(`${object} line ${line}: ${why}`, { cause }),
      new TextEncoder().encode(text.slice(0, 1024)),
    );
  }

  /**
   * Lists the objects (or takes the pinned list) and yields record batches.
   *
   * @returns The batch iterator.
   * @throws {S3ObjectError} When an object cannot be fetched or decompressed.
   */
  async *[Symbol.asyncIterator](): AsyncIterator<readonly SourceRecord<T>[]> {
    if (this.#closed) return;
    const lanes = this.#lanes;
    const batchSize = this.#batchSize;
    yield* lanes.read(
      () => this.#list(),
      async (key, fromIndex, records, emit, signal) => {
        const object = `s3://${this.#bucket}/${key}`;
        const make = records(object);
        let body: ReadableStream<Uint8Array>;
        let gzip = /\.gz$/i.test(key);
        try {
          const got = (await this.#client.send(
            new GetObjectCommand({ Bucket: this.#bucket, Key: key }),
            { abortSignal: signal },
          )) as GetObjectCommandOutput;
          if (got.Body === undefined) throw new Error("empty response body");
          body = got.Body.transformToWebStream() as ReadableStream<Uint8Array>;
          gzip ||= /gzip/i.test(got.ContentEncoding ?? "");
        } catch (error) {
          if (signal.aborted) return;
          throw new S3ObjectError(
            object,
            `cannot fetch: ${messageOf(error)}`,
            error,
          );
        }
        const counted = body.pipeThrough(
          new TransformStream<Uint8Array, Uint8Array>({
            transform: (chunk, out) => {
              lanes.bytes += chunk.length;
              out.enqueue(chunk);
            },
          }),
        );
        const bytes = gzip
          ? counted.pipeThrough(
            new DecompressionStream("gzip") as unknown as TransformStream<
              Uint8Array,
              Uint8Array
            >,
          )
          : counted;
        let batch: SourceRecord<T>[] = [];
        try {
          for await (const chunk of splitLines(bytes, this.#maxLine, signal)) {
            // Lines without a time extractor get the time their chunk was read.
            const readAt = this.#now();
            const { first, texts, tooLong } = chunk;
            for (let i = 0; i < texts.length; i++) {
              const line = first + i;
              if (line <= fromIndex) continue;
              const text = texts[i]!;
              const long = tooLong !== null && tooLong.has(i);
              // Only a line starting with a space, tab or CR (or empty) can be blank.
              if (
                !long && (text.length === 0 || text.charCodeAt(0) <= 0x20) &&
                isBlank(text)
              ) continue;
              batch.push(
                this.#record(make, key, object, line, text, long, readAt),
              );
              if (batch.length >= batchSize) {
                if (!await emit(batch)) return;
                batch = [];
              }
            }
          }
        } catch (error) {
          if (signal.aborted) return;
          throw new S3ObjectError(
            object,
            `cannot read${gzip ? " (corrupt gzip?)" : ""}: ${
              messageOf(error)
            }; fix or remove the object and resume`,
            error,
          );
        }
        if (batch.length > 0) await emit(batch);
      },
      this.#concurrency * 2,
    );
  }

  /**
   * Stops reading and saves the checkpoint. Safe to call more than once.
   *
   * @returns A promise that resolves once saved.
   */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#lanes.close();
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

function isBlank(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return false;
  }
  return true;
}
