// A JSON-Lines source over a file, stdin or any byte stream: one record per line, bad lines become error records.

import { AckTracker } from "./ack_tracker.ts";
import type { Source, SourceRecord } from "./source.ts";

/**
 * Options for {@linkcode JsonLinesSource}.
 *
 * @typeParam T The event type.
 */
export interface JsonLinesOptions<T> {
  /** The source's name, used in record ids and the stream. Default: the file name, or `"stdin"`. */
  readonly name?: string;
  /** Records per batch (a batch is also yielded whenever input pauses). Default: 500. */
  readonly batchSize?: number;
  /** Lines longer than this many bytes become error records. Default: 1 MiB. */
  readonly maxLineBytes?: number;
  /** Skip lines up to and including this 1-based line number, e.g. to resume after a committed one. Default: 0. */
  readonly fromLine?: number;
  /** Turns a parsed line into an event; throw to refuse it (it becomes an error record). Default: the JSON value as is. */
  readonly decode?: (json: unknown, line: number) => T;
  /**
   * The event time of a line, in epoch ms, or `"read"` to use the clock when
   * the line is read (the right choice only for live input). Give this or
   * {@linkcode JsonLinesOptions.timeField}: with neither, read time is used
   * and the source warns once, because a historical file would otherwise
   * land in today's buckets without a word.
   */
  readonly time?: ((event: T, line: number) => number) | "read";
  /**
   * The field holding the event time, as a dotted path into the parsed line
   * (`"ts"`, `"meta.time"`): epoch ms as a number, or a date string
   * `Date.parse` reads (ISO 8601). A line without a usable time becomes an
   * error record. Ignored when {@linkcode JsonLinesOptions.time} is set.
   */
  readonly timeField?: string;
  /** The clock, in epoch ms. Default: `Date.now`. */
  readonly now?: () => number;
}

/** A time extractor reading a dotted field path: epoch ms, or a date string. */
function fieldTime<T>(path: string): (event: T, line: number) => number {
  const parts = path.split(".");
  if (path === "" || parts.some((p) => p === "")) {
    throw new RangeError(
      `JsonLinesSource: timeField ${
        JSON.stringify(path)
      } is not a field path like "ts" or "meta.time"`,
    );
  }
  return (event) => {
    let value: unknown = event;
    for (const part of parts) {
      value = typeof value === "object" && value !== null
        ? (value as Record<string, unknown>)[part]
        : undefined;
    }
    const ms = typeof value === "number"
      ? value
      : typeof value === "string"
      ? Date.parse(value)
      : NaN;
    if (!Number.isFinite(ms)) {
      throw new TypeError(
        `field "${path}" holds ${
          value === undefined ? "nothing" : JSON.stringify(value)
        }, not epoch ms or a date string`,
      );
    }
    return ms;
  };
}

/** How many raw bytes an error record keeps of an over-long line. */
const RAW_KEEP = 1024;

/** Thrown into error records for lines longer than `maxLineBytes`. */
export class LineTooLongError extends RangeError {
  /** The 1-based line number. */
  readonly line: number;

  /**
   * Creates the error.
   *
   * @param line The 1-based line number.
   * @param limit The limit in bytes.
   */
  constructor(line: number, limit: number) {
    super(
      `line ${line} is longer than ${limit} bytes; raise maxLineBytes or split the record`,
    );
    this.name = "LineTooLongError";
    this.line = line;
  }
}

/**
 * A {@linkcode Source} over JSON-Lines: a file path, `"-"` for stdin, or a
 * `ReadableStream` of bytes. Each non-blank line is one record with id
 * `"<name>:<line>"`, stream `"jsonl:<name>"` and the 1-based line number as
 * its position (so exactly-once marks work and a run can resume with
 * `fromLine`). A line that is not valid UTF-8 or JSON, that `decode` refuses,
 * or that is longer than `maxLineBytes` becomes an error record (dead-lettered
 * by the runtime with its reason); the scan always goes on.
 *
 * @typeParam T The event type.
 *
 * @example Usage
 * ```ts
 * import { JsonLinesSource } from "@murmur/core/source";
 * import assert from "node:assert/strict";
 *
 * const text = '{"page":"a","ts":1000}\n{oops\n\n{"page":"b","ts":"2024-01-01T00:00:00Z"}\n';
 * const source = new JsonLinesSource<{ page: string }>(
 *   ReadableStream.from([new TextEncoder().encode(text)]),
 *   { name: "views", timeField: "ts" },
 * );
 * const seen: string[] = [];
 * for await (const batch of source) {
 *   for (const r of batch) {
 *     seen.push(r.error === undefined ? `${r.id}=${r.value!.page}@${r.time}` : `${r.id} bad`);
 *     r.ack();
 *   }
 * }
 * assert.deepEqual(seen, ["views:1=a@1000", "views:2 bad", "views:4=b@1704067200000"]);
 * assert.equal(source.committable(), 4n);
 * ```
 */
