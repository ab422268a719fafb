// Stage 1, extract: keys, value, event time and bucket of each record; bad, late and duplicate records set aside.

import type { Monoid, MonoidKind } from "../monoid/mod.ts";
import type { Pipeline } from "../pipeline/mod.ts";
import type { SourceRecord } from "../source/mod.ts";
import { type Delta, entityProblem, type StreamMark } from "../state/mod.ts";
import { isShortEntity, shortEntityLength } from "../state/_limits.ts";
import { RecordError, type RecordStage } from "./errors.ts";
import type { ResolvedOptions } from "./options.ts";
import type { Progress } from "./_progress.ts";

/** A record as the stages pass it around. */
export type AnyRecord = SourceRecord<unknown>;

/** A record refused, with the reason. */
export interface DeadRecord {
  readonly record: AnyRecord;
  readonly error: RecordError;
}

/** A per-record delta, written alone so marks or claims decide it exactly. */
export interface ExactDelta<V> {
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
  readonly exact: ExactDelta<V>[];
  readonly dead: DeadRecord[];
  debounced: number;
  /** Records whose bucket was past retention and were dropped. */
  late: number;
  maxTime: number;
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

// Sketch kinds whose values are instances of the sketch's own class, which always encode.
const SKETCH_KINDS: ReadonlySet<MonoidKind> = new Set(["hll", "topk", "bloom"]);

/**
 * How a non-additive value is checked before it is folded (`null`: additive
 * values need no check): combine() with an identity operand may skip type
 * checks, so the value must encode; a sketch value only has to be an
 * instance of the identity's class (encoding every one-event sketch would
 * cost more than folding it).
 */
export function valueCheck<V>(monoid: Monoid<V>): ((value: V) => void) | null {
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

/**
 * Throws unless `key` is a key the pipeline's store can hold; `short` is
 * the store's `shortEntityLength()` (the common case needs no call).
 */
function checkKey(
  store: Pipeline<unknown, unknown>["store"],
  key: unknown,
  short: number,
): void {
  if (isShortEntity(key, short)) return;
  if (typeof key !== "string") {
    throw new TypeError(`expected a non-empty string key, got ${typeof key}`);
  }
  const problem = entityProblem(store, key);
  if (problem !== undefined) {
    throw new RangeError(
      key === ""
        ? "expected a non-empty string key, got an empty string"
        : problem,
    );
  }
}

/** Extracts record batches of one pipeline. */
export class Extractor<E, V> {
  readonly #pipeline: Pipeline<E, V>;
  readonly #options: ResolvedOptions;
  readonly #checkValue: ((value: V) => void) | null;
  readonly #keyDebounce: Debouncer | null;
  readonly #valueDebounce: Debouncer | null;

  constructor(pipeline: Pipeline<E, V>, options: ResolvedOptions) {
    this.#pipeline = pipeline;
    this.#options = options;
    this.#checkValue = valueCheck(pipeline.monoid);
    const kd = options.keyDebounce;
    const vd = options.valueDebounce;
    this.#keyDebounce = kd === null
      ? null
      : new Debouncer(kd.window, kd.maxKeys);
    this.#valueDebounce = vd === null
      ? null
      : new Debouncer(vd.window, vd.maxKeys);
  }

  /**
   * Extracts every record of a batch. With `progress` (dedup on), records
   * at or below their stream's horizon, and records without a position,
   * become exact per-record deltas. With `replan` (a flush found its folded
   * deltas partly applied by another writer), every record becomes an exact
   * delta and debouncers are not asked again.
   */
  prepare(
    records: readonly SourceRecord<E>[],
    progress: Progress | null,
    replan = false,
  ): Prepared<V> {
    const pipeline = this.#pipeline;
    const name = pipeline.name;
    const n = records.length;
    const out: Prepared<V> = {
      records: records as readonly AnyRecord[],
      entities: [],
      buckets: [],
      values: [],
      expires: [],
      owners: [],
      streams: [],
      positions: [],
      exact: [],
      dead: [],
      debounced: 0,
      late: 0,
      maxTime: -Infinity,
    };
    const { key: keyOf, keys: keysOf, value: valueOf, time: timeOf } =
      pipeline.extract;
    const store = pipeline.store as Pipeline<unknown, unknown>["store"];
    const shortKey = shortEntityLength(store);
    const window = pipeline.window;
    const monoid = pipeline.monoid;
    const keyDebounce = replan ? null : this.#keyDebounce;
    const valueDebounce = replan ? null : this.#valueDebounce;
    const now = this.#options.now();
    const lateDead = pipeline.lateData === "deadLetter";
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
          error: new RecordError("decode", name, record.id, record.error),
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
          checkKey(store, single, shortKey);
        } else {
          many = keysOf!(event);
          if (!Array.isArray(many)) {
            throw new TypeError(
              `expected an array of keys, got ${typeof many}`,
            );
          }
          for (const k of many) checkKey(store, k, shortKey);
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
          if (expiresAt !== undefined && expiresAt <= now) {
            // Past retention: writing it would store an item already expired.
            stage = "late";
            if (!lateDead) {
              out.late++;
              continue;
            }
            throw new RangeError(
              `bucket ${new Date(bucket!).toISOString()} expired at ${
                new Date(expiresAt).toISOString()
              }`,
            );
          }
        }
      } catch (error) {
        out.dead.push({
          record: record as AnyRecord,
          error: new RecordError(stage, name, record.id, error),
        });
        continue;
      }
      if (time > out.maxTime) out.maxTime = time;
      if (progress !== null) {
        const stream = record.stream;
        const position = record.position;
        // A record without a position, or at or below the horizon, is written alone.
        let exact: { marks: StreamMark[] } | { claims: string[] } | undefined;
        if (stream === undefined || position === undefined) {
          exact = { claims: [`${name}|${record.id}`] };
        } else if (replan || !progress.advance(stream, position)) {
          exact = { marks: [{ stream, from: position, to: position }] };
        } else {
          const count = single !== undefined ? 1 : many!.length;
          for (let i = 0; i < count; i++) {
            out.streams.push(stream);
            out.positions.push(position);
          }
        }
        if (exact !== undefined) {
          this.#exactRecord(
            out,
            record as AnyRecord,
            single !== undefined ? [single] : many!,
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

  #exactRecord(
    out: Prepared<V>,
    record: AnyRecord,
    keys: readonly string[],
    bucket: number | null,
    value: V,
    expiresAt: number | undefined,
    exact: { marks: StreamMark[] } | { claims: string[] },
  ): void {
    const monoid = this.#pipeline.monoid;
    try {
      monoid.combine(monoid.identity(), value);
      this.#checkValue?.(value);
    } catch (error) {
      out.dead.push({
        record,
        error: new RecordError("fold", this.#pipeline.name, record.id, error),
      });
      return;
    }
    for (const entity of keys) {
      const delta: Delta<V> = {
        key: { entity, bucket },
        value,
        ...(expiresAt === undefined ? {} : { expiresAt }),
        ...exact,
      };
      out.exact.push({ delta, record });
    }
  }
}
