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
  StateKey,
  Store,
} from "../state/mod.ts";
import { type MetricsRecorder, run } from "../streaming/mod.ts";
import { awsConfig, service } from "./_stack.ts";

const [topic, groupId, table, name] = Deno.args;
if (!topic || !groupId || !table || !name) {
  console.error(
    "usage: _crash_worker.ts <topic> <group> <table> <pipeline>",
  );
  Deno.exit(2);
}

const say = (line: Record<string, unknown>) =>
  console.log(JSON.stringify(line));

/**
 * Writes each merge in small sequential chunks and reports every chunk, so the
 * test can kill the process between two chunks of one flush: a merge that is
 * partly applied, as a crash in the middle of a real store call leaves it.
 */
class ChunkedStore implements Store {
  readonly name: string;
  constructor(readonly inner: Store, readonly chunk: number) {
    this.name = inner.name;
  }
  get<V>(scope: Scope<V>, key: StateKey): Promise<V | undefined> {
    return this.inner.get(scope, key);
  }
  getMany<V>(
    scope: Scope<V>,
    keys: readonly StateKey[],
  ): Promise<(V | undefined)[]> {
    return this.inner.getMany(scope, keys);
  }
  async merge<V>(
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
  close(): Promise<void> {
    return this.inner.close();
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

const metrics: MetricsRecorder = {
  eventsIn: (_pipeline, count) => say({ step: "read", count }),
  merged: (_pipeline, deltas) => say({ step: "merged", deltas }),
  flushed: (_pipeline, records, keys) =>
    say({ step: "flushed", records, keys }),
  error: (_pipeline, error) => say({ step: "error", error: String(error) }),
  retried: () => {},
  deadLettered: () => {},
  dedupSkipped: (_pipeline, count) => say({ step: "skipped", count }),
  debounced: () => {},
  lag: () => {},
};

const stop = new AbortController();
Deno.addSignalListener("SIGTERM", () => stop.abort());

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
  metrics,
  signal: stop.signal,
});
say({ step: "stopped", events: summary.events, unacked: summary.unacked });
await store.close();
Deno.exit(0);
