// Projects counter bucket transitions from the state table's DynamoDB Stream into an Orama search index.

import {
  create,
  getByID,
  insertMultiple,
  type Orama,
  update,
} from "@orama/orama";
import type { BatchResponse, DynamoDBStreamEvent } from "../../lambda/mod.ts";
import {
  type Hysteresis,
  hysteresis,
  logBuckets,
} from "../../projection/mod.ts";

/** The searchable post documents; `likes_bucket` is the facet the projector keeps. */
export const POST_SCHEMA = {
  id: "string",
  title: "string",
  body: "string",
  likes_bucket: "number",
  likes_label: "string",
} as const;

/** The post index. */
export type PostIndex = Orama<typeof POST_SCHEMA>;

/** One post as the app indexes it. */
export interface Post {
  /** The entity of the post in the counter pipeline, e.g. `post:42`. */
  readonly id: string;
  /** Title. */
  readonly title: string;
  /** Body text. */
  readonly body: string;
}

/** A DynamoDB attribute in the wire format. */
export type Attribute = { readonly [type: string]: unknown };

/**
 * One DynamoDB Streams record, as a Lambda event carries it and as
 * `GetRecords` answers it.
 */
export interface StreamRecordLike {
  /** `INSERT`, `MODIFY` or `REMOVE`. */
  readonly eventName?: string;
  /** The change. */
  readonly dynamodb?: {
    readonly Keys?: Readonly<Record<string, Attribute>>;
    readonly NewImage?: Readonly<Record<string, Attribute>>;
    readonly OldImage?: Readonly<Record<string, Attribute>>;
  };
}

/** Creates an empty post index. */
export function createPostIndex(): PostIndex {
  return create({ schema: POST_SCHEMA });
}

/** Adds posts to the index with the facet of a zero counter. */
export async function indexPosts(
  index: PostIndex,
  posts: readonly Post[],
  buckets: Hysteresis = hysteresis(logBuckets()),
): Promise<void> {
  const bucket = buckets.buckets.bucketOf(0);
  await insertMultiple(
    index,
    posts.map((p) => ({
      ...p,
      likes_bucket: bucket,
      likes_label: buckets.buckets.label(bucket),
    })),
  );
}

/** Options of {@linkcode SearchProjector}. */
export interface SearchProjectorOptions {
  /** The counter pipeline whose rows are projected (the `pk` namespace). */
  readonly pipeline: string;
  /** Buckets with hysteresis. Default: powers of ten, band 0.1. */
  readonly buckets?: Hysteresis;
}

/** What the projector did. */
export interface ProjectorStats {
  /** Stream records read. */
  records: number;
  /** Records of the pipeline's all-time rows (the others are ignored). */
  counterChanges: number;
  /** Index writes: bucket transitions. */
  reindexes: number;
  /** Transitions plain buckets (no hysteresis) would have written. */
  withoutHysteresis: number;
  /** Changes of entities the index does not hold. */
  missing: number;
}

/** A counter row's change: its keys and new value (`null` once removed). */
export interface CounterChange {
  /** `<pipeline>#<entity>`. */
  readonly pk: string;
  /** `all` for all-time rows, a bucket otherwise. */
  readonly sk: string;
  /** The new value; `null` when the row was removed (TTL or delete). */
  readonly value: number | null;
}

/**
 * Reads a change from a DynamoDB Streams record in the wire format (a
 * Lambda event's record, or `GetRecords`).
 *
 * @returns The change, or `undefined` when it is not a numeric counter row.
 */
export function changeFromStreamRecord(
  record: StreamRecordLike,
): CounterChange | undefined {
  const keys = record.dynamodb?.Keys;
  const pk = keys?.pk?.S;
  const sk = keys?.sk?.S;
  if (typeof pk !== "string" || typeof sk !== "string") return undefined;
  if (record.eventName === "REMOVE") return { pk, sk, value: null };
  const n = record.dynamodb?.NewImage?.v?.N;
  return typeof n === "string" ? { pk, sk, value: Number(n) } : undefined;
}