export class JsonLinesSource<T> implements Source<T> {
  /** The source's name. */
  readonly name: string;
  readonly #input: string | URL | ReadableStream<Uint8Array>;
  readonly #stream: string;
  readonly #batchSize: number;
  readonly #maxLine: number;
  readonly #fromLine: number;
  readonly #decode: ((json: unknown, line: number) => T) | undefined;
  readonly #time: ((event: T, line: number) => number) | undefined;
  #warnReadTime: boolean;
  readonly #now: () => number;
  readonly #tracker = new AckTracker();
  readonly #utf8 = new TextDecoder("utf-8", { fatal: true });
  #reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  #closed = false;
  #acked = 0;
  #lines = 0;

  /**
   * Creates the source; nothing is opened until it is iterated.
   *
   * @param input A file path or URL, `"-"` for stdin, or a byte stream.
   * @param options Name, batching, limits, resume point, decoding and timing.
   * @throws {RangeError} For a bad batch size, line limit or resume line.
   */
  constructor(
    input: string | URL | ReadableStream<Uint8Array>,
    options: JsonLinesOptions<T> = {},
  ) {
    this.#input = input;
    this.name = options.name ??
      (input === "-"
        ? "stdin"
        : typeof input === "string" || input instanceof URL
        ? String(input).split(/[\\/]/).at(-1)!
        : "jsonl");
    this.#stream = `jsonl:${this.name}`;
    this.#batchSize = options.batchSize ?? 500;
    this.#maxLine = options.maxLineBytes ?? 1024 * 1024;
    this.#fromLine = options.fromLine ?? 0;
    for (
      const [what, v] of [["batchSize", this.#batchSize], [
        "maxLineBytes",
        this.#maxLine,
      ]] as const
    ) {
      if (!Number.isInteger(v) || v < 1) {
        throw new RangeError(
          `JsonLinesSource: ${what} must be a positive integer, got ${v}`,
        );
      }
    }
    if (!Number.isInteger(this.#fromLine) || this.#fromLine < 0) {
      throw new RangeError(
        `JsonLinesSource: fromLine must be an integer >= 0, got ${this.#fromLine}`,
      );
    }
    this.#decode = options.decode;
    const { time, timeField } = options;
    this.#time = typeof time === "function"
      ? time
      : time === undefined && timeField !== undefined
      ? fieldTime<T>(timeField)
      : undefined;
    this.#warnReadTime = time === undefined && timeField === undefined;
    this.#now = options.now ?? Date.now;
  }

  /** Lines read so far (including blank and skipped ones). */
  get lines(): number {
    return this.#lines;
  }

  /** Records acked so far. */
  get acked(): number {
    return this.#acked;
  }

  /**
   * The highest line number at or below which every delivered record was
   * acked: resume with `fromLine` set to it.
   *
   * @returns The line number, or `undefined`.
   */
  committable(): bigint | undefined {
    return this.#tracker.committable(this.#stream);
  }

  async #open(): Promise<ReadableStream<Uint8Array>> {
    const input = this.#input;
    if (input === "-") return Deno.stdin.readable;
    if (typeof input === "string" || input instanceof URL) {
      return (await Deno.open(input)).readable;
    }
    return input;
  }

