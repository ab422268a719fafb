// The event batches Lambda hands to a function (Kinesis, DynamoDB Streams, SQS) and the answer it expects.

/** One Kinesis record as a Lambda event carries it. */
export interface KinesisEventRecord {
  /** `<shard id>:<sequence number>`. */
  readonly eventID: string;
  /** `aws:kinesis`. */
  readonly eventSource?: string;
  /** `arn:aws:kinesis:<region>:<account>:stream/<name>`. */
  readonly eventSourceARN: string;
  /** The record itself. */
  readonly kinesis: {
    /** The producer's partition key. */
    readonly partitionKey: string;
    readonly sequenceNumber: string;
    /** The payload, base64. */
    readonly data: string;
    /** Arrival time in epoch seconds (with a fraction). */
    readonly approximateArrivalTimestamp: number;
    /** `1.0`. */
    readonly kinesisSchemaVersion?: string;
  };
  /** `aws:kinesis:record`. */
  readonly eventName?: string;
  /** The event format's version. */
  readonly eventVersion?: string;
  /** The region of the source. */
  readonly awsRegion?: string;
  /** The role Lambda read the stream with. */
  readonly invokeIdentityArn?: string;
}

/** The event of a Lambda function on a Kinesis stream. */
export interface KinesisStreamEvent {
  /** The batch, in shard order. */
  readonly Records: readonly KinesisEventRecord[];
}

/** A DynamoDB attribute value in its wire form (`{ "S": "x" }`, `{ "N": "1" }`, …). */
export type AttributeValueJson =
  | { readonly S: string }
  | { readonly N: string }
  | { readonly B: string | Uint8Array }
  | { readonly BOOL: boolean }
  | { readonly NULL: boolean }
  | { readonly SS: readonly string[] }
  | { readonly NS: readonly string[] }
  | { readonly BS: readonly (string | Uint8Array)[] }
  | { readonly L: readonly AttributeValueJson[] }
  | { readonly M: Readonly<Record<string, AttributeValueJson>> };

/** One DynamoDB Streams record as a Lambda event carries it. */
export interface DynamoDBStreamEventRecord {
  /** A unique id of the change. */
  readonly eventID: string;
  /** `INSERT`, `MODIFY` or `REMOVE`. */
  readonly eventName: "INSERT" | "MODIFY" | "REMOVE";
  /** `aws:kinesis`, `aws:dynamodb` or `aws:sqs`. */
  readonly eventSource?: string;
  /** The ARN of the stream or queue. */
  readonly eventSourceARN?: string;
  /** The event format's version. */
  readonly eventVersion?: string;
  /** The region of the source. */
  readonly awsRegion?: string;
  /** The change. */
  readonly dynamodb: {
    /** The item's key attributes. */
    readonly Keys?: Readonly<Record<string, AttributeValueJson>>;
    /** The item after the change (per the stream's view type). */
    readonly NewImage?: Readonly<Record<string, AttributeValueJson>>;
    /** The item before the change (per the stream's view type). */
    readonly OldImage?: Readonly<Record<string, AttributeValueJson>>;
    /** The position in the shard: what Lambda expects back as a failure's identifier. */
    readonly SequenceNumber: string;
    /** Epoch seconds. */
    readonly ApproximateCreationDateTime?: number;
    /** The change's size in bytes. */
    readonly SizeBytes?: number;
    /** What the stream records, e.g. `NEW_AND_OLD_IMAGES`. */
    readonly StreamViewType?: string;
  };
}

/** The event of a Lambda function on a DynamoDB stream. */
export interface DynamoDBStreamEvent {
  /** The batch, in shard order. */
  readonly Records: readonly DynamoDBStreamEventRecord[];
}

/** One SQS message as a Lambda event carries it. */
export interface SQSEventRecord {
  /** The message's id: what Lambda expects back as a failure's identifier. */
  readonly messageId: string;
  /** The handle to delete the message with. */
  readonly receiptHandle?: string;
  /** The message body. */
  readonly body: string;
  /** System attributes; `SentTimestamp` is epoch ms as a string. */
  readonly attributes?: Readonly<Record<string, string>>;
  /** The sender's message attributes. */
  readonly messageAttributes?: Readonly<Record<string, unknown>>;
  /** MD5 of the body. */
  readonly md5OfBody?: string;
  /** `aws:kinesis`, `aws:dynamodb` or `aws:sqs`. */
  readonly eventSource?: string;
  /** The ARN of the stream or queue. */
  readonly eventSourceARN?: string;
  /** The region of the source. */
  readonly awsRegion?: string;
}