/**
 * Reads a change from an item image with plain values (what
 * `DynamoDBSnapshotSource` and `DynamoDBStreamSource` deliver).
 *
 * @returns The change, or `undefined` when it is not a numeric counter row.
 */
export function changeFromImage(
  image: Readonly<Record<string, unknown>>,
): CounterChange | undefined {
  const { pk, sk, v } = image;
  if (typeof pk !== "string" || typeof sk !== "string") return undefined;
  const value = typeof v === "number"
    ? v
    : typeof v === "string" || typeof v === "bigint"
    ? Number(v)
    : undefined;
  return value === undefined ? undefined : { pk, sk, value };
}

/**
 * Turns counter changes into search index writes, only when the counter's
 * facet moves: each record's new value goes through the hysteresis buckets
 * from the bucket the index holds now, and the document is rewritten only
 * when the bucket changes. Within one batch an entity's changes are folded
 * first, so a burst costs at most one write.
 *
 * Rows of other pipelines, windowed rows (`sk` other than `all`) and
 * non-numeric values are ignored. A `REMOVE` (TTL or delete) projects 0.
 */
export class SearchProjector {
  /** Counts since creation. */
  readonly stats: ProjectorStats = {
    records: 0,
    counterChanges: 0,
    reindexes: 0,
    withoutHysteresis: 0,
    missing: 0,
  };
  readonly #index: PostIndex;
  readonly #pipeline: string;
  readonly #buckets: Hysteresis;
  // The bucket each entity would have without hysteresis, for the comparison in `stats`.
  readonly #plain = new Map<string, number>();

  /** Creates the projector over an index. */
  constructor(index: PostIndex, options: SearchProjectorOptions) {
    this.#index = index;
    this.#pipeline = options.pipeline;
    this.#buckets = options.buckets ?? hysteresis(logBuckets());
  }

  /**
   * Applies one batch of counter changes, in order.
   *
   * @param changes From {@linkcode changeFromImage} (the Streams source) or
   * {@linkcode changeFromStreamRecord} (a Lambda event).
   */
  async apply(changes: readonly (CounterChange | undefined)[]): Promise<void> {
    const prefix = `${this.#pipeline}#`;
    const latest = new Map<string, number>();
    for (const change of changes) {
      this.stats.records++;
      if (
        change === undefined || !change.pk.startsWith(prefix) ||
        change.sk !== "all"
      ) continue;
      const value = change.value ?? 0;
      if (!Number.isFinite(value)) continue;
      this.stats.counterChanges++;
      const entity = change.pk.slice(prefix.length);
      let current = latest.get(entity);
      if (current === undefined) {
        const doc = getByID(this.#index, entity);
        if (doc === undefined) {
          this.stats.missing++;
          continue;
        }
        current = doc.likes_bucket;
      }
      const raw = this.#buckets.buckets.bucketOf(value);
      if (raw !== (this.#plain.get(entity) ?? current)) {
        this.stats.withoutHysteresis++;
      }
      this.#plain.set(entity, raw);
      latest.set(entity, this.#buckets.next(current, value));
    }
    for (const [entity, bucket] of latest) {
      const doc = getByID(this.#index, entity);
      if (doc === undefined || doc.likes_bucket === bucket) continue;
      await update(this.#index, entity, {
        ...doc,
        likes_bucket: bucket,
        likes_label: this.#buckets.buckets.label(bucket),
      });
      this.stats.reindexes++;
    }
  }

  /**
   * A Lambda handler for the table's DynamoDB Streams trigger (the event
   * types of `@murmur/core/lambda`; serve it with its `serveLambda`).
   *
   * @returns The handler; it reports no item failures (a failing batch throws and is retried whole).
   */
  lambdaHandler(): (event: DynamoDBStreamEvent) => Promise<BatchResponse> {
    return async (event) => {
      await this.apply(event.Records.map(changeFromStreamRecord));
      return { batchItemFailures: [] };
    };
  }
}
