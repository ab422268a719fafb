// Stage 3, write: deltas over key-hash lanes in chunks, each store call retried, rejected deltas dead-lettered.

import type { Pipeline } from "../pipeline/mod.ts";
import {
  type Delta,
  DeltaRejectedError,
  MarkConflictError,
  type MergeResult,
  type Scope,
  type StateKey,
  StoreUnavailableError,
} from "../state/mod.ts";
import { fnv1a32 } from "../internal/hash.ts";
import { retry } from "../internal/retry.ts";
import { stateKeyString } from "../internal/state_key.ts";
import {
  ExactlyOnceConflictError,
  RecordError,
  StoreFailureError,
} from "./errors.ts";
import type { ResolvedOptions } from "./options.ts";
import type { Buffer } from "./_buffer.ts";
import { contributors } from "./_contributors.ts";
import type { DeadLetters } from "./_dead_letter.ts";
import type { AnyRecord, ExactDelta } from "./_extract.ts";
import type { Counts } from "./_processor.ts";

/** Several per-record deltas of one key folded into one, with the records they carry. */
interface Range<V> {
  readonly delta: Delta<V>;
  readonly items: ExactDelta<V>[];
  readonly records: AnyRecord[];
  /** Records left out of the fold because an earlier record of the range claimed the same ids. */
  readonly duplicates: number;
}

/** The largest number of deltas handed to one store call. */
const MERGE_CHUNK = 2000;

/**
 * The most claims one joined range carries. Stores write a delta's claims in
 * one atomic write (DynamoDB: one transaction of at most 100 items), so a
 * key with more claimed records in a flush is written as several ranges.
 */
const MAX_RANGE_CLAIMS = 64;

/** Writes one pipeline's deltas to its store. */
export class Writer<V> {
  readonly #pipeline: Pipeline<unknown, V>;
  readonly #options: ResolvedOptions;
  readonly #counts: Counts;
  readonly #deadLetters: DeadLetters;
  readonly #signal: AbortSignal;

  constructor(
    pipeline: Pipeline<unknown, V>,
    options: ResolvedOptions,
    counts: Counts,
    deadLetters: DeadLetters,
    signal: AbortSignal,
  ) {
    this.#pipeline = pipeline;
    this.#options = options;
    this.#counts = counts;
    this.#deadLetters = deadLetters;
    this.#signal = signal;
  }

  /**
   * Writes per-record deltas, then the folded ones. The per-record deltas of
   * one key are first sent folded into one range (its marks and claims
   * joined): after a crash a key's redelivered records were usually applied
   * all or none, which the store decides in one call. A range the store
   * finds partly applied is split in halves, the first half written before
   * the second, so a key's marks only ever move forward and recovery costs
   * a few calls per key instead of one per record.
   */
  async write(
    exact: readonly ExactDelta<V>[],
    folded: Delta<V>[],
    buffer: Buffer<unknown>,
  ): Promise<void> {
    if (exact.length > 0) {
      const queues = new Map<string, ExactDelta<V>[][]>();
      // Claims in the last group of each key, to start a new group at the cap.
      const tailClaims = new Map<string, number>();
      for (const e of exact) {
        const k = stateKeyString(e.delta.key);
        const claims = e.delta.claims?.length ?? 0;
        const queue = queues.get(k);
        const held = tailClaims.get(k) ?? 0;
        if (queue === undefined || held + claims > MAX_RANGE_CLAIMS) {
          if (queue === undefined) queues.set(k, [[e]]);
          else queue.push([e]);
          tailClaims.set(k, claims);
        } else {
          queue[queue.length - 1]!.push(e);
          tailClaims.set(k, held + claims);
        }
      }
      while (queues.size > 0) {
        const keys = [...queues.keys()];
        const heads = keys.map((k) => this.#range(queues.get(k)![0]!));
        const conflicted = new Set(
          await this.#round(heads.map((h) => h.delta), buffer, heads),
        );
        keys.forEach((k, i) => {
          const queue = queues.get(k)!;
          const head = queue.shift()!;
          if (conflicted.has(heads[i]!)) {
            const half = Math.ceil(head.length / 2);
            queue.unshift(head.slice(0, half), head.slice(half));
          }
          if (queue.length === 0) queues.delete(k);
        });
      }
    }
    if (folded.length > 0) await this.#round(folded, buffer, null);
  }

  /**
   * One key's per-record deltas as one delta: values folded, marks and claims
   * joined. A record whose ids an earlier record of the range already claims
   * is a redelivery inside the batch: it is acked with the range but not
   * folded, and the joined claims name each id once.
   */
  #range(items: ExactDelta<V>[]): Range<V> {
    if (items.length === 1) {
      return {
        delta: items[0]!.delta,
        items,
        records: [items[0]!.record],
        duplicates: 0,
      };
    }
    const marks = new Map<string, { from: bigint; to: bigint }>();
    const claims = new Set<string>();
    const values: V[] = [];
    let duplicates = 0;
    for (const { delta } of items) {
      const ids = delta.claims;
      if (ids !== undefined && ids.length > 0) {
        if (ids.every((id) => claims.has(id))) {
          duplicates++;
          continue;
        }
        for (const id of ids) claims.add(id);
      }
      values.push(delta.value);
      for (const m of delta.marks ?? []) {
        const seen = marks.get(m.stream);
        if (seen === undefined) marks.set(m.stream, { from: m.from, to: m.to });
        else {
          if (m.from < seen.from) seen.from = m.from;
          if (m.to > seen.to) seen.to = m.to;
        }
      }
    }
    const first = items[0]!.delta;
    const delta: Delta<V> = {
      key: first.key,
      value: this.#pipeline.monoid.combineAll(values),
      ...(first.expiresAt === undefined ? {} : { expiresAt: first.expiresAt }),
      ...(marks.size === 0 ? {} : {
        marks: [...marks].map(([stream, { from, to }]) => ({
          stream,
          from,
          to,
        })),
      }),
      ...(claims.size === 0 ? {} : { claims: [...claims] }),
    };
    return {
      delta,
      items,
      records: items.map((i) => i.record),
      duplicates,
    };
  }

