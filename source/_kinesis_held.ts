// The shards a Kinesis worker holds: conditional lease writes, checkpoints, finishing, releasing and handing over.

import { delay } from "../internal/async.ts";
import { AckTracker } from "./ack_tracker.ts";
import {
  LeaseLostError,
  type LeaseTable,
  SHARD_END,
} from "./_kinesis_leases.ts";
import type { KinesisLeaseEvent } from "./kinesis.ts";

/** A shard this worker holds. */
export interface Held {
  readonly shard: string;
  readonly streamId: string;
  /** Bumped on every acquisition, so records of an earlier one are told apart. */
  readonly generation: number;
  readonly reader: AbortController;
  counter: number;
  checkpoint: string;
  queued: number;
  behind: number;
  ended: boolean;
  leaving: boolean;
  chain: Promise<unknown>;
}

let generations = 0;

/** What {@linkcode HeldLeases} needs from its source. */
export interface HeldContext {
  readonly table: LeaseTable;
  readonly workerId: string;
  readonly closeTimeout: number;
  /** Stops a shard's reader and drops what it read and did not hand out. */
  drop(held: Held): void;
  event(event: Omit<KinesisLeaseEvent, "worker">): void;
}

/** The shards held, with their ack tracking and every lease write after taking them. */
export class HeldLeases {
  readonly tracker = new AckTracker();
  readonly #map = new Map<string, Held>();
  readonly #table: LeaseTable;
  readonly #workerId: string;
  readonly #closeTimeout: number;
  readonly #drop: (held: Held) => void;
  readonly #event: (event: Omit<KinesisLeaseEvent, "worker">) => void;

  constructor(context: HeldContext) {
    this.#table = context.table;
    this.#workerId = context.workerId;
    this.#closeTimeout = context.closeTimeout;
    this.#drop = context.drop;
    this.#event = context.event;
  }

  /** Starts holding a shard whose lease was just taken (or handed to us). */
  add(
    shard: string,
    streamId: string,
    counter: number,
    checkpoint: string,
  ): Held {
    const held: Held = {
      shard,
      streamId,
      generation: ++generations,
      reader: new AbortController(),
      counter,
      checkpoint,
      queued: 0,
      behind: 0,
      ended: false,
      leaving: false,
      chain: Promise.resolve(),
    };
    this.tracker.forget(streamId);
    this.#map.set(shard, held);
    return held;
  }

  /** The held shard, if any. */
  get(shard: string): Held | undefined {
    return this.#map.get(shard);
  }

  /** Every held shard. */
  all(): Held[] {
    return [...this.#map.values()];
  }

  /** Whether `held` is still the current holding of its shard. */
  current(held: Held): boolean {
    return this.#map.get(held.shard) === held;
  }

  /** Acks a record read under `generation`; a record of an earlier holding is ignored. */
  ack(shard: string, generation: number, seq: bigint): void {
    const held = this.#map.get(shard);
    if (held === undefined || held.generation !== generation) return;
    this.tracker.ack(held.streamId, seq);
  }

  /** Renews every held lease (failures drop what was lost). */
  async renewAll(): Promise<void> {
    await Promise.all(
      this.all().map((held) =>
        this.write(held, { owner: this.#workerId }, "renew").catch(() => {})
      ),
    );
  }

  /** Serialized conditional write of one held lease; a lost condition drops the lease. */
  write(
    held: Held,
    change: { owner: string | undefined; checkpoint?: string },
    action: string,
  ): Promise<void> {
    const next = held.chain.then(async () => {
      if (this.#map.get(held.shard) !== held) return;
      try {
        held.counter = await this.#table.write(
          { shard: held.shard, counter: held.counter, owner: this.#workerId },
          change,
          action,
        );
        if (change.checkpoint !== undefined) {
          held.checkpoint = change.checkpoint;
        }
      } catch (error) {
        if (error instanceof LeaseLostError) this.lose(held);
        throw error;
      }
    });
    held.chain = next.catch(() => {});
    return next;
  }

  lose(held: Held): void {
    if (this.#map.get(held.shard) !== held) return;
    this.#drop(held);
    this.#map.delete(held.shard);
    this.tracker.forget(held.streamId);
    this.#event({ type: "lost", shard: held.shard });
  }

  /** The checkpoint acked records allow, when it is past the one written. */
  #committable(held: Held): string | undefined {
    const at = this.tracker.committable(held.streamId);
    if (at === undefined) return undefined;
    const written = /^\d+$/.test(held.checkpoint)
      ? BigInt(held.checkpoint)
      : -1n;
    return at > written ? at.toString() : undefined;
  }

  #drained(held: Held): boolean {
    return held.queued === 0 && this.tracker.pending(held.streamId) === 0;
  }

  async checkpointAll(): Promise<void> {
    await Promise.all([...this.#map.values()].map(async (held) => {
      if (held.leaving) return;
      if (held.ended && this.#drained(held)) {
        await this.#finish(held).catch(() => {});
        return;
      }
      const checkpoint = this.#committable(held);
      if (checkpoint === undefined) return;
      await this.write(
        held,
        { owner: this.#workerId, checkpoint },
        "checkpoint",
      )
        .catch(() => {});
    }));
  }

  async #finish(held: Held): Promise<void> {
    held.leaving = true;
    await this.write(
      held,
      { owner: undefined, checkpoint: SHARD_END },
      "finish",
    );
    this.#map.delete(held.shard);
    this.tracker.forget(held.streamId);
    this.#event({ type: "finished", shard: held.shard, checkpoint: SHARD_END });
  }

  /** Stops reading a shard, waits for its records out with the runtime, checkpoints, and frees or hands over the lease. */
  async leave(held: Held, to: string | undefined): Promise<void> {
    held.leaving = true;
    this.#drop(held);
    const deadline = Date.now() + this.#closeTimeout;
    while (
      this.tracker.pending(held.streamId) > 0 && Date.now() < deadline &&
      this.#map.get(held.shard) === held
    ) {
      await delay(20);
    }
    if (this.#map.get(held.shard) !== held) return;
    try {
      if (held.ended && this.#drained(held)) {
        await this.#finish(held);
        return;
      }
      const checkpoint = this.#committable(held);
      await this.write(
        held,
        checkpoint === undefined ? { owner: to } : { owner: to, checkpoint },
        to === undefined ? "release" : "hand over",
      );
    } catch {
      // Not written: let the lease expire; its next owner resumes at the last checkpoint.
      this.lose(held);
      return;
    }
    this.#map.delete(held.shard);
    this.tracker.forget(held.streamId);
    this.#event({
      type: "released",
      shard: held.shard,
      checkpoint: held.checkpoint,
      ...(to === undefined ? {} : { to }),
    });
  }
}
