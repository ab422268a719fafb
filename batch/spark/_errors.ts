// Spark Connect failures as named errors: gRPC statuses and Spark's ErrorInfo turned into messages that say what to do.

import { Code, ConnectError } from "@connectrpc/connect";
import { BinaryReader } from "@bufbuild/protobuf/wire";

/** Where in the SQL text Spark located an error (0-based, inclusive indexes). */
export interface SqlPosition {
  /** Index of the first character of the offending fragment. */
  readonly start: number;
  /** Index of the last character of the offending fragment. */
  readonly stop: number;
  /** The offending fragment itself. */
  readonly fragment: string;
  /** 1-based line of `start` in the SQL text, when the text is known. */
  readonly line?: number;
  /** 1-based column of `start` in that line, when the text is known. */
  readonly column?: number;
}

/** The structured part of a Spark error, as Spark Connect reports it. */
export interface SparkErrorInfo {
  /** Spark's error class, e.g. `"UNRESOLVED_COLUMN.WITH_SUGGESTION"`. */
  readonly errorClass?: string;
  /** The SQLSTATE, e.g. `"42703"`. */
  readonly sqlState?: string;
  /** The JVM exception classes, most specific first. */
  readonly classes: readonly string[];
  /** The id to fetch the full error with (`FetchErrorDetails`), when the server kept it. */
  readonly errorId?: string;
  /** Spark's message parameters. */
  readonly parameters: Readonly<Record<string, string>>;
}

/**
 * A failure reported by the Spark Connect server or on the way to it.
 *
 * @example Usage
 * ```ts
 * import { SparkError } from "@murmur/core/batch/spark";
 * import assert from "node:assert/strict";
 *
 * const error = new SparkError("Spark failed: boom", { classes: [], parameters: {} });
 * assert.equal(error.name, "SparkError");
 * ```
 */
export class SparkError extends Error {
  /** Spark's structured error information (empty for transport failures). */
  readonly info: SparkErrorInfo;
  /**
   * Creates the error.
   *
   * @param message What failed and what to do.
   * @param info Spark's structured error information.
   * @param options The cause.
   */
  constructor(message: string, info: SparkErrorInfo, options?: ErrorOptions) {
    super(message, options);
    this.name = "SparkError";
    this.info = info;
  }
}

/**
 * Spark refused or failed a SQL statement: a parse error, an unknown column or
 * table, a type mismatch, a runtime error such as a division by zero under
 * ANSI mode. The message is Spark's own; `position` says where in the SQL.
 *
 * @example Usage
 * ```ts
 * import { SparkSqlError } from "@murmur/core/batch/spark";
 * import assert from "node:assert/strict";
 *
 * const error = new SparkSqlError("[PARSE_SYNTAX_ERROR] Syntax error at or near 'SELEC'", {
 *   errorClass: "PARSE_SYNTAX_ERROR", classes: [], parameters: {},
 * }, "SELEC 1");
 * assert.equal(error.info.errorClass, "PARSE_SYNTAX_ERROR");
 * ```
 */
export class SparkSqlError extends SparkError {
  /** The SQL that failed. */
  readonly sql: string;
  /** Where in `sql` Spark located the error, when it said. */
  readonly position: SqlPosition | undefined;
  /**
   * Creates the error.
   *
   * @param message Spark's message.
   * @param info Spark's structured error information.
   * @param sql The SQL that failed.
   * @param position Where in `sql` the error is.
   */
  constructor(
    message: string,
    info: SparkErrorInfo,
    sql: string,
    position?: SqlPosition,
  ) {
    super(message, info);
    this.name = "SparkSqlError";
    this.sql = sql;
    this.position = position;
  }
}

/**
 * The Spark Connect server could not be reached, or the connection broke and
 * could not be resumed.
 *
 * @example Usage
 * ```ts
 * import { SparkUnavailableError } from "@murmur/core/batch/spark";
 * import assert from "node:assert/strict";
 *
 * const error = new SparkUnavailableError("http://127.0.0.1:15002", "connection refused");
 * assert.match(error.message, /15002/);
 * ```
 */
export class SparkUnavailableError extends SparkError {
  /** The server's URL. */
  readonly url: string;
  /**
   * Creates the error.
   *
   * @param url The server's URL.
   * @param detail What the transport said.
   * @param options The cause.
   */
  constructor(url: string, detail: string, options?: ErrorOptions) {
    super(
      `Spark Connect at ${url} is unavailable (${detail}): start it (\`deno task stack:up spark\`) or fix the url`,
      { classes: [], parameters: {} },
      options,
    );
    this.name = "SparkUnavailableError";
    this.url = url;
  }
}

const ERROR_INFO = "google.rpc.ErrorInfo";

