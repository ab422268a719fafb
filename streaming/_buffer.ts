// Stage 2, buffer and fold: per (key, bucket) slots folded with the monoid, with the stream marks they cover.

import type { Monoid } from "../monoid/mod.ts";
import type { Pipeline } from "../pipeline/mod.ts";
import type { Delta, StateKey, StreamMark } from "../state/mod.ts";
import { RecordError } from "./errors.ts";
import type { MetricsRecorder } from "./metrics.ts";
import {
  type AnyRecord,
  type DeadRecord,
  type ExactDelta,
  type Prepared,
  valueCheck,
} from "./_extract.ts";

interface Slot<V> {
  readonly entity: string;
  readonly bucket: number | null;
  /** The slot's state key, made once and shared by every delta the slot writes. */
  readonly key: StateKey;
  /** The buffer the slot folds for; `null` once that buffer was written. */
  owner: Buffer<V> | null;
  value: V;
  /** Values not folded yet (non-additive monoids fold them in bulk with `combineAll`). */
  pending: V[] | null;
  expiresAt: number | undefined;
  /**
   * The mark of the first stream the slot folded (most slots see one), so
   * the common case needs no map; it becomes the delta's first mark as is.
   */
  mark: { readonly stream: string; from: bigint; to: bigint } | null;
  /** Marks of the other streams, in the order first folded. */
  marks: Map<string, { from: bigint; to: bigint }> | null;
}

/** Rough heap cost of one slot (map entry, object, key string header), for the byte bound. */
const SLOT_BYTES = 160;
/** Rough heap cost of one buffered record (the record object and its event), for the byte bound. */
const RECORD_BYTES = 200;
/**
 * The folder's slot index outlives buffers (a fresh map per flush spends
 * more on growing it than on folding); past this many entries it starts
 * anew at the next buffer.
 */
const INDEX_MAX = 1 << 17;

/** What is folded in memory and not written yet. */
export class Buffer<V> {
  /** The buffer's slots, one per (key, bucket), in the order first folded. */
  readonly list: Slot<V>[] = [];
  readonly exact: ExactDelta<V>[] = [];
  readonly batches: (readonly AnyRecord[])[] = [];
  readonly rejected = new Set<AnyRecord>();
  records = 0;
  /** Distinct (key, bucket) slots. */
  slots = 0;
  /** An estimate of the heap the buffer holds, in bytes. */
  bytes = 0;
  readonly streamMax = new Map<string, bigint>();
  maxTime = -Infinity;

  get empty(): boolean {
    return this.records === 0;
  }

  /** Counts a batch of records in. */
  add(records: readonly AnyRecord[], rawBytes: number): void {
    this.batches.push(records);
    this.records += records.length;
    this.bytes += records.length * RECORD_BYTES + rawBytes;
  }
}

/** Folds prepared batches into a buffer's slots. */
export class Folder<V> {
  readonly #name: string;
  readonly #monoid: Monoid<V>;
  readonly #checkValue: ((value: V) => void) | null;
  readonly #dedup: boolean;
  readonly #metrics: MetricsRecorder;
  /** bucket → entity → the latest slot of that key (its owner says whether it is current). */
  #index = new Map<number | null, Map<string, Slot<V>>>();
  #indexed = 0;

  constructor(
    pipeline: Pipeline<unknown, V>,
    dedup: boolean,
    metrics: MetricsRecorder,
  ) {
    this.#name = pipeline.name;
    this.#monoid = pipeline.monoid;
    this.#checkValue = valueCheck(pipeline.monoid);
    this.#dedup = dedup;
    this.#metrics = metrics;
  }

