// Kinesis lag: the latest MillisBehindLatest per shard, fed by whoever reads the stream.

import type { LagProbe, PartitionLag } from "./signal.ts";

/** Options for {@linkcode KinesisLagGauge}. */
export interface KinesisLagGaugeOptions {
  /** Forget a shard that has not reported for this long, in ms (closed or handed to another worker). Default: 60 000. */
  readonly staleAfterMs?: number;
  /** The clock, in epoch ms. Default: `Date.now`. */
  readonly now?: () => number;
}

/**
 * A {@linkcode LagProbe} fed by hand (a Lambda, your own reader; for
 * `kinesisSource()` use {@linkcode kinesisSourceLag}): each `GetRecords` answer
 * carries `MillisBehindLatest`, and the reader calls
 * {@linkcode KinesisLagGauge.report} with it. The gauge answers the latest
 * value per shard, forgetting shards that stopped reporting.
 *
 * @example Usage
 * ```ts
 * import { KinesisLagGauge } from "@murmur/core/autoscale";
 * import assert from "node:assert/strict";
 *
 * const gauge = new KinesisLagGauge("clicks");
 * gauge.report("shardId-000000000000", 2400);
 * const [reading] = await gauge.measure();
 * assert.deepEqual(reading, { stream: "kinesis:clicks:shardId-000000000000", records: null, behindMs: 2400 });
 * ```
 */
export class KinesisLagGauge implements LagProbe {
  #stream: string;
  #staleAfterMs: number;
  #now: () => number;
  #shards = new Map<string, { behindMs: number; at: number }>();

  /**
   * Creates a gauge for one stream.
   *
   * @param stream The Kinesis stream name.
   * @param options Staleness and clock.
   */
  constructor(stream: string, options: KinesisLagGaugeOptions = {}) {
    this.#stream = stream;
    this.#staleAfterMs = options.staleAfterMs ?? 60_000;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Records a shard's `MillisBehindLatest`.
   *
   * @param shardId The shard.
   * @param millisBehindLatest From the `GetRecords` answer.
   */
  report(shardId: string, millisBehindLatest: number): void {
    if (!Number.isFinite(millisBehindLatest) || millisBehindLatest < 0) return;
    this.#shards.set(shardId, {
      behindMs: millisBehindLatest,
      at: this.#now(),
    });
  }

  /** Drops a shard (closed after a reshard, or handed over). */
  forget(shardId: string): void {
    this.#shards.delete(shardId);
  }

  /** {@inheritDoc LagProbe.measure} */
  measure(): Promise<PartitionLag[]> {
    const now = this.#now();
    const out: PartitionLag[] = [];
    for (const [shard, { behindMs, at }] of [...this.#shards].sort()) {
      if (now - at > this.#staleAfterMs) {
        this.#shards.delete(shard);
        continue;
      }
      out.push({
        stream: `kinesis:${this.#stream}:${shard}`,
        records: null,
        behindMs,
      });
    }
    return Promise.resolve(out);
  }
}

/** What {@linkcode kinesisSourceLag} reads: the handle of `kinesisSource()` (`@murmur/core/source/kinesis`) fits. */
export interface KinesisShardsLike {
  /** The source's name, e.g. `"kinesis:clicks"`. */
  readonly name: string;
  /** The shards this worker holds, with their lag at the last read. */
  status(): readonly {
    readonly shard: string;
    readonly millisBehindLatest: number;
  }[];
}

/**
 * A {@linkcode LagProbe} over a running Kinesis source: each shard the
 * worker holds, with the `MillisBehindLatest` of its last `GetRecords`.
 *
 * @param source The Kinesis source handle.
 * @returns The probe.
 *
 * @example Usage
 * ```ts
 * import { kinesisSourceLag } from "@murmur/core/autoscale";
 * import assert from "node:assert/strict";
 *
 * const source = { name: "kinesis:clicks", status: () => [{ shard: "shardId-0", millisBehindLatest: 800 }] };
 * const [reading] = await kinesisSourceLag(source).measure();
 * assert.deepEqual(reading, { stream: "kinesis:clicks:shardId-0", records: null, behindMs: 800 });
 * ```
 */
export function kinesisSourceLag(source: KinesisShardsLike): LagProbe {
  return {
    measure: () =>
      Promise.resolve(
        source.status().map((s) => ({
          stream: `${source.name}:${s.shard}`,
          records: null,
          behindMs: s.millisBehindLatest,
        })),
      ),
  };
}
