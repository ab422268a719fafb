// The options of run() and runFanout(), their defaults and their validation.

import type { MonoidKind } from "../monoid/mod.ts";
import {
  type DebounceOptions,
  type Pipeline,
  PipelineConfigError,
} from "../pipeline/mod.ts";
import type { SourceRecord } from "../source/mod.ts";
import type { RecordError } from "./errors.ts";
import { type MetricsRecorder, noopMetrics } from "./metrics.ts";
import { positiveInteger as checkPositive } from "../internal/defined.ts";

/** Retry timing of failed store calls: exponential with full jitter. */
export interface RetryBackoff {
  /** The first retry waits up to this many ms. Default: 100. */
  readonly base?: number;
  /** No retry waits longer than this many ms. Default: 10,000. */
  readonly max?: number;
}

/** How long and how much to fold in memory before writing. */
export interface BatchWindow {
  /** Write at least this often, in ms. Default: 1,000. */
  readonly time?: number;
  /**
   * Write as soon as this many records are folded. Default: no record cap —
   * `maxKeys` (what a flush costs the store) and `maxBytes` (what the
   * records cost in memory) bound a flush instead, so a hot key's many
   * records fold into one write.
   */
  readonly maxRecords?: number;
  /**
   * Write as soon as the records and folded values held in memory reach
   * about this many bytes (an estimate: record overhead, raw payloads, one
   * entry per key), so large or many-keyed batches cannot exhaust memory.
   * Default: 64 MiB.
   */
  readonly maxBytes?: number;
  /**
   * Write as soon as this many distinct (key, bucket) entries are folded:
   * the store's cost of a flush is one write per entry. Default: 100,000.
   */
  readonly maxKeys?: number;
}

/**
 * Receives a record that cannot be applied, with the reason.
 *
 * @param record The record as the source delivered it.
 * @param error Why it was refused; `error.stage` says at which step.
 */
export type DeadLetterHandler = (
  record: SourceRecord<unknown>,
  error: RecordError,
) => void | Promise<void>;

/** Options of {@linkcode run} and of each pipeline bound for `runFanout`. */
export interface RunOptions {
  /**
   * How many times a store call is tried before the run stops with
   * `StoreFailureError`. Applies to stores that do not retry on their own
   * (memory, Deno KV, your own); a store that does (DynamoDB) throws
   * `StoreUnavailableError` when its own attempts ran out, and the run stops
   * at once rather than multiply them (see `docs/retries.md`). Default: 5.
   */
  readonly maxAttempts?: number;
  /** Backoff between attempts (full jitter, doubling). Default: `{ base: 100, max: 10_000 }`. */
  readonly retryBackoff?: RetryBackoff;
  /**
   * Called for each record that cannot be applied: undecodable, an extractor
   * threw, a value of the wrong type, a delta the store rejects for good. The
   * record is acked once the callback resolves; if it throws, the run stops
   * with `DeadLetterFailedError`. The records refused while one batch is
   * handled are passed in parallel, so a handler that gathers concurrent
   * calls (like `kafkaDeadLetter`) sends them in one request. Default: none
   * (records are counted in metrics and the summary, logged to the console
   * at most once per 10 s unless `logDeadLetters` is `false`, then acked).
   */
  readonly deadLetter?: DeadLetterHandler;
  /** Without a `deadLetter` handler, log refused records (rate-limited). Default: `true`. */
  readonly logDeadLetters?: boolean;
  /**
   * Fold deltas per (key, bucket) in memory and write ONE merge per key per
   * window: on time, on size, and at shutdown. Default: off, meaning each
   * write starts as soon as the previous one finished (records arriving
   * meanwhile are still folded, one merge per key per write, up to
   * `maxKeys` entries and `maxBytes` bytes).
   */
  readonly batchWindow?: BatchWindow;
  /**
   * How many store calls of one write run in parallel. Deltas are
   * partitioned by a hash of their key, and each key has at most one delta in
   * flight, so per-key order holds for order-sensitive monoids. Default: 1.
   */
  readonly concurrency?: number;
  /**
   * Drop a record whose first key was admitted less than `window` ms ago.
   * Refused on sum, count, top-k and decayed sums. Default: the pipeline's
   * `.debounce()`, else off.
   */
  readonly keyDebounce?: DebounceOptions;
  /**
   * Drop a record whose (first key, value) pair was admitted less than
   * `window` ms ago. Refused like `keyDebounce`. Default: the pipeline's
   * `.debounce()`, else off.
   */
  readonly valueDebounce?: DebounceOptions;
  /**
   * Apply each record exactly once across retries, crashes and redelivery.
   * Records with a stream position use per-stream marks written atomically
   * with the state; others use per-record claims (`<pipeline>|<record id>`).
   * Default: `false` (at least once).
   */
  readonly dedup?: boolean;
  /** Where measurements go. Default: nowhere. */
  readonly metrics?: MetricsRecorder;
  /**
   * Stops the run gracefully: reading stops, what was read is folded and
   * written within `shutdownTimeout`, written records are acked, and `run`
   * resolves. Default: none.
   */
  readonly signal?: AbortSignal;
  /** How long, in ms, the final write after `signal` may take. Default: 10,000. */
  readonly shutdownTimeout?: number;
  /** Close the source when the run ends. Default: `true`. */
  readonly closeSource?: boolean;
  /** How long, in ms, dedup claims are kept. Default: 7 days. */
  readonly claimTtl?: number;
  /** The clock for debouncers and lag, in epoch ms. Default: `Date.now`. */
  readonly now?: () => number;
}

