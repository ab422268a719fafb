// The DynamoDB table layout: key encoding, attribute names and exact decimal numbers.

import type { StateKey } from "./store.ts";

/** Partition key attribute: `<namespace>#<entity>`. */
export const PK = "pk";
/** Sort key attribute: the bucket, `all` for all-time, or `claim#…` for a claim row. */
export const SK = "sk";
/** The value: N for numeric paths, B (codec bytes) for the read-combine-write path. */
export const VALUE = "v";
/** The compare-and-set version of read-combine-write items. */
export const VERSION = "ver";
/** Expiry in epoch seconds, for DynamoDB's native TTL. */
export const TTL = "ttl";
/** Prefix of the per-stream mark attributes: `m:<stream>` holds the highest applied position. */
export const MARK_PREFIX = "m:";

/** The most digits a mark position may have: the two-digit length prefix counts up to 99. */
const MARK_DIGITS = 99;

/**
 * A mark position as the S text DynamoDB stores: two digits of length, then
 * the digits, so byte order is numeric order. An N would hold only 38
 * digits; Kinesis sequence numbers have 56.
 *
 * @returns The text, or `undefined` for a negative position or one of more than 99 digits.
 */
export function markText(position: bigint): string | undefined {
  if (position < 0n) return undefined;
  const digits = position.toString();
  if (digits.length > MARK_DIGITS) return undefined;
  return String(digits.length).padStart(2, "0") + digits;
}

/** Reads a stored mark: S in the length-prefixed form, or N as earlier versions wrote it. */
export function markPosition(
  attribute: { S?: string; N?: string } | undefined,
): bigint | undefined {
  if (attribute?.S !== undefined) return BigInt(attribute.S.slice(2));
  if (attribute?.N !== undefined) return BigInt(attribute.N);
  return undefined;
}
/** The sort key of all-time values: not a number, so it never meets a bucket. */
export const ALL_TIME = "all";

/** Digits of a non-negative bucket's sort key: epoch ms up to 2^53 fit in 16. */
const BUCKET_DIGITS = 16;

/**
 * Checks a namespace: non-empty, without `#`, which separates it from the
 * entity in the partition key.
 */
export function checkNamespace(namespace: string): void {
  if (namespace.length === 0 || namespace.includes("#")) {
    throw new TypeError(
      `dynamodb: namespace ${
        JSON.stringify(namespace)
      } must be non-empty and free of "#", which separates it from the entity in the partition key; rename the pipeline`,
    );
  }
}

/** The partition key of a state or claim row. */
export function partitionKey(namespace: string, entity: string): string {
  return `${namespace}#${entity}`;
}

/**
 * The sort key of a bucket: `all`, or the bucket's start in epoch ms as
 * zero-padded decimal, so non-negative buckets sort in time order.
 */
export function sortKey(bucket: number | null): string {
  if (bucket === null) return ALL_TIME;
  if (!Number.isSafeInteger(bucket)) {
    throw new TypeError(
      `dynamodb: bucket ${bucket} is not an integer epoch ms; buckets come from a window's bucketOf()`,
    );
  }
  return bucket < 0
    ? `-${String(-bucket).padStart(BUCKET_DIGITS, "0")}`
    : String(bucket).padStart(BUCKET_DIGITS, "0");
}

/** The sort key of a claim row: in the entity's partition, never equal to a bucket's. */
export function claimSortKey(bucket: number | null, claim: string): string {
  return `claim#${sortKey(bucket)}#${claim}`;
}

/** The item key of a state row. */
export function itemKey(
  namespace: string,
  key: StateKey,
): { pk: { S: string }; sk: { S: string } } {
  return {
    pk: { S: partitionKey(namespace, key.entity) },
    sk: { S: sortKey(key.bucket) },
  };
}

/** A string that identifies a state row, for matching BatchGetItem answers to requests. */
export function rowId(pk: string, sk: string): string {
  return `${pk}\u0000${sk}`;
}

/** Epoch ms to the TTL attribute's epoch seconds, rounded up so nothing expires early. */
export function ttlSeconds(expiresAt: number): string {
  if (!Number.isFinite(expiresAt)) {
    throw new RangeError(
      `dynamodb: expiresAt ${expiresAt} is not a finite epoch ms`,
    );
  }
  return String(Math.ceil(expiresAt / 1000));
}

