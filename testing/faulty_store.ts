// A Store wrapper that fails on command, for testing retries, stops, rejections and redelivery.

import {
  type Delta,
  DeltaRejectedError,
  type MergeOptions,
  type MergeResult,
  type Scope,
  type StateKey,
  type Store,
  type StoreLimits,
} from "../state/mod.ts";

/** Options for {@linkcode FaultyStore}. */
export interface FaultyStoreOptions {
  /**
   * Rejects a delta for good (as a backend would for an oversized item):
   * return a reason to throw `DeltaRejectedError` for it, before anything of
   * the call is written.
   */
  readonly reject?: (
    namespace: string,
    delta: Delta<unknown>,
  ) => string | undefined;
}

/** One merge call as the wrapped store saw it. */
export interface MergeCall {
  /** The scope's namespace. */
  readonly namespace: string;
  /** The keys of the call's deltas, in order. */
  readonly keys: readonly StateKey[];
  /** How the call ended. */
  readonly outcome:
    | "ok"
    | "failed-before-write"
    | "failed-after-write"
    | "rejected";
}

/** Thrown by {@linkcode FaultyStore} for an injected failure. */
export class InjectedFailure extends Error {
  /**
   * Creates the error.
   *
   * @param message What failed.
   */
  constructor(message: string) {
    super(message);
    this.name = "InjectedFailure";
  }
}

/**
 * Wraps a {@linkcode Store} and fails on command: the next N merges before or
 * after they are written (an "after" failure applies the write and then
 * throws, like a lost response), every call while `down`, or a delta
 * rejected for good. It logs every merge call for assertions.
 *
 * @example Usage
 * ```ts
 * import { FaultyStore } from "@murmur/core/testing";
 * import { MemoryStore } from "@murmur/core/state";
 * import { sum } from "@murmur/core/monoid";
 * import assert from "node:assert/strict";
 *
 * const store = new FaultyStore(new MemoryStore());
 * const scope = { namespace: "n", monoid: sum() };
 * store.failNext(1, "after-write");
 * await assert.rejects(store.merge(scope, [{ key: { entity: "a", bucket: null }, value: 1 }]));
 * assert.equal(await store.get(scope, { entity: "a", bucket: null }), 1); // written anyway
 * ```
 */
export class FaultyStore implements Store {
  /** The wrapped store's name with a `faulty:` prefix. */
  readonly name: string;
  /** The wrapped store. */
  readonly inner: Store;
  /** The wrapped store's limits. */
  readonly limits: StoreLimits | undefined;
  /** When `true`, every call fails (the store is unreachable). */
  down = false;
  /** Every merge call so far. */
  readonly calls: MergeCall[] = [];
  readonly #reject: FaultyStoreOptions["reject"];
  #pending: {
    mode: "before-write" | "after-write";
    namespace: string | undefined;
  }[] = [];

  /**
   * Wraps a store.
   *
   * @param inner The store to wrap.
   * @param options Permanent rejections.
   */
  constructor(inner: Store, options: FaultyStoreOptions = {}) {
    this.inner = inner;
    this.name = `faulty:${inner.name}`;
    this.limits = inner.limits;
    this.#reject = options.reject;
  }

  /**
   * Makes the next `count` merge calls fail.
   *
   * @param count How many calls fail.
   * @param mode Fail before writing (nothing applied) or after (applied, then an error).
   * @param namespace Only calls to this namespace fail; by default any call.
   */
  failNext(
    count: number,
    mode: "before-write" | "after-write" = "before-write",
    namespace?: string,
  ): void {
    for (let i = 0; i < count; i++) this.#pending.push({ mode, namespace });
  }

  /** Merge calls that wrote something (ok or failed after the write). */
  get writes(): number {
    return this.calls.filter((c) =>
      c.outcome === "ok" || c.outcome === "failed-after-write"
    ).length;
  }

  #unreachable(what: string): InjectedFailure {
    return new InjectedFailure(`${this.name} is down (${what})`);
  }

  /** {@inheritDoc Store.get} */
  get<V>(scope: Scope<V>, key: StateKey): Promise<V | undefined> {
    if (this.down) return Promise.reject(this.#unreachable("get"));
    return this.inner.get(scope, key);
  }

  /** {@inheritDoc Store.getMany} */
  getMany<V>(
    scope: Scope<V>,
    keys: readonly StateKey[],
  ): Promise<(V | undefined)[]> {
    if (this.down) return Promise.reject(this.#unreachable("getMany"));
    return this.inner.getMany(scope, keys);
  }

  /** {@inheritDoc Store.merge} */
  async merge<V>(
    scope: Scope<V>,
    deltas: readonly Delta<V>[],
    options?: MergeOptions,
  ): Promise<MergeResult> {
    const keys = deltas.map((d) => d.key);
    const log = (outcome: MergeCall["outcome"]) =>
      this.calls.push({ namespace: scope.namespace, keys, outcome });
    if (this.down) {
      log("failed-before-write");
      throw this.#unreachable("merge");
    }
    if (this.#reject !== undefined) {
      for (let i = 0; i < deltas.length; i++) {
        const reason = this.#reject(
          scope.namespace,
          deltas[i] as Delta<unknown>,
        );
        if (reason !== undefined) {
          log("rejected");
          throw new DeltaRejectedError(
            scope.namespace,
            i,
            deltas[i]!.key,
            reason,
          );
        }
      }
    }
    const at = this.#pending.findIndex((p) =>
      p.namespace === undefined || p.namespace === scope.namespace
    );
    const mode = at < 0 ? undefined : this.#pending.splice(at, 1)[0]!.mode;
    if (mode === "before-write") {
      log("failed-before-write");
      throw new InjectedFailure(
        `${this.name}: injected failure before the write`,
      );
    }
    const result = await this.inner.merge(scope, deltas, options);
    if (mode === "after-write") {
      log("failed-after-write");
      throw new InjectedFailure(
        `${this.name}: injected failure after the write`,
      );
    }
    log("ok");
    return result;
  }

  /** {@inheritDoc Store.close} */
  close(): Promise<void> {
    return this.inner.close();
  }

  /**
   * Calls {@linkcode FaultyStore.close}, so `await using` releases the store.
   *
   * @returns A promise that resolves when closed.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
