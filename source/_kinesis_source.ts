// The Kinesis source's engine: leases, shard readers, the record queue, acks and checkpoints.

import { singlePassIterator } from "./_single_pass.ts";
import { KinesisClient } from "@aws-sdk/client-kinesis";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { delay } from "../internal/async.ts";
import { type Held, HeldLeases } from "./_kinesis_held.ts";
import type { SourceRecord } from "./source.ts";
import {
  type Lease,
  type LeaseClient,
  LeaseLostError,
  LeaseTable,
  SHARD_END,
} from "./_kinesis_leases.ts";
import { type Observation, observe, planLeases } from "./_kinesis_plan.ts";
import { BatchQueue } from "./_kinesis_queue.ts";
import { type RawRecord, readShard } from "./_kinesis_reader.ts";
import {
  createMissingLeases,
  listShards,
  type ShardInfo,
} from "./_kinesis_shards.ts";
import {
  type KinesisRecord,
  type Resolved,
  resolveOptions,
} from "./_kinesis_record.ts";
import type {
  KinesisLeaseEvent,
  KinesisShardStatus,
  KinesisSourceHandle,
  KinesisSourceOptions,
} from "./kinesis.ts";

/** The Kinesis source: see `kinesisSource()` for the contract. */
export class KinesisSource<T> implements KinesisSourceHandle<T> {
  readonly name: string;
  readonly workerId: string;
  readonly #o: Resolved<T>;
  readonly #kinesis: KinesisClient;
  readonly #table: LeaseTable;
  readonly #held: HeldLeases;
  readonly #observed = new Map<string, Observation>();
  #shards = new Map<string, ShardInfo>();
  #leases: Lease[] = [];
  readonly #queue: BatchQueue<Held, KinesisRecord<T>>;
  #iterated = false;
  #started: Promise<void> | undefined;
  #failure: Error | undefined;
  #closing = false;
  #closed: Promise<void> | undefined;
  readonly #stop = new AbortController();
  #loops: Promise<void>[] = [];