/** Decodes google.rpc.ErrorInfo (reason = 1, domain = 2, metadata = 3) without its schema. */
function decodeErrorInfo(bytes: Uint8Array): Record<string, string> {
  const reader = new BinaryReader(bytes);
  const metadata: Record<string, string> = {};
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 3 && wireType === 2) {
      const entry = new BinaryReader(reader.bytes());
      let key = "";
      let value = "";
      while (entry.pos < entry.len) {
        const [f, w] = entry.tag();
        if (f === 1) key = entry.string();
        else if (f === 2) value = entry.string();
        else entry.skip(w);
      }
      metadata[key] = value;
    } else if (field === 1 && wireType === 2) {
      metadata["reason"] = reader.string();
    } else {
      reader.skip(wireType);
    }
  }
  return metadata;
}

function parseJson<T>(text: string | undefined, fallback: T): T {
  if (text === undefined) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

/** Reads Spark's ErrorInfo out of a gRPC error's details. */
export function errorInfoOf(error: ConnectError): SparkErrorInfo {
  for (const detail of error.details) {
    if (!("type" in detail) || detail.type !== ERROR_INFO) continue;
    if (!(detail.value instanceof Uint8Array)) continue;
    const meta = decodeErrorInfo(detail.value);
    const classes = parseJson<string[]>(meta["classes"], []);
    return {
      classes: Array.isArray(classes) ? classes : [],
      parameters: parseJson<Record<string, string>>(
        meta["messageParameters"],
        {},
      ),
      ...(meta["errorClass"] ? { errorClass: meta["errorClass"] } : {}),
      ...(meta["sqlState"] ? { sqlState: meta["sqlState"] } : {}),
      ...(meta["errorId"] ? { errorId: meta["errorId"] } : {}),
    };
  }
  return { classes: [], parameters: {} };
}

/** Line and column (1-based) of an index in a text. */
export function lineColumn(
  text: string,
  index: number,
): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, index));
  const lines = before.split("\n");
  return { line: lines.length, column: (lines.at(-1)?.length ?? 0) + 1 };
}

/** True for failures of the connection itself, which ReattachExecute can resume. */
export function isTransient(error: unknown): boolean {
  if (!(error instanceof ConnectError)) return false;
  if (error.code === Code.Unavailable) return true;
  // A connection cut or a stream reset by a proxy shows up as Canceled (HTTP/2
  // CANCEL), Internal or Unknown without Spark's ErrorInfo; the caller's own
  // abort is told apart by its signal before this is asked.
  return (error.code === Code.Canceled || error.code === Code.Internal ||
    error.code === Code.Unknown) &&
    !error.details.some((d) => "type" in d && d.type === ERROR_INFO);
}

/** Spark's JVM exception classes that mean "the SQL is wrong", not "the server is". */
const SQL_CLASSES = [
  "org.apache.spark.sql.AnalysisException",
  "org.apache.spark.sql.catalyst.parser.ParseException",
  "org.apache.spark.SparkArithmeticException",
  "org.apache.spark.SparkNumberFormatException",
  "org.apache.spark.SparkDateTimeException",
  "org.apache.spark.SparkRuntimeException",
  "org.apache.spark.SparkIllegalArgumentException",
];

/** True when Spark's error is about the statement rather than the server. */
export function isSqlError(info: SparkErrorInfo): boolean {
  return info.classes.some((c) => SQL_CLASSES.includes(c)) ||
    (info.sqlState !== undefined && !info.sqlState.startsWith("XX"));
}

/** The part of Spark's query context that locates an error. */
export interface ContextLike {
  readonly startIndex: number;
  readonly stopIndex: number;
  readonly fragment: string;
}

/** Where in `sql` an error is: from Spark's query context, or from "(line L, pos P)" in a parse error's message. */
export function positionIn(
  sql: string,
  message: string,
  details: { context?: ContextLike } | undefined,
): SqlPosition | undefined {
  const context = details?.context;
  if (!context || context.startIndex < 0) {
    // Parse errors carry no query context, only "(line L, pos P)" in the message (P is 0-based).
    const m = message.match(/\(line (\d+), pos (\d+)\)/);
    if (!m) return undefined;
    const lines = sql.split("\n");
    const line = Number(m[1]);
    const column = Number(m[2]) + 1;
    const start = lines.slice(0, line - 1).reduce((n, l) =>
      n + l.length + 1, 0) +
      column - 1;
    const fragment = sql.slice(start).match(/^\S*/)?.[0] ?? "";
    return {
      start,
      stop: start + Math.max(0, fragment.length - 1),
      fragment,
      line,
      column,
    };
  }
  return {
    start: context.startIndex,
    stop: context.stopIndex,
    fragment: context.fragment,
    ...lineColumn(sql, context.startIndex),
  };
}
