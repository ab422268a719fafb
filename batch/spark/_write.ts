// Writes a backfill's deltas to the store: bounded batches, a few merges in flight, rejected deltas set aside with their reason.

import {
  type Delta,
  DeltaRejectedError,
  type Scope,
  type Store,
} from "../../state/store.ts";

/** A delta the store refused for good, with the reason. */
export interface RejectedKey {
  /** The entity. */
  readonly entity: string | null;
  /** The bucket start in epoch ms, or `null`. */
  readonly bucket: number | null;
  /** Why it was not written. */
  readonly reason: string;
}

/** Counters of a {@linkcode DeltaWriter}. */
export interface WriteCounts {
  /** Deltas applied. */
  applied: number;
  /** Deltas skipped because an earlier run of the same job wrote them. */
  skipped: number;
}

/** Batches deltas into `store.merge` calls with at most `concurrency` in flight. */
export class DeltaWriter<V> {
  readonly counts: WriteCounts = { applied: 0, skipped: 0 };
  readonly rejected: RejectedKey[] = [];
  readonly #store: Store;
  readonly #scope: Scope<V>;
  readonly #batch: number;
  readonly #concurrency: number;
  readonly #signal: AbortSignal | undefined;
  readonly #inFlight = new Set<Promise<void>>();
  #pending: Delta<V>[] = [];
  #failure: unknown;

  constructor(
    store: Store,
    scope: Scope<V>,
    options: { batch: number; concurrency: number; signal?: AbortSignal },
  ) {
    this.#store = store;
    this.#scope = scope;
    this.#batch = options.batch;
    this.#concurrency = options.concurrency;
    this.#signal = options.signal;
  }

  /** Queues one delta; waits when the store is behind. */
  async push(delta: Delta<V>): Promise<void> {
    this.#pending.push(delta);
    if (this.#pending.length >= this.#batch) await this.#flush();
  }

  /** Writes what is queued and waits for every merge. */
  async drain(): Promise<void> {
    await this.#flush();
    await Promise.all(this.#inFlight);
    if (this.#failure !== undefined) throw this.#failure;
  }

  async #flush(): Promise<void> {
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#pending.length === 0) return;
    const deltas = this.#pending;
    this.#pending = [];
    if (this.#inFlight.size >= this.#concurrency) {
      await Promise.race(this.#inFlight);
      if (this.#failure !== undefined) throw this.#failure;
    }
    const task: Promise<void> = this.#merge(deltas).catch((error) => {
      this.#failure ??= error;
    }).finally(() => this.#inFlight.delete(task));
    this.#inFlight.add(task);
  }

  /** Merges, setting aside deltas the store rejects for good and retrying the rest. */
  async #merge(deltas: readonly Delta<V>[]): Promise<void> {
    let rest = deltas;
    while (rest.length > 0) {
      this.#signal?.throwIfAborted();
      try {
        const result = await this.#store.merge(
          this.#scope,
          rest,
          this.#signal ? { signal: this.#signal } : {},
        );
        this.counts.applied += result.applied;
        this.counts.skipped += result.skipped.length;
        return;
      } catch (error) {
        if (!(error instanceof DeltaRejectedError)) throw error;
        const bad = rest[error.index];
        if (bad === undefined) throw error;
        this.rejected.push({
          entity: bad.key.entity,
          bucket: bad.key.bucket,
          reason: error.message,
        });
        // Nothing of the call was applied: merge the others again.
        rest = rest.filter((_, i) => i !== error.index);
      }
    }
  }
}
