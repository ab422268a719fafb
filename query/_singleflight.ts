// Coalesces identical concurrent reads: one runs, every caller gets its result.

/** The outcome of {@linkcode Singleflight.run}. */
export interface Flight<T> {
  /** The result of the one shared call. */
  readonly value: T;
  /** True when this caller joined a call another caller started. */
  readonly shared: boolean;
}

/**
 * Runs at most one call per key at a time; callers with the same key while it
 * is in flight share its result.
 *
 * The shared call never runs under any caller's abort signal, so one caller
 * giving up (a cancelled request) does not fail the others; a caller that
 * passes a signal only stops waiting.
 */
export class Singleflight<T> {
  #inflight = new Map<string, Promise<T>>();

  /** How many distinct calls are in flight. */
  get size(): number {
    return this.#inflight.size;
  }

  /**
   * Runs `call` for `key`, or joins the call already in flight for it.
   *
   * @param key The coalescing key; callers build it so distinct reads never collide.
   * @param call Starts the shared work.
   * @param signal Stops this caller waiting (the shared work goes on).
   * @returns The shared result and whether it was joined.
   */
  async run(
    key: string,
    call: () => Promise<T>,
    signal?: AbortSignal,
  ): Promise<Flight<T>> {
    signal?.throwIfAborted();
    const existing = this.#inflight.get(key);
    if (existing !== undefined) {
      return { value: await abortable(existing, signal), shared: true };
    }
    const started = (async () => {
      try {
        return await call();
      } finally {
        this.#inflight.delete(key);
      }
    })();
    this.#inflight.set(key, started);
    return { value: await abortable(started, signal), shared: false };
  }
}

/** Waits for `promise` unless `signal` aborts first. */
function abortable<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (signal === undefined) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
