// DynamoDB helpers of the bootstrap and Streams sources: item decoding, stable key hashes, stream shards, the handoff.

/**
 * What the sources need of a client: the AWS SDK v3 `DynamoDBClient` (for
 * the scan) or `DynamoDBStreamsClient` of
 * `npm:@aws-sdk/client-dynamodb-streams` (for streams) fits.
 */
export interface DynamoDBSendLike {
  /** Sends a command of the matching `@aws-sdk` package. */
  send(
    command: unknown,
    options?: { abortSignal?: AbortSignal },
  ): Promise<unknown>;
}

/** A DynamoDB attribute value in the wire format (`{ S: "x" }`, `{ N: "1" }`, …). */
export type AttributeValueLike = { [type: string]: unknown };

/** An item in the wire format. */
export type WireItem = Record<string, AttributeValueLike>;

/**
 * Where the table's stream stood before a scan started: for each shard open
 * then, the last sequence number it held (or `null` when it was empty), and
 * the shards already closed. A plain JSON value.
 */
export interface DynamoDBHandoff {
  /** The table. */
  readonly table: string;
  /** The stream's ARN. */
  readonly streamArn: string;
  /** Open shards at capture → their last sequence number, or `null`. */
  readonly shards: Readonly<Record<string, string | null>>;
  /** Shards closed at capture: every record in them predates the scan. */
  readonly closed: readonly string[];
}

/** Converts a wire attribute to a plain value: numbers as `number` (or a string beyond 2^53), sets as arrays. */
export function fromAttribute(value: AttributeValueLike): unknown {
  if ("S" in value) return value.S;
  if ("N" in value) return number(value.N as string);
  if ("BOOL" in value) return value.BOOL;
  if ("NULL" in value) return null;
  if ("B" in value) return value.B;
  if ("M" in value) return fromItem(value.M as WireItem);
  if ("L" in value) return (value.L as AttributeValueLike[]).map(fromAttribute);
  if ("SS" in value) return value.SS;
  if ("NS" in value) return (value.NS as string[]).map(number);
  if ("BS" in value) return value.BS;
  return undefined;
}

function number(text: string): number | string {
  const n = Number(text);
  return Number.isSafeInteger(n) || !/^-?\d+$/.test(text) ? n : text;
}

/** Converts a wire item to a plain object. */
export function fromItem(item: WireItem): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(item)) {
    out[name] = fromAttribute(value);
  }
  return out;
}

/** The canonical text of an item's key: key attributes sorted by name. */
export function keyText(item: WireItem, keyNames: readonly string[]): string {
  let out = "";
  for (const name of keyNames) {
    const v = item[name];
    const text = v === undefined
      ? ""
      : "S" in v
      ? String(v.S)
      : "N" in v
      ? String(v.N)
      : JSON.stringify(v);
    out += out === "" ? text : `|${text}`;
  }
  return out;
}

/** One shard as DescribeStream lists it. */
export interface ShardInfo {
  readonly ShardId?: string;
  readonly ParentShardId?: string;
  readonly SequenceNumberRange?: {
    readonly StartingSequenceNumber?: string;
    readonly EndingSequenceNumber?: string;
  };
}

/** One stream record as GetRecords returns it. */
export interface StreamRecordLike {
  readonly eventName?: string;
  readonly dynamodb?: {
    readonly Keys?: WireItem;
    readonly NewImage?: WireItem;
    readonly SequenceNumber?: string;
    readonly ApproximateCreationDateTime?: Date | number;
  };
}

/** The commands the sources send, bound to the SDK's classes at first use. */
export interface StreamsCommands {
  describeStream(arn: string, after?: string): unknown;
  getShardIterator(
    arn: string,
    shard: string,
    type: "TRIM_HORIZON" | "AFTER_SEQUENCE_NUMBER" | "LATEST",
    sequence?: string,
  ): unknown;
  getRecords(iterator: string, limit: number): unknown;
}

/** Loads the Streams SDK's commands. */
export async function streamsCommands(): Promise<StreamsCommands> {
  const sdk = await import("@aws-sdk/client-dynamodb-streams");
  return {
    describeStream: (StreamArn, ExclusiveStartShardId) =>
      new sdk.DescribeStreamCommand({
        StreamArn,
        ...(ExclusiveStartShardId === undefined
          ? {}
          : { ExclusiveStartShardId }),
      }),
    getShardIterator: (StreamArn, ShardId, ShardIteratorType, SequenceNumber) =>
      new sdk.GetShardIteratorCommand({
        StreamArn,
        ShardId,
        ShardIteratorType,
        ...(SequenceNumber === undefined ? {} : { SequenceNumber }),
      }),
    getRecords: (ShardIterator, Limit) =>
      new sdk.GetRecordsCommand({ ShardIterator, Limit }),
  };
}

/** Every shard of a stream (DescribeStream, all pages). */
export async function listShards(
  client: DynamoDBSendLike,
  commands: StreamsCommands,
  arn: string,
): Promise<ShardInfo[]> {
  const shards: ShardInfo[] = [];
  let after: string | undefined;
  do {
    const out = await client.send(commands.describeStream(arn, after)) as {
      StreamDescription?: {
        Shards?: ShardInfo[];
        LastEvaluatedShardId?: string;
      };
    };
    shards.push(...(out.StreamDescription?.Shards ?? []));
    after = out.StreamDescription?.LastEvaluatedShardId;
  } while (after !== undefined);
  return shards;
}

/** Reads a shard from a position until it has nothing more now; calls `each` per page. */
export async function readShard(
  client: DynamoDBSendLike,
  commands: StreamsCommands,
  arn: string,
  shard: string,
  after: string | null,
  each: (records: StreamRecordLike[]) => void,
): Promise<{ last: string | null; ended: boolean }> {
  const start = await client.send(
    after === null
      ? commands.getShardIterator(arn, shard, "TRIM_HORIZON")
      : commands.getShardIterator(arn, shard, "AFTER_SEQUENCE_NUMBER", after),
  ) as { ShardIterator?: string };
  let iterator = start.ShardIterator;
  let last = after;
  while (iterator !== undefined && iterator !== null) {
    const page = await client.send(commands.getRecords(iterator, 1000)) as {
      Records?: StreamRecordLike[];
      NextShardIterator?: string;
    };
    const records = page.Records ?? [];
    if (records.length > 0) {
      each(records);
      last = records.at(-1)!.dynamodb?.SequenceNumber ?? last;
    }
    iterator = page.NextShardIterator;
    if (records.length === 0) break;
  }
  return { last, ended: iterator === undefined || iterator === null };
}

/**
 * Captures the handoff: reads every open shard to its current end and keeps
 * the last sequence number. Records after it (and in shards created later)
 * are the live source's.
 */
export async function captureStreamHandoff(
  client: DynamoDBSendLike,
  table: string,
  arn: string,
): Promise<DynamoDBHandoff> {
  const commands = await streamsCommands();
  const shards: Record<string, string | null> = {};
  const closed: string[] = [];
  for (const shard of await listShards(client, commands, arn)) {
    const id = shard.ShardId!;
    if (shard.SequenceNumberRange?.EndingSequenceNumber !== undefined) {
      closed.push(id);
      continue;
    }
    const { last } = await readShard(
      client,
      commands,
      arn,
      id,
      null,
      () => {},
    );
    shards[id] = last;
  }
  return { table, streamArn: arn, shards, closed };
}
