// The runtime's engine: extract and fold record batches, write deltas with retries and exactly-once marks, ack.

import { defineMonoid, type Monoid, type MonoidKind } from "../monoid/mod.ts";
import type { Pipeline } from "../pipeline/mod.ts";
import type { SourceRecord } from "../source/mod.ts";
import {
  type Cache,
  type Delta,
  DeltaRejectedError,
  MarkConflictError,
  type Scope,
  type StateKey,
  type Store,
  type StreamMark,
} from "../state/mod.ts";
import {
  DeadLetterFailedError,
  ExactlyOnceConflictError,
  RecordError,
  type RecordStage,
  StoreFailureError,
} from "./errors.ts";
import type { ResolvedOptions } from "./options.ts";

/** The largest number of deltas handed to one store call. */
const MERGE_CHUNK = 2000;

/** Reserved namespace prefix of the exactly-once progress intents. */
export const PROGRESS_PREFIX = "__murmur_progress__/";

const progressMonoid: Monoid<bigint> = defineMonoid<bigint>({
  name: "progress-max",
  identity: () => -1n,
  combine: (a, b) => (a >= b ? a : b),
  commutative: true,
  idempotent: true,
  codec: {
    format: "decimal-integer",
    encode: (v) => new TextEncoder().encode(v.toString()),
    decode: (bytes) => BigInt(new TextDecoder().decode(bytes)),
    toJSON: (v) => v.toString(),
    fromJSON: (json) => BigInt(String(json)),
  },
});

/**
 * The scope holding a pipeline's exactly-once progress intents.
 *
 * @param pipeline The pipeline's name.
 * @returns The scope (namespace `__murmur_progress__/<pipeline>`).
 */
export function progressScope(pipeline: string): Scope<bigint> {
  return { namespace: PROGRESS_PREFIX + pipeline, monoid: progressMonoid };
}

type AnyRecord = SourceRecord<unknown>;

/** A per-record delta, written alone so marks or claims decide it exactly. */
interface CarefulDelta<V> {
  readonly delta: Delta<V>;
  readonly record: AnyRecord;
}

/** A batch after extraction: the fold items as parallel arrays, plus what to set aside. */
export interface Prepared<V> {
  readonly records: readonly AnyRecord[];
  readonly entities: string[];
  readonly buckets: (number | null)[];
  readonly values: V[];
  readonly expires: (number | undefined)[];
  readonly owners: number[];
  readonly streams: (string | undefined)[];
  readonly positions: (bigint | undefined)[];
  readonly careful: CarefulDelta<V>[];
  readonly dead: { record: AnyRecord; error: RecordError }[];
  debounced: number;
  maxTime: number;
}

interface Slot<V> {
  readonly entity: string;
  readonly bucket: number | null;
  value: V;
  /** Values not folded yet (non-additive monoids fold them in bulk with `combineAll`). */
  pending: V[] | null;
  expiresAt: number | undefined;
  marks: Map<string, { from: bigint; to: bigint }> | null;
}

/** A slot holding its first value. */
function newSlot<V>(
  entity: string,
  bucket: number | null,
  value: V,
  expiresAt: number | undefined,
): Slot<V> {
  return { entity, bucket, value, pending: null, expiresAt, marks: null };
}

/** The slots of one bucket, created on first use. */
function slotsOf<V>(
  buffer: Pending<V>,
  bucket: number | null,
): Map<string, Slot<V>> {
  let slots = buffer.buckets.get(bucket);
  if (slots === undefined) {
    slots = new Map();
    buffer.buckets.set(bucket, slots);
  }
  return slots;
}

/** What is folded in memory and not written yet. */
class Pending<V> {
  readonly buckets = new Map<number | null, Map<string, Slot<V>>>();
  readonly careful: CarefulDelta<V>[] = [];
  readonly batches: (readonly AnyRecord[])[] = [];
  readonly rejected = new Set<AnyRecord>();
  records = 0;
  readonly streamMax = new Map<string, bigint>();
  maxTime = -Infinity;

  get empty(): boolean {
    return this.records === 0;
  }
}

/** Keeps admission times of recent keys, bounded to `maxKeys` entries. */
class Debouncer {
  readonly #seen = new Map<string, number>();
  readonly #window: number;
  readonly #maxKeys: number;

  constructor(window: number, maxKeys: number) {
    this.#window = window;
    this.#maxKeys = maxKeys;
  }

