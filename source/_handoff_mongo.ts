// Mongo helpers shared by the collection scan and the change-stream source: positions, ids, the handoff capture.

import {
  BSON,
  type ChangeStream,
  type Collection,
  type Db,
  type Document,
  ObjectId,
  Timestamp,
} from "mongodb";

const EJSON = BSON.EJSON;
import { messageOf, positiveInteger } from "./_handoff.ts";
import type { SourceRecord } from "./source.ts";

/**
 * What the Mongo sources need of a client: the `MongoClient` of
 * `npm:mongodb` fits.
 */
export interface MongoClientLike {
  /** Returns a database handle; the sources pass a name. */
  db(name: string): unknown;
}

/**
 * Where a live change stream starts so that nothing written during a
 * snapshot is lost: taken before the scan starts. A plain JSON value, saved
 * in the snapshot's checkpoint and passed to
 * {@linkcode MongoChangeStreamSource}.
 */
export interface MongoHandoff {
  /** The collection, `"<db>.<collection>"`. */
  readonly ns: string;
  /** A change-stream resume token (extended JSON), when the server gave one. */
  readonly resumeAfter?: string;
  /** Otherwise a cluster time to start at, `"<seconds>.<increment>"`. */
  readonly startAtOperationTime?: string;
}

/** A Mongo document or filter as the sources see it (the driver's `Document`). */
export type MongoDocument = { [field: string]: unknown };

/** Options shared by the scan and the change stream. */
export interface MongoCommonOptions<T> {
  /** The client (connected or not; the source connects on first use). */
  readonly client: MongoClientLike;
  /** The database. */
  readonly db: string;
  /** The collection. */
  readonly collection: string;
  /** Turns a document into an event; throw to dead-letter it. Default: the document. */
  readonly decode?: (doc: MongoDocument) => T;
  /** The event time in epoch ms. Default: the `_id`'s time when it is an ObjectId, else the clock. */
  readonly time?: (event: T, doc: MongoDocument) => number;
  /** The clock, in epoch ms. Default: `Date.now`. */
  readonly now?: () => number;
}

/** Opens the database and collection of the options. */
export function collectionOf(
  options: MongoCommonOptions<unknown>,
): { db: Db; collection: Collection<Document> } {
  if (options.client === undefined || typeof options.client.db !== "function") {
    throw new TypeError(
      "a Mongo source needs { client: new MongoClient(uri) }",
    );
  }
  for (const what of ["db", "collection"] as const) {
    if (typeof options[what] !== "string" || options[what] === "") {
      throw new TypeError(`a Mongo source needs { ${what}: "name" }`);
    }
  }
  const db = options.client.db(options.db) as Db;
  return { db, collection: db.collection(options.collection) };
}

/** The canonical text of an `_id`, used in record ids and to match scan documents with change events. */
export function idText(id: unknown): string {
  if (id instanceof ObjectId) return id.toHexString();
  if (typeof id === "string") return JSON.stringify(id);
  return EJSON.stringify(id, { relaxed: false });
}

const NUMBER_BASE = 1n << 64n;
const OBJECT_ID_BASE = 1n << 100n;

/** Whether an `_id` orders as a position: ObjectIds and 64-bit integers. */
export function hasIdPosition(id: unknown): boolean {
  if (id instanceof ObjectId) return true;
  if (typeof id === "number") return Number.isSafeInteger(id);
  if (typeof id === "bigint") return id >= -(1n << 63n) && id < 1n << 63n;
  return typeof id === "object" && id !== null &&
    (id as { _bsontype?: string })._bsontype === "Long";
}

/** An `_id`'s position in the scan's stream, or `undefined` when {@linkcode hasIdPosition} says it has none. */
export function idPosition(id: unknown): bigint | undefined {
  if (id instanceof ObjectId) {
    return OBJECT_ID_BASE + BigInt(`0x${id.toHexString()}`);
  }
  if (typeof id === "number" && Number.isSafeInteger(id)) {
    return NUMBER_BASE + BigInt(id);
  }
  if (typeof id === "bigint" && id >= -(1n << 63n) && id < 1n << 63n) {
    return NUMBER_BASE + id;
  }
  if (
    typeof id === "object" && id !== null &&
    (id as { _bsontype?: string })._bsontype === "Long"
  ) {
    return NUMBER_BASE + BigInt(String(id));
  }
  return undefined;
}

/** The default event time of a document. */
function defaultTime(doc: Document, now: () => number): number {
  const id = doc._id;
  return id instanceof ObjectId ? id.getTimestamp().getTime() : now();
}