  /** The index of one bucket's slots, created on first use. */
  #slotsOf(bucket: number | null): Map<string, Slot<V>> {
    let slots = this.#index.get(bucket);
    if (slots === undefined) {
      slots = new Map();
      this.#index.set(bucket, slots);
    }
    return slots;
  }

  /**
   * Call when a buffer starts filling: drops the slot index once it grew
   * past its bound (the buffer in flight keeps its own slots in its list).
   */
  begin(): void {
    if (this.#indexed > INDEX_MAX) {
      this.#index = new Map();
      this.#indexed = 0;
    }
  }

  /** Call when a buffer was written: its slots let go of their values and marks. */
  release(buffer: Buffer<V>): void {
    for (const slot of buffer.list) {
      slot.owner = null;
      slot.value = undefined as V;
      slot.pending = null;
      slot.mark = null;
      slot.marks = null;
    }
  }

  #newSlot(
    buffer: Buffer<V>,
    slots: Map<string, Slot<V>>,
    stale: Slot<V> | undefined,
    entity: string,
    bucket: number | null,
    value: V,
    expiresAt: number | undefined,
  ): Slot<V> {
    let slot: Slot<V>;
    if (stale !== undefined && stale.owner === null) {
      // The key's slot of a buffer already written: reuse the object, so a
      // hot key allocates nothing and the index keeps pointing at old objects
      // (a young object stored in the old index would survive scavenges).
      slot = stale;
      slot.owner = buffer;
      slot.value = value;
      slot.expiresAt = expiresAt;
    } else {
      slot = {
        entity,
        bucket,
        key: { entity, bucket },
        owner: buffer,
        value,
        pending: null,
        expiresAt,
        mark: null,
        marks: null,
      };
      slots.set(entity, slot);
      if (stale === undefined) this.#indexed++;
    }
    buffer.list.push(slot);
    buffer.slots++;
    buffer.bytes += SLOT_BYTES + entity.length * 2;
    return slot;
  }

  /** Folds a prepared batch's items; returns the batch's dead records plus those that failed to fold. */
  fold(p: Prepared<V>, buffer: Buffer<V>): DeadRecord[] {
    const dead = p.dead;
    const monoid = this.#monoid;
    const additive = monoid.additive;
    const checkValue = this.#checkValue;
    const { entities, buckets, values, expires, owners, streams, positions } =
      p;
    const dedup = this.#dedup;
    let lastBucket: number | null | undefined = undefined;
    let slots: Map<string, Slot<V>> | undefined;
    // The highest position of the current run of one stream, raised in
    // buffer.streamMax when the stream changes (not one map lookup per item).
    let runStream: string | undefined = undefined;
    let runMax = 0n;
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
        slots = this.#slotsOf(bucket);
        lastBucket = bucket;
      }
      const entity = entities[i]!;
      const value = values[i]!;
      const found = slots.get(entity);
      let slot = found?.owner === buffer ? found : undefined;
      try {
        if (checkValue !== null) checkValue(value);
        if (slot === undefined) {
          slot = this.#newSlot(
            buffer,
            slots,
            found,
            entity,
            bucket,
            monoid.combine(monoid.identity(), value),
            expires[i],
          );
        } else if (additive) {
          slot.value = monoid.combine(slot.value, value);
        } else {
          // Fold later in bulk: combineAll avoids one copy of the accumulator per record.
          (slot.pending ??= []).push(value);
          if (slot.pending.length >= 256) this.settle(slot);
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
      if (dedup) {
        const stream = streams[i]!;
        const position = positions[i]!;
        this.#mark(slot, stream, position);
        if (stream !== runStream) {
          if (runStream !== undefined) raise(buffer, runStream, runMax);
          runStream = stream;
          runMax = position;
        } else if (position > runMax) runMax = position;
      }
      i = j;
    }
    if (runStream !== undefined) raise(buffer, runStream, runMax);
    return dead;
  }

  /** Folds a slot's pending values into its value. */
  settle(slot: Slot<V>): void {
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
          this.#metrics.error(this.#name, error);
        }
      }
    }
  }

  /** Folds one record's several keys all or nothing (a key repeated in the record counts each time). */
  #foldMany(
    p: Prepared<V>,
    buffer: Buffer<V>,
    from: number,
    to: number,
    dead: DeadRecord[],
  ): void {
    const monoid = this.#monoid;
    const value = p.values[from]!;
    const refuse = (error: unknown) => {
      const record = p.records[p.owners[from]!]!;
      dead.push({
        record,
        error: new RecordError("fold", this.#name, record.id, error),
      });
    };
    let lifted: V;
    try {
      this.#checkValue?.(value);
      lifted = monoid.combine(monoid.identity(), value);
    } catch (error) {
      return refuse(error);
    }
    // One record has one time and one value, so all its items share a bucket.
    const bucket = p.buckets[from]!;
    const slots = this.#slotsOf(bucket);
    const current = (entity: string) => {
      const slot = slots.get(entity);
      return slot?.owner === buffer ? slot : undefined;
    };
    const mark = (slot: Slot<V>, i: number) => {
      if (this.#dedup) {
        this.#mark(slot, p.streams[i]!, p.positions[i]!);
        raise(buffer, p.streams[i]!, p.positions[i]!);
      }
    };
    // Additive: every new value is computed before any slot changes, so a
    // failing combine leaves the buffer as it was (all or nothing).
    let next: V[] | null = null;
    if (monoid.additive) {
      next = [];
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
          base ??= current(entity)?.value;
          next.push(base === undefined ? lifted : monoid.combine(base, value));
        }
      } catch (error) {
        return refuse(error);
      }
    }
    for (let i = from; i < to; i++) {
      const entity = p.entities[i]!;
      const slot = current(entity);
      const folded = next === null ? lifted : next[i - from]!;
      if (slot === undefined) {
        const created = this.#newSlot(
          buffer,
          slots,
          slots.get(entity),
          entity,
          bucket,
          folded,
          p.expires[i],
        );
        mark(created, i);
        continue;
      }
      if (next !== null) slot.value = folded;
      else {
        (slot.pending ??= []).push(value);
        if (slot.pending.length >= 256) this.settle(slot);
      }
      mark(slot, i);
    }
  }

  /** Widens the slot's mark of a stream to cover `position`. */
  #mark(slot: Slot<V>, stream: string, position: bigint): void {
    const first = slot.mark;
    if (first === null) {
      slot.mark = { stream, from: position, to: position };
      return;
    }
    if (first.stream === stream) {
      if (position > first.to) first.to = position;
      return;
    }
    const marks = slot.marks ??= new Map();
    const mark = marks.get(stream);
    if (mark === undefined) marks.set(stream, { from: position, to: position });
    else if (position > mark.to) mark.to = position;
  }

  /** The buffer's folded deltas, one per (key, bucket), with their marks. */
  deltas(buffer: Buffer<V>): Delta<V>[] {
    const deltas: Delta<V>[] = [];
    for (const slot of buffer.list) {
      if (slot.pending !== null) this.settle(slot);
      const delta: {
        key: StateKey;
        value: V;
        expiresAt?: number;
        marks?: StreamMark[];
      } = {
        key: slot.key,
        value: slot.value,
      };
      if (slot.expiresAt !== undefined) delta.expiresAt = slot.expiresAt;
      if (slot.mark !== null) {
        // The slot's own mark object: release() drops it, and no fold
        // touches it once its buffer is written.
        const marks: StreamMark[] = [slot.mark];
        if (slot.marks !== null) {
          for (const [stream, { from, to }] of slot.marks) {
            marks.push({ stream, from, to });
          }
        }
        delta.marks = marks;
      }
      deltas.push(delta);
    }
    return deltas;
  }
}

/** Raises the highest position the buffer holds of a stream to `position`. */
function raise<V>(buffer: Buffer<V>, stream: string, position: bigint): void {
  const max = buffer.streamMax.get(stream);
  if (max === undefined || position > max) {
    buffer.streamMax.set(stream, position);
  }
}
