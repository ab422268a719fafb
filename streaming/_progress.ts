// Exactly-once progress per stream: the recovery horizon read from the store and the intents written before each flush.

import { defineMonoid, type Monoid } from "../monoid/mod.ts";
import type { SourceRecord } from "../source/mod.ts";
import type { Delta, Scope } from "../state/mod.ts";

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

/**
 * Per stream: the horizon (the highest position that may have been applied
 * already, by this process or a dead one) and the intent this process wrote.
 *
 * Before a flush writes folded deltas it records, per stream, the highest
 * position the flush covers (the intent). After a crash the next owner reads
 * the intent: records at or below it may have been applied in part, so they
 * are written per record (exact), where marks decide each one; records past
 * it are folded as ranges.
 *
 * A stream's horizon is loaded when the stream is first seen, and again when
 * its owner changes: the source says so with a new `generation` on its
 * records, or the runtime calls {@linkcode Progress.forget} (a revoked
 * partition), since another worker may have written past the old horizon.
 */
export class Progress {
  readonly scope: Scope<bigint>;
  /** Per stream: the highest position already applied or attempted. */
  readonly #horizon = new Map<string, bigint>();
  /** Per stream: the highest intent written. */
  readonly #intent = new Map<string, bigint>();
  /** Per stream: the source generation the horizon was loaded under. */
  readonly #generation = new Map<string, number | undefined>();

  constructor(pipeline: string) {
    this.scope = progressScope(pipeline);
  }

  /**
   * The streams of `records` whose horizon must be (re)loaded: never seen,
   * forgotten, or seen under another source generation.
   */
  stale(records: readonly SourceRecord<unknown>[]): string[] | undefined {
    let out: string[] | undefined;
    let last: string | undefined;
    for (const record of records) {
      const stream = record.stream;
      if (stream === undefined) continue;
      // Checked before the position, which a source may build on each read.
      if (stream === last && out === undefined) continue;
      if (record.position === undefined) continue;
      const generation = (record as { generation?: number }).generation;
      if (
        !this.#horizon.has(stream) ||
        this.#generation.get(stream) !== generation
      ) {
        out ??= [];
        if (!out.includes(stream)) {
          out.push(stream);
          this.#generation.set(stream, generation);
        }
      }
      last = stream;
    }
    return out;
  }

  /** Sets the horizons read from the store (`undefined`: nothing stored). */
  loaded(streams: readonly string[], stored: readonly (bigint | undefined)[]) {
    streams.forEach((stream, i) => {
      const at = stored[i] ?? -1n;
      // A horizon only grows within one ownership: keep what this process saw.
      const mine = this.#horizon.get(stream);
      this.#horizon.set(stream, mine !== undefined && mine > at ? mine : at);
      this.#intent.set(stream, at);
    });
  }

  /** Drops what is known of a stream (its owner changed): the next record reloads it. */
  forget(stream: string): void {
    this.#horizon.delete(stream);
    this.#intent.delete(stream);
    this.#generation.delete(stream);
  }

  /**
   * Whether a record at `position` is past the horizon (and may be folded
   * as a range); if so, the horizon moves to it.
   */
  advance(stream: string, position: bigint): boolean {
    if (position <= this.#horizon.get(stream)!) return false;
    this.#horizon.set(stream, position);
    return true;
  }

  /** The intent deltas a flush covering `streamMax` must write first (empty when written). */
  intentDeltas(streamMax: ReadonlyMap<string, bigint>): Delta<bigint>[] {
    const deltas: Delta<bigint>[] = [];
    for (const [stream, max] of streamMax) {
      const written = this.#intent.get(stream) ?? -1n;
      if (max > written) {
        deltas.push({ key: { entity: stream, bucket: null }, value: max });
      }
    }
    return deltas;
  }

  /** Records intents as written. */
  wrote(deltas: readonly Delta<bigint>[]): void {
    for (const d of deltas) {
      const now = this.#intent.get(d.key.entity) ?? -1n;
      if (d.value > now) this.#intent.set(d.key.entity, d.value);
    }
  }
}