/** Options after defaults, for the runtime's internals. */
export interface ResolvedOptions {
  readonly maxAttempts: number;
  readonly retryBase: number;
  readonly retryMax: number;
  readonly deadLetter: DeadLetterHandler | null;
  readonly logDeadLetters: boolean;
  readonly batchTime: number;
  readonly batchMax: number;
  readonly batchMaxBytes: number;
  readonly batchMaxKeys: number;
  readonly concurrency: number;
  readonly keyDebounce: Required<DebounceOptions> | null;
  readonly valueDebounce: Required<DebounceOptions> | null;
  readonly dedup: boolean;
  readonly metrics: MetricsRecorder;
  readonly shutdownTimeout: number;
  readonly closeSource: boolean;
  readonly claimTtl: number;
  readonly now: () => number;
}

const NOT_DEBOUNCEABLE: ReadonlySet<MonoidKind> = new Set([
  "sum",
  "count",
  "topk",
  "decayed",
]);

function positiveInteger(
  pipeline: string,
  name: string,
  value: number,
): number {
  return checkPositive(`run("${pipeline}")`, name, value);
}

function nonNegative(pipeline: string, name: string, value: number): number {
  if (!(value >= 0) || !Number.isFinite(value)) {
    throw new RangeError(
      `run("${pipeline}"): ${name} must be a finite number of ms >= 0, got ${value}`,
    );
  }
  return value;
}

function debounce(
  pipeline: Pipeline<unknown, unknown>,
  which: "key" | "value",
  given: DebounceOptions | undefined,
): Required<DebounceOptions> | null {
  const options = given ?? pipeline.debounce[which];
  if (options === undefined) return null;
  if (NOT_DEBOUNCEABLE.has(pipeline.monoid.kind)) {
    throw new PipelineConfigError(
      pipeline.name,
      `pipeline "${pipeline.name}" folds with ${pipeline.monoid.name} (kind "${pipeline.monoid.kind}"), where dropping repeats under-counts: remove ${which}Debounce, or aggregate with an idempotent monoid (max, min, set, last, hll, bloom)`,
    );
  }
  if (!(options.window > 0) || !Number.isFinite(options.window)) {
    throw new RangeError(
      `run("${pipeline.name}"): ${which}Debounce.window must be a positive number of ms, got ${options.window}`,
    );
  }
  return {
    window: options.window,
    maxKeys: positiveInteger(
      pipeline.name,
      `${which}Debounce.maxKeys`,
      options.maxKeys ?? 100_000,
    ),
  };
}

/**
 * Applies defaults and checks every option.
 *
 * @throws {RangeError} For a number out of range.
 * @throws {PipelineConfigError} For a debouncer on a monoid where it under-counts.
 */
export function resolveOptions(
  pipeline: Pipeline<unknown, unknown>,
  options: RunOptions,
): ResolvedOptions {
  const name = pipeline.name;
  const base = nonNegative(
    name,
    "retryBackoff.base",
    options.retryBackoff?.base ?? 100,
  );
  const max = nonNegative(
    name,
    "retryBackoff.max",
    options.retryBackoff?.max ?? 10_000,
  );
  if (max < base) {
    throw new RangeError(
      `run("${name}"): retryBackoff.max (${max}) must be at least retryBackoff.base (${base})`,
    );
  }
  const window = options.batchWindow;
  return {
    maxAttempts: positiveInteger(name, "maxAttempts", options.maxAttempts ?? 5),
    retryBase: base,
    retryMax: max,
    deadLetter: options.deadLetter ?? null,
    logDeadLetters: options.logDeadLetters ?? true,
    batchTime: window === undefined
      ? 0
      : nonNegative(name, "batchWindow.time", window.time ?? 1000),
    batchMax: window?.maxRecords === undefined
      ? Number.POSITIVE_INFINITY
      : positiveInteger(name, "batchWindow.maxRecords", window.maxRecords),
    batchMaxBytes: positiveInteger(
      name,
      "batchWindow.maxBytes",
      window?.maxBytes ?? 64 * 1024 * 1024,
    ),
    batchMaxKeys: positiveInteger(
      name,
      "batchWindow.maxKeys",
      window?.maxKeys ?? 100_000,
    ),
    concurrency: positiveInteger(name, "concurrency", options.concurrency ?? 1),
    keyDebounce: debounce(pipeline, "key", options.keyDebounce),
    valueDebounce: debounce(pipeline, "value", options.valueDebounce),
    dedup: options.dedup ?? false,
    metrics: options.metrics ?? noopMetrics,
    shutdownTimeout: nonNegative(
      name,
      "shutdownTimeout",
      options.shutdownTimeout ?? 10_000,
    ),
    closeSource: options.closeSource ?? true,
    claimTtl: positiveInteger(
      name,
      "claimTtl",
      options.claimTtl ?? 7 * 24 * 60 * 60 * 1000,
    ),
    now: options.now ?? Date.now,
  };
}
