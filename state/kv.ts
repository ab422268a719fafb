// The embedded default store on Deno KV: atomic sums for integer counters, versionstamp CAS for everything else.

import {
  DEFAULT_CLAIM_TTL_MS,
  type Delta,
  DeltaRejectedError,
  EntityRejectedError,
  type MergeOptions,
  type MergeResult,
  type Scope,
  type StateKey,
  type Store,
  type StoreLimits,
} from "./store.ts";
import { checkDeltaEntities, checkReadEntities } from "./_limits.ts";
import { packByWeight } from "../internal/pack.ts";
import {
  CLAIM_RESERVE,
  keyBytes,
  MAX_KEY_BYTES,
  NAMESPACE_RESERVE,
  partBytes,
} from "./_kv_keys.ts";
import { admits, rememberMarks } from "./_marks.ts";
import { delay, forEachLimit } from "../internal/async.ts";
import { backoff } from "../internal/retry.ts";

/** Options for {@linkcode KvStore}. */
export interface KvStoreOptions {
  /** Key prefix under which the store keeps everything. Default: `["murmur"]`. */
  readonly prefix?: Deno.KvKey;
  /** The clock for expiry, in epoch ms. Default: `Date.now`. */
  readonly now?: () => number;
  /** Compare-and-set attempts per atomic group before giving up. Default: 64. */
  readonly casAttempts?: number;
  /** Atomic commits in flight at once per merge. Default: 4. */
  readonly parallelCommits?: number;
  /** The store's {@linkcode Store.name}. Default: `"deno-kv"`. */
  readonly name?: string;
}

/** Thrown when compare-and-set kept losing to concurrent writers. */
export class KvContentionError extends Error {
  /**
   * Creates the error.
   *
   * @param namespace The scope's namespace.
   * @param attempts How many attempts were made.
   */
  constructor(namespace: string, attempts: number) {
    super(
      `deno-kv: scope "${namespace}" lost ${attempts} compare-and-set rounds in a row to concurrent writers; retry later or write hot keys through one worker`,
    );
    this.name = "KvContentionError";
  }
}

/** What the generic path keeps per entry: the value's bytes, its expiry and its marks. */
interface Envelope {
  readonly v: Uint8Array;
  readonly x: number | null;
  readonly m: Record<string, bigint> | null;
}

// Deno KV limits (denokv): 2 KiB keys, 64 KiB values, 100 checks, 1000 mutations, 800 KiB per commit, 10 keys per getMany.
const MAX_VALUE_BYTES = 65_536;
const ENVELOPE_OVERHEAD = 512;
const MAX_CHECKS = 100;
const MAX_MUTATIONS = 1000;
const MAX_COMMIT_BYTES = 800_000;
const MAX_READ = 10;
/** Jittered waits between lost compare-and-set rounds: 2 ms doubling, at most 50 ms. */
const CAS_BACKOFF = { baseDelayMs: 2, maxDelayMs: 50 };
const U64 = 1n << 64n;

function isEnvelope(value: unknown): value is Envelope {
  return typeof value === "object" && value !== null &&
    (value as Envelope).v instanceof Uint8Array;
}

/** An integer delta as a two's-complement u64, or `undefined` when it needs the generic path. */
function asU64(value: unknown, type: string): bigint | undefined {
  if (type === "number") {
    if (typeof value !== "number" || !Number.isSafeInteger(value)) {
      return undefined;
    }
    return BigInt.asUintN(64, BigInt(value));
  }
  if (typeof value !== "bigint") return undefined;
  if (value < -(1n << 63n) || value >= 1n << 63n) return undefined;
  return BigInt.asUintN(64, value);
}

interface SlowItem {
  readonly index: number;
  readonly delta: Delta<unknown>;
}

interface SlowKey {
  readonly key: StateKey;
  readonly stateKey: Deno.KvKey;
  readonly items: SlowItem[];
  claimKeys: Map<string, Deno.KvKey>;
}

interface Planned {
  readonly slot: SlowKey;
  readonly envelope: Envelope | null;
  readonly checks: Deno.AtomicCheck[];
  readonly claims: { key: Deno.KvKey; until: number }[];
  readonly skipped: number[];
  readonly applied: number;
  readonly bytes: number;
}