  constructor(options: KinesisSourceOptions<T>) {
    this.#o = resolveOptions(options);
    this.name = `kinesis:${this.#o.stream}`;
    this.workerId = this.#o.workerId;
    this.#queue = new BatchQueue(this.#o.maxBufferedRecords);
    this.#kinesis = (options.kinesis as KinesisClient | undefined) ??
      new KinesisClient({});
    this.#table = new LeaseTable(
      (options.dynamodb as LeaseClient | undefined) ?? new DynamoDBClient({}),
      this.#o.leaseTable,
    );
    this.#held = new HeldLeases({
      table: this.#table,
      workerId: this.workerId,
      closeTimeout: this.#o.closeTimeout,
      drop: (held) => {
        held.reader.abort();
        this.#queue.drop(held);
      },
      event: (event) => this.#event(event),
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<readonly SourceRecord<T>[]> {
    const iterator = singlePassIterator(
      this,
      this.#iterated,
      () => this.#next(),
    );
    this.#iterated = true;
    return iterator;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  close(): Promise<void> {
    this.#closed ??= this.#shutdown();
    return this.#closed;
  }

  millisBehindLatest(): number {
    let max = 0;
    for (const held of this.#held.all()) max = Math.max(max, held.behind);
    return max;
  }

  status(): KinesisShardStatus[] {
    return this.#held.all().map((held) => ({
      shard: held.shard,
      checkpoint: held.checkpoint,
      millisBehindLatest: held.behind,
      pending: this.#held.tracker.pending(held.streamId) + held.queued,
    }));
  }

  async #next(): Promise<IteratorResult<readonly SourceRecord<T>[]>> {
    if (this.#started === undefined && !this.#closing) {
      this.#started = this.#start();
    }
    await this.#started;
    while (true) {
      if (this.#failure !== undefined) throw this.#failure;
      const item = this.#queue.shift();
      if (item !== undefined) {
        const { owner: held, records } = item;
        for (const r of records) {
          this.#held.tracker.delivered(held.streamId, r.seq);
        }
        return { done: false, value: records };
      }
      if (this.#closing) return { done: true, value: undefined };
      await this.#queue.next();
    }
  }

  async #start(): Promise<void> {
    const o = this.#o;
    try {
      await this.#table.ensure(this.#stop.signal);
      await this.#discover();
      await this.#tick();
    } catch (error) {
      if (this.#closing) return;
      this.#failure = new Error(
        `${this.name}: could not start (lease table "${o.leaseTable}"): ${
          error instanceof Error ? error.message : String(error)
        }; check the stream exists and DynamoDB is reachable`,
        { cause: error },
      );
      return;
    }
    this.#loops = [
      this.#every(o.leaseDuration / 3, () => this.#tick()),
      this.#every(o.discoveryInterval, () => this.#discover()),
      this.#every(o.checkpointInterval, () => this.#held.checkpointAll()),
    ];
  }

  async #every(ms: number, work: () => Promise<void>): Promise<void> {
    while (!this.#closing) {
      try {
        await delay(ms, this.#stop.signal);
        await work();
      } catch (error) {
        if (this.#closing) return;
        this.#warn(
          `background work failed, retrying: ${
            error instanceof Error ? error.message : String(error)
          }`,
        );
      }
    }
  }

  /** Lists the stream's shards and creates a lease for each new one, parents first. */
  async #discover(): Promise<void> {
    this.#shards = await listShards(
      this.#kinesis,
      this.#o.stream,
      this.#stop.signal,
    );
    await createMissingLeases(
      this.#table,
      this.#shards,
      this.#leases,
      this.#o.start,
    );
  }

  /** Scans the lease table, follows what others did, balances, and renews our leases. */
  async #tick(): Promise<void> {
    const me = this.workerId;
    const leases = await this.#table.list(this.#stop.signal);
    this.#leases = leases;
    const now = performance.now();
    observe(this.#observed, leases, now);
    const byShard = new Map(leases.map((l) => [l.shard, l]));
    for (const held of this.#held.all()) {
      const lease = byShard.get(held.shard);
      if (lease === undefined || (lease.owner !== me && !held.leaving)) {
        this.#held.lose(held);
      }
    }
    for (const lease of leases) {
      // A lease handed to us by its previous owner.
      if (
        lease.owner === me && this.#held.get(lease.shard) === undefined &&
        lease.checkpoint !== SHARD_END && !this.#closing
      ) {
        this.#acquire(lease, lease.counter);
      }
    }
    if (this.#closing) return;
    const plan = planLeases({
      me,
      leases,
      held: new Set(this.#held.all().map((h) => h.shard)),
      observed: this.#observed,
      now,
      leaseDuration: this.#o.leaseDuration,
    });
    await Promise.all(plan.take.map(async (lease) => {
      try {
        const counter = await this.#table.write(lease, { owner: me }, "take");
        this.#acquire(lease, counter);
      } catch (error) {
        if (!(error instanceof LeaseLostError)) throw error;
      }
    }));
    for (const { shard, to } of plan.handOver) {
      const held = this.#held.get(shard);
      if (held !== undefined && !held.leaving) void this.#held.leave(held, to);
    }
    for (const shard of plan.release) {
      const held = this.#held.get(shard);
      if (held !== undefined && !held.leaving) {
        void this.#held.leave(held, undefined);
      }
    }
    if (plan.request !== undefined && plan.request.owner !== undefined) {
      await this.#table.request(plan.request.shard, plan.request.owner, me);
    }
    await this.#held.renewAll();
  }

  #acquire(lease: Lease, counter: number): void {
    const held = this.#held.add(
      lease.shard,
      `kinesis:${this.#o.stream}:${lease.shard}`,
      counter,
      lease.checkpoint,
    );
    this.#event({
      type: "acquired",
      shard: held.shard,
      checkpoint: lease.checkpoint,
    });
    const o = this.#o;
    readShard({
      client: this.#kinesis,
      stream: o.stream,
      shard: held.shard,
      start: lease.checkpoint,
      batchSize: o.batchSize,
      pollInterval: o.pollInterval,
      maxPollInterval: o.maxPollInterval,
      signal: held.reader.signal,
      closed: () => this.#shards.get(held.shard)?.closed ?? false,
      deliver: (records, behind) => this.#deliver(held, records, behind),
      warn: (message) => this.#warn(message),
    }).then(
      (outcome) => {
        if (outcome === "end" && this.#held.current(held)) {
          held.ended = true;
        }
      },
      (error) => this.#warn(`${held.shard}: reader stopped: ${String(error)}`),
    );
  }

  async #deliver(held: Held, raw: RawRecord[], behind: number): Promise<void> {
    held.behind = behind;
    if (raw.length === 0 || held.reader.signal.aborted) return;
    const records = raw.map((r) =>
      this.#o.record(r, held.shard, held.streamId, held.generation, this.#ack)
    );
    await this.#queue.push(held, records, held.reader.signal);
  }

  readonly #ack = (shard: string, generation: number, seq: bigint): void =>
    this.#held.ack(shard, generation, seq);

  async #shutdown(): Promise<void> {
    this.#closing = true;
    this.#queue.wake();
    if (this.#started !== undefined) await this.#started;
    this.#stop.abort();
    await Promise.allSettled(this.#loops);
    await Promise.allSettled(
      this.#held.all().map((held) => this.#held.leave(held, undefined)),
    );
    this.#queue.clear();
  }

  #event(event: Omit<KinesisLeaseEvent, "worker">): void {
    this.#o.onLease?.({ ...event, worker: this.workerId } as KinesisLeaseEvent);
  }

  #warn(message: string): void {
    console.warn(`[${this.name} ${this.workerId}] ${message}`);
  }
}
