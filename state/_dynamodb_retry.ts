// How DynamoDB errors are classified: transient (retry), permanent for one delta (reject it), and what to advise when retries run out.

const THROTTLING_NAMES = new Set([
  "ThrottlingException",
  "ProvisionedThroughputExceededException",
  "RequestLimitExceeded",
]);

const TRANSIENT_NAMES = new Set([
  ...THROTTLING_NAMES,
  "InternalServerError",
  "InternalFailure",
  "ServiceUnavailable",
  "ServiceUnavailableException",
  "TransactionInProgressException",
  "TransactionConflictException",
  "TimeoutError",
  "RequestTimeout",
  "RequestTimeoutException",
]);

const TRANSIENT_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);

/** Whether an error from the SDK is worth retrying: throttling, 5xx, network. */
export function isTransient(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const e = error as {
    name?: unknown;
    code?: unknown;
    $retryable?: unknown;
    $metadata?: { httpStatusCode?: unknown };
    cause?: unknown;
  };
  if (typeof e.name === "string" && TRANSIENT_NAMES.has(e.name)) return true;
  if (typeof e.code === "string" && TRANSIENT_CODES.has(e.code)) return true;
  if (e.$retryable !== undefined && e.$retryable !== null) return true;
  const status = e.$metadata?.httpStatusCode;
  if (typeof status === "number" && status >= 500) return true;
  if (e.name === "TypeError" && e.cause !== undefined) {
    return isTransient(e.cause);
  }
  return false;
}

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  cause?: unknown;
}

/** The network error code (`ECONNREFUSED`, ...) of an error or its causes, if any. */
function networkCode(error: unknown, depth = 0): string | undefined {
  if (typeof error !== "object" || error === null || depth > 4) {
    return undefined;
  }
  const e = error as ErrorLike;
  if (typeof e.code === "string" && TRANSIENT_CODES.has(e.code)) return e.code;
  return networkCode(e.cause, depth + 1);
}

/**
 * What an operator should do when retries of `error` ran out: the advice
 * fits the cause (a refused connection is not a capacity problem).
 *
 * @param error The last error.
 * @returns A sentence of advice.
 */
export function unavailableAdvice(error: unknown): string {
  const code = networkCode(error);
  if (code !== undefined) {
    return `${code}: is DynamoDB running and reachable at the client's endpoint? Check the endpoint, region and network (for DynamoDB Local, start it, e.g. \`deno task stack:up\`), then restart`;
  }
  const name = (error as ErrorLike | null)?.name;
  if (typeof name === "string" && THROTTLING_NAMES.has(name)) {
    return "the table is throttled: raise its capacity (or use on-demand) or lower the worker's concurrency, then restart";
  }
  return "DynamoDB kept failing: check its health and the cause, then restart";
}

/** Validation messages that mean the table, not the delta, is wrong: every delta would fail. */
const TABLE_PROBLEMS = [
  /key element does not match the schema/i,
  /missing the key/i,
  /ExpressionAttribute/i,
  /Invalid UpdateExpression/i,
  /Invalid ConditionExpression/i,
  /Invalid ProjectionExpression/i,
];

/**
 * Why DynamoDB refused one write for good, or `undefined` when the error is
 * not such a refusal. A `ValidationException` about the request's data (a
 * key over 2 048 / 1 024 bytes, an item over 400 KB, a number out of
 * range) fails the same on every retry, so the store rejects the delta
 * instead; one about the table's schema or the store's own expressions is
 * not the delta's fault and stays an error.
 *
 * @param error An error from the SDK.
 * @returns The reason, or `undefined`.
 */
export function permanentRefusal(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const e = error as ErrorLike;
  if (e.name !== "ValidationException") return undefined;
  const message = typeof e.message === "string" ? e.message : "";
  if (TABLE_PROBLEMS.some((pattern) => pattern.test(message))) {
    return undefined;
  }
  return `DynamoDB refused it: ValidationException: ${message}`;
}

/** The `name` of an SDK error, if it has one. */
export function errorName(error: unknown): string | undefined {
  return typeof error === "object" && error !== null &&
      typeof (error as { name?: unknown }).name === "string"
    ? (error as { name: string }).name
    : undefined;
}
