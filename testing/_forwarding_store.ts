// Private: a Store that forwards every call to another, for test wrappers to extend and override one call.

import type {
  Delta,
  MergeOptions,
  MergeResult,
  ReadOptions,
  Scope,
  StateKey,
  Store,
  StoreLimits,
} from "../state/mod.ts";

/**
 * Forwards every call (and the limits) to `inner`. Test wrappers extend it
 * and override only the call they instrument (a gate, a chunked merge, an
 * injected failure), so the plain forwarding lives here once.
 */
export class ForwardingStore implements Store {
  /** The wrapped store's name. */
  readonly name: string;

  /** @param inner The wrapped store. */
  constructor(readonly inner: Store) {
    this.name = inner.name;
  }

  /** The wrapped store's limits. */
  get limits(): StoreLimits | undefined {
    return this.inner.limits;
  }

  get<V>(scope: Scope<V>, key: StateKey): Promise<V | undefined> {
    return this.inner.get(scope, key);
  }

  getMany<V>(
    scope: Scope<V>,
    keys: readonly StateKey[],
    options?: ReadOptions,
  ): Promise<(V | undefined)[]> {
    return this.inner.getMany(scope, keys, options);
  }

  merge<V>(
    scope: Scope<V>,
    deltas: readonly Delta<V>[],
    options?: MergeOptions,
  ): Promise<MergeResult> {
    return this.inner.merge(scope, deltas, options);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