/**
 * A {@linkcode Store} on Deno KV, the embedded default: a local SQLite file
 * (or `":memory:"`), no service to run. Deno KV is unstable in Deno, so
 * your own `deno.json` needs `"unstable": ["kv"]` (or run with
 * `--unstable-kv`); without it `Deno.openKv` is not defined.
 *
 * Entities are limited by bytes, not characters: KV keys hold 2 048 bytes,
 * so {@linkcode KvStore.limits} allows about 1 770 UTF-8 bytes with the
 * default prefix. Longer ones are refused before any call:
 * {@linkcode DeltaRejectedError} on merge, `EntityRejectedError` on reads.
 *
 * Write paths, picked per delta from the monoid:
 * - **Atomic sum** for additive monoids (sum, count) whose delta is an
 *   integer, with no expiry, marks or claims: one `sum` mutation on a
 *   `Deno.KvU64`, no read. `KvU64` is unsigned, so integers are stored in
 *   two's complement: negative deltas work and totals must stay within
 *   ±2^63. (KV's `sum` cannot carry an expiry, hence no `expiresAt`.)
 * - **Compare-and-set** for everything else (windowed deltas with an expiry,
 *   fractions, bigints beyond 64 bits, sketches, min/max, marks and claims):
 *   read the entry's envelope (value bytes, expiry, exactly-once marks) with
 *   its versionstamp, combine, and commit with a versionstamp check, retried
 *   with jitter on conflict. Claims are keys of their own, checked and
 *   written in the same commit as the state.
 *
 * An entry's value combines both parts. Deltas are grouped into as few
 * atomic commits as KV's limits allow (100 checks, 1000 mutations, 800 KiB),
 * and every commit of a call is planned before the first is sent, so a
 * rejected delta leaves the call unapplied. Expired entries read as absent
 * (KV deletes them later through `expireIn`).
 *
 * @example Usage
 * ```ts
 * import { KvStore } from "@murmur/core/state/kv";
 * import { count } from "@murmur/core/monoid";
 * import assert from "node:assert/strict";
 *
 * const store = await KvStore.open(":memory:");
 * const scope = { namespace: "views", monoid: count() };
 * const key = { entity: "page:1", bucket: null };
 * await store.merge(scope, [{ key, value: 1 }, { key, value: 2 }]);
 * assert.equal(await store.get(scope, key), 3);
 * await store.close();
 * ```
 */
export class KvStore implements Store {
  /** The store's description. */
  readonly name: string;
  /** The underlying database. */
  readonly kv: Deno.Kv;
  /**
   * The longest entity, in UTF-8 bytes: Deno KV's 2 048-byte keys less the
   * prefix, room for a 128-byte namespace and a 128-byte claim id (about
   * 1 770 bytes with the default prefix).
   */
  readonly limits: StoreLimits;
  readonly #owned: boolean;
  readonly #prefix: Deno.KvKey;
  readonly #now: () => number;
  readonly #casAttempts: number;
  readonly #parallel: number;
  #closed = false;

  /**
   * Wraps an open database; {@linkcode KvStore.open} opens one for you.
   *
   * @param kv The database.
   * @param options Prefix, clock, CAS attempts, parallelism, name.
   * @param owned Whether {@linkcode KvStore.close} closes `kv`. Default: `false`.
   */
  constructor(kv: Deno.Kv, options: KvStoreOptions = {}, owned = false) {
    this.kv = kv;
    this.#owned = owned;
    this.#prefix = options.prefix ?? ["murmur"];
    this.#now = options.now ?? Date.now;
    this.#casAttempts = options.casAttempts ?? 64;
    this.#parallel = options.parallelCommits ?? 4;
    this.name = options.name ?? "deno-kv";
    // The longest key is a claim row: prefix, "c", namespace, entity, bucket, claim id.
    this.limits = {
      maxEntityBytes: MAX_KEY_BYTES - keyBytes(this.#prefix) - partBytes("c") -
        (2 + NAMESPACE_RESERVE) - 2 - partBytes(0) - (2 + CLAIM_RESERVE),
    };
  }

  /**
   * Opens a database and wraps it.
   *
   * @param path A file path, or `":memory:"`; omitted, Deno's default location for the script.
   * @param options Prefix, clock, CAS attempts, parallelism, name.
   * @returns The store; {@linkcode KvStore.close} closes the database.
   */
  static async open(
    path?: string,
    options: KvStoreOptions = {},
  ): Promise<KvStore> {
    const kv = await Deno.openKv(path);
    return new KvStore(kv, options, true);
  }

  #check(): void {
    if (this.#closed) {
      throw new Error(`store "${this.name}" is closed: open a new KvStore`);
    }
  }

