// The in-process store: exact, fast, for tests, the demo and single-process runs.

import {
  DEFAULT_CLAIM_TTL_MS,
  type Delta,
  type MergeOptions,
  type MergeResult,
  type Scope,
  type StateKey,
  type Store,
  type StoreLimits,
  type StreamMark,
} from "./store.ts";
import { checkDeltaEntities, checkReadEntities } from "./_limits.ts";
import { admits } from "./_marks.ts";

/**
 * An entry's exactly-once marks, packed: most entries see one or a few
 * streams, and a `Map` of stream → bigint per entry cost about 250 bytes for
 * four streams (the bulk of a dedup-on run's heap). So the store interns each
 * stream name to a small number and keeps `[stream, position, stream,
 * position, …]` in one exact-size array; a position is a number when it is a
 * safe integer (a Kafka offset nearly always), a bigint otherwise. Past
 * {@linkcode PACKED_STREAMS} streams the entry switches to a `Map` of the same
 * interned numbers, so a lookup never scans a long array.
 */
type Marks = (number | bigint)[] | Map<number, number | bigint>;

/** The most streams an entry keeps in its packed array before it switches to a `Map`. */
const PACKED_STREAMS = 8;

const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** A position as a number when that is exact, else the bigint itself. */
function packed(position: bigint): number | bigint {
  return position >= MIN_SAFE && position <= MAX_SAFE
    ? Number(position)
    : position;
}

/** The position remembered for an interned stream, as stored (number or bigint). */
function positionOf(
  marks: Marks,
  stream: number,
): number | bigint | undefined {
  if (marks instanceof Map) return marks.get(stream);
  for (let i = 0; i < marks.length; i += 2) {
    if (marks[i] === stream) return marks[i + 1];
  }
  return undefined;
}

interface Entry {
  value: unknown;
  expiresAt: number | undefined;
  marks: Marks | undefined;
  claims: Map<string, number> | undefined;
}

/** Options for {@linkcode MemoryStore}. */
export interface MemoryStoreOptions {
  /** The clock used for expiry, in epoch ms. Default: `Date.now`. */
  readonly now?: () => number;
  /** The store's {@linkcode Store.name}. Default: `"memory"`. */
  readonly name?: string;
  /**
   * The longest entity in UTF-8 bytes. Default: 4 096. Memory has no real
   * limit; this bound keeps hostile keys from growing the heap. Durable
   * stores hold less (Deno KV about 1 770 bytes, DynamoDB about 1 900): set
   * theirs to test a pipeline as it will run there.
   */
  readonly maxEntityBytes?: number;
}

/**
 * A {@linkcode Store} that keeps everything in process memory.
 *
 * Every merge is applied synchronously, so concurrent merges never lose an
 * update; marks, claims and expiry behave as on a durable backend (expired
 * entries read as absent). Values are folded with the scope's monoid and read
 * back as fresh copies, so callers may not mutate the store's state through
 * them.
 *
 * @example Usage
 * ```ts
 * import { MemoryStore } from "@murmur/core/state";
 * import { sum } from "@murmur/core/monoid";
 * import assert from "node:assert/strict";
 *
 * const store = new MemoryStore();
 * const scope = { namespace: "clicks", monoid: sum() };
 * const key = { entity: "post:1", bucket: null };
 * await store.merge(scope, [{ key, value: 2 }, { key, value: 3 }]);
 * assert.equal(await store.get(scope, key), 5);
 * ```
 */
export class MemoryStore implements Store {
  /** The store's description. */
  readonly name: string;
  /** The longest entity it holds; see {@linkcode MemoryStoreOptions.maxEntityBytes}. */
  readonly limits: StoreLimits;
  #now: () => number;
  // namespace → bucket → entity: no per-call key string (a bucket's decimal
  // text and a concatenation hashed anew for every delta cost more than the fold).
  #spaces = new Map<string, Map<number | null, Map<string, Entry>>>();
  // stream name → its small number in packed marks (see Marks).
  #streams = new Map<string, number>();
  #closed = false;

  /**
   * Creates an empty store.
   *
   * @param options The clock and name; see {@linkcode MemoryStoreOptions}.
   */
  constructor(options: MemoryStoreOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.name = options.name ?? "memory";
    this.limits = { maxEntityBytes: options.maxEntityBytes ?? 4096 };
  }

