// The errors a query can fail with, one class per condition a caller handles.

/**
 * Thrown when a query names a pipeline the querier does not know.
 *
 * The Connect service answers it with code `NotFound`.
 *
 * @example Usage
 * ```ts
 * import { PipelineNotFoundError } from "@murmur/core/query";
 * import assert from "node:assert/strict";
 * const error = new PipelineNotFoundError("page_veiws", ["page_views"]);
 * assert.equal(error.message, 'unknown pipeline "page_veiws" (known: "page_views")');
 * ```
 */
export class PipelineNotFoundError extends Error {
  /** The name that was asked for. */
  readonly pipeline: string;

  /**
   * Creates the error.
   *
   * @param pipeline The unknown name.
   * @param known The names that exist, listed in the message.
   */
  constructor(pipeline: string, known: readonly string[]) {
    const list = known.length === 0
      ? "none are served"
      : `known: ${known.map((name) => JSON.stringify(name)).join(", ")}`;
    super(`unknown pipeline ${JSON.stringify(pipeline)} (${list})`);
    this.name = "PipelineNotFoundError";
    this.pipeline = pipeline;
  }
}

/**
 * Thrown when a query's input is malformed or over a limit: an empty entity,
 * an inverted or enormous range, too many entities.
 *
 * The message names the limit; the Connect service answers with code
 * `InvalidArgument`.
 *
 * @example Usage
 * ```ts
 * import { InvalidQueryError } from "@murmur/core/query";
 * import assert from "node:assert/strict";
 * const error = new InvalidQueryError("entities", "2000 entities requested; at most 1000 per request");
 * assert.equal(error.field, "entities");
 * ```
 */
export class InvalidQueryError extends RangeError {
  /** The request field at fault, e.g. `"entity"`, `"endMs"`. */
  readonly field: string;

  /**
   * Creates the error.
   *
   * @param field The request field at fault.
   * @param message What was wrong and what is allowed.
   */
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = "InvalidQueryError";
    this.field = field;
  }
}

/**
 * Thrown when a query does not fit the pipeline's shape: a window or range
 * over an unwindowed pipeline, or an all-time read of a windowed one.
 *
 * The Connect service answers it with code `FailedPrecondition`.
 *
 * @example Usage
 * ```ts
 * import { WindowMismatchError } from "@murmur/core/query";
 * import assert from "node:assert/strict";
 * const error = new WindowMismatchError("totals", "is not windowed: use get() for its all-time value");
 * assert.equal(error.pipeline, "totals");
 * ```
 */
export class WindowMismatchError extends Error {
  /** The pipeline's name. */
  readonly pipeline: string;

  /**
   * Creates the error.
   *
   * @param pipeline The pipeline's name.
   * @param detail What does not fit and what to call instead.
   */
  constructor(pipeline: string, detail: string) {
    super(`pipeline ${JSON.stringify(pipeline)} ${detail}`);
    this.name = "WindowMismatchError";
    this.pipeline = pipeline;
  }
}