  /** Writes progress intents (or any small write to another scope) with retries. */
  async writeScope<T>(scope: Scope<T>, deltas: Delta<T>[]): Promise<void> {
    await this.call(
      () =>
        this.#pipeline.store.merge(scope, deltas, {
          signal: this.#signal,
          claimTtl: this.#options.claimTtl,
        }),
      deltas.length,
    );
  }

  /** Writes deltas with distinct keys: partitioned by key hash over `concurrency` lanes. */
  async #round(
    deltas: Delta<V>[],
    buffer: Buffer<unknown>,
    exact: Range<V>[] | null,
  ): Promise<Range<V>[]> {
    const lanes = Math.min(
      this.#options.concurrency,
      Math.ceil(deltas.length / 64),
    );
    if (lanes <= 1) return await this.#chunks(deltas, exact, buffer);
    const parts: { deltas: Delta<V>[]; exact: Range<V>[] | null }[] = Array
      .from(
        { length: lanes },
        () => ({ deltas: [], exact: exact === null ? null : [] }),
      );
    deltas.forEach((d, i) => {
      const part = parts[fnv1a32(d.key.entity) % lanes]!;
      part.deltas.push(d);
      part.exact?.push(exact![i]!);
    });
    const results = await Promise.allSettled(
      parts.map((part) => this.#chunks(part.deltas, part.exact, buffer)),
    );
    const conflicted: Range<V>[] = [];
    for (const r of results) {
      if (r.status === "rejected") throw r.reason;
      conflicted.push(...r.value);
    }
    return conflicted;
  }

  async #chunks(
    deltas: Delta<V>[],
    exact: Range<V>[] | null,
    buffer: Buffer<unknown>,
  ): Promise<Range<V>[]> {
    const conflicted: Range<V>[] = [];
    for (let i = 0; i < deltas.length; i += MERGE_CHUNK) {
      conflicted.push(
        ...await this.#chunk(
          deltas.slice(i, i + MERGE_CHUNK),
          exact?.slice(i, i + MERGE_CHUNK) ?? null,
          buffer,
        ),
      );
    }
    return conflicted;
  }

  /**
   * One store call with retries; a delta the store rejects for good is
   * dead-lettered and the rest sent again. When a range of several records
   * is found partly applied, every range of several records in the call is
   * set aside (returned, to be split) and the single records sent again:
   * marks make the deltas applied before the conflict skip.
   */
  async #chunk(
    deltas: Delta<V>[],
    exact: Range<V>[] | null,
    buffer: Buffer<unknown>,
  ): Promise<Range<V>[]> {
    const { store, scope } = this.#pipeline;
    let pending = deltas;
    let pendingExact = exact;
    const conflicted: Range<V>[] = [];
    while (pending.length > 0) {
      const batch = pending;
      let result: MergeResult;
      try {
        result = await this.call(
          () =>
            store.merge(scope, batch, {
              signal: this.#signal,
              claimTtl: this.#options.claimTtl,
            }),
          batch.length,
        );
      } catch (error) {
        const conflict = pendingExact === null
          ? -1
          : this.#conflictAt(error, pending, pendingExact);
        if (conflict >= 0) {
          // The store stops at the first conflict, so each would cost a call:
          // split every range of several records at once (a few levels of
          // halving in all) and send the single records again now.
          const singles: Delta<V>[] = [];
          const singleRanges: Range<V>[] = [];
          pendingExact!.forEach((range, i) => {
            if (range.items.length > 1) conflicted.push(range);
            else {
              singles.push(pending[i]!);
              singleRanges.push(range);
            }
          });
          pending = singles;
          pendingExact = singleRanges;
          continue;
        }
        if (!(error instanceof DeltaRejectedError)) throw error;
        const index = error.index;
        const rejectedRange = pendingExact?.[index];
        if (rejectedRange !== undefined && rejectedRange.items.length > 1) {
          // A joined range may be refused for its size alone (too many
          // claims for one atomic write): split it rather than dead-letter
          // records the store could take one by one.
          conflicted.push(rejectedRange);
          pending = pending.filter((_, i) => i !== index);
          pendingExact = pendingExact!.filter((_, i) => i !== index);
          continue;
        }
        const gone = pending[index];
        if (gone === undefined) {
          throw new StoreFailureError(
            this.#pipeline.name,
            store.name,
            1,
            error,
          );
        }
        await this.#reject(gone, pendingExact?.[index] ?? null, buffer, error);
        pending = pending.filter((_, i) => i !== index);
        pendingExact = pendingExact?.filter((_, i) => i !== index) ?? null;
        continue;
      }
      // A skipped range skips each record's delta it folds; an applied one
      // skipped the in-batch redeliveries it left out of its fold.
      const skippedAt = new Set(result.skipped);
      let skipped = 0;
      pendingExact?.forEach((range, i) => {
        skipped += skippedAt.has(i) ? range.items.length : range.duplicates;
      });
      if (pendingExact === null) skipped = result.skipped.length;
      if (skipped > 0) {
        this.#counts.dedupSkips += skipped;
        this.#options.metrics.dedupSkipped(this.#pipeline.name, skipped);
      }
      break;
    }
    return conflicted;
  }

  /** The index of the multi-record range a mark conflict names, or -1 (a real conflict). */
  #conflictAt(
    error: unknown,
    pending: readonly Delta<V>[],
    ranges: readonly Range<V>[],
  ): number {
    if (!(error instanceof ExactlyOnceConflictError)) return -1;
    const cause = error.cause;
    if (!(cause instanceof MarkConflictError)) return -1;
    const k = stateKeyString(cause.key);
    const index = pending.findIndex((d) => stateKeyString(d.key) === k);
    return index >= 0 && ranges[index]!.items.length > 1 ? index : -1;
  }

  /** Dead-letters the records folded into a delta the store refuses for good. */
  async #reject(
    delta: Delta<V>,
    exact: Range<V> | null,
    buffer: Buffer<unknown>,
    cause: DeltaRejectedError,
  ): Promise<void> {
    const records: AnyRecord[] = exact !== null
      ? exact.records
      : contributors(this.#pipeline, delta.key as StateKey, buffer);
    const name = this.#pipeline.name;
    const dead = records
      .filter((record) => !buffer.rejected.has(record))
      .map((record) => {
        buffer.rejected.add(record);
        return {
          record,
          error: new RecordError("store", name, record.id, cause),
        };
      });
    await this.#deadLetters.send(dead);
  }

  /**
   * Runs a store call under the one retry policy: full-jitter backoff,
   * `maxAttempts` in all, then {@linkcode StoreFailureError}. A rejected
   * delta and a mark conflict are never retried.
   */
  async call<T>(call: () => Promise<T>, deltas: number | "read"): Promise<T> {
    const { maxAttempts, retryBase, retryMax, metrics } = this.#options;
    const name = this.#pipeline.name;
    const store = this.#pipeline.store;
    let started = 0;
    try {
      const result = await retry(
        () => {
          started = performance.now();
          return call();
        },
        {
          policy: { maxAttempts, baseDelayMs: retryBase, maxDelayMs: retryMax },
          signal: this.#signal,
          // A store that retried on its own (StoreUnavailableError) already
          // spent its attempts: retrying the call again would stack them.
          retryable: (error) =>
            !(error instanceof DeltaRejectedError) &&
            !(error instanceof MarkConflictError) &&
            !(error instanceof StoreUnavailableError),
          onFailure: (error, attempt) => {
            metrics.error(name, error);
            if (attempt < maxAttempts && !this.#signal.aborted) {
              metrics.retried(name);
            }
          },
          exhausted: (error, attempts) =>
            new StoreFailureError(name, store.name, attempts, error),
        },
      );
      if (deltas !== "read") {
        this.#counts.merges++;
        metrics.merged(name, deltas, performance.now() - started);
      }
      return result;
    } catch (error) {
      if (error instanceof MarkConflictError) {
        throw new ExactlyOnceConflictError(name, error);
      }
      if (
        error instanceof DeltaRejectedError ||
        error instanceof StoreFailureError
      ) throw error;
      if (error instanceof StoreUnavailableError) {
        metrics.error(name, error);
        throw new StoreFailureError(name, store.name, error.attempts, error);
      }
      // Aborted (failure elsewhere or the shutdown deadline) while waiting.
      throw new StoreFailureError(name, store.name, 1, error);
    }
  }
}