/** The event of a Lambda function on an SQS queue. */
export interface SQSEvent {
  /** The messages. */
  readonly Records: readonly SQSEventRecord[];
}

/** The answer Lambda reads with `ReportBatchItemFailures` on: the records to deliver again. */
export interface BatchResponse {
  /** One entry per record whose effect is not durable. */
  readonly batchItemFailures: { readonly itemIdentifier: string }[];
}

/** A change read from a DynamoDB stream, with its images as plain values. */
export interface DynamoDBChange {
  /** `INSERT`, `MODIFY` or `REMOVE`. */
  readonly eventName: "INSERT" | "MODIFY" | "REMOVE";
  /** The item's key attributes. */
  readonly keys: Record<string, unknown>;
  /** The item after the change, when the stream carries it. */
  readonly newImage?: Record<string, unknown>;
  /** The item before the change, when the stream carries it. */
  readonly oldImage?: Record<string, unknown>;
  /** The change's sequence number in its shard. */
  readonly sequenceNumber: string;
}

function bytes(value: string | Uint8Array): Uint8Array {
  return typeof value === "string"
    ? Uint8Array.from(atob(value), (c) => c.charCodeAt(0))
    : value;
}

/**
 * Turns one attribute value in wire form into a plain value: strings,
 * numbers (`N` as `number`), booleans, `null`, bytes, arrays, sets and objects.
 *
 * @param value The attribute value.
 * @returns The plain value.
 *
 * @example Usage
 * ```ts
 * import { fromAttributeValue } from "@murmur/core/lambda";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(
 *   fromAttributeValue({ M: { page: { S: "home" }, views: { N: "3" } } }),
 *   { page: "home", views: 3 },
 * );
 * ```
 */
export function fromAttributeValue(value: AttributeValueJson): unknown {
  if ("S" in value) return value.S;
  if ("N" in value) return Number(value.N);
  if ("BOOL" in value) return value.BOOL;
  if ("NULL" in value) return null;
  if ("B" in value) return bytes(value.B);
  if ("SS" in value) return new Set(value.SS);
  if ("NS" in value) return new Set(value.NS.map(Number));
  if ("BS" in value) return value.BS.map(bytes);
  if ("L" in value) return value.L.map(fromAttributeValue);
  if ("M" in value) return fromImage(value.M);
  throw new TypeError(
    `unknown DynamoDB attribute value ${JSON.stringify(value)}`,
  );
}

/** Turns an item in wire form into a plain object. */
function fromImage(
  image: Readonly<Record<string, AttributeValueJson>>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(image)) {
    out[name] = fromAttributeValue(value);
  }
  return out;
}

/** The default decoding of a DynamoDB Streams record. */
export function toChange(record: DynamoDBStreamEventRecord): DynamoDBChange {
  const d = record.dynamodb;
  return {
    eventName: record.eventName,
    keys: fromImage(d.Keys ?? {}),
    ...(d.NewImage === undefined ? {} : { newImage: fromImage(d.NewImage) }),
    ...(d.OldImage === undefined ? {} : { oldImage: fromImage(d.OldImage) }),
    sequenceNumber: d.SequenceNumber,
  };
}

/** The shard id and stream name of a Kinesis event record. */
export function kinesisOrigin(
  record: KinesisEventRecord,
): { shard: string; stream: string } {
  const colon = record.eventID.indexOf(":");
  const shard = colon > 0 ? record.eventID.slice(0, colon) : "shard";
  const arn = record.eventSourceARN ?? "";
  const slash = arn.lastIndexOf("stream/");
  const stream = slash >= 0 ? arn.slice(slash + "stream/".length) : arn;
  return { shard, stream };
}

/** Decodes base64 into bytes. */
export function base64Bytes(text: string): Uint8Array {
  return bytes(text);
}
