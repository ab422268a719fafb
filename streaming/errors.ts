// The conditions a caller of run() can catch: a bad record, a failing store, an exactly-once conflict.

/** The step at which a record was refused. */
export type RecordStage =
  | "decode"
  | "key"
  | "value"
  | "time"
  | "window"
  | "late"
  | "fold"
  | "store";

/**
 * Why a record went to the dead-letter path: what step refused it, and the
 * underlying error as `cause`.
 *
 * @example Usage
 * ```ts
 * import { RecordError } from "@murmur/core/streaming";
 * import assert from "node:assert/strict";
 *
 * const error = new RecordError("key", "page_views", "orders:0:17", new TypeError("e.pageId is undefined"));
 * assert.equal(
 *   error.message,
 *   'pipeline "page_views" record orders:0:17: key extractor failed: e.pageId is undefined',
 * );
 * ```
 */
export class RecordError extends Error {
  /** The step that refused the record. */
  readonly stage: RecordStage;
  /** The pipeline's name. */
  readonly pipeline: string;
  /** The record's id. */
  readonly recordId: string;

  /**
   * Creates the error.
   *
   * @param stage The step that refused the record.
   * @param pipeline The pipeline's name.
   * @param recordId The record's id.
   * @param cause The underlying error.
   */
  constructor(
    stage: RecordStage,
    pipeline: string,
    recordId: string,
    cause: unknown,
  ) {
    super(
      `pipeline "${pipeline}" record ${recordId}: ${STAGE_TEXT[stage]}: ${
        cause instanceof Error ? cause.message : String(cause)
      }`,
      { cause },
    );
    this.name = "RecordError";
    this.stage = stage;
    this.pipeline = pipeline;
    this.recordId = recordId;
  }
}

const STAGE_TEXT: Readonly<Record<RecordStage, string>> = {
  decode: "the source could not decode it",
  key: "key extractor failed",
  value: "value extractor failed",
  time: "event time extractor failed",
  window: "no window bucket for its event time",
  late: "its window bucket is past retention (late data)",
  fold: "its value does not fit the pipeline's monoid",
  store: "the store rejected its delta",
};

/**
 * Stops a run: the store kept failing after every retry. Nothing of the
 * unwritten batch was acked, so a restart replays it.
 *
 * @example Usage
 * ```ts
 * import { StoreFailureError } from "@murmur/core/streaming";
 * import assert from "node:assert/strict";
 *
 * const error = new StoreFailureError("page_views", "deno-kv", 5, new Error("database is locked"));
 * assert.equal(error.attempts, 5);
 * ```
 */
export class StoreFailureError extends Error {
  /** The pipeline's name. */
  readonly pipeline: string;
  /** The store's name. */
  readonly store: string;
  /** How many attempts were made. */
  readonly attempts: number;

  /**
   * Creates the error.
   *
   * @param pipeline The pipeline's name.
   * @param store The store's name.
   * @param attempts How many attempts were made.
   * @param cause The last error.
   */
  constructor(
    pipeline: string,
    store: string,
    attempts: number,
    cause: unknown,
  ) {
    super(
      `pipeline "${pipeline}" stopped: store "${store}" failed ${attempts} time(s) in a row (last error: ${
        cause instanceof Error ? cause.message : String(cause)
      }); nothing unwritten was acked, so fix the store and restart to replay`,
      { cause },
    );
    this.name = "StoreFailureError";
    this.pipeline = pipeline;
    this.store = store;
    this.attempts = attempts;
  }
}

/**
 * Stops a run with `dedup: true`: the store found a delta whose records were
 * partly applied already (a `MarkConflictError`), which happens when two
 * workers write the same stream at once. Restarting replays the unacked
 * records one by one, so each is applied exactly once.
 *
 * @example Usage
 * ```ts
 * import { ExactlyOnceConflictError } from "@murmur/core/streaming";
 * import assert from "node:assert/strict";
 *
 * const error = new ExactlyOnceConflictError("page_views", new Error("kafka:pv:0 holds 15, delta covers 10..20"));
 * assert.equal(error.name, "ExactlyOnceConflictError");
 * ```
 */
export class ExactlyOnceConflictError extends Error {
  /** The pipeline's name. */
  readonly pipeline: string;

  /**
   * Creates the error.
   *
   * @param pipeline The pipeline's name.
   * @param cause The store's `MarkConflictError`.
   */
  constructor(pipeline: string, cause: unknown) {
    super(
      `pipeline "${pipeline}" stopped: a delta was partly applied already (${
        cause instanceof Error ? cause.message : String(cause)
      }); make sure only one worker consumes each stream, then restart: unacked records are replayed one by one and applied exactly once`,
      { cause },
    );
    this.name = "ExactlyOnceConflictError";
    this.pipeline = pipeline;
  }
}

/**
 * Stops a run: the `deadLetter` callback threw, so a bad record could be
 * neither written nor set aside, and it is not acked.
 *
 * @example Usage
 * ```ts
 * import { DeadLetterFailedError } from "@murmur/core/streaming";
 * import assert from "node:assert/strict";
 *
 * const error = new DeadLetterFailedError("page_views", "orders:0:17", new Error("DLQ topic missing"));
 * assert.equal(error.recordId, "orders:0:17");
 * ```
 */
export class DeadLetterFailedError extends Error {
  /** The pipeline's name. */
  readonly pipeline: string;
  /** The record's id. */
  readonly recordId: string;

  /**
   * Creates the error.
   *
   * @param pipeline The pipeline's name.
   * @param recordId The record's id.
   * @param cause What the callback threw.
   */
  constructor(pipeline: string, recordId: string, cause: unknown) {
    super(
      `pipeline "${pipeline}" stopped: the deadLetter callback failed for record ${recordId} (${
        cause instanceof Error ? cause.message : String(cause)
      }); the record was not acked and will be redelivered after a restart`,
      { cause },
    );
    this.name = "DeadLetterFailedError";
    this.pipeline = pipeline;
    this.recordId = recordId;
  }
}
