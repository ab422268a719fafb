// Sources named by a config: Kafka, Kinesis, a JSON-Lines file, JSON-Lines in S3, Parquet files (local or in S3), Mongo and DynamoDB snapshots and the live feeds that follow them.

import { S3Client } from "@aws-sdk/client-s3";
import { JsonLinesSource, type Source } from "../source/mod.ts";
import { kafkaSource, type KafkaSourceOptions } from "../source/kafka.ts";
import { FileCheckpoint, S3JsonLinesSource } from "../source/s3.ts";
import { ParquetSource } from "../source/parquet.ts";
import { MongoSnapshotSource } from "../source/mongo.ts";
import { MongoClient } from "mongodb";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBSnapshotSource } from "../source/dynamodb.ts";
import { DynamoDBStreamsClient } from "@aws-sdk/client-dynamodb-streams";
import { KinesisClient } from "@aws-sdk/client-kinesis";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { kinesisSource } from "../source/kinesis.ts";
import type { ConfigEvent } from "./build.ts";
import type { SourceSpec } from "./types.ts";
import { definedOnly } from "../internal/defined.ts";
import { awsEndpoint, openDynamoDBFeed, openMongoFeed } from "./_feeds.ts";

/** Hooks of {@linkcode openSource}. */
export type SourceHooks = Pick<
  KafkaSourceOptions<ConfigEvent>,
  "onAssignment" | "onCommit" | "logLevel"
>;

/**
 * Opens the source a spec names.
 *
 * @param spec The source spec.
 * @param hooks Kafka callbacks and log level.
 * @returns The source; iterate it (or hand it to `run`) to connect.
 */
export function openSource(
  spec: SourceSpec,
  hooks: SourceHooks = {},
): Source<ConfigEvent> {
  if (spec.kind !== "kafka" && spec.kind !== "jsonl") return openArchive(spec);
  if (spec.kind === "jsonl") {
    return new JsonLinesSource<ConfigEvent>(spec.path, {
      ...spec.settings,
      ...(spec.settings.timeField === undefined ? { time: "read" } : {}),
      decode: (json) => {
        if (json === null || typeof json !== "object" || Array.isArray(json)) {
          throw new TypeError("a line must hold a JSON object");
        }
        return json as ConfigEvent;
      },
    });
  }
  const s = spec.settings;
  const renamed: Record<string, unknown> = { ...s };
  if (s.fetchMaxBytes !== undefined) renamed.maxBytes = s.fetchMaxBytes;
  if (s.fetchMaxBytesPerPartition !== undefined) {
    renamed.maxBytesPerPartition = s.fetchMaxBytesPerPartition;
  }
  delete renamed.fetchMaxBytes;
  delete renamed.fetchMaxBytesPerPartition;
  return kafkaSource<ConfigEvent>({
    ...renamed,
    ...hooks,
    brokers: spec.brokers,
    topic: spec.topic,
    groupId: spec.groupId,
    fromBeginning: spec.startFrom === "earliest",
  } as KafkaSourceOptions<ConfigEvent>);
}

function s3Client(settings: Readonly<Record<string, unknown>>): S3Client {
  const endpoint = settings.endpoint as string | null | undefined;
  const local = endpoint !== undefined && endpoint !== null && endpoint !== "";
  return new S3Client({
    region: (settings.region as string | undefined) ?? "us-east-1",
    ...(local ? { endpoint, forcePathStyle: true } : {}),
    ...(settings.forcePathStyle === undefined
      ? {}
      : { forcePathStyle: settings.forcePathStyle as boolean }),
    // A local endpoint (moto, MinIO) takes any key when the environment has none.
    ...(local && Deno.env.get("AWS_ACCESS_KEY_ID") === undefined
      ? { credentials: { accessKeyId: "local", secretAccessKey: "local" } }
      : {}),
  });
}

function objectOf(value: unknown): ConfigEvent {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new TypeError("a record must be a JSON object");
  }
  return value as ConfigEvent;
}

