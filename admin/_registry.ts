// What the admin server knows: local pipelines, workers in other processes, and recent metrics.

import { clone, create } from "@bufbuild/protobuf";
import type { PipelineDescription as BuiltDescription } from "../pipeline/mod.ts";
import type { MetricsSnapshot } from "../streaming/mod.ts";
import type { AdminPipeline, MetricsSource } from "./server.ts";
import {
  type Dag,
  DagSchema,
  type MetricsSnapshot as MetricsMessage,
  MetricsSnapshotSchema,
  type PipelineDescription,
  PipelineDescriptionSchema,
  type PipelineInfo,
  PipelineInfoSchema,
} from "../proto/gen/murmur/admin/v1/admin_pb.ts";

/** Options for {@linkcode Registry}. */
export interface RegistryOptions {
  /** Local metrics. */
  readonly metrics?: MetricsSource;
  /** The clock, in epoch ms. Default: `Date.now`. */
  readonly now?: () => number;
  /** How long a worker stays online after its last call, in ms. Default: 15 000. */
  readonly workerLeaseMs?: number;
  /** How long an offline worker stays listed, in ms. Default: 600 000. */
  readonly forgetAfterMs?: number;
  /** Samples of history kept per pipeline. Default: 300. */
  readonly historySize?: number;
}

interface Worker {
  readonly id: string;
  readonly queryUrl: string;
  readonly pipelines: Map<string, PipelineDescription>;
  readonly snapshots: Map<string, MetricsMessage>;
  lastSeen: number;
}

/** The worker id of pipelines that run in the serving process. */
export const LOCAL_WORKER = "local";

/**
 * Keeps the pipelines the admin server shows — its own and those of workers
 * in other processes that register and push metrics — and a short history of
 * their metrics for charts.
 *
 * A pipeline name may be run by several workers at once (a scaled-out
 * consumer group): it is listed once, and its metrics are the sum of their
 * counters and rates and the worst of their latencies and lag.
 */
export class Registry {
  readonly #local = new Map<string, AdminPipeline>();
  readonly #workers = new Map<string, Worker>();
  readonly #history = new Map<string, MetricsMessage[]>();
  readonly #metrics: MetricsSource | undefined;
  readonly #now: () => number;
  readonly #lease: number;
  readonly #forget: number;
  readonly #historySize: number;

  /**
   * Creates an empty registry.
   *
   * @param options Metrics, clock, lease and history size.
   */
  constructor(options: RegistryOptions = {}) {
    this.#metrics = options.metrics;
    this.#now = options.now ?? Date.now;
    this.#lease = options.workerLeaseMs ?? 15_000;
    this.#forget = options.forgetAfterMs ?? 600_000;
    this.#historySize = options.historySize ?? 300;
  }

  /** How long a worker stays online after its last call, in ms. */
  get workerLeaseMs(): number {
    return this.#lease;
  }

  /**
   * Shows a pipeline of this process.
   *
   * @param pipeline The pipeline.
   */
  addLocal(pipeline: AdminPipeline): void {
    this.#local.set(pipeline.name, pipeline);
  }

  /**
   * The local pipeline with this name.
   *
   * @param name The pipeline's name.
   * @returns The pipeline, or `undefined`.
   */
  local(name: string): AdminPipeline | undefined {
    return this.#local.get(name);
  }