  #base(namespace: string, key: StateKey): Deno.KvKey {
    return [...this.#prefix, "v", namespace, key.entity, key.bucket ?? false];
  }

  /**
   * Reads one value.
   *
   * @typeParam V The value type.
   * @param scope The scope to read from.
   * @param key The key to read.
   * @returns The value, or `undefined` when absent or expired.
   * @throws {CodecError} When the stored bytes cannot be decoded.
   */
  async get<V>(scope: Scope<V>, key: StateKey): Promise<V | undefined> {
    const [value] = await this.getMany(scope, [key]);
    return value;
  }

  /**
   * Reads many values, answering in the order of `keys`.
   *
   * @typeParam V The value type.
   * @param scope The scope to read from.
   * @param keys The keys to read.
   * @returns One value or `undefined` per key.
   * @throws {CodecError} When stored bytes cannot be decoded.
   */
  async getMany<V>(
    scope: Scope<V>,
    keys: readonly StateKey[],
  ): Promise<(V | undefined)[]> {
    this.#check();
    if (keys.length === 0) return [];
    checkReadEntities(this, scope.namespace, keys);
    const { monoid } = scope;
    const additive = monoid.additive;
    const type = additive ? typeof monoid.identity() : "";
    const perKey = additive ? 2 : 1;
    const kvKeys: Deno.KvKey[] = [];
    for (const key of keys) {
      const base = this.#base(scope.namespace, key);
      const bytes = keyBytes(base) + partBytes("e");
      if (bytes > MAX_KEY_BYTES) {
        throw new EntityRejectedError(
          scope.namespace,
          key.entity,
          `with the namespace and prefix the key takes ${bytes} bytes, more than Deno KV's ${MAX_KEY_BYTES}; shorten the namespace or the entity`,
        );
      }
      kvKeys.push([...base, "e"]);
      if (additive) kvKeys.push([...base, "n"]);
    }
    const entries: Deno.KvEntryMaybe<unknown>[] = new Array(kvKeys.length);
    const chunks: number[] = [];
    for (let i = 0; i < kvKeys.length; i += MAX_READ - (MAX_READ % perKey)) {
      chunks.push(i);
    }
    await forEachLimit(chunks, 8, async (start) => {
      const slice = kvKeys.slice(start, start + MAX_READ - (MAX_READ % perKey));
      const got = await this.kv.getMany(slice);
      got.forEach((entry, i) => (entries[start + i] = entry));
    });
    const now = this.#now();
    return keys.map((_, i) => {
      let value: V | undefined;
      const envelope = entries[i * perKey]!.value;
      if (isEnvelope(envelope) && (envelope.x === null || envelope.x > now)) {
        value = monoid.codec.decode(envelope.v);
      }
      if (additive) {
        const n = entries[i * perKey + 1]!.value;
        if (n instanceof Deno.KvU64) {
          const signed = BigInt.asIntN(64, n.value);
          const part = (type === "bigint" ? signed : Number(signed)) as V;
          value = value === undefined ? part : monoid.combine(value, part);
        }
      }
      return value;
    });
  }