function openKinesis(
  s: Readonly<Record<string, unknown>>,
): Source<ConfigEvent> {
  const region = (s.region as string | undefined) ?? "us-east-1";
  // Local servers (moto) speak HTTP/1.1 only; the Kinesis client defaults to HTTP/2.
  const kinesis = new KinesisClient({
    region,
    ...awsEndpoint(s.endpoint),
    ...(typeof s.endpoint === "string" && s.endpoint !== ""
      ? { requestHandler: new NodeHttpHandler() }
      : {}),
  });
  const dynamodb = new DynamoDBClient({
    region,
    ...awsEndpoint(s.dynamodbEndpoint),
  });
  const num = (k: string) => s[k] === undefined ? {} : { [k]: s[k] as number };
  const source = kinesisSource<ConfigEvent>({
    stream: s.stream as string,
    leaseTable: s.leaseTable as string,
    kinesis,
    dynamodb,
    ...(s.workerId === undefined ? {} : { workerId: s.workerId as string }),
    startPosition: s.startFrom === "latest" ? "LATEST" : "TRIM_HORIZON",
    ...num("batchSize"),
    ...num("maxBufferedRecords"),
    ...num("pollInterval"),
    ...num("maxPollInterval"),
    ...num("leaseDuration"),
    ...num("discoveryInterval"),
    ...num("checkpointInterval"),
    ...num("closeTimeout"),
    decode: (data) => objectOf(JSON.parse(new TextDecoder().decode(data))),
  });
  return owning(source, () => {
    kinesis.destroy();
    dynamodb.destroy();
  }, () => ({}));
}

/** A source whose client is ours: closing the source closes the client too. */
function owning(
  source: Source<ConfigEvent>,
  release: () => unknown,
  progress: () => object,
): Source<ConfigEvent> {
  const close = async () => {
    await source.close();
    await release();
  };
  return {
    name: source.name,
    close,
    [Symbol.asyncDispose]: close,
    [Symbol.asyncIterator]: () => source[Symbol.asyncIterator](),
    progress,
  } as Source<ConfigEvent>;
}

function openArchive(
  spec: {
    readonly kind: Exclude<SourceSpec["kind"], "kafka" | "jsonl">;
    readonly settings: Readonly<Record<string, unknown>>;
  },
): Source<ConfigEvent> {
  const s = spec.settings;
  const num = (k: string) => s[k] === undefined ? {} : { [k]: s[k] as number };
  const checkpoint = s.checkpoint === undefined
    ? {}
    : { checkpoint: new FileCheckpoint(s.checkpoint as string) };
  if (spec.kind === "kinesis") return openKinesis(s);
  if (spec.kind === "mongoChangeStream") return openMongoFeed(s);
  if (spec.kind === "dynamodbStreams") return openDynamoDBFeed(s);
  if (spec.kind === "dynamodb") {
    const region = (s.region as string | undefined) ?? "us-east-1";
    const client = new DynamoDBClient({ region, ...awsEndpoint(s.endpoint) });
    // With streams: true the scan saves a handoff for a later dynamodbStreams source.
    const streams = s.streams === true
      ? new DynamoDBStreamsClient({
        region,
        ...awsEndpoint(s.streamsEndpoint ?? s.endpoint),
      })
      : undefined;
    const scan = new DynamoDBSnapshotSource<ConfigEvent>({
      client,
      table: s.table as string,
      ...(streams === undefined ? {} : { streams }),
      ...num("segments"),
      ...num("totalSegments"),
      ...num("pageSize"),
      ...num("batchSize"),
      ...checkpoint,
    });
    return owning(scan, () => {
      client.destroy();
      streams?.destroy();
    }, () => {
      const p = scan.progress();
      return {
        items: p.segments,
        itemsDone: p.segmentsDone,
        records: p.scanned,
      };
    });
  }
  if (spec.kind === "mongo") {
    const client = new MongoClient(s.url as string);
    const scan = new MongoSnapshotSource<ConfigEvent>({
      client,
      db: s.db as string,
      collection: s.collection as string,
      ...definedOnly({
        filter: s.filter as Record<string, unknown> | undefined,
        projection: s.projection as Record<string, unknown> | undefined,
      }),
      ...num("batchSize"),
      ...checkpoint,
    });
    return owning(scan, () => client.close(), () => scan.progress());
  }
  if (spec.kind === "s3") {
    const suffix = s.suffix as string | undefined;
    return new S3JsonLinesSource<ConfigEvent>({
      client: s3Client(s),
      bucket: s.bucket as string,
      ...(s.prefix === undefined ? {} : { prefix: s.prefix as string }),
      ...(suffix === undefined ? {} : {
        keys: (key: string) => key.endsWith(suffix),
      }),
      ...num("concurrency"),
      ...num("batchSize"),
      ...num("maxLineBytes"),
      ...checkpoint,
      decode: objectOf,
    });
  }
  return new ParquetSource<ConfigEvent>({
    ...(s.path === undefined ? {} : { path: s.path as string }),
    ...(s.bucket === undefined
      ? {}
      : { client: s3Client(s), bucket: s.bucket as string }),
    ...(s.prefix === undefined ? {} : { prefix: s.prefix as string }),
    ...(s.columns === undefined ? {} : { columns: s.columns as string[] }),
    ...num("concurrency"),
    ...num("batchSize"),
    ...checkpoint,
    decode: objectOf,
  });
}
