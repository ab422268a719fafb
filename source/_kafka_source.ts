// The Kafka source's engine: turns client batches into records, holds each batch until acked, commits contiguous offsets.

import { singlePassIterator } from "./_single_pass.ts";
import { AckTracker } from "./ack_tracker.ts";
import type { Source, SourceRecord } from "./source.ts";
import {
  type BatchControl,
  type ClientBatch,
  type ClientLogLevel,
  type ClientMessage,
  type ConsumerClient,
  type ConsumerSettings,
  RebalanceSignal,
} from "./_kafka_client.ts";
import {
  jsonDecoder,
  KafkaDecodeError,
  KafkaSourceError,
} from "./_kafka_common.ts";
import type {
  KafkaCommittedOffset,
  KafkaDecoder,
  KafkaMessage,
  KafkaPartition,
  KafkaSourceOptions,
} from "./kafka.ts";

/** The options of a Kafka source with defaults applied; the consumer's settings among them. */
export interface ResolvedSourceOptions<T> extends ConsumerSettings {
  readonly name: string;
  readonly decode: KafkaDecoder<T>;
  readonly id: ((message: KafkaMessage, value: T) => string) | undefined;
  readonly time: ((message: KafkaMessage, value: T) => number) | undefined;
  readonly maxBufferedRecords: number;
  readonly handoverTimeout: number;
  readonly commitInterval: number;
  readonly closeTimeout: number;
  readonly logLevel: ClientLogLevel;
  readonly onAssignment:
    | ((partitions: readonly KafkaPartition[]) => void)
    | undefined;
  readonly onCommit:
    | ((offsets: readonly KafkaCommittedOffset[]) => void)
    | undefined;
}

/** Throws a TypeError naming the option when no broker is given. */
export function requireBrokers(brokers: readonly string[] | undefined): void {
  if (!Array.isArray(brokers) || brokers.length === 0) {
    throw new TypeError(
      'Kafka needs at least one broker: pass { brokers: ["host:9092"] }',
    );
  }
}

/** Validates a size or duration option, returning the fallback when unset. */
export function positive(
  name: string,
  value: number | undefined,
  fallback: number,
  zeroAllowed = false,
): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0 || (!zeroAllowed && value === 0)) {
    throw new RangeError(
      `Kafka option ${name} must be a ${
        zeroAllowed ? "non-negative" : "positive"
      } number, got ${value}`,
    );
  }
  return value;
}

/** Validates the user's options and applies defaults. */
export function resolveSourceOptions<T>(
  options: KafkaSourceOptions<T>,
): ResolvedSourceOptions<T> {
  requireBrokers(options.brokers);
  const topics = typeof options.topic === "string"
    ? [options.topic]
    : [...(options.topic ?? [])];
  if (topics.length === 0 || topics.some((topic) => topic.length === 0)) {
    throw new TypeError(
      'kafkaSource() needs a topic: pass { topic: "page_views" }',
    );
  }
  if (typeof options.groupId !== "string" || options.groupId.length === 0) {
    throw new TypeError(
      'kafkaSource() needs a consumer group: pass { groupId: "my-pipeline" }',
    );
  }
  const rebalanceTimeout = positive(
    "rebalanceTimeout",
    options.rebalanceTimeout,
    60_000,
  );
  return {
    name: `kafka:${topics.join(",")}`,
    topics,
    groupId: options.groupId,
    decode: options.decode ?? jsonDecoder<T>(),
    id: options.id,
    time: options.time,
    fromBeginning: options.fromBeginning ?? true,
    maxBufferedRecords: positive(
      "maxBufferedRecords",
      options.maxBufferedRecords,
      50_000,
    ),
    handoverTimeout: positive(
      "handoverTimeout",
      options.handoverTimeout,
      Math.min(20_000, rebalanceTimeout / 2),
    ),
    commitInterval: positive("commitInterval", options.commitInterval, 1_000),
    closeTimeout: positive("closeTimeout", options.closeTimeout, 10_000, true),
    sessionTimeout: positive("sessionTimeout", options.sessionTimeout, 30_000),
    rebalanceTimeout,
    heartbeatInterval: positive(
      "heartbeatInterval",
      options.heartbeatInterval,
      3_000,
    ),
    maxBytesPerPartition: positive(
      "maxBytesPerPartition",
      options.maxBytesPerPartition,
      4 * 1024 * 1024,
    ),
    maxBytes: positive("maxBytes", options.maxBytes, 32 * 1024 * 1024),
    maxWaitTime: positive("maxWaitTime", options.maxWaitTime, 500),
    partitionsConsumedConcurrently: positive(
      "partitionsConsumedConcurrently",
      options.partitionsConsumedConcurrently,
      64,
    ),
    logLevel: options.logLevel ?? "error",
    onAssignment: options.onAssignment,
    onCommit: options.onCommit,
  };
}