  #space(namespace: string): Map<number | null, Map<string, Entry>> {
    let space = this.#spaces.get(namespace);
    if (space === undefined) {
      space = new Map();
      this.#spaces.set(namespace, space);
    }
    return space;
  }

  #live(
    space: Map<number | null, Map<string, Entry>> | undefined,
    key: StateKey,
    now: number,
  ): Entry | undefined {
    return this.#liveIn(space, space?.get(key.bucket), key, now);
  }

  /**
   * {@linkcode #live} with the key's bucket map already looked up: an
   * expired entry is deleted, and so is its bucket map once empty.
   */
  #liveIn(
    space: Map<number | null, Map<string, Entry>> | undefined,
    slots: Map<string, Entry> | undefined,
    key: StateKey,
    now: number,
  ): Entry | undefined {
    const entry = slots?.get(key.entity);
    if (entry === undefined) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= now) {
      slots!.delete(key.entity);
      if (slots!.size === 0) space!.delete(key.bucket);
      return undefined;
    }
    return entry;
  }

  /** The position an entry remembers for a stream, or `undefined`. */
  #remembered(
    marks: Marks | undefined,
    stream: string,
  ): number | bigint | undefined {
    if (marks === undefined) return undefined;
    const id = this.#streams.get(stream);
    return id === undefined ? undefined : positionOf(marks, id);
  }

  /** Raises each stream's remembered position to the mark's `to` (an applied delta's marks). */
  #remember(entry: Entry, marks: readonly StreamMark[]): void {
    for (const mark of marks) {
      let id = this.#streams.get(mark.stream);
      if (id === undefined) {
        id = this.#streams.size;
        this.#streams.set(mark.stream, id);
      }
      const list = entry.marks;
      if (list === undefined) {
        entry.marks = [id, packed(mark.to)];
        continue;
      }
      if (list instanceof Map) {
        const at = list.get(id);
        if (at === undefined || mark.to > at) list.set(id, packed(mark.to));
        continue;
      }
      let i = 0;
      while (i < list.length && list[i] !== id) i += 2;
      if (i < list.length) {
        if (mark.to > list[i + 1]!) list[i + 1] = packed(mark.to);
      } else if (list.length < PACKED_STREAMS * 2) {
        // An exact-size copy: push() would grow the array's store by half plus 16 slots.
        const grown = new Array<number | bigint>(list.length + 2);
        for (let j = 0; j < list.length; j++) grown[j] = list[j]!;
        grown[list.length] = id;
        grown[list.length + 1] = packed(mark.to);
        entry.marks = grown;
      } else {
        const map = new Map<number, number | bigint>();
        for (let j = 0; j < list.length; j += 2) {
          map.set(list[j] as number, list[j + 1]!);
        }
        map.set(id, packed(mark.to));
        entry.marks = map;
      }
    }
  }

  #check(): void {
    if (this.#closed) {
      throw new Error(
        `store "${this.name}" is closed: create a new MemoryStore`,
      );
    }
  }

  /**
   * Reads one value.
   *
   * @typeParam V The value type.
   * @param scope The scope to read from.
   * @param key The key to read.
   * @returns A copy of the value, or `undefined` when absent or expired.
   */
  get<V>(scope: Scope<V>, key: StateKey): Promise<V | undefined> {
    try {
      this.#check();
      checkReadEntities(this, scope.namespace, [key]);
    } catch (error) {
      return Promise.reject(error);
    }
    const entry = this.#live(
      this.#spaces.get(scope.namespace),
      key,
      this.#now(),
    );
    return Promise.resolve(
      entry === undefined
        ? undefined
        : scope.monoid.combine(scope.monoid.identity(), entry.value as V),
    );
  }

  /**
   * Reads many values in the order of `keys` (duplicates answered each time).
   *
   * @typeParam V The value type.
   * @param scope The scope to read from.
   * @param keys The keys to read.
   * @returns One value or `undefined` per key.
   */
  getMany<V>(
    scope: Scope<V>,
    keys: readonly StateKey[],
  ): Promise<(V | undefined)[]> {
    try {
      this.#check();
      checkReadEntities(this, scope.namespace, keys);
    } catch (error) {
      return Promise.reject(error);
    }
    const space = this.#spaces.get(scope.namespace);
    const now = this.#now();
    const { monoid } = scope;
    return Promise.resolve(keys.map((key) => {
      const entry = this.#live(space, key, now);
      return entry === undefined
        ? undefined
        : monoid.combine(monoid.identity(), entry.value as V);
    }));
  }

  /**
   * Folds deltas into stored values, in order, each atomically with its marks and claims.
   *
   * @typeParam V The value type.
   * @param scope The scope to write to.
   * @param deltas The changes to fold in.
   * @param options Abort signal and claim retention.
   * @returns How many deltas were applied and which were skipped as already applied.
   * @throws {MarkConflictError} When a delta's marks or claims were partly applied already; deltas before it stay applied.
   */
  merge<V>(
    scope: Scope<V>,
    deltas: readonly Delta<V>[],
    options: MergeOptions = {},
  ): Promise<MergeResult> {
    try {
      this.#check();
      options.signal?.throwIfAborted();
      checkDeltaEntities(this, scope.namespace, deltas);
      const space = this.#space(scope.namespace);
      const { monoid } = scope;
      const now = this.#now();
      const claimTtl = options.claimTtl ?? DEFAULT_CLAIM_TTL_MS;
      let applied = 0;
      const skipped: number[] = [];
      // Consecutive deltas mostly share a bucket: one bucket lookup per run of them.
      let runBucket: number | null | undefined = undefined;
      let runSlots: Map<string, Entry> | undefined = undefined;
      for (let i = 0; i < deltas.length; i++) {
        const delta = deltas[i]!;
        const { entity, bucket } = delta.key;
        if (bucket !== runBucket) {
          runBucket = bucket;
          runSlots = space.get(bucket);
        }
        let entry = this.#liveIn(space, runSlots, delta.key, now);
        // An expiry emptied the bucket map, and #liveIn dropped it from the space.
        if (runSlots?.size === 0) runSlots = undefined;
        if (delta.marks !== undefined || delta.claims !== undefined) {
          const marks = entry?.marks;
          const claims = entry?.claims;
          const held = (c: string) => {
            const until = claims?.get(c);
            return until !== undefined && until > now;
          };
          const remembered = (s: string) => this.#remembered(marks, s);
          if (!admits(scope.namespace, delta, remembered, held)) {
            skipped.push(i);
            continue;
          }
        }
        if (entry === undefined) {
          entry = {
            value: monoid.combine(monoid.identity(), delta.value),
            expiresAt: delta.expiresAt,
            marks: undefined,
            claims: undefined,
          };
          if (runSlots === undefined) {
            runSlots = new Map();
            space.set(bucket, runSlots);
          }
          runSlots.set(entity, entry);
        } else {
          entry.value = monoid.combine(entry.value as V, delta.value);
          if (delta.expiresAt !== undefined) {
            entry.expiresAt = entry.expiresAt === undefined
              ? delta.expiresAt
              : Math.max(entry.expiresAt, delta.expiresAt);
          }
        }
        if (delta.marks !== undefined) {
          this.#remember(entry, delta.marks);
        }
        if (delta.claims !== undefined && delta.claims.length > 0) {
          entry.claims ??= new Map();
          for (const [c, until] of entry.claims) {
            if (until <= now) entry.claims.delete(c);
          }
          for (const c of delta.claims) entry.claims.set(c, now + claimTtl);
        }
        applied++;
      }
      return Promise.resolve({ applied, skipped });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Counts the live entries of a namespace (for tests and diagnostics).
   *
   * @param namespace The scope's namespace.
   * @returns The number of entries not yet expired.
   *
   * @example Usage
   * ```ts
   * import { MemoryStore } from "@murmur/core/state";
   * import { sum } from "@murmur/core/monoid";
   * import assert from "node:assert/strict";
   * const store = new MemoryStore();
   * await store.merge({ namespace: "n", monoid: sum() }, [{ key: { entity: "a", bucket: null }, value: 1 }]);
   * assert.equal(store.size("n"), 1);
   * ```
   */
  size(namespace: string): number {
    const space = this.#spaces.get(namespace);
    if (space === undefined) return 0;
    return this.keys(namespace).length;
  }

  /**
   * Lists the live keys of a namespace, e.g. for a test driver or an admin view.
   *
   * @param namespace The scope's namespace.
   * @returns The keys of entries not yet expired: buckets in the order they
   * were first written, keys within a bucket in insertion order.
   *
   * @example Usage
   * ```ts
   * import { MemoryStore } from "@murmur/core/state";
   * import { sum } from "@murmur/core/monoid";
   * import assert from "node:assert/strict";
   * const store = new MemoryStore();
   * await store.merge({ namespace: "n", monoid: sum() }, [{ key: { entity: "a", bucket: 60000 }, value: 1 }]);
   * assert.deepEqual(store.keys("n"), [{ entity: "a", bucket: 60000 }]);
   * ```
   */
  keys(namespace: string): StateKey[] {
    const space = this.#spaces.get(namespace);
    if (space === undefined) return [];
    const now = this.#now();
    const out: StateKey[] = [];
    for (const [bucket, slots] of [...space]) {
      for (const entity of [...slots.keys()]) {
        const key = { entity, bucket };
        if (this.#live(space, key, now) !== undefined) out.push(key);
      }
    }
    return out;
  }

  /**
   * Drops everything; later calls throw.
   *
   * @returns A promise that resolves when closed.
   */
  close(): Promise<void> {
    this.#closed = true;
    this.#spaces.clear();
    this.#streams.clear();
    return Promise.resolve();
  }

  /**
   * Calls {@linkcode MemoryStore.close}, so `await using` releases the store.
   *
   * @returns A promise that resolves when closed.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