  admit(key: string, now: number): boolean {
    const seen = this.#seen;
    const at = seen.get(key);
    if (at !== undefined) {
      if (now - at < this.#window) return false;
      seen.delete(key);
    }
    seen.set(key, now);
    if (seen.size > this.#maxKeys) this.#evict(now);
    return true;
  }

  // Map order is admission order, so the oldest entries are at the front.
  #evict(now: number): void {
    const seen = this.#seen;
    const target = Math.floor(this.#maxKeys * 0.9);
    for (const [key, at] of seen) {
      if (seen.size <= target && now - at < this.#window) break;
      seen.delete(key);
    }
  }
}

/** FNV-1a over UTF-16 code units: routes a key to a write lane. */
function hashKey(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

// Sketch kinds whose values are instances of the sketch's own class, which always encode.
const SKETCH_KINDS: ReadonlySet<MonoidKind> = new Set(["hll", "topk", "bloom"]);

/**
 * How a non-additive value is checked before it is folded (`null`: additive
 * values need no check): combine() with an identity operand may skip type
 * checks, so the value must encode; a sketch value only has to be an
 * instance of the identity's class (encoding every one-event sketch would
 * cost more than folding it).
 */
function valueCheck<V>(monoid: Monoid<V>): ((value: V) => void) | null {
  if (monoid.additive) return null;
  const identity: unknown = monoid.identity();
  const type = typeof identity === "object" && identity !== null
    ? identity.constructor
    : undefined;
  if (
    SKETCH_KINDS.has(monoid.kind) && typeof type === "function" &&
    type !== Object
  ) {
    return (value) => {
      if (!(value instanceof type)) {
        throw new TypeError(
          `monoid ${monoid.name} folds ${type.name} values, got ${
            value === null
              ? "null"
              : typeof value === "object"
              ? value.constructor?.name ?? "an object"
              : typeof value
          }`,
        );
      }
    };
  }
  const codec = monoid.codec;
  return (value) => {
    codec.encode(value);
  };
}

function fingerprint<V>(monoid: Monoid<V>, value: V): string {
  switch (typeof value) {
    case "string":
      return `s${value}`;
    case "number":
    case "bigint":
    case "boolean":
      return `${typeof value}${String(value)}`;
    default:
      return value === null || value === undefined
        ? String(value)
        : JSON.stringify(monoid.codec.toJSON(value));
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function isCache(store: Store): store is Cache {
  return typeof (store as Partial<Cache>).beginWrite === "function";
}

function keyString(key: StateKey): string {
  return key.bucket === null
    ? `${key.entity}\u0000`
    : `${key.entity}\u0000${key.bucket}`;
}

/** Counters of one run, for its summary. */
export interface Counts {
  events: number;
  acked: number;
  deadLetters: number;
  dedupSkips: number;
  debounced: number;
  merges: number;
  flushes: number;
}

/**
 * Extracts, folds and writes one pipeline's records. `prepare` and `accept`
 * are called in order, one batch at a time; flushes run one at a time while
 * the next buffer fills.
 */
export class Processor<E, V> {
  readonly pipeline: Pipeline<E, V>;
  readonly options: ResolvedOptions;
  readonly counts: Counts = {
    events: 0,
    acked: 0,
    deadLetters: 0,
    dedupSkips: 0,
    debounced: 0,
    merges: 0,
    flushes: 0,
  };
  /** Set when a write failed for good; every later call throws it. */
  failure: Error | null = null;
  /** Called once when {@linkcode failure} is set. */
  onFailure: (error: Error) => void = () => {};

  readonly #name: string;
  readonly #monoid: Monoid<V>;
  readonly #checkValue: ((value: V) => void) | null;
  readonly #scope: Scope<V>;
  readonly #progress: Scope<bigint>;
  readonly #keyDebounce: Debouncer | null;
  readonly #valueDebounce: Debouncer | null;
  #buffer = new Pending<V>();
  #flushing: Promise<void> | null = null;
  #again = false;
  /** Aborted by a failure or by the shutdown deadline: stops retries and waits. */
  readonly #stop = new AbortController();
  /** Per stream: the highest position already applied or attempted (the careful horizon). */
  readonly #horizon = new Map<string, bigint>();
  /** Per stream: the highest intent written in this run. */
  readonly #intent = new Map<string, bigint>();

  constructor(pipeline: Pipeline<E, V>, options: ResolvedOptions) {
    this.pipeline = pipeline;
    this.options = options;
    this.#name = pipeline.name;
    this.#monoid = pipeline.monoid;
    this.#checkValue = valueCheck(pipeline.monoid);
    this.#scope = pipeline.scope;
    this.#progress = progressScope(pipeline.name);
    const kd = options.keyDebounce;
    const vd = options.valueDebounce;
    this.#keyDebounce = kd === null
      ? null
      : new Debouncer(kd.window, kd.maxKeys);
    this.#valueDebounce = vd === null
      ? null
      : new Debouncer(vd.window, vd.maxKeys);
  }

  /** Records folded and not yet written. */
  get buffered(): number {
    return this.#buffer.records;
  }

  /** Whether a write is in flight. */
  get writing(): boolean {
    return this.#flushing !== null;
  }

  #fail(error: Error): never {
    this.#setFailure(error);
    throw this.failure;
  }

  /** Extracts keys, value, time and bucket of every record; sets aside bad and duplicate ones. */
  async prepare(records: readonly SourceRecord<E>[]): Promise<Prepared<V>> {
    if (this.failure !== null) throw this.failure;
    const { options, pipeline } = this;
    const n = records.length;
    this.counts.events += n;
    options.metrics.eventsIn(this.#name, n);
    const dedup = options.dedup;
    if (dedup) {
      try {
        await this.#loadHorizons(records);
      } catch (error) {
        this.#fail(error instanceof Error ? error : new Error(String(error)));
      }
    }
    const out: Prepared<V> = {
      records: records as readonly AnyRecord[],
      entities: [],
      buckets: [],
      values: [],
      expires: [],
      owners: [],
      streams: [],
      positions: [],
      careful: [],
      dead: [],
      debounced: 0,
      maxTime: -Infinity,
    };
    const { key: keyOf, keys: keysOf, value: valueOf, time: timeOf } =
      pipeline.extract;
    const window = pipeline.window;
    const monoid = this.#monoid;
    const keyDebounce = this.#keyDebounce;
    const valueDebounce = this.#valueDebounce;
    const now = keyDebounce !== null || valueDebounce !== null
      ? options.now()
      : 0;
    let lastBucket: number | null = null;
    let lastEnd = -Infinity;
    let lastExpires: number | undefined = undefined;
    let hasLast = false;
    const { entities, buckets, values, expires, owners } = out;
    for (let r = 0; r < n; r++) {
      const record = records[r]!;
      if (record.error !== undefined) {
        out.dead.push({
          record: record as AnyRecord,
          error: new RecordError("decode", this.#name, record.id, record.error),
        });
        continue;
      }
      let stage: RecordStage = "key";
      let single: string | undefined;
      let many: readonly string[] | undefined;
      let value: V;
      let time: number;
      let bucket: number | null;
      let expiresAt: number | undefined;
      try {
        const event = record.value as E;
        if (keyOf !== null) {
          single = keyOf(event);
          if (typeof single !== "string" || single === "") {
            throw new TypeError(
              `expected a non-empty string key, got ${
                single === "" ? "an empty string" : typeof single
              }`,
            );
          }
        } else {
          many = keysOf!(event);
          if (!Array.isArray(many)) {
            throw new TypeError(
              `expected an array of keys, got ${typeof many}`,
            );
          }
          for (const k of many) {
            if (typeof k !== "string" || k === "") {
              throw new TypeError(
                `expected non-empty string keys, got ${
                  k === "" ? "an empty string" : typeof k
                }`,
              );
            }
          }
        }
        const first = single ?? many![0];
        if (first === undefined) continue;
        if (keyDebounce !== null && !keyDebounce.admit(first, now)) {
          out.debounced++;
          continue;
        }
        stage = "time";
        time = timeOf === null ? record.time : timeOf(event, record.time);
        if (typeof time !== "number" || !Number.isFinite(time)) {
          throw new TypeError(`expected epoch ms, got ${String(time)}`);
        }
        stage = "value";
        value = valueOf(event, time);
        if (value === undefined) {
          throw new TypeError("the value extractor returned undefined");
        }
        if (
          valueDebounce !== null &&
          !valueDebounce.admit(
            `${first}\u0000${fingerprint(monoid, value)}`,
            now,
          )
        ) {
          out.debounced++;
          continue;
        }
        stage = "window";
        if (window === null) {
          bucket = null;
          expiresAt = undefined;
        } else {
          // Consecutive records mostly share a bucket: a range check skips bucketOf().
          if (hasLast && time >= lastBucket! && time < lastEnd) {
            bucket = lastBucket;
            expiresAt = lastExpires;
          } else {
            bucket = window.bucketOf(time);
            expiresAt = window.expiresAt(bucket);
            lastBucket = bucket;
            lastEnd = window.bucketEnd(bucket);
            lastExpires = expiresAt;
            hasLast = true;
          }
        }
      } catch (error) {
        out.dead.push({
          record: record as AnyRecord,
          error: new RecordError(stage, this.#name, record.id, error),
        });
        continue;
      }
      if (time > out.maxTime) out.maxTime = time;
      if (dedup) {
        const stream = record.stream;
        const position = record.position;
        // A record without a position, or at or below the horizon, is written alone.
        let exact: { marks: StreamMark[] } | { claims: string[] } | undefined;
        if (stream === undefined || position === undefined) {
          exact = { claims: [`${this.#name}|${record.id}`] };
        } else if (position <= this.#horizon.get(stream)!) {
          exact = { marks: [{ stream, from: position, to: position }] };
        } else {
          this.#horizon.set(stream, position);
          const count = single !== undefined ? 1 : many!.length;
          for (let i = 0; i < count; i++) {
            out.streams.push(stream);
            out.positions.push(position);
          }
        }
        if (exact !== undefined) {
          this.#carefulRecord(
            out,
            record as AnyRecord,
            single,
            many,
            bucket,
            value,
            expiresAt,
            exact,
          );
          continue;
        }
      }
      if (single !== undefined) {
        entities.push(single);
        buckets.push(bucket);
        values.push(value);
        expires.push(expiresAt);
        owners.push(r);
      } else {
        for (const k of many!) {
          entities.push(k);
          buckets.push(bucket);
          values.push(value);
          expires.push(expiresAt);
          owners.push(r);
        }
      }
    }
    return out;
  }

  #carefulRecord(
    out: Prepared<V>,
    record: AnyRecord,
    single: string | undefined,
    many: readonly string[] | undefined,
    bucket: number | null,
    value: V,
    expiresAt: number | undefined,
    exact: { marks: StreamMark[] } | { claims: string[] },
  ): void {
    try {
      this.#monoid.combine(this.#monoid.identity(), value);
      this.#checkValue?.(value);
    } catch (error) {
      out.dead.push({
        record,
        error: new RecordError("fold", this.#name, record.id, error),
      });
      return;
    }
    for (const entity of single !== undefined ? [single] : many!) {
      const delta: Delta<V> = {
        key: { entity, bucket },
        value,
        ...(expiresAt === undefined ? {} : { expiresAt }),
        ...exact,
      };
      out.careful.push({ delta, record });
    }
  }

  /** Reads the progress intent of streams seen for the first time. */
  async #loadHorizons(records: readonly SourceRecord<E>[]): Promise<void> {
    let fresh: string[] | undefined;
    for (const record of records) {
      const stream = record.stream;
      if (
        stream !== undefined && record.position !== undefined &&
        !this.#horizon.has(stream)
      ) {
        (fresh ??= []).includes(stream) || fresh.push(stream);
      }
    }
    if (fresh === undefined) return;
    const stored = await this.#withRetry(
      () =>
        this.pipeline.store.getMany(
          this.#progress,
          fresh.map((entity) => ({ entity, bucket: null })),
        ),
      this.#stop.signal,
      "read",
    );
    fresh.forEach((stream, i) => {
      const at = stored[i] ?? -1n;
      this.#horizon.set(stream, at);
      this.#intent.set(stream, at);
    });
  }

  /** Folds a prepared batch into the buffer; waits for a write when the buffer is full. */
  async accept(prepared: Prepared<V>): Promise<void> {
    if (this.failure !== null) throw this.failure;
    const buffer = this.#buffer;
    buffer.batches.push(prepared.records);
    buffer.records += prepared.records.length;
    if (prepared.maxTime > buffer.maxTime) buffer.maxTime = prepared.maxTime;
    if (prepared.debounced > 0) {
      this.counts.debounced += prepared.debounced;
      this.options.metrics.debounced(this.#name, prepared.debounced);
    }
    for (const c of prepared.careful) buffer.careful.push(c);
    const dead = prepared.entities.length > 0
      ? this.#fold(prepared, buffer)
      : prepared.dead;
    if (dead.length > 0) await this.#deadLetter(dead);
    if (this.#buffer.records >= this.options.batchMax) await this.#makeRoom();
    else if (this.options.batchTime === 0 && this.#flushing === null) {
      this.#start();
    }
  }

  #fold(
    p: Prepared<V>,
    buffer: Pending<V>,
  ): { record: AnyRecord; error: RecordError }[] {
    const dead = p.dead;
    const monoid = this.#monoid;
    const additive = monoid.additive;
    const checkValue = this.#checkValue;
    const { entities, buckets, values, expires, owners, streams, positions } =
      p;
    const dedup = this.options.dedup;
    let lastBucket: number | null | undefined = undefined;
    let slots: Map<string, Slot<V>> | undefined;
    const n = entities.length;
    let i = 0;
    while (i < n) {
      const owner = owners[i]!;
      let j = i + 1;
      while (j < n && owners[j] === owner) j++;
      if (j - i > 1) {
        this.#foldMany(p, buffer, i, j, dead);
        i = j;
        continue;
      }
      const bucket = buckets[i]!;
      if (bucket !== lastBucket || slots === undefined) {
        slots = slotsOf(buffer, bucket);
        lastBucket = bucket;
      }
      const entity = entities[i]!;
      const value = values[i]!;
      let slot = slots.get(entity);
      try {
        if (checkValue !== null) checkValue(value);
        if (slot === undefined) {
          slot = newSlot(
            entity,
            bucket,
            monoid.combine(monoid.identity(), value),
            expires[i],
          );
          slots.set(entity, slot);
        } else if (additive) {
          slot.value = monoid.combine(slot.value, value);
        } else {
          // Fold later in bulk: combineAll avoids one copy of the accumulator per record.
          (slot.pending ??= []).push(value);
          if (slot.pending.length >= 256) this.#settle(slot);
        }
      } catch (error) {
        const record = p.records[owner]!;
        dead.push({
          record,
          error: new RecordError("fold", this.#name, record.id, error),
        });
        i = j;
        continue;
      }
      if (dedup) this.#mark(slot, buffer, streams[i]!, positions[i]!);
      i = j;
    }
    return dead;
  }

  /** Folds a slot's pending values into its value. */
  #settle(slot: Slot<V>): void {
    const pending = slot.pending;
    if (pending === null || pending.length === 0) return;
    const monoid = this.#monoid;
    slot.pending = null;
    try {
      slot.value = monoid.combineAll([slot.value, ...pending]);
    } catch {
      // Each value was checked alone; fold one by one and count what still fails.
      for (const value of pending) {
        try {
          slot.value = monoid.combine(slot.value, value);
        } catch (error) {
          this.options.metrics.error(this.#name, error);
        }
      }
    }
  }

  /** Folds one record's several keys all or nothing (a key repeated in the record counts each time). */
  #foldMany(
    p: Prepared<V>,
    buffer: Pending<V>,
    from: number,
    to: number,
    dead: { record: AnyRecord; error: RecordError }[],
  ): void {
    const monoid = this.#monoid;
    const value = p.values[from]!;
    let lifted: V;
    try {
      this.#checkValue?.(value);
      lifted = monoid.combine(monoid.identity(), value);
    } catch (error) {
      const record = p.records[p.owners[from]!]!;
      dead.push({
        record,
        error: new RecordError("fold", this.#name, record.id, error),
      });
      return;
    }
    // One record has one time and one value, so all its items share a bucket.
    const bucket = p.buckets[from]!;
    const slots = slotsOf(buffer, bucket);
    if (monoid.additive) {
      const next: V[] = [];
      try {
        for (let i = from; i < to; i++) {
          const entity = p.entities[i]!;
          let base: V | undefined;
          for (let j = i - 1; j >= from; j--) {
            if (p.entities[j] === entity) {
              base = next[j - from];
              break;
            }
          }
          base ??= slots.get(entity)?.value;
          next.push(base === undefined ? lifted : monoid.combine(base, value));
        }
      } catch (error) {
        const record = p.records[p.owners[from]!]!;
        dead.push({
          record,
          error: new RecordError("fold", this.#name, record.id, error),
        });
        return;
      }
      for (let i = from; i < to; i++) {
        const entity = p.entities[i]!;
        let slot = slots.get(entity);
        if (slot === undefined) {
          slot = newSlot(entity, bucket, next[i - from]!, p.expires[i]);
          slots.set(entity, slot);
        } else {
          slot.value = next[i - from]!;
        }
        if (this.options.dedup) {
          this.#mark(slot, buffer, p.streams[i]!, p.positions[i]!);
        }
      }
    } else {
      for (let i = from; i < to; i++) {
        const entity = p.entities[i]!;
        let slot = slots.get(entity);
        if (slot === undefined) {
          slot = newSlot(entity, bucket, lifted, p.expires[i]);
          slots.set(entity, slot);
        } else {
          (slot.pending ??= []).push(value);
          if (slot.pending.length >= 256) this.#settle(slot);
        }
        if (this.options.dedup) {
          this.#mark(slot, buffer, p.streams[i]!, p.positions[i]!);
        }
      }
    }
  }

  #mark(
    slot: Slot<V>,
    buffer: Pending<V>,
    stream: string,
    position: bigint,
  ): void {
    const marks = slot.marks ??= new Map();
    const mark = marks.get(stream);
    if (mark === undefined) marks.set(stream, { from: position, to: position });
    else if (position > mark.to) mark.to = position;
    const max = buffer.streamMax.get(stream);
    if (max === undefined || position > max) {
      buffer.streamMax.set(stream, position);
    }
  }

  async #deadLetter(
    dead: readonly { record: AnyRecord; error: RecordError }[],
  ): Promise<void> {
    const handler = this.options.deadLetter;
    this.counts.deadLetters += dead.length;
    this.options.metrics.deadLettered(this.#name, dead.length);
    for (const { record, error } of dead) {
      this.options.metrics.error(this.#name, error);
      if (handler === null) continue;
      try {
        await handler(record, error);
      } catch (cause) {
        this.#fail(new DeadLetterFailedError(this.#name, record.id, cause));
      }
    }
  }

  #setFailure(error: unknown): void {
    if (this.failure !== null) return;
    this.failure = error instanceof Error ? error : new Error(String(error));
    this.#stop.abort(this.failure);
    this.onFailure(this.failure);
  }

  /** Starts writing the buffer; the caller checked that no write is in flight and the buffer is not empty. */
  #start(): void {
    const buffer = this.#buffer;
    this.#buffer = new Pending<V>();
    this.#flushing = this.#write(buffer).then(
      () => {
        this.#flushing = null;
        const again = this.#again || this.options.batchTime === 0;
        this.#again = false;
        if (again && !this.#buffer.empty && this.failure === null) {
          this.#start();
        }
      },
      (error) => {
        this.#flushing = null;
        this.#setFailure(error);
      },
    );
  }

  /**
   * Asks for a write of what is buffered: starts it now, or right after the
   * write in flight. Returns at once; failures surface on the next call.
   */
  kick(): void {
    if (this.failure !== null) return;
    if (this.#flushing !== null) this.#again = true;
    else if (!this.#buffer.empty) this.#start();
  }

  /** Waits for the write in flight, then starts writing the buffer. */
  async #makeRoom(): Promise<void> {
    while (this.#flushing !== null) await this.#flushing;
    if (this.failure !== null) throw this.failure;
    if (!this.#buffer.empty) this.#start();
  }

  /**
   * Writes everything buffered and waits until it is durable and acked.
   *
   * @param signal Aborts retries and waits: the shutdown deadline. Once it
   * fires, the processor stops for good (the unwritten records stay unacked).
   */
  async drain(signal?: AbortSignal): Promise<void> {
    const onAbort = () => this.#stop.abort(signal!.reason);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
    try {
      for (;;) {
        if (this.failure !== null) throw this.failure;
        if (this.#flushing !== null) await this.#flushing;
        else if (this.#buffer.empty) return;
        else this.#start();
      }
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  async #write(buffer: Pending<V>): Promise<void> {
    const started = this.options.now();
    const deltas: Delta<V>[] = [];
    for (const slots of buffer.buckets.values()) {
      for (const slot of slots.values()) {
        if (slot.pending !== null) this.#settle(slot);
        let marks: StreamMark[] | undefined;
        if (slot.marks !== null) {
          marks = [];
          for (const [stream, { from, to }] of slot.marks) {
            marks.push({ stream, from, to });
          }
        }
        const delta: {
          key: StateKey;
          value: V;
          expiresAt?: number;
          marks?: StreamMark[];
        } = {
          key: { entity: slot.entity, bucket: slot.bucket },
          value: slot.value,
        };
        if (slot.expiresAt !== undefined) delta.expiresAt = slot.expiresAt;
        if (marks !== undefined) delta.marks = marks;
        deltas.push(delta);
      }
    }
    if (buffer.streamMax.size > 0) await this.#writeIntent(buffer.streamMax);
    // Per-record deltas first, one per key per round, so a key's marks only ever move forward.
    if (buffer.careful.length > 0) {
      const rounds: CarefulDelta<V>[][] = [];
      const depth = new Map<string, number>();
      for (const c of buffer.careful) {
        const k = keyString(c.delta.key);
        const r = depth.get(k) ?? 0;
        depth.set(k, r + 1);
        (rounds[r] ??= []).push(c);
      }
      for (const round of rounds) {
        await this.#writeRound(round.map((c) => c.delta), buffer, round);
      }
    }
    if (deltas.length > 0) await this.#writeRound(deltas, buffer, null);
    this.counts.flushes++;
    this.options.metrics.flushed(
      this.#name,
      buffer.records,
      deltas.length + buffer.careful.length,
    );
    this.#ack(buffer);
    const now = this.options.now();
    this.options.metrics.lag(
      this.#name,
      Number.isFinite(buffer.maxTime)
        ? Math.max(0, now - buffer.maxTime)
        : now - started,
    );
  }

  async #writeIntent(streamMax: ReadonlyMap<string, bigint>): Promise<void> {
    const deltas: Delta<bigint>[] = [];
    for (const [stream, max] of streamMax) {
      const written = this.#intent.get(stream) ?? -1n;
      if (max > written) {
        deltas.push({ key: { entity: stream, bucket: null }, value: max });
      }
    }
    if (deltas.length === 0) return;
    await this.#withRetry(
      () =>
        this.pipeline.store.merge(this.#progress, deltas, this.#mergeOptions()),
      this.#stop.signal,
      deltas.length,
    );
    for (const d of deltas) this.#intent.set(d.key.entity, d.value);
  }

  #mergeOptions(): { signal: AbortSignal; claimTtl: number } {
    return { signal: this.#stop.signal, claimTtl: this.options.claimTtl };
  }

  /** Writes deltas with distinct keys: partitioned by key hash over `concurrency` lanes. */
  async #writeRound(
    deltas: Delta<V>[],
    buffer: Pending<V>,
    careful: CarefulDelta<V>[] | null,
  ): Promise<void> {
    const lanes = Math.min(
      this.options.concurrency,
      Math.ceil(deltas.length / 64),
    );
    if (lanes <= 1) {
      for (let i = 0; i < deltas.length; i += MERGE_CHUNK) {
        await this.#writeChunk(
          deltas.slice(i, i + MERGE_CHUNK),
          buffer,
          careful?.slice(i, i + MERGE_CHUNK) ?? null,
        );
      }
      return;
    }
    const parts: { deltas: Delta<V>[]; careful: CarefulDelta<V>[] | null }[] =
      Array.from(
        { length: lanes },
        () => ({ deltas: [], careful: careful === null ? null : [] }),
      );
    deltas.forEach((d, i) => {
      const part = parts[hashKey(d.key.entity) % lanes]!;
      part.deltas.push(d);
      part.careful?.push(careful![i]!);
    });
    const results = await Promise.allSettled(parts.map(async (part) => {
      for (let i = 0; i < part.deltas.length; i += MERGE_CHUNK) {
        await this.#writeChunk(
          part.deltas.slice(i, i + MERGE_CHUNK),
          buffer,
          part.careful?.slice(i, i + MERGE_CHUNK) ?? null,
        );
      }
    }));
    for (const r of results) if (r.status === "rejected") throw r.reason;
  }

  /** One store call with retries, rejection handling and the cache write-through. */
  async #writeChunk(
    deltas: Delta<V>[],
    buffer: Pending<V>,
    careful: CarefulDelta<V>[] | null,
  ): Promise<void> {
    const { store, cache } = this.pipeline;
    const keys = cache === null ? [] : deltas.map((d) => d.key);
    const intent = cache !== null && isCache(cache)
      ? await cache.beginWrite(this.#scope, keys).catch((error) => {
        this.options.metrics.error(this.#name, error);
        return undefined;
      })
      : undefined;
    let pending = deltas;
    let pendingCareful = careful;
    let applied: Delta<V>[] = [];
    try {
      while (pending.length > 0) {
        const batch = pending;
        const result = await this.#withRetry(
          () => store.merge(this.#scope, batch, this.#mergeOptions()),
          this.#stop.signal,
          batch.length,
        ).catch((error) => {
          if (error instanceof DeltaRejectedError) return error;
          throw error;
        });
        if (result instanceof DeltaRejectedError) {
          const index = result.index;
          const gone = pending[index];
          if (gone === undefined) {
            throw new StoreFailureError(this.#name, store.name, 1, result);
          }
          await this.#reject(
            gone,
            pendingCareful?.[index] ?? null,
            buffer,
            result,
          );
          pending = pending.filter((_, i) => i !== index);
          pendingCareful = pendingCareful?.filter((_, i) => i !== index) ??
            null;
          continue;
        }
        if (result.skipped.length > 0) {
          this.counts.dedupSkips += result.skipped.length;
          this.options.metrics.dedupSkipped(this.#name, result.skipped.length);
          const skipped = new Set(result.skipped);
          applied = applied.concat(batch.filter((_, i) => !skipped.has(i)));
        } else {
          applied = applied.concat(batch);
        }
        pending = [];
      }
    } catch (error) {
      if (cache !== null && isCache(cache)) {
        await cache.invalidate(
          this.#scope,
          keys,
          intent === undefined ? {} : { intent },
        ).catch((e) => this.options.metrics.error(this.#name, e));
      }
      throw error;
    }
    if (cache === null) return;
    const plain = applied.map((d): Delta<V> =>
      d.expiresAt === undefined
        ? { key: d.key, value: d.value }
        : { key: d.key, value: d.value, expiresAt: d.expiresAt }
    );
    try {
      if (isCache(cache)) {
        await cache.merge(
          this.#scope,
          plain,
          intent === undefined ? {} : { intent },
        );
      } else if (plain.length > 0) {
        await cache.merge(this.#scope, plain);
      }
    } catch (error) {
      this.options.metrics.error(this.#name, error);
      if (isCache(cache)) {
        await cache.invalidate(this.#scope, keys).catch((e) =>
          this.options.metrics.error(this.#name, e)
        );
      }
    }
  }

  /** Dead-letters the records folded into a delta the store refuses for good. */
  async #reject(
    delta: Delta<V>,
    careful: CarefulDelta<V> | null,
    buffer: Pending<V>,
    cause: DeltaRejectedError,
  ): Promise<void> {
    const records = careful !== null
      ? [careful.record]
      : this.#contributors(delta.key, buffer);
    const dead = records
      .filter((record) => !buffer.rejected.has(record))
      .map((record) => {
        buffer.rejected.add(record);
        return {
          record,
          error: new RecordError("store", this.#name, record.id, cause),
        };
      });
    await this.#deadLetter(dead);
  }

  /** Finds the records of a buffer that fed a key, by running the extractors again. */
  #contributors(key: StateKey, buffer: Pending<V>): AnyRecord[] {
    const { key: keyOf, keys: keysOf, time: timeOf } = this.pipeline.extract;
    const window = this.pipeline.window;
    const out: AnyRecord[] = [];
    for (const batch of buffer.batches) {
      for (const record of batch) {
        if (record.error !== undefined) continue;
        try {
          const event = record.value as E;
          const keys = keyOf !== null ? [keyOf(event)] : keysOf!(event);
          if (!keys.includes(key.entity)) continue;
          const time = timeOf === null
            ? record.time
            : timeOf(event, record.time);
          const bucket = window === null ? null : window.bucketOf(time);
          if (bucket === key.bucket) out.push(record);
        } catch {
          continue;
        }
      }
    }
    return out;
  }

  /** Retries a store call with full-jitter backoff; stops the run after `maxAttempts`. */
  async #withRetry<T>(
    call: () => Promise<T>,
    signal: AbortSignal,
    deltas: number | "read" = 0,
  ): Promise<T> {
    const { maxAttempts, retryBase, retryMax, metrics } = this.options;
    const store = this.pipeline.store;
    for (let attempt = 1;; attempt++) {
      const started = performance.now();
      try {
        const result = await call();
        if (deltas !== "read") {
          this.counts.merges++;
          metrics.merged(this.#name, deltas, performance.now() - started);
        }
        return result;
      } catch (error) {
        if (error instanceof DeltaRejectedError) throw error;
        if (error instanceof MarkConflictError) {
          throw new ExactlyOnceConflictError(this.#name, error);
        }
        metrics.error(this.#name, error);
        if (attempt >= maxAttempts || signal.aborted) {
          throw new StoreFailureError(this.#name, store.name, attempt, error);
        }
        metrics.retried(this.#name);
        const ceiling = Math.min(retryMax, retryBase * 2 ** (attempt - 1));
        try {
          await sleep(Math.random() * ceiling, signal);
        } catch {
          throw new StoreFailureError(this.#name, store.name, attempt, error);
        }
      }
    }
  }

  #ack(buffer: Pending<V>): void {
    let acked = 0;
    for (const batch of buffer.batches) {
      for (const record of batch) {
        try {
          record.ack();
          acked++;
        } catch (error) {
          this.options.metrics.error(this.#name, error);
        }
      }
    }
    this.counts.acked += acked;
  }
}