  /**
   * Folds deltas into stored values, each atomically with its marks, claims and expiry.
   *
   * @typeParam V The value type.
   * @param scope The scope to write to.
   * @param deltas The changes to fold in.
   * @param options Abort signal and claim retention.
   * @returns How many deltas were applied and which were skipped as already applied.
   * @throws {DeltaRejectedError} For a delta that can never be stored (key or value too large, undecodable stored value).
   * @throws {MarkConflictError} When a delta's marks or claims were partly applied.
   * @throws {KvContentionError} When compare-and-set kept losing to concurrent writers.
   */
  async merge<V>(
    scope: Scope<V>,
    deltas: readonly Delta<V>[],
    options: MergeOptions = {},
  ): Promise<MergeResult> {
    this.#check();
    options.signal?.throwIfAborted();
    if (deltas.length === 0) return { applied: 0, skipped: [] };
    checkDeltaEntities(this, scope.namespace, deltas);
    const { monoid, namespace } = scope;
    const now = this.#now();
    const claimTtl = options.claimTtl ?? DEFAULT_CLAIM_TTL_MS;
    const type = monoid.additive ? typeof monoid.identity() : "";
    const fast = new Map<string, { base: Deno.KvKey; sum: bigint }>();
    const slow = new Map<string, SlowKey>();
    let applied = 0;
    for (let i = 0; i < deltas.length; i++) {
      const delta = deltas[i]!;
      const base = this.#base(namespace, delta.key);
      const baseBytes = keyBytes(base) + partBytes("e");
      if (baseBytes > MAX_KEY_BYTES) {
        throw new DeltaRejectedError(
          namespace,
          i,
          delta.key,
          `with the namespace and prefix the key takes ${baseBytes} bytes, more than Deno KV's ${MAX_KEY_BYTES}; shorten the namespace or the entity`,
        );
      }
      if (delta.expiresAt !== undefined && delta.expiresAt <= now) {
        // Already expired: writing it would only create an entry that reads as absent.
        applied++;
        continue;
      }
      const id = JSON.stringify([delta.key.entity, delta.key.bucket]);
      const exact = (delta.marks?.length ?? 0) > 0 ||
        (delta.claims?.length ?? 0) > 0;
      // Atomic sums cannot carry an expiry, so only deltas that never expire take that path.
      const u64 = type === "" || exact || delta.expiresAt !== undefined
        ? undefined
        : asU64(delta.value, type);
      if (u64 !== undefined && !slow.has(id)) {
        const slot = fast.get(id);
        if (slot === undefined) fast.set(id, { base, sum: u64 });
        else slot.sum = (slot.sum + u64) % U64;
        applied++;
        continue;
      }
      let bytes: Uint8Array;
      try {
        bytes = monoid.codec.encode(delta.value);
      } catch (error) {
        throw new DeltaRejectedError(
          namespace,
          i,
          delta.key,
          `the value cannot be encoded: ${
            error instanceof Error ? error.message : String(error)
          }`,
          { cause: error },
        );
      }
      if (bytes.length > MAX_VALUE_BYTES - ENVELOPE_OVERHEAD) {
        throw new DeltaRejectedError(
          namespace,
          i,
          delta.key,
          `the value takes ${bytes.length} bytes, more than Deno KV's 64 KiB`,
        );
      }
      let slot = slow.get(id);
      if (slot === undefined) {
        slot = {
          key: delta.key,
          stateKey: [...base, "e"],
          items: [],
          claimKeys: new Map(),
        };
        slow.set(id, slot);
      }
      for (const claim of delta.claims ?? []) {
        if (!slot.claimKeys.has(claim)) {
          const claimKey = [
            ...this.#prefix,
            "c",
            namespace,
            delta.key.entity,
            delta.key.bucket ?? false,
            claim,
          ];
          const bytes = keyBytes(claimKey);
          if (bytes > MAX_KEY_BYTES) {
            throw new DeltaRejectedError(
              namespace,
              i,
              delta.key,
              `the claim key takes ${bytes} bytes, more than Deno KV's ${MAX_KEY_BYTES}; use shorter event ids (at most ${CLAIM_RESERVE} bytes always fit)`,
            );
          }
          slot.claimKeys.set(claim, claimKey);
        }
      }
      slot.items.push({ index: i, delta: delta as Delta<unknown> });
    }
    const skipped: number[] = [];
    if (slow.size > 0) {
      const groups = this.#group([...slow.values()]);
      // Plan every group before committing any, so a rejected delta leaves the call unapplied.
      const plans = await Promise.all(
        groups.map((g) =>
          this.#plan(scope as Scope<unknown>, g, now, claimTtl)
        ),
      );
      await forEachLimit(plans, this.#parallel, async (plan) => {
        const done = await this.#commit(
          scope as Scope<unknown>,
          plan,
          claimTtl,
          options.signal,
        );
        for (const p of done) {
          applied += p.applied;
          skipped.push(...p.skipped);
        }
      });
    }
    if (fast.size > 0) {
      const slots = [...fast.values()];
      const batches: (typeof slots)[] = [];
      for (let i = 0; i < slots.length; i += MAX_MUTATIONS / 2) {
        batches.push(slots.slice(i, i + MAX_MUTATIONS / 2));
      }
      await forEachLimit(batches, this.#parallel, async (batch) => {
        options.signal?.throwIfAborted();
        const op = this.kv.atomic();
        for (const slot of batch) op.sum([...slot.base, "n"], slot.sum);
        await op.commit();
      });
    }
    skipped.sort((a, b) => a - b);
    return { applied, skipped };
  }

  /** Splits slow keys into groups within KV's check limit. */
  #group(keys: SlowKey[]): SlowKey[][] {
    return packByWeight(keys, (key) => 1 + key.claimKeys.size, MAX_CHECKS);
  }

  /** Reads a group's envelopes and claims and computes the commit. */
  async #plan(
    scope: Scope<unknown>,
    group: SlowKey[],
    now: number,
    claimTtl: number,
  ): Promise<Planned[]> {
    const reads: Deno.KvKey[] = [];
    for (const slot of group) {
      reads.push(slot.stateKey, ...slot.claimKeys.values());
    }
    const entries: Deno.KvEntryMaybe<unknown>[] = [];
    for (let i = 0; i < reads.length; i += MAX_READ) {
      entries.push(...await this.kv.getMany(reads.slice(i, i + MAX_READ)));
    }
    let at = 0;
    return group.map((slot) => {
      const entry = entries[at++]!;
      const claimEntries = new Map<string, Deno.KvEntryMaybe<unknown>>();
      for (const claim of slot.claimKeys.keys()) {
        claimEntries.set(claim, entries[at++]!);
      }
      return this.#compute(scope, slot, entry, claimEntries, now, claimTtl);
    });
  }

  #compute(
    scope: Scope<unknown>,
    slot: SlowKey,
    entry: Deno.KvEntryMaybe<unknown>,
    claimEntries: Map<string, Deno.KvEntryMaybe<unknown>>,
    now: number,
    claimTtl: number,
  ): Planned {
    const { monoid, namespace } = scope;
    const stored = entry.value;
    if (stored !== null && !isEnvelope(stored)) {
      throw new DeltaRejectedError(
        namespace,
        slot.items[0]!.index,
        slot.key,
        "the stored entry is not a murmur envelope",
      );
    }
    const live = stored !== null && (stored.x === null || stored.x > now);
    let value: unknown = undefined;
    if (live) {
      try {
        value = monoid.codec.decode(stored.v);
      } catch (error) {
        throw new DeltaRejectedError(
          namespace,
          slot.items[0]!.index,
          slot.key,
          `the stored value cannot be decoded: ${
            error instanceof Error ? error.message : String(error)
          }`,
          { cause: error },
        );
      }
    }
    let expiresAt = live ? stored.x : null;
    const marks = new Map<string, bigint>(
      live && stored.m !== null ? Object.entries(stored.m) : [],
    );
    const held = new Set<string>();
    for (const [claim, e] of claimEntries) {
      if (typeof e.value === "number" && e.value > now) held.add(claim);
    }
    const newClaims: { key: Deno.KvKey; until: number }[] = [];
    const skipped: number[] = [];
    let applied = 0;
    let changed = false;
    for (const { index, delta } of slot.items) {
      if (delta.marks !== undefined || delta.claims !== undefined) {
        if (
          !admits(namespace, delta, (s) => marks.get(s), (c) => held.has(c))
        ) {
          skipped.push(index);
          continue;
        }
      }
      value = value === undefined
        ? monoid.combine(monoid.identity(), delta.value)
        : monoid.combine(value, delta.value);
      if (delta.expiresAt !== undefined) {
        expiresAt = Math.max(expiresAt ?? delta.expiresAt, delta.expiresAt);
      }
      if (delta.marks !== undefined) rememberMarks(marks, delta.marks);
      for (const claim of delta.claims ?? []) {
        held.add(claim);
        newClaims.push({
          key: slot.claimKeys.get(claim)!,
          until: now + claimTtl,
        });
      }
      applied++;
      changed = true;
    }
    const checks: Deno.AtomicCheck[] = [{
      key: slot.stateKey,
      versionstamp: entry.versionstamp,
    }];
    for (const [claim, e] of claimEntries) {
      checks.push({
        key: slot.claimKeys.get(claim)!,
        versionstamp: e.versionstamp,
      });
    }
    if (!changed) {
      return {
        slot,
        envelope: null,
        checks,
        claims: [],
        skipped,
        applied,
        bytes: 0,
      };
    }
    const bytes = monoid.codec.encode(value);
    if (bytes.length > MAX_VALUE_BYTES - ENVELOPE_OVERHEAD - 40 * marks.size) {
      throw new DeltaRejectedError(
        namespace,
        slot.items[0]!.index,
        slot.key,
        `the combined value takes ${bytes.length} bytes, more than Deno KV's 64 KiB`,
      );
    }
    const envelope: Envelope = {
      v: bytes,
      x: expiresAt,
      m: marks.size === 0 ? null : Object.fromEntries(marks),
    };
    return {
      slot,
      envelope,
      checks,
      claims: newClaims,
      skipped,
      applied,
      bytes: bytes.length,
    };
  }

  /** Commits planned keys in as few atomic commits as KV's size limits allow. */
  async #commit(
    scope: Scope<unknown>,
    plans: Planned[],
    claimTtl: number,
    signal: AbortSignal | undefined,
  ): Promise<Planned[]> {
    const chunks: Planned[][] = [];
    let current: Planned[] = [];
    let bytes = 0;
    let mutations = 0;
    for (const p of plans) {
      const size = p.bytes + ENVELOPE_OVERHEAD + 256 * p.claims.length;
      const count = 1 + p.claims.length;
      if (
        current.length > 0 &&
        (bytes + size > MAX_COMMIT_BYTES || mutations + count > MAX_MUTATIONS)
      ) {
        chunks.push(current);
        current = [];
        bytes = 0;
        mutations = 0;
      }
      current.push(p);
      bytes += size;
      mutations += count;
    }
    if (current.length > 0) chunks.push(current);
    const done: Planned[] = [];
    for (const chunk of chunks) {
      done.push(...await this.#commitChunk(scope, chunk, claimTtl, signal));
    }
    return done;
  }

  /** Commits one chunk, re-reading and re-planning it after a lost compare-and-set. */
  async #commitChunk(
    scope: Scope<unknown>,
    first: Planned[],
    claimTtl: number,
    signal: AbortSignal | undefined,
  ): Promise<Planned[]> {
    let plan = first;
    for (let attempt = 1;; attempt++) {
      signal?.throwIfAborted();
      const op = this.kv.atomic();
      const now = this.#now();
      for (const p of plan) {
        for (const check of p.checks) op.check(check);
        if (p.envelope !== null) {
          const x = p.envelope.x;
          op.set(
            p.slot.stateKey,
            p.envelope,
            x === null ? {} : { expireIn: Math.max(1, x - now) },
          );
        }
        for (const claim of p.claims) {
          op.set(claim.key, claim.until, { expireIn: claimTtl });
        }
      }
      const result = await op.commit();
      if (result.ok) return plan;
      if (attempt >= this.#casAttempts) {
        throw new KvContentionError(scope.namespace, attempt);
      }
      await delay(backoff(CAS_BACKOFF, attempt - 1), signal);
      plan = await this.#plan(
        scope,
        plan.map((p) => p.slot),
        this.#now(),
        claimTtl,
      );
    }
  }

  /**
   * Closes the database if the store opened it; later calls throw.
   *
   * @returns A promise that resolves when closed.
   */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    if (this.#owned) this.kv.close();
    return Promise.resolve();
  }

  /**
   * Calls {@linkcode KvStore.close}, so `await using` releases the store.
   *
   * @returns A promise that resolves when closed.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
