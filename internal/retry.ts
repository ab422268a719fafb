// The one retry policy of the package: full-jitter exponential backoff with a bounded number of attempts.
//
// Which layer retries what (so retries never stack): a store retries only
// what its own protocol makes transient inside one call (DynamoDB's
// throttling and unprocessed keys, a lost Deno KV compare-and-set); the
// runtime retries a whole store call that failed with any other
// non-permanent error. Permanent errors (DeltaRejectedError, validation)
// are never retried by anyone.

import { delay } from "./async.ts";

/** How often and how long to wait between attempts. */
export interface RetryPolicy {
  /** Attempts in all, the first included (at least 1). */
  readonly maxAttempts: number;
  /** The delay ceiling before the second attempt, in ms. */
  readonly baseDelayMs: number;
  /** The largest delay ceiling, in ms. */
  readonly maxDelayMs: number;
}

/**
 * The delay before retry number `retry + 1` (0 for the first retry), with
 * full jitter: uniform in `[0, min(maxDelayMs, baseDelayMs · 2^retry))`.
 *
 * @param policy The policy.
 * @param retry How many retries were made already.
 * @param random A source of floats in `[0, 1)`; default `Math.random`.
 * @returns The delay in ms.
 */
export function backoff(
  policy: Pick<RetryPolicy, "baseDelayMs" | "maxDelayMs">,
  retry: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(
    policy.maxDelayMs,
    policy.baseDelayMs * 2 ** Math.min(Math.max(0, retry), 30),
  );
  return random() * ceiling;
}

/** Options of {@linkcode retry}. */
export interface RetryOptions {
  /** How often and how long. */
  readonly policy: RetryPolicy;
  /** Aborts the wait between attempts; the abort reason is thrown. */
  readonly signal?: AbortSignal | undefined;
  /** Whether an error is worth another attempt. Default: every error is. */
  readonly retryable?: ((error: unknown) => boolean) | undefined;
  /** Called after each retryable failure, before waiting (`attempt` counts from 1). */
  readonly onFailure?:
    | ((error: unknown, attempt: number) => void)
    | undefined;
  /** The error to throw once attempts run out. Default: the last error. */
  readonly exhausted?:
    | ((error: unknown, attempts: number) => unknown)
    | undefined;
}

/**
 * Calls `call` until it succeeds, a non-retryable error comes (thrown as it
 * is), the attempts run out (`exhausted`'s error is thrown) or the signal
 * aborts (its reason is thrown).
 *
 * @param call The work; gets the attempt number, from 1.
 * @param options The policy and hooks.
 * @returns What `call` returned.
 */
export async function retry<T>(
  call: (attempt: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const { policy, signal } = options;
  for (let attempt = 1;; attempt++) {
    signal?.throwIfAborted();
    try {
      return await call(attempt);
    } catch (error) {
      signal?.throwIfAborted();
      if (options.retryable !== undefined && !options.retryable(error)) {
        throw error;
      }
      options.onFailure?.(error, attempt);
      if (attempt >= policy.maxAttempts) {
        throw options.exhausted === undefined
          ? error
          : options.exhausted(error, attempt);
      }
      await delay(backoff(policy, attempt - 1), signal);
    }
  }
}
