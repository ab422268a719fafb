// The worker the crash test kills: Kafka → sum → DynamoDB with dedup, printing one JSON line per step it reaches.
//
// Usage: deno run -A tests/_crash_worker.ts <topic> <group> <table> <pipeline>

import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { sum } from "../monoid/mod.ts";
import { pipeline } from "../pipeline/mod.ts";
import { kafkaSource } from "../source/kafka.ts";
import { DynamoDBStore } from "../state/dynamodb.ts";
import type {
  Delta,
  MergeOptions,
  MergeResult,
  Scope,
  Store,
} from "../state/mod.ts";
import { ForwardingStore } from "../testing/_forwarding_store.ts";
import { run } from "../streaming/mod.ts";
import { awsConfig, service } from "./_stack.ts";
import { say, stepMetrics, stopOnSigterm, workerArgs } from "./_steps.ts";

const { topic, group: groupId, table, pipeline: name } = workerArgs(
  "_crash_worker.ts",
  ["topic", "group", "table", "pipeline"],
);

/**
 * Writes each merge in small sequential chunks and reports every chunk, so the
 * test can kill the process between two chunks of one flush: a merge that is
 * partly applied, as a crash in the middle of a real store call leaves it.
 */
class ChunkedStore extends ForwardingStore {
  constructor(inner: Store, readonly chunk: number) {
    super(inner);
  }
  override async merge<V>(
    scope: Scope<V>,
    deltas: readonly Delta<V>[],
    options?: MergeOptions,
  ): Promise<MergeResult> {
    let applied = 0;
    const skipped: number[] = [];
    for (let at = 0; at < deltas.length; at += this.chunk) {
      const part = deltas.slice(at, at + this.chunk);
      const result = await this.inner.merge(scope, part, options);
      applied += result.applied;
      for (const index of result.skipped) skipped.push(at + index);
      say({
        step: "chunk",
        namespace: scope.namespace,
        written: at + part.length,
        of: deltas.length,
      });
    }
    return { applied, skipped };
  }
}

const kafka = await service("kafka");
const dynamo = await service("dynamodb");
const store = new ChunkedStore(
  new DynamoDBStore(new DynamoDBClient(awsConfig(dynamo)), table),
  100,
);
const counts = pipeline<{ page: string }>(name)
  .key((e) => e.page)
  .value(() => 1)
  .aggregate(sum())
  .storeIn(store)
  .build();

const signal = stopOnSigterm();

const source = kafkaSource<{ page: string }>({
  brokers: kafka.brokers,
  topic,
  groupId,
  sessionTimeout: 6_000,
  heartbeatInterval: 1_000,
  commitInterval: 100,
  maxWaitTime: 200,
  // Small fetches, so a batch window holds several of them and kills land between and inside flushes.
  maxBytesPerPartition: 64 * 1024,
  onAssignment: (partitions) =>
    say({ step: "assigned", partitions: partitions.length }),
  onCommit: (offsets) =>
    say({
      step: "committed",
      offsets: offsets.map((o) => `${o.partition}:${o.offset}`),
    }),
});

const summary = await run(counts, {
  source,
  batchWindow: { time: 400 },
  dedup: true,
  metrics: stepMetrics(),
  signal,
});
say({ step: "stopped", events: summary.events, unacked: summary.unacked });
await store.close();
Deno.exit(0);
