// Per-stream bookkeeping of delivered and acked positions, so a partitioned source commits only contiguous runs.

/** One stream's queue of delivered positions (ascending) with their ack flags. */
class StreamQueue {
  positions: bigint[] = [];
  acked: boolean[] = [];
  head = 0;
  committed: bigint | undefined = undefined;
  last: bigint | undefined = undefined;

  get pending(): number {
    return this.positions.length - this.head;
  }

  deliver(position: bigint): boolean {
    if (this.last !== undefined && position <= this.last) return false;
    this.positions.push(position);
    this.acked.push(false);
    this.last = position;
    return true;
  }

  /** Index of `position` in the live part of the queue, or -1. */
  indexOf(position: bigint): number {
    const { positions, head } = this;
    const n = positions.length;
    if (head >= n) return -1;
    const first = positions[head]!;
    if (position < first || position > this.last!) return -1;
    // Contiguous offsets (the common case) map straight to an index.
    const offset = position - first;
    if (offset < BigInt(n - head)) {
      const guess = head + Number(offset);
      if (positions[guess] === position) return guess;
    }
    let lo = head;
    let hi = n - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const p = positions[mid]!;
      if (p === position) return mid;
      if (p < position) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  ack(position: bigint): boolean {
    const i = this.indexOf(position);
    if (i < 0 || this.acked[i]) return false;
    this.acked[i] = true;
    if (i !== this.head) return true;
    const { positions, acked } = this;
    let h = this.head;
    while (h < positions.length && acked[h]) h++;
    this.committed = positions[h - 1];
    this.head = h;
    // Drop the acked prefix once it is the larger part, keeping pushes and acks amortized O(1).
    if (h === positions.length) {
      this.positions = [];
      this.acked = [];
      this.head = 0;
    } else if (h > 1024 && h * 2 > positions.length) {
      this.positions = positions.slice(h);
      this.acked = acked.slice(h);
      this.head = 0;
    }
    return true;
  }
}

/**
 * Tracks which records of each ordered stream (a Kafka partition, a Kinesis
 * shard, a file) were delivered and which were acked, in any order, and tells
 * how far each stream may be committed: the highest position `p` such that
 * every delivered record at or below `p` was acked.
 *
 * Positions must be delivered in ascending order per stream (gaps are fine,
 * e.g. compacted Kafka offsets); a position at or below the last delivered one
 * is ignored, as is an ack of a position not pending (a duplicate ack). Acks
 * cost O(1) amortized for contiguous positions and O(log n) otherwise.
 *
 * @example Usage
 * ```ts
 * import { AckTracker } from "@murmur/core/source";
 * import assert from "node:assert/strict";
 *
 * const tracker = new AckTracker();
 * for (const offset of [10n, 11n, 12n]) tracker.delivered("orders:0", offset);
 * tracker.ack("orders:0", 11n); // out of order: 10 is still in flight
 * assert.equal(tracker.committable("orders:0"), undefined);
 * tracker.ack("orders:0", 10n);
 * assert.equal(tracker.committable("orders:0"), 11n);
 * ```
 */
export class AckTracker {
  #streams = new Map<string, StreamQueue>();

  #queue(stream: string): StreamQueue {
    let queue = this.#streams.get(stream);
    if (queue === undefined) {
      queue = new StreamQueue();
      this.#streams.set(stream, queue);
    }
    return queue;
  }

  /**
   * Records that the record at `position` of `stream` was handed out.
   *
   * @param stream The stream's identity, e.g. `"kafka:orders:0"`.
   * @param position The record's position; must exceed the last one delivered on `stream`.
   * @returns `true` when the position was tracked, `false` when it was at or below the last delivered one and ignored.
   *
   * @example Usage
   * ```ts
   * import { AckTracker } from "@murmur/core/source";
   * import assert from "node:assert/strict";
   * const tracker = new AckTracker();
   * assert.equal(tracker.delivered("s", 1n), true);
   * assert.equal(tracker.delivered("s", 1n), false);
   * ```
   */
  delivered(stream: string, position: bigint): boolean {
    return this.#queue(stream).deliver(position);
  }