/** One assignment of partitions by the group; offsets are committed only while it is current. */
class Generation {
  static #next = 0;
  /** Bumped on every assignment: records carry it, so the runtime reloads a stream's exactly-once horizon when its owner may have changed. */
  readonly id = ++Generation.#next;
  readonly tracker = new AckTracker();
  /** Stream → the highest position committed. */
  readonly committed = new Map<string, bigint>();
  /** Stream → its topic and partition. */
  readonly partitions = new Map<string, KafkaPartition>();
  active = true;
}

/** One fetched batch being held until its records are acked. */
class Hold {
  remaining = 0;
  readonly done: Promise<void>;
  /** `<topic>/<partition>/`, the start of every default record id. */
  readonly idPrefix: string;
  #resolve!: () => void;

  constructor(
    readonly owner: { onAcked(): void },
    readonly generation: Generation,
    readonly stream: string,
    topic: string,
    partition: number,
  ) {
    this.done = new Promise((resolve) => this.#resolve = resolve);
    this.idPrefix = `${topic}/${partition}/`;
  }

  ack(position: bigint): void {
    if (!this.generation.tracker.ack(this.stream, position)) return;
    this.owner.onAcked();
    if (--this.remaining === 0) this.#resolve();
  }
}

class KafkaRecord<T> implements SourceRecord<T> {
  readonly value: T | undefined;
  readonly time: number;
  readonly stream: string;
  readonly position: bigint;
  /** The assignment the record was fetched under (see `SourceRecord.generation`). */
  readonly generation: number;
  readonly raw?: Uint8Array;
  readonly error?: Error;
  readonly #hold: Hold;
  #id: string | undefined;

  constructor(
    value: T | undefined,
    id: string | undefined,
    time: number,
    position: bigint,
    raw: Uint8Array | null,
    error: Error | undefined,
    hold: Hold,
  ) {
    this.value = value;
    this.#id = id;
    this.time = time;
    this.stream = hold.stream;
    this.position = position;
    this.generation = hold.generation.id;
    if (raw !== null) this.raw = raw;
    if (error !== undefined) this.error = error;
    this.#hold = hold;
  }

  /** `<topic>/<partition>/<offset>` unless the user's `id()` gave one; built when first asked (Kafka records dedup by marks). */
  get id(): string {
    return this.#id ??= this.#hold.idPrefix + this.position;
  }

