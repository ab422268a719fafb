/**
 * A bootstrap or replay source over Parquet files, local or in S3, with
 * Hive-style partition pruning (`dt=2026-12-01/`), column projection and
 * row groups streamed through byte-range reads.
 *
 * Built on `hyparquet`: pure JavaScript (no native module, so `deno compile`
 * and every platform just work), reads a file through an async byte-range
 * interface (a file handle or S3 range GETs), so only the footer and the row
 * group at hand are in memory, and every codec comes from
 * `hyparquet-compressors`.
 *
 * @example Read the Parquet files of one week
 * ```ts ignore
 * import { S3Client } from "@aws-sdk/client-s3";
 * import { ParquetSource } from "@murmur/core/source/parquet";
 *
 * const source = new ParquetSource<{ page: string }>({
 *   client: new S3Client({}),
 *   bucket: "lake",
 *   prefix: "page_views/",
 *   columns: ["page", "ts"],
 *   partitions: { from: Date.UTC(2026, 11, 1), to: Date.UTC(2026, 11, 8) },
 * });
 * ```
 *
 * @module
 */

import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
} from "@aws-sdk/client-s3";
import {
  type AsyncBuffer,
  type FileMetaData,
  parquetMetadataAsync,
  parquetReadObjects,
} from "hyparquet";
import { compressors } from "hyparquet-compressors";
import { open as openFile } from "node:fs/promises";
import type { Source, SourceRecord } from "./source.ts";
import {
  type Checkpoint,
  FileCheckpoint,
  MemoryCheckpoint,
  messageOf,
  positiveInteger,
  type S3ClientLike,
} from "./_handoff.ts";
import {
  CheckpointMismatchError,
  type LaneProgress,
  LaneReader,
  type Listed,
} from "./_handoff_lanes.ts";
import { hivePartitions, partitionRange } from "./_handoff_hive.ts";

export type { Source, SourceRecord } from "./source.ts";
export {
  type Checkpoint,
  CheckpointMismatchError,
  FileCheckpoint,
  hivePartitions,
  type LaneProgress,
  MemoryCheckpoint,
  partitionRange,
  type S3ClientLike,
};

/** A time range that prunes Hive partitions (`dt=`, or `year=`/`month=`/`day=`/`hour=`). */
export interface PartitionRange {
  /** Keep partitions that end after this epoch ms. Default: no lower bound. */
  readonly from?: number;
  /** Keep partitions that start before this epoch ms. Default: no upper bound. */
  readonly to?: number;
  /** The date partition's name. Default: `"dt"`. */
  readonly key?: string;
}

/**
 * Options of {@linkcode ParquetSource}: either local `path` or S3 `client` + `bucket`.
 *
 * @typeParam T The event type.
 */
export interface ParquetSourceOptions<T> {
  /** A local `.parquet` file or a directory searched recursively. */
  readonly path?: string;
  /** The S3 client, for files in S3. */
  readonly client?: S3ClientLike;
  /** The bucket, for files in S3. */
  readonly bucket?: string;
  /** Only keys under this prefix. Default: `""`. */
  readonly prefix?: string;
  /** Only files this returns `true` for (path or key, and its Hive partitions). Default: names ending in `.parquet`. */
  readonly files?: (
    file: string,
    partitions: Record<string, string>,
  ) => boolean;
  /** Skip partitions outside this time range, without opening their files. Default: read all. */
  readonly partitions?: PartitionRange;
  /** Columns to read. Default: all. */
  readonly columns?: readonly string[];
  /** Files read at once. Pinned in the checkpoint on the first run. Default: 2. */
  readonly concurrency?: number;
  /** Records per batch. Default: 1,000. */
  readonly batchSize?: number;
  /** Turns a row into an event; throw to dead-letter it. Default: the row object (INT64 columns are bigint). */
  readonly decode?: (
    row: Record<string, unknown>,
    file: string,
    index: number,
  ) => T;
  /** The event time in epoch ms. Default: the clock when the row was read. */
  readonly time?: (event: T, file: string, index: number) => number;
  /** Where the file list and each lane's committed (file, row) are kept. Default: none. */
  readonly checkpoint?: Checkpoint;
  /** Save the checkpoint at most this often, in ms. Default: 1,000. */
  readonly checkpointInterval?: number;
  /** The clock, in epoch ms. Default: `Date.now`. */
  readonly now?: () => number;
}