  #record(
    line: number,
    bytes: Uint8Array,
    tooLong: boolean,
  ): SourceRecord<T> | undefined {
    const stream = this.#stream;
    const position = BigInt(line);
    const make = (
      value: T | undefined,
      time: number,
      error?: Error,
    ): SourceRecord<T> => {
      this.#tracker.delivered(stream, position);
      let done = false;
      const ack = () => {
        if (done) return;
        done = true;
        this.#acked++;
        this.#tracker.ack(stream, position);
      };
      const base = {
        value,
        id: `${this.name}:${line}`,
        time,
        stream,
        position,
        ack,
      };
      return error === undefined
        ? base
        : { ...base, error, raw: bytes.slice(0, RAW_KEEP) };
    };
    const now = this.#now();
    if (tooLong) {
      return make(undefined, now, new LineTooLongError(line, this.#maxLine));
    }
    let text: string;
    try {
      text = this.#utf8.decode(bytes);
    } catch (error) {
      return make(
        undefined,
        now,
        new TypeError(`line ${line} is not valid UTF-8`, { cause: error }),
      );
    }
    if (text.trim() === "") return undefined;
    let value: T;
    try {
      const json: unknown = JSON.parse(text);
      value = this.#decode === undefined ? json as T : this.#decode(json, line);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return make(
        undefined,
        now,
        new SyntaxError(`line ${line}: ${message}`, { cause: error }),
      );
    }
    let time = now;
    if (this.#warnReadTime) {
      this.#warnReadTime = false;
      console.warn(
        `JsonLinesSource "${this.name}": no time or timeField option, so each event's time is when its line was read; a historical file lands in today's buckets. Pass timeField: "<field>" (or time: (event) => ms), or time: "read" to keep read time and silence this warning.`,
      );
    }
    if (this.#time !== undefined) {
      try {
        time = this.#time(value, line);
      } catch (error) {
        return make(
          undefined,
          now,
          new TypeError(
            `line ${line}: time extractor failed${
              error instanceof Error ? `: ${error.message}` : ""
            }`,
            { cause: error },
          ),
        );
      }
    }
    return make(value, time);
  }

  /**
   * Reads and yields batches until the input ends or the source is closed.
   *
   * @returns The batch iterator.
   */
  async *[Symbol.asyncIterator](): AsyncIterator<readonly SourceRecord<T>[]> {
    if (this.#closed) return;
    const reader = (await this.#open()).getReader();
    this.#reader = reader;
    const parts: Uint8Array[] = [];
    let length = 0;
    let tooLong = false;
    let batch: SourceRecord<T>[] = [];
    const endLine = (tail: Uint8Array) => {
      const line = ++this.#lines;
      if (line <= this.#fromLine) {
        parts.length = 0;
        length = 0;
        tooLong = false;
        return;
      }
      let bytes: Uint8Array;
      if (tooLong) bytes = parts[0] ?? tail.subarray(0, RAW_KEEP);
      else if (parts.length === 0) bytes = tail;
      else {
        bytes = new Uint8Array(length + tail.length);
        let at = 0;
        for (const p of parts) {
          bytes.set(p, at);
          at += p.length;
        }
        bytes.set(tail, at);
      }
      if (!tooLong && bytes.length > 0 && bytes[bytes.length - 1] === 0x0d) {
        bytes = bytes.subarray(0, bytes.length - 1);
      }
      const record = this.#record(line, bytes, tooLong);
      if (record !== undefined) batch.push(record);
      parts.length = 0;
      length = 0;
      tooLong = false;
    };
    const take = (chunk: Uint8Array) => {
      if (tooLong) return;
      if (length + chunk.length > this.#maxLine) {
        tooLong = true;
        const kept = new Uint8Array(RAW_KEEP);
        let at = 0;
        for (const p of [...parts, chunk]) {
          if (at >= RAW_KEEP) break;
          const n = Math.min(p.length, RAW_KEEP - at);
          kept.set(p.subarray(0, n), at);
          at += n;
        }
        parts.length = 0;
        parts.push(kept.subarray(0, at));
        return;
      }
      parts.push(chunk.slice());
      length += chunk.length;
    };
    try {
      while (!this.#closed) {
        const { done, value } = await reader.read();
        if (done) break;
        let start = 0;
        for (;;) {
          const nl = value.indexOf(0x0a, start);
          if (nl < 0) break;
          const tail = value.subarray(start, nl);
          if (tooLong || length + tail.length > this.#maxLine) {
            take(tail);
            endLine(new Uint8Array(0));
          } else endLine(tail);
          start = nl + 1;
          if (batch.length >= this.#batchSize) {
            yield batch;
            batch = [];
          }
        }
        if (start < value.length) take(value.subarray(start));
        if (batch.length > 0) {
          yield batch;
          batch = [];
        }
      }
      if (!this.#closed && (length > 0 || tooLong)) endLine(new Uint8Array(0));
      if (batch.length > 0) yield batch;
    } finally {
      this.#reader = null;
      await reader.cancel().catch(() => {});
    }
  }

  /**
   * Stops reading. Safe to call more than once.
   *
   * @returns A promise that resolves once the input is released.
   */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#reader?.cancel().catch(() => {});
  }

  /**
   * Calls {@linkcode JsonLinesSource.close}, so `await using` releases the source.
   *
   * @returns A promise that resolves when closed.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