  /**
   * Records that the record at `position` of `stream` is durable.
   *
   * @param stream The stream's identity.
   * @param position The acked record's position.
   * @returns `true` when a pending record was acked, `false` for an unknown or repeated ack.
   *
   * @example Usage
   * ```ts
   * import { AckTracker } from "@murmur/core/source";
   * import assert from "node:assert/strict";
   * const tracker = new AckTracker();
   * tracker.delivered("s", 5n);
   * assert.equal(tracker.ack("s", 5n), true);
   * assert.equal(tracker.ack("s", 5n), false);
   * ```
   */
  ack(stream: string, position: bigint): boolean {
    const queue = this.#streams.get(stream);
    return queue === undefined ? false : queue.ack(position);
  }

  /**
   * The highest position of `stream` at or below which every delivered record was acked.
   *
   * @param stream The stream's identity.
   * @returns The position, or `undefined` when nothing can be committed yet.
   *
   * @example Usage
   * ```ts
   * import { AckTracker } from "@murmur/core/source";
   * import assert from "node:assert/strict";
   * const tracker = new AckTracker();
   * tracker.delivered("s", 1n);
   * tracker.delivered("s", 4n); // a gap is fine
   * tracker.ack("s", 4n);
   * tracker.ack("s", 1n);
   * assert.equal(tracker.committable("s"), 4n);
   * ```
   */
  committable(stream: string): bigint | undefined {
    return this.#streams.get(stream)?.committed;
  }

  /**
   * How many delivered records of `stream` are waiting for their ack, or in
   * the acked run behind the first unacked one.
   *
   * @param stream The stream's identity.
   * @returns The count of delivered records not yet committable.
   *
   * @example Usage
   * ```ts
   * import { AckTracker } from "@murmur/core/source";
   * import assert from "node:assert/strict";
   * const tracker = new AckTracker();
   * tracker.delivered("s", 1n);
   * tracker.delivered("s", 2n);
   * tracker.ack("s", 2n);
   * assert.equal(tracker.pending("s"), 2);
   * ```
   */
  pending(stream: string): number {
    return this.#streams.get(stream)?.pending ?? 0;
  }

  /**
   * The committable position of every stream that has one.
   *
   * @returns A map from stream to its committable position.
   *
   * @example Usage
   * ```ts
   * import { AckTracker } from "@murmur/core/source";
   * import assert from "node:assert/strict";
   *
   * const tracker = new AckTracker();
   * tracker.delivered("a", 1n);
   * tracker.ack("a", 1n);
   * tracker.delivered("b", 7n);
   * assert.deepEqual(tracker.committableAll(), new Map([["a", 1n]]));
   * ```
   */
  committableAll(): Map<string, bigint> {
    const out = new Map<string, bigint>();
    for (const [stream, queue] of this.#streams) {
      if (queue.committed !== undefined) out.set(stream, queue.committed);
    }
    return out;
  }

  /**
   * Forgets `stream`, e.g. when a Kafka partition is revoked; later acks for it are ignored.
   *
   * @param stream The stream's identity.
   * @returns `true` when the stream was tracked.
   *
   * @example Usage
   * ```ts
   * import { AckTracker } from "@murmur/core/source";
   * import assert from "node:assert/strict";
   * const tracker = new AckTracker();
   * tracker.delivered("s", 1n);
   * tracker.forget("s");
   * assert.equal(tracker.ack("s", 1n), false);
   * ```
   */
  forget(stream: string): boolean {
    return this.#streams.delete(stream);
  }

  /**
   * The streams currently tracked.
   *
   * @returns The stream identities, in first-delivery order.
   *
   * @example Usage
   * ```ts
   * import { AckTracker } from "@murmur/core/source";
   * import assert from "node:assert/strict";
   * const tracker = new AckTracker();
   * tracker.delivered("b", 1n);
   * tracker.delivered("a", 1n);
   * assert.deepEqual(tracker.streams(), ["b", "a"]);
   * ```
   */
  streams(): string[] {
    return [...this.#streams.keys()];
  }
}