/** Thrown when a Parquet file cannot be read: missing, corrupt or not Parquet. */
export class ParquetFileError extends Error {
  /** The file's path or `s3://bucket/key`. */
  readonly file: string;

  /**
   * Creates the error.
   *
   * @param file The file.
   * @param what What failed and what to do.
   * @param cause The underlying error.
   */
  constructor(file: string, what: string, cause?: unknown) {
    super(`${file}: ${what}`, { cause });
    this.name = "ParquetFileError";
    this.file = file;
  }
}

/**
 * Reads Parquet files row group by row group, `concurrency` files at once.
 * Each row is a record with id `"<file>:<row>"` (row 0-based in its file).
 * Files are found under a local directory or an S3 prefix; Hive partitions
 * outside `partitions` are never opened. A row that `decode` or `time`
 * refuses becomes an error record (dead-lettered with file and row); a file
 * that is not Parquet stops the source with {@linkcode ParquetFileError}.
 *
 * Files are dealt to lanes like the S3 source's objects; the position of a
 * row is (file ordinal, row), pinned in the `checkpoint`, so a restart
 * resumes after the last committed row of each lane and `dedup: true` stays
 * exact.
 *
 * @typeParam T The event type.
 *
 * @example Usage
 * ```ts
 * import { ParquetSource } from "@murmur/core/source/parquet";
 * import { parquetWriteBuffer } from "hyparquet-writer";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeFile(`${dir}/views.parquet`, new Uint8Array(parquetWriteBuffer({
 *   columnData: [{ name: "page", data: ["a", "b", "a"], type: "STRING" }],
 * })));
 * const pages: string[] = [];
 * for await (const batch of new ParquetSource<{ page: string }>({ path: dir })) {
 *   for (const r of batch) { pages.push(r.value!.page); r.ack(); }
 * }
 * assert.deepEqual(pages, ["a", "b", "a"]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class ParquetSource<T> implements Source<T> {
  /** `"parquet:<path>"` or `"parquet:s3://<bucket>/<prefix>"`. */
  readonly name: string;
  readonly #options: ParquetSourceOptions<T>;
  readonly #batchSize: number;
  readonly #concurrency: number;
  readonly #now: () => number;
  readonly #lanes: LaneReader<T>;
  #closed = false;

  /**
   * Creates the source; nothing is listed until it is iterated.
   *
   * @param options Where the files are, pruning, projection, parallelism, decoding, checkpoint.
   * @throws {TypeError} Without a `path` or a `client` and `bucket`.
   * @throws {RangeError} For a bad size or count.
   */
  constructor(options: ParquetSourceOptions<T>) {
    const s3 = options.client !== undefined || options.bucket !== undefined;
    if (
      s3 ? (options.client === undefined || !options.bucket) : !options.path
    ) {
      throw new TypeError(
        'ParquetSource needs { path: "dir or file" } or { client, bucket, prefix }',
      );
    }
    this.#options = options;
    const where = s3
      ? `s3://${options.bucket}/${options.prefix ?? ""}`
      : options.path!;
    this.name = `parquet:${where}`;
    this.#batchSize = positiveInteger(
      this.name,
      "batchSize",
      options.batchSize ?? 1000,
    );
    this.#concurrency = positiveInteger(
      this.name,
      "concurrency",
      options.concurrency ?? 2,
    );
    this.#now = options.now ?? Date.now;
    this.#lanes = new LaneReader<T>({
      name: this.name,
      kind: "parquet",
      where,
      lanes: this.#concurrency,
      checkpoint: options.checkpoint,
      checkpointInterval: options.checkpointInterval ?? 1000,
    });
  }

  /**
   * How far the read got: files, rows, acks and bytes.
   *
   * @returns The counters.
   */
  progress(): LaneProgress {
    return this.#lanes.progress();
  }

  /**
   * The value the checkpoint would hold now.
   *
   * @returns The position, or `null` before the first listing.
   */
  position(): unknown {
    return this.#lanes.position();
  }

  #keep(file: string): boolean {
    const parts = hivePartitions(file);
    const filter = this.#options.files;
    if (filter !== undefined) {
      if (!filter(file, parts)) return false;
    } else if (!/\.parquet$/i.test(file)) return false;
    const range = this.#options.partitions;
    if (range === undefined) return true;
    const span = partitionRange(parts, range.key ?? "dt");
    if (span === undefined) return true;
    return (range.from === undefined || span.end > range.from) &&
      (range.to === undefined || span.start < range.to);
  }

  async #list(): Promise<Listed[]> {
    const o = this.#options;
    const found: Listed[] = [];
    if (o.client !== undefined) {
      let token: string | undefined;
      do {
        const page = (await o.client.send(
          new ListObjectsV2Command({
            Bucket: o.bucket,
            Prefix: o.prefix ?? "",
            ...(token === undefined ? {} : { ContinuationToken: token }),
          }),
        )) as ListObjectsV2CommandOutput;
        for (const c of page.Contents ?? []) {
          if (c.Key !== undefined && this.#keep(c.Key)) {
            found.push({ name: c.Key, size: c.Size ?? 0 });
          }
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
    } else {
      const root = o.path!;
      const info = await Deno.stat(root);
      if (info.isFile) return [{ name: root, size: info.size }];
      const walk = async (dir: string): Promise<void> => {
        for await (const entry of Deno.readDir(dir)) {
          const path = `${dir}/${entry.name}`;
          if (entry.isDirectory) await walk(path);
          else if (this.#keep(path)) {
            found.push({ name: path, size: (await Deno.stat(path)).size });
          }
        }
      };
      await walk(root.replace(/\/+$/, ""));
    }
    return found;
  }

  async #open(
    file: string,
  ): Promise<{ buffer: AsyncBuffer; name: string; close(): Promise<void> }> {
    const o = this.#options;
    if (o.client !== undefined) {
      const client = o.client;
      const Bucket = o.bucket!;
      const head = (await client.send(
        new HeadObjectCommand({ Bucket, Key: file }),
      )) as HeadObjectCommandOutput;
      const lanes = this.#lanes;
      return {
        name: `s3://${Bucket}/${file}`,
        buffer: {
          byteLength: head.ContentLength ?? 0,
          async slice(start: number, end?: number): Promise<ArrayBuffer> {
            const last = (end ?? head.ContentLength ?? 0) - 1;
            if (last < start) return new ArrayBuffer(0);
            const got = (await client.send(
              new GetObjectCommand({
                Bucket,
                Key: file,
                Range: `bytes=${start}-${last}`,
              }),
            )) as GetObjectCommandOutput;
            const bytes = await got.Body!.transformToByteArray();
            lanes.bytes += bytes.length;
            return bytes.buffer.slice(
              bytes.byteOffset,
              bytes.byteOffset + bytes.byteLength,
            ) as ArrayBuffer;
          },
        },
        close: () => Promise.resolve(),
      };
    }
    const handle = await openFile(file, "r");
    const { size } = await handle.stat();
    const lanes = this.#lanes;
    return {
      name: file,
      buffer: {
        byteLength: size,
        async slice(start: number, end?: number): Promise<ArrayBuffer> {
          const length = Math.max(0, (end ?? size) - start);
          const out = new Uint8Array(length);
          let at = 0;
          while (at < length) {
            const { bytesRead } = await handle.read(
              out,
              at,
              length - at,
              start + at,
            );
            if (bytesRead === 0) break;
            at += bytesRead;
          }
          lanes.bytes += at;
          return out.buffer;
        },
      },
      close: () => handle.close(),
    };
  }

  /**
   * Lists the files (or takes the pinned list) and yields record batches,
   * one row group at a time per file.
   *
   * @returns The batch iterator.
   * @throws {ParquetFileError} When a file cannot be opened or is not valid Parquet.
   */
  async *[Symbol.asyncIterator](): AsyncIterator<readonly SourceRecord<T>[]> {
    if (this.#closed) return;
    const { columns, decode, time } = this.#options;
    const batchSize = this.#batchSize;
    yield* this.#lanes.read(
      () => this.#list(),
      async (file, fromIndex, records, emit, signal) => {
        let opened;
        try {
          opened = await this.#open(file);
        } catch (error) {
          throw new ParquetFileError(
            this.#options.client
              ? `s3://${this.#options.bucket}/${file}`
              : file,
            `cannot open: ${messageOf(error)}`,
            error,
          );
        }
        const name = opened.name;
        const make = records(name);
        try {
          let metadata: FileMetaData;
          try {
            metadata = await parquetMetadataAsync(opened.buffer);
          } catch (error) {
            throw new ParquetFileError(
              name,
              `not a readable Parquet file (${
                messageOf(error)
              }); fix or remove it and resume`,
              error,
            );
          }
          let rowStart = 0;
          for (const group of metadata.row_groups) {
            if (signal.aborted) return;
            const rowEnd = rowStart + Number(group.num_rows);
            const first = Math.max(rowStart, fromIndex + 1);
            if (first < rowEnd) {
              let rows: Record<string, unknown>[];
              try {
                rows = await parquetReadObjects({
                  file: opened.buffer,
                  metadata,
                  ...(columns === undefined ? {} : { columns: [...columns] }),
                  rowStart: first,
                  rowEnd,
                  compressors,
                });
              } catch (error) {
                throw new ParquetFileError(
                  name,
                  `corrupt row group at rows ${rowStart}..${rowEnd - 1} (${
                    messageOf(error)
                  }); fix or remove the file and resume`,
                  error,
                );
              }
              let batch: SourceRecord<T>[] = [];
              // Rows without a time extractor get the time their row group was read.
              const readAt = this.#now();
              for (let i = 0; i < rows.length; i++) {
                const index = first + i;
                if (decode === undefined && time === undefined) {
                  batch.push(make(index, rows[i] as T, readAt));
                } else {
                  const f = this.#fields(
                    rows[i]!,
                    name,
                    index,
                    decode,
                    time,
                    readAt,
                  );
                  batch.push(make(index, f.value, f.time, f.error));
                }
                if (batch.length >= batchSize) {
                  if (!await emit(batch)) return;
                  batch = [];
                }
              }
              if (batch.length > 0 && !await emit(batch)) return;
            }
            rowStart = rowEnd;
          }
        } finally {
          await opened.close();
        }
      },
      this.#concurrency * 2,
    );
  }

  #fields(
    row: Record<string, unknown>,
    name: string,
    index: number,
    decode: ParquetSourceOptions<T>["decode"],
    time: ParquetSourceOptions<T>["time"],
    readAt: number,
  ): { value: T | undefined; id: string; time: number; error?: Error } {
    const id = `${name}:${index}`;
    let value: T;
    try {
      value = decode === undefined ? row as T : decode(row, name, index);
      if (time === undefined) return { value, id, time: readAt };
      return { value, id, time: time(value, name, index) };
    } catch (error) {
      return {
        value: undefined,
        id,
        time: readAt,
        error: new TypeError(`${name} row ${index}: ${messageOf(error)}`, {
          cause: error,
        }),
      };
    }
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