  ack(): void {
    this.#hold.ack(this.position);
  }
}

type WaitOutcome = "ready" | "released" | "timeout";

interface RoomWaiter {
  readonly size: number;
  readonly resolve: () => void;
}

interface HoldState {
  rebalance: RebalanceSignal | undefined;
  deadline: number;
}

const empty = new Uint8Array(0);

/**
 * The message's bytes in a buffer of their own. The client's values are views
 * into the whole fetch response (up to `maxBytes`), so one record kept until
 * its ack would keep every message of that response alive.
 */
function own(value: Uint8Array | null): Uint8Array | null {
  if (value === null || value.byteLength * 2 >= value.buffer.byteLength) {
    return value;
  }
  return new Uint8Array(value);
}

const levels: Record<ClientLogLevel, number> = {
  nothing: 0,
  error: 1,
  warn: 2,
  info: 3,
  debug: 4,
};

/**
 * Opens a Kafka source over any consumer client (kafkajs in production, a
 * fake in unit tests).
 */
export function openKafkaSource<T>(
  options: ResolvedSourceOptions<T>,
  client: ConsumerClient,
): Source<T> {
  return new KafkaSource(options, client);
}

class KafkaSource<T> implements Source<T> {
  readonly name: string;
  readonly #options: ResolvedSourceOptions<T>;
  readonly #client: ConsumerClient;

  #generation = new Generation();
  #queue: KafkaRecord<T>[][] = [];
  #queued = 0;
  #inFlight = 0;
  #iterated = false;
  #started: Promise<void> | undefined;
  #failure: Error | undefined;
  #closing = false;
  #closed: Promise<void> | undefined;
  #released = false;
  /** Wakes every held batch's wait (a release, or its own readiness). */
  readonly #wakers = new Set<() => void>();
  #dataWaiter: (() => void) | undefined;
  #roomWaiters: RoomWaiter[] = [];
  #idleWaiter: (() => void) | undefined;
  #commitChain: Promise<void> = Promise.resolve();
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(options: ResolvedSourceOptions<T>, client: ConsumerClient) {
    this.name = options.name;
    this.#options = options;
    this.#client = client;
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

  close(): Promise<void> {
    this.#closed ??= this.#shutdown();
    return this.#closed;
  }

  /** What held batches report each first ack to: counts records still out with the runtime. */
  readonly #acks = {
    onAcked: () => {
      if (--this.#inFlight === 0 && this.#idleWaiter !== undefined) {
        this.#idleWaiter();
      }
    },
  };

