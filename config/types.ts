// The typed shape of a parsed configuration: sources, store, pipelines.

/** Where an entity comes from: a field (with a prefix), a constant, or a template of fields. */
export type KeySpec =
  | { readonly field: string; readonly prefix: string }
  | { readonly const: string }
  | { readonly template: string };

/** The monoid of a pipeline, as the config names it. */
export type AggregateSpec =
  | { readonly kind: "sum" | "count" | "min" | "max" | "latest" }
  | { readonly kind: "uniqueCount"; readonly of: string }
  | {
    readonly kind: "topN";
    readonly of: string;
    readonly n: number;
    readonly k: number | null;
    readonly weight: string | null;
  }
  | { readonly kind: "decayedSum"; readonly halfLife: number };

/** A window: bucket size and how long buckets are kept (`null`: forever). */
export interface WindowSpec {
  /** The bucket size. */
  readonly every: "minute" | "hour" | "day";
  /** Retention in ms after the bucket's end, or `null` to keep buckets forever. */
  readonly retention: number | null;
}

/** Where the event time comes from. */
export interface TimeSpec {
  /** The field path holding it: epoch ms (or s), or an ISO-8601 date. */
  readonly field: string;
  /** The unit of a numeric time. */
  readonly unit: "ms" | "s";
  /** An event without the field: dead-letter it (default) or use the record's time. */
  readonly whenMissing: "deadLetter" | "recordTime";
}

/** Run options of one pipeline, after `defaults:` were applied. */
export interface RunSpec {
  /** Batch window in ms, or `null` for the runtime's default (write as fast as the store takes it). */
  readonly batchWindow: number | null;
  /** Most records folded before a write. */
  readonly batchMaxRecords: number | null;
  /** Exactly once across crashes. */
  readonly dedup: boolean;
  /** Store calls of one write in parallel. */
  readonly concurrency: number | null;
  /** Attempts per store call before the run stops. */
  readonly maxAttempts: number | null;
  /** An event whose bucket is past retention: dropped (counted as late) or dead-lettered. */
  readonly lateData: "drop" | "deadLetter";
}

/** One pipeline of the config. */
export interface PipelineSpec {
  /** The pipeline's name (its state namespace). */
  readonly name: string;
  /** The keys of each event (one, or several for roll-ups). */
  readonly keys: readonly KeySpec[];
  /** Whether the config used `keys:` (a list) rather than `key:`. */
  readonly multi: boolean;
  /** The field holding the value, or `null` (count, uniqueCount, topN). */
  readonly value: string | null;
  /** The monoid. */
  readonly aggregate: AggregateSpec;
  /** The window, or `null` for all-time values. */
  readonly window: WindowSpec | null;
  /** The event time, or `null` for the record's (source's) time. */
  readonly time: TimeSpec | null;
  /** Run options. */
  readonly run: RunSpec;
  /** The 1-based line where the pipeline starts in the file. */
  readonly line: number;
}

/** A Kafka source: a consumer group on a topic. */
export interface KafkaSourceSpec {
  /** The kind. */
  readonly kind: "kafka";
  /** Bootstrap brokers. */
  readonly brokers: readonly string[];
  /** The topic. */
  readonly topic: string;
  /** The consumer group. */
  readonly groupId: string;
  /** Where a new group starts. Default: `earliest`. */
  readonly startFrom: "earliest" | "latest";
  /** The dead-letter topic, or `null` to only count (and log) dead letters. */
  readonly deadLetterTopic: string | null;
  /** Further client and group settings (ms and bytes), passed to `kafkaSource`. */
  readonly settings: Readonly<Record<string, number | string>>;
}

/** A JSON-Lines file (or `-` for stdin). */
export interface JsonlSourceSpec {
  /** The kind. */
  readonly kind: "jsonl";
  /** The file path, or `-` for stdin. */
  readonly path: string;
  /** Further settings (name, batchSize, maxLineBytes, fromLine). */
  readonly settings: Readonly<Record<string, number | string>>;
}

/**
 * A Kinesis stream; an archive or snapshot (JSON-Lines in S3, Parquet files
 * local or in S3, a Mongo collection or DynamoDB table scan); or the live
 * change feed that follows a snapshot (a Mongo change stream, a DynamoDB
 * stream), started from the handoff the snapshot saved.
 */
export interface ArchiveSourceSpec {
  /** The kind. */
  readonly kind:
    | "kinesis"
    | "s3"
    | "parquet"
    | "mongo"
    | "dynamodb"
    | "mongoChangeStream"
    | "dynamodbStreams";
  /** Bucket, prefix, path, endpoint, region, columns, url, db, collection and tuning, as written. */
  readonly settings: Readonly<Record<string, unknown>>;
}

/** Any source the config can name. */
export type SourceSpec = KafkaSourceSpec | JsonlSourceSpec | ArchiveSourceSpec;

/** The state store. */
export type StoreSpec =
  | { readonly kind: "memory" }
  | {
    readonly kind: "kv";
    /** The database file, or `null` for Deno's default location (`:memory:` for a throwaway one). */
    readonly path: string | null;
    /** The key prefix the state lives under (the KV "table"). */
    readonly table: string;
    /** A swap alias to follow instead of `table`, or `null`. */
    readonly alias: string | null;
    /** How often the alias is checked, in ms. */
    readonly pollInterval: number;
  }
  | {
    readonly kind: "dynamodb";
    /** The state table. */
    readonly table: string;
    /** The endpoint (DynamoDB Local), or `null` for AWS. */
    readonly endpoint: string | null;
    /** The region. */
    readonly region: string;
    /** Create the table when missing (development). */
    readonly createTable: boolean;
    /** Writes in flight. */
    readonly concurrency: number | null;
    /** A swap alias to follow instead of `table`, or `null`. */
    readonly alias: string | null;
    /** The table holding alias records. */
    readonly aliasTable: string;
    /** How often the alias is polled, in ms. */
    readonly pollInterval: number;
  };

/** A whole configuration file. */
export interface MurmurConfig {
  /** The file it came from (for messages). */
  readonly file: string;
  /** The live source, or `null`. */
  readonly source: SourceSpec | null;
  /** The bootstrap (snapshot) source, or `null`. */
  readonly bootstrap: SourceSpec | null;
  /** The replay archive and its shadow table, or `null`. */
  readonly replay: {
    readonly source: SourceSpec;
    readonly into: string | null;
  } | null;
  /** The store. Default: Deno KV at Deno's default location. */
  readonly store: StoreSpec;
  /** The Valkey cache, or `null`. */
  readonly cache: { readonly url: string; readonly keyPrefix: string } | null;
  /** The pipelines, all fed by the same source. */
  readonly pipelines: readonly PipelineSpec[];
  /** The worker's health endpoint. */
  readonly health: { readonly port: number; readonly hostname: string };
  /** How often the worker logs progress, in ms. */
  readonly log: { readonly intervalMs: number };
}

/** Options of {@linkcode parseConfig}. */
export interface ParseConfigOptions {
  /** The file name used in messages. Default: `"config"`. */
  readonly file?: string;
  /** Reads environment variables for `${NAME}`. Default: none set (only `${NAME:-default}` works). */
  readonly env?: (name: string) => string | undefined;
}