/** Expands JavaScript's exponent form ("1.5e-7", "1e+21") into plain decimal text. */
function plainDecimal(text: string): string {
  const match = /^(-?)(\d+)(?:\.(\d+))?e([+-]\d+)$/.exec(text);
  if (match === null) return text;
  const [, sign, whole, fraction = "", exponentText] = match;
  const exponent = Number(exponentText);
  const digits = whole! + fraction;
  const point = whole!.length + exponent;
  let out: string;
  if (point <= 0) out = `0.${"0".repeat(-point)}${digits}`;
  else if (point >= digits.length) {
    out = digits + "0".repeat(point - digits.length);
  } else out = `${digits.slice(0, point)}.${digits.slice(point)}`;
  out = out.replace(/^0+(?=\d)/, "");
  if (out.includes(".")) out = out.replace(/0+$/, "").replace(/\.$/, "");
  return sign + out;
}

/**
 * A number or bigint as DynamoDB N text, exactly.
 *
 * @returns The text, or `undefined` for values DynamoDB numbers cannot hold
 * (NaN, ±Infinity, more than 38 significant digits, magnitude outside 1e-130…1e125).
 */
export function toNumberText(value: number | bigint): string | undefined {
  let text: string;
  if (typeof value === "bigint") text = value.toString();
  else {
    if (!Number.isFinite(value)) return undefined;
    text = Number.isInteger(value)
      ? BigInt(value).toString()
      : plainDecimal(String(value));
  }
  const digits = text.replace(/^-/, "").replace(".", "").replace(/^0+/, "")
    .replace(/0+$/, "");
  if (digits.length > 38) return undefined;
  if (value !== 0 && value !== 0n) {
    const magnitude = typeof value === "bigint"
      ? text.replace(/^-/, "").length - 1
      : Math.floor(Math.log10(Math.abs(value)));
    if (magnitude > 125 || magnitude < -130) return undefined;
  }
  return text;
}

/** Parses DynamoDB N text into an exact bigint, accepting an exponent. */
function parseBigIntText(text: string): bigint | undefined {
  const match = /^(-?)(\d+)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (match === null) return undefined;
  const [, sign, whole, fraction = "", exponentText = "0"] = match;
  const exponent = Number(exponentText);
  let digits = whole! + fraction;
  let scale = fraction.length - exponent;
  while (scale > 0 && digits.endsWith("0")) {
    digits = digits.slice(0, -1);
    scale--;
  }
  if (scale > 0) return undefined;
  const magnitude = BigInt(digits) * 10n ** BigInt(-scale);
  return sign === "-" ? -magnitude : magnitude;
}

/**
 * Reads DynamoDB N text as the scope's number type without losing precision.
 *
 * @param text The N text.
 * @param bigint Whether the monoid's values are bigints.
 * @param what Where the number came from, for errors.
 * @param additive Whether the value is a running total, whose integers must
 * stay in the safe range (as `sum()` demands) even when a double could hold
 * them exactly.
 * @throws {RangeError} When an integer leaves the safe range of a number
 * monoid, or a bigint monoid's value has a fraction.
 */
export function fromNumberText(
  text: string,
  bigint: boolean,
  what: string,
  additive: boolean,
): number | bigint {
  if (bigint) {
    const value = parseBigIntText(text);
    if (value === undefined) {
      throw new RangeError(
        `dynamodb: ${what} holds ${text}, which is not an integer, but the scope's monoid folds bigints`,
      );
    }
    return value;
  }
  const value = Number(text);
  if (Number.isNaN(value)) {
    throw new RangeError(`dynamodb: ${what} holds ${text}, not a number`);
  }
  if (Number.isInteger(value) && !Number.isSafeInteger(value)) {
    const exact = parseBigIntText(text);
    if (additive || exact === undefined || BigInt(value) !== exact) {
      throw new RangeError(
        `dynamodb: ${what} holds ${text}, beyond 2^53 where a JavaScript number stops being exact; fold it with a bigint monoid (e.g. sumBigInt())`,
      );
    }
  }
  return value;
}
