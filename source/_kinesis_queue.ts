// The Kinesis source's buffer between shard readers and the runtime: batches in arrival order, bounded in records.

/** What the queue needs of a batch's owner: how many of its records wait here. */
export interface QueueOwner {
  queued: number;
}

/** Batches read from shards, waiting for the runtime to pull them. */
export class BatchQueue<O extends QueueOwner, R> {
  #items: { owner: O; records: R[] }[] = [];
  #queued = 0;
  #wakeData: (() => void) | undefined;
  #roomWaiters: (() => void)[] = [];
  readonly #max: number;

  constructor(maxRecords: number) {
    this.#max = maxRecords;
  }

  /** Adds a batch; resolves once the queue is back under its bound (or `stop` aborted). */
  async push(owner: O, records: R[], stop: AbortSignal): Promise<void> {
    owner.queued += records.length;
    this.#queued += records.length;
    this.#items.push({ owner, records });
    this.wake();
    while (this.#queued > this.#max && !stop.aborted) {
      await new Promise<void>((resolve) => this.#roomWaiters.push(resolve));
    }
  }

  /** Takes the oldest batch, if any. */
  shift(): { owner: O; records: R[] } | undefined {
    const item = this.#items.shift();
    if (item === undefined) return undefined;
    item.owner.queued -= item.records.length;
    this.#queued -= item.records.length;
    if (this.#queued <= this.#max) this.#wakeRoom();
    return item;
  }

  /** Drops every batch of `owner`. */
  drop(owner: O): void {
    this.#items = this.#items.filter((item) => item.owner !== owner);
    this.#queued -= owner.queued;
    owner.queued = 0;
    this.#wakeRoom();
  }

  /** Drops everything and releases every waiting reader. */
  clear(): void {
    for (const item of this.#items) item.owner.queued = 0;
    this.#items = [];
    this.#queued = 0;
    this.#wakeRoom();
  }

  /** Resolves when a batch arrives or {@linkcode wake} is called. */
  async next(): Promise<void> {
    await new Promise<void>((resolve) => this.#wakeData = resolve);
    this.#wakeData = undefined;
  }

  /** Wakes the runtime's wait for data. */
  wake(): void {
    this.#wakeData?.();
  }

  #wakeRoom(): void {
    for (const wake of this.#roomWaiters.splice(0)) wake();
  }
}