/** What a record of a document carries besides its value and time. */
export type DocumentFields = Pick<
  SourceRecord<unknown>,
  "id" | "ack" | "stream" | "position"
>;

/** A document decoded and timed, or the error that refused it. */
export interface DecodedDocument<T> {
  readonly value: T | undefined;
  readonly time: number;
  readonly error?: Error;
}

/**
 * Decodes and times a document with the source's `decode` and `time`; when
 * either throws, the error names the document (`idOf()` is called only then).
 */
export function decodeDocument<T>(
  doc: MongoDocument,
  options: MongoCommonOptions<T>,
  now: () => number,
  idOf: () => string,
): DecodedDocument<T> {
  try {
    const value = options.decode === undefined ? doc as T : options.decode(doc);
    const time = options.time === undefined
      ? defaultTime(doc, now)
      : options.time(value, doc);
    return { value, time };
  } catch (error) {
    return {
      value: undefined,
      time: now(),
      error: new TypeError(`${idOf()}: ${messageOf(error)}`, { cause: error }),
    };
  }
}

/**
 * A document's record, decoded and timed with the source's `decode` and
 * `time`, or an error record naming the document when either throws.
 */
export function documentRecord<T>(
  fields: DocumentFields,
  doc: MongoDocument,
  options: MongoCommonOptions<T>,
  now: () => number,
): SourceRecord<T> {
  return { ...fields, ...decodeDocument(doc, options, now, () => fields.id) };
}

/** A cluster time as a bigint: seconds in the high 32 bits, increment in the low. */
export function clusterBigInt(time: unknown): bigint | undefined {
  if (time instanceof Timestamp) {
    return (BigInt(time.t) << 32n) | BigInt(time.i);
  }
  return undefined;
}

/** The change-stream options that start at a handoff. */
export function startOptions(handoff: MongoHandoff): Document {
  if (handoff.resumeAfter !== undefined) {
    return { resumeAfter: EJSON.parse(handoff.resumeAfter) };
  }
  if (handoff.startAtOperationTime !== undefined) {
    const [t, i] = handoff.startAtOperationTime.split(".").map(Number);
    return { startAtOperationTime: new Timestamp({ t: t!, i: i ?? 0 }) };
  }
  throw new TypeError(
    `handoff for ${handoff.ns} has neither resumeAfter nor startAtOperationTime: pass the value a MongoSnapshotSource returned`,
  );
}

/**
 * Captures the handoff: the server's postBatchResumeToken when it gives one
 * (a replica set does); else the token of the last change made so far in the
 * server clock's current second, or the start of that second when there was
 * none. Each is at or before every document the scan will read.
 */
export async function captureHandoff(
  db: Db,
  collection: Collection<Document>,
): Promise<MongoHandoff> {
  const ns = `${collection.dbName}.${collection.collectionName}`;
  const stream: ChangeStream = collection.watch([], { maxAwaitTimeMS: 1 });
  try {
    await stream.tryNext();
    const token = stream.resumeToken;
    if (token !== null && token !== undefined) {
      return { ns, resumeAfter: EJSON.stringify(token, { relaxed: false }) };
    }
  } finally {
    await stream.close();
  }
  const reply = await db.admin().command({ isMaster: 1 });
  const local = reply.localTime instanceof Date
    ? reply.localTime.getTime()
    : Date.now();
  const second = `${Math.floor(local / 1000)}.0`;
  // Narrow the second down: read this second's changes so far and hand off after the last one.
  const tail: ChangeStream = collection.watch(
    [],
    {
      ...startOptions({ ns, startAtOperationTime: second }),
      maxAwaitTimeMS: 1,
    },
  );
  try {
    while (await tail.tryNext() !== null) { /* to the end */ }
    const token = tail.resumeToken;
    if (token !== null && token !== undefined) {
      return { ns, resumeAfter: EJSON.stringify(token, { relaxed: false }) };
    }
  } finally {
    await tail.close();
  }
  return { ns, startAtOperationTime: second };
}

/**
 * Rewrites a document filter for change events: each field moves under
 * `fullDocument.` (operators `$and`, `$or`, `$nor` recurse).
 */
export function changeFilter(filter: Document): Document {
  const out: Document = {};
  for (const [key, value] of Object.entries(filter)) {
    if (key === "$and" || key === "$or" || key === "$nor") {
      out[key] = (value as Document[]).map(changeFilter);
    } else if (key.startsWith("$")) out[key] = value;
    else out[`fullDocument.${key}`] = value;
  }
  return out;
}

/** Validates the batch size option. */
export function batchSizeOf(name: string, value: number | undefined): number {
  return positiveInteger(name, "batchSize", value ?? 1000);
}