  /**
   * Every pipeline, local ones first where names clash, sorted by name.
   *
   * @returns Their summaries.
   */
  list(): PipelineInfo[] {
    const names = new Set<string>(this.#local.keys());
    for (const worker of this.#live()) {
      for (const name of worker.pipelines.keys()) names.add(name);
    }
    return [...names].sort().map((name) => this.describe(name)!.info!);
  }

  /**
   * Describes one pipeline and its DAG.
   *
   * @param name The pipeline's name.
   * @returns The description, or `undefined` when unknown.
   */
  describe(name: string): PipelineDescription | undefined {
    const local = this.#local.get(name);
    if (local !== undefined) return describeLocal(local, this.#now());
    const now = this.#now();
    const owners = this.#live().filter((w) => w.pipelines.has(name));
    if (owners.length === 0) return undefined;
    owners.sort((a, b) => b.lastSeen - a.lastSeen);
    const newest = owners[0]!;
    const registered = newest.pipelines.get(name)!;
    const online = owners.filter((w) => now - w.lastSeen <= this.#lease);
    const info = registered.info === undefined
      ? create(PipelineInfoSchema)
      : clone(PipelineInfoSchema, registered.info);
    info.name = name;
    info.worker = (online.length > 0 ? online : [newest]).map((w) => w.id)
      .sort().join(", ");
    info.online = online.length > 0;
    info.lastSeenMs = BigInt(newest.lastSeen);
    info.queryable = owners.some((w) => w.queryUrl !== "");
    return create(PipelineDescriptionSchema, {
      info,
      ...(registered.dag === undefined ? {} : { dag: registered.dag }),
    });
  }

  /**
   * Where to send queries for a pipeline of another worker.
   *
   * @param name The pipeline's name.
   * @returns The freshest online worker's query URL, or `undefined`.
   */
  queryUrlOf(name: string): string | undefined {
    const now = this.#now();
    return this.#live()
      .filter((w) =>
        w.pipelines.has(name) && w.queryUrl !== "" &&
        now - w.lastSeen <= this.#lease
      )
      .sort((a, b) => b.lastSeen - a.lastSeen)[0]?.queryUrl;
  }

  /**
   * The worker ids that run a pipeline (for error messages).
   *
   * @param name The pipeline's name.
   * @returns The ids, sorted.
   */
  workersOf(name: string): string[] {
    return this.#live().filter((w) => w.pipelines.has(name)).map((w) => w.id)
      .sort();
  }

  /**
   * Registers (or refreshes) a worker and its pipelines.
   *
   * @param id The worker's id.
   * @param pipelines Its pipelines.
   * @param queryUrl Its query service's base URL, or `""`.
   * @returns The lease in ms.
   */
  register(
    id: string,
    pipelines: readonly PipelineDescription[],
    queryUrl: string,
  ): number {
    const previous = this.#workers.get(id);
    const worker: Worker = {
      id,
      queryUrl,
      pipelines: new Map(),
      snapshots: previous?.snapshots ?? new Map(),
      lastSeen: this.#now(),
    };
    for (const description of pipelines) {
      const name = description.info?.name ?? "";
      if (name !== "") worker.pipelines.set(name, description);
    }
    this.#workers.set(id, worker);
    return this.#lease;
  }

  /**
   * Stores a worker's pushed snapshots.
   *
   * @param id The worker's id.
   * @param snapshots One per pipeline.
   * @returns `false` when the worker is unknown (it must register again).
   */
  report(id: string, snapshots: readonly MetricsMessage[]): boolean {
    const worker = this.#workers.get(id);
    if (worker === undefined) return false;
    worker.lastSeen = this.#now();
    for (const snapshot of snapshots) {
      if (snapshot.pipeline !== "") {
        const copy = clone(MetricsSnapshotSchema, snapshot);
        copy.worker = id;
        worker.snapshots.set(snapshot.pipeline, copy);
      }
    }
    return true;
  }

  /**
   * Forgets a worker.
   *
   * @param id The worker's id.
   * @returns Whether it was known.
   */
  deregister(id: string): boolean {
    return this.#workers.delete(id);
  }

  /**
   * The latest metrics of one or every pipeline, combined across workers.
   *
   * @param name A pipeline's name, or `""` for all.
   * @returns One snapshot per pipeline that has metrics, sorted by name.
   */
  latest(name = ""): MetricsMessage[] {
    const now = this.#now();
    const parts = new Map<string, MetricsMessage[]>();
    const add = (snapshot: MetricsMessage) => {
      if (name !== "" && snapshot.pipeline !== name) return;
      const list = parts.get(snapshot.pipeline) ?? [];
      list.push(snapshot);
      parts.set(snapshot.pipeline, list);
    };
    for (const snapshot of this.#metrics?.snapshots() ?? []) {
      add(fromSnapshot(snapshot, LOCAL_WORKER));
    }
    for (const worker of this.#live()) {
      if (now - worker.lastSeen > this.#lease) continue;
      for (const snapshot of worker.snapshots.values()) add(snapshot);
    }
    return [...parts.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([pipeline, list]) => combine(pipeline, list, now));
  }

  /**
   * Recent samples of a pipeline's metrics.
   *
   * @param name The pipeline's name.
   * @param limit Most samples to return (the newest).
   * @returns The samples, oldest first.
   */
  history(name: string, limit: number): MetricsMessage[] {
    const samples = this.#history.get(name) ?? [];
    return limit <= 0 ? [] : samples.slice(-limit);
  }

  /** Appends the latest metrics of every pipeline to its history. */
  sample(): void {
    for (const snapshot of this.latest()) {
      const samples = this.#history.get(snapshot.pipeline) ?? [];
      samples.push(snapshot);
      if (samples.length > this.#historySize) {
        samples.splice(0, samples.length - this.#historySize);
      }
      this.#history.set(snapshot.pipeline, samples);
    }
  }

  /** Workers not yet forgotten (pruning the rest). */
  #live(): Worker[] {
    const now = this.#now();
    for (const [id, worker] of this.#workers) {
      if (now - worker.lastSeen > this.#forget) this.#workers.delete(id);
    }
    return [...this.#workers.values()];
  }
}

/** Converts a recorder snapshot to its wire form. */
export function fromSnapshot(
  snapshot: MetricsSnapshot,
  worker: string,
): MetricsMessage {
  const latency = snapshot.mergeLatencyMs as
    & MetricsSnapshot["mergeLatencyMs"]
    & {
      max?: number;
    };
  return create(MetricsSnapshotSchema, {
    pipeline: snapshot.pipeline,
    worker,
    atMs: BigInt(Math.round(snapshot.at)),
    uptimeMs: BigInt(Math.round(snapshot.uptimeMs)),
    eventsIn: snapshot.eventsIn,
    eventsPerSecond: snapshot.eventsPerSecond,
    merges: snapshot.merges,
    mergesPerSecond: snapshot.mergesPerSecond,
    flushSize: { ...snapshot.flushSize },
    mergeLatencyMs: {
      p50: latency.p50,
      p95: latency.p95,
      p99: latency.p99,
      max: latency.max ?? 0,
    },
    errors: snapshot.errors,
    retries: snapshot.retries,
    deadLetters: snapshot.deadLetters,
    dedupSkips: snapshot.dedupSkips,
    debounced: snapshot.debounced,
    lastError: snapshot.lastError ?? "",
    ...(snapshot.lag === null ? {} : { lagMs: snapshot.lag }),
    ...(snapshot.lastEventAt === null
      ? {}
      : { lastEventAtMs: BigInt(Math.round(snapshot.lastEventAt)) }),
  });
}

/** Sums counters and rates, takes the worst latencies and lag. */
function combine(
  pipeline: string,
  parts: readonly MetricsMessage[],
  now: number,
): MetricsMessage {
  if (parts.length === 1) return parts[0]!;
  const sum = (pick: (m: MetricsMessage) => number) =>
    parts.reduce((total, m) => total + pick(m), 0);
  const worst = (pick: (m: MetricsMessage) => number | undefined) =>
    parts.reduce((top, m) => Math.max(top, pick(m) ?? 0), 0);
  const lags = parts.flatMap((m) => m.lagMs === undefined ? [] : [m.lagMs]);
  const lastEvents = parts.flatMap((m) =>
    m.lastEventAtMs === undefined ? [] : [m.lastEventAtMs]
  );
  const newestError = [...parts].sort((a, b) => Number(b.atMs - a.atMs)).find((
    m,
  ) => m.lastError !== "");
  return create(MetricsSnapshotSchema, {
    pipeline,
    worker: parts.map((m) => m.worker).sort().join(", "),
    atMs: BigInt(now),
    uptimeMs: parts.reduce((top, m) => m.uptimeMs > top ? m.uptimeMs : top, 0n),
    eventsIn: sum((m) => m.eventsIn),
    eventsPerSecond: sum((m) => m.eventsPerSecond),
    merges: sum((m) => m.merges),
    mergesPerSecond: sum((m) => m.mergesPerSecond),
    flushSize: {
      p50: worst((m) => m.flushSize?.p50),
      p95: worst((m) => m.flushSize?.p95),
      p99: worst((m) => m.flushSize?.p99),
      max: worst((m) => m.flushSize?.max),
    },
    mergeLatencyMs: {
      p50: worst((m) => m.mergeLatencyMs?.p50),
      p95: worst((m) => m.mergeLatencyMs?.p95),
      p99: worst((m) => m.mergeLatencyMs?.p99),
      max: worst((m) => m.mergeLatencyMs?.max),
    },
    errors: sum((m) => m.errors),
    retries: sum((m) => m.retries),
    deadLetters: sum((m) => m.deadLetters),
    dedupSkips: sum((m) => m.dedupSkips),
    debounced: sum((m) => m.debounced),
    lastError: newestError?.lastError ?? "",
    ...(lags.length === 0 ? {} : { lagMs: Math.max(...lags) }),
    ...(lastEvents.length === 0 ? {} : {
      lastEventAtMs: lastEvents.reduce((a, b) => (a > b ? a : b)),
    }),
  });
}

/**
 * Describes a pipeline of this process in wire form: its summary and its DAG.
 *
 * @param pipeline The pipeline.
 * @param now The time to stamp as last seen.
 * @param worker Who runs it. Default: `"local"`.
 * @returns The description.
 */
export function describeLocal(
  pipeline: AdminPipeline,
  now: number,
  worker: string = LOCAL_WORKER,
): PipelineDescription {
  const window = pipeline.window;
  const store = pipeline.store.name;
  const cache = pipeline.cache?.name ?? "";
  const source = pipeline.source?.name ?? "";
  const info = create(PipelineInfoSchema, {
    name: pipeline.name,
    monoidKind: pipeline.monoid.kind,
    monoidName: pipeline.monoid.name,
    source,
    store,
    cache,
    worker,
    online: true,
    lastSeenMs: BigInt(now),
    queryable: true,
    ...(window === null ? {} : {
      window: {
        granularity: window.granularity,
        sizeMs: BigInt(window.size),
        ...(window.retention === null
          ? {}
          : { retentionMs: BigInt(window.retention) }),
      },
    }),
  });
  const stages = typeof pipeline.describe === "function"
    ? pipeline.describe().stages
    : stagesOf(pipeline, source, store, cache);
  return create(PipelineDescriptionSchema, { info, dag: dagOf(stages) });
}

type Stage = BuiltDescription["stages"][number];

function stagesOf(
  pipeline: AdminPipeline,
  source: string,
  store: string,
  cache: string,
): Stage[] {
  const chain: Omit<Stage, "next">[] = [
    {
      id: "source",
      kind: "source",
      label: source === "" ? "external" : source,
    },
    { id: "extract", kind: "extract", label: "key, value, time" },
  ];
  if (pipeline.window !== null) {
    chain.push({
      id: "window",
      kind: "window",
      label: pipeline.window.granularity,
    });
  }
  chain.push({
    id: "aggregate",
    kind: "aggregate",
    label: pipeline.monoid.name,
  });
  chain.push({ id: "store", kind: "store", label: store });
  if (cache !== "") chain.push({ id: "cache", kind: "cache", label: cache });
  return chain.map((stage, i) => ({
    ...stage,
    next: i + 1 < chain.length ? [chain[i + 1]!.id] : [],
  }));
}

const DETAILS: Record<string, string> = {
  source: "reads record batches; positions advance only over durable records",
  extract:
    "key(s), value and event time per record; bad records are dead-lettered",
  debounce: "drops repeats of a key or value within a time window",
  window: "assigns each event to its time bucket",
  aggregate:
    "folds deltas per (key, bucket) with the monoid over the batch window",
  store: "merges the folded deltas durably: the source of truth",
  cache: "write-through after the store; reads fill it under leases",
};

function dagOf(stages: readonly Stage[]): Dag {
  return create(DagSchema, {
    nodes: stages.map((stage) => ({
      id: stage.id,
      kind: stage.kind,
      label: stage.label,
      detail: DETAILS[stage.kind] ?? "",
    })),
    edges: stages.flatMap((stage) =>
      stage.next.map((to) => ({ from: stage.id, to, label: "" }))
    ),
  });
}