  async #next(): Promise<IteratorResult<readonly SourceRecord<T>[]>> {
    if (this.#started === undefined && !this.#closing) {
      this.#started = this.#start();
    }
    await this.#started;
    while (true) {
      if (this.#failure !== undefined) throw this.#failure;
      const batch = this.#queue.shift();
      if (batch !== undefined) {
        this.#queued -= batch.length;
        this.#inFlight += batch.length;
        this.#wakeRoom();
        return { done: false, value: batch };
      }
      if (this.#closing) return { done: true, value: undefined };
      await new Promise<void>((resolve) => this.#dataWaiter = resolve);
      this.#dataWaiter = undefined;
    }
  }

  async #start(): Promise<void> {
    try {
      await this.#client.start({
        onBatch: (batch, control) => this.#onBatch(batch, control),
        onAssignment: (partitions) => {
          this.#generation.active = false;
          this.#generation = new Generation();
          this.#log(
            "info",
            `assigned ${
              partitions.map((p) => `${p.topic}:${p.partition}`).join(", ") ||
              "no partitions"
            }`,
          );
          this.#options.onAssignment?.(partitions);
        },
        onRebalance: () => {
          this.#generation.active = false;
        },
        onCrash: (error, restarting) => {
          this.#generation.active = false;
          if (restarting) {
            this.#log("warn", `client restarting after: ${error.message}`);
            return;
          }
          this.#fail(new KafkaSourceError(this.name, error));
        },
      });
    } catch (error) {
      this.#fail(new KafkaSourceError(this.name, error));
      return;
    }
    this.#timer = setInterval(() => {
      void this.#commit(this.#generation);
    }, this.#options.commitInterval);
  }

  /** Lets every held batch return at once (close, or a client that gave up). */
  #releaseHolds(): void {
    this.#released = true;
    for (const wake of this.#wakers) wake();
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    this.#dataWaiter?.();
    this.#releaseHolds();
  }

  async #onBatch(batch: ClientBatch, control: BatchControl): Promise<void> {
    if (this.#closing || this.#failure !== undefined) return;
    const generation = this.#generation;
    const stream = `kafka:${batch.topic}:${batch.partition}`;
    generation.partitions.set(stream, {
      topic: batch.topic,
      partition: batch.partition,
    });
    const hold = new Hold(
      this.#acks,
      generation,
      stream,
      batch.topic,
      batch.partition,
    );
    const records = this.#records(batch, hold);
    hold.remaining = records.length;
    const state: HoldState = { rebalance: undefined, deadline: Infinity };
    if (records.length > 0) {
      const room = this.#room(records.length);
      let outcome = await this.#wait(room.ready, control, state);
      if (outcome !== "ready") room.cancel();
      if (outcome === "ready" && !this.#closing) {
        this.#queue.push(records);
        this.#queued += records.length;
        this.#dataWaiter?.();
        outcome = await this.#wait(hold.done, control, state);
      }
      if (outcome === "timeout") {
        this.#log(
          "warn",
          `${stream}: ${hold.remaining} records not acked within handoverTimeout; letting the partition go uncommitted past them`,
        );
      }
    }
    await this.#commit(generation);
    if (state.rebalance !== undefined) throw state.rebalance;
  }

  /**
   * Turns a batch's messages into records and tracks their offsets. Kept out
   * of the async handler so the per-message loop gets optimized.
   */
  #records(batch: ClientBatch, hold: Hold): KafkaRecord<T>[] {
    const { tracker } = hold.generation;
    const stream = hold.stream;
    const records: KafkaRecord<T>[] = [];
    let last = -1n;
    for (const message of batch.messages) {
      if (!tracker.delivered(stream, message.offset)) continue;
      records.push(this.#record(message, hold));
      last = message.offset;
    }
    // Offsets past the last message (transaction markers) become committable once the messages before them are.
    if (
      batch.lastOffset > last && tracker.delivered(stream, batch.lastOffset)
    ) {
      tracker.ack(stream, batch.lastOffset);
    }
    return records;
  }

  #record(message: ClientMessage, hold: Hold): KafkaRecord<T> {
    const options = this.#options;
    try {
      const value = options.decode(message.value ?? empty, message);
      let id: string | undefined;
      if (options.id !== undefined) {
        const custom = options.id(message, value);
        if (typeof custom === "string" && custom.length > 0) id = custom;
      }
      let time = message.timestamp;
      if (options.time !== undefined) {
        time = options.time(message, value);
        if (!Number.isFinite(time)) {
          throw new RangeError(
            `time() returned ${time}; return epoch milliseconds`,
          );
        }
      }
      return new KafkaRecord<T>(
        value,
        id,
        time,
        message.offset,
        own(message.value),
        undefined,
        hold,
      );
    } catch (error) {
      return new KafkaRecord<T>(
        undefined,
        undefined,
        message.timestamp,
        message.offset,
        own(message.value),
        new KafkaDecodeError(
          message.topic,
          message.partition,
          message.offset,
          error,
        ),
        hold,
      );
    }
  }

  /**
   * Resolves when `size` more records fit in the buffer (an empty buffer
   * always takes a batch); `cancel` withdraws a wait that was given up.
   */
  #room(size: number): { ready: Promise<void>; cancel: () => void } {
    if (
      this.#queued === 0 ||
      this.#queued + size <= this.#options.maxBufferedRecords
    ) {
      return { ready: Promise.resolve(), cancel: () => {} };
    }
    let waiter!: RoomWaiter;
    const ready = new Promise<void>((resolve) => {
      waiter = { size, resolve };
      this.#roomWaiters.push(waiter);
    });
    return {
      ready,
      cancel: () => {
        this.#roomWaiters = this.#roomWaiters.filter((w) => w !== waiter);
        this.#wakeRoom();
      },
    };
  }

  #wakeRoom(): void {
    while (this.#roomWaiters.length > 0) {
      const first = this.#roomWaiters[0]!;
      if (
        this.#queued !== 0 &&
        this.#queued + first.size > this.#options.maxBufferedRecords
      ) {
        return;
      }
      this.#roomWaiters.shift();
      first.resolve();
    }
  }

  /**
   * Waits for `ready` while keeping the group membership alive. Without a
   * rebalance the wait is unbounded (the batch is simply being processed);
   * once a heartbeat reports a rebalance, it is bounded by handoverTimeout.
   */
  async #wait(
    ready: Promise<void>,
    control: BatchControl,
    state: HoldState,
  ): Promise<WaitOutcome> {
    let isReady = false;
    let wake: (() => void) | undefined;
    ready.then(() => {
      isReady = true;
      wake?.();
    });
    const tick = Math.max(
      20,
      Math.min(this.#options.heartbeatInterval, 1_000),
    );
    while (true) {
      if (isReady) return "ready";
      if (this.#released) return "released";
      if (Date.now() >= state.deadline) return "timeout";
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        wake = resolve;
        this.#wakers.add(resolve);
        timer = setTimeout(resolve, tick);
      });
      this.#wakers.delete(wake!);
      wake = undefined;
      clearTimeout(timer);
      if (isReady || this.#released || state.rebalance !== undefined) continue;
      try {
        await control.heartbeat();
      } catch (error) {
        if (!(error instanceof RebalanceSignal)) throw error;
        state.rebalance = error;
        state.deadline = Date.now() + this.#options.handoverTimeout;
        this.#log(
          "info",
          "group is rebalancing: finishing held batches before handing partitions over",
        );
      }
    }
  }

  /** Commits every stream of `generation` whose contiguous acked run advanced; commits run one at a time. */
  #commit(generation: Generation): Promise<void> {
    const run = async () => {
      if (!generation.active || generation !== this.#generation) return;
      const offsets: KafkaCommittedOffset[] = [];
      const streams: [string, bigint][] = [];
      for (const [stream, position] of generation.tracker.committableAll()) {
        if ((generation.committed.get(stream) ?? -1n) >= position) continue;
        const partition = generation.partitions.get(stream);
        if (partition === undefined) continue;
        offsets.push({ ...partition, offset: position + 1n });
        streams.push([stream, position]);
      }
      if (offsets.length === 0) return;
      try {
        await this.#client.commit(offsets);
      } catch (error) {
        this.#log(
          "warn",
          `commit failed (the records will be read again after a restart or rebalance): ${
            error instanceof Error ? error.message : String(error)
          }`,
        );
        return;
      }
      for (const [stream, position] of streams) {
        generation.committed.set(stream, position);
      }
      this.#options.onCommit?.(offsets);
    };
    this.#commitChain = this.#commitChain.then(run);
    return this.#commitChain;
  }

  async #shutdown(): Promise<void> {
    this.#closing = true;
    clearInterval(this.#timer);
    // Records the runtime never pulled will never be acked: drop them.
    this.#queue = [];
    this.#queued = 0;
    this.#dataWaiter?.();
    for (const waiter of this.#roomWaiters.splice(0)) waiter.resolve();
    if (this.#started === undefined) {
      this.#releaseHolds();
      return;
    }
    await this.#started;
    if (this.#inFlight > 0 && this.#options.closeTimeout > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.#idleWaiter = resolve),
        new Promise<void>((resolve) =>
          timer = setTimeout(resolve, this.#options.closeTimeout)
        ),
      ]);
      clearTimeout(timer);
      this.#idleWaiter = undefined;
    }
    await this.#commit(this.#generation);
    this.#releaseHolds();
    await this.#client.stop();
  }

  #log(level: "warn" | "info", message: string): void {
    if (levels[this.#options.logLevel] < levels[level]) return;
    const line = `[${this.name}] ${message}`;
    if (level === "warn") console.warn(line);
    else console.info(line);
  }
}
