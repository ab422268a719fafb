// Private async helpers shared by the whole package: one abortable delay, one bounded-parallel loop.

/**
 * Resolves after `ms` milliseconds, or rejects with the signal's reason as
 * soon as it aborts (at once when it is aborted already). The timer is
 * cleared on abort, so nothing keeps the process alive.
 *
 * @param ms How long to wait, in ms (negative counts as 0).
 * @param signal Aborts the wait.
 * @returns A promise that resolves after the delay.
 */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, Math.max(0, ms));
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Runs `task` for every item with at most `limit` in flight. After the first
 * failure no new task starts; the first error is thrown once the running
 * ones settle, so nothing keeps writing behind the caller's back. An aborted
 * signal stops new tasks the same way (its reason is the error).
 *
 * @param items The items, each handed to `task` once.
 * @param limit The most tasks in flight at once (at least 1).
 * @param task The work for one item; gets the item and its index.
 * @param signal Stops starting new tasks when it aborts.
 * @returns A promise that resolves when every task has.
 */
export async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      const index = next++;
      try {
        signal?.throwIfAborted();
        await task(items[index]!, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  const workers = [];
  const width = Math.min(Math.max(1, Math.floor(limit)), items.length);
  for (let i = 0; i < width; i++) workers.push(worker());
  await Promise.all(workers);
  if (failure !== undefined) throw failure.error;
}
