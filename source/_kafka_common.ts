// Values shared by the Kafka source's files: its error classes and the default decoder.

/**
 * Raised, as a record's `error`, when the bytes of a message could not be
 * decoded (or the `id`/`time` options threw for it).
 *
 * @example Usage
 * ```ts
 * import { KafkaDecodeError } from "@murmur/core/source/kafka";
 * const error = new KafkaDecodeError("page_views", 3, 1042n, new SyntaxError("Unexpected token"));
 * console.log(error.message); // "cannot decode page_views/3/1042: Unexpected token"
 * ```
 */
export class KafkaDecodeError extends Error {
  /** The topic. */
  readonly topic: string;
  /** The partition. */
  readonly partition: number;
  /** The offset. */
  readonly offset: bigint;
  /**
   * Creates the error.
   *
   * @param topic The topic.
   * @param partition The partition.
   * @param offset The offset.
   * @param cause What the decoder threw.
   */
  constructor(
    topic: string,
    partition: number,
    offset: bigint,
    cause: unknown,
  ) {
    super(
      `cannot decode ${topic}/${partition}/${offset}: ${
        cause instanceof Error ? cause.message : String(cause)
      }`,
      { cause },
    );
    this.name = "KafkaDecodeError";
    this.topic = topic;
    this.partition = partition;
    this.offset = offset;
  }
}

/**
 * Raised by the source's iterator when the Kafka client stopped for good
 * (for example the brokers stayed unreachable past the client's retries).
 *
 * @example Usage
 * ```ts
 * import { KafkaSourceError } from "@murmur/core/source/kafka";
 * const error = new KafkaSourceError("kafka:page_views", new Error("connection refused"));
 * console.log(error.name); // "KafkaSourceError"
 * ```
 */
export class KafkaSourceError extends Error {
  /**
   * Creates the error.
   *
   * @param source The source's name.
   * @param cause What the client reported.
   */
  constructor(source: string, cause: unknown) {
    super(
      `${source} stopped: ${
        cause instanceof Error ? cause.message : String(cause)
      }; check that the brokers are reachable and the topic exists, then restart the worker`,
      { cause },
    );
    this.name = "KafkaSourceError";
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The default decoder: UTF-8 JSON.
 *
 * @typeParam T The decoded event type (not checked at run time: validate in
 * the pipeline's extractors, whose errors are dead-lettered too).
 * @returns A decoder that parses the message value as JSON.
 * @throws {SyntaxError} From the decoder, for bytes that are not UTF-8 JSON.
 * @throws {TypeError} From the decoder, for an empty value (a tombstone).
 *
 * @example Usage
 * ```ts
 * import { jsonDecoder } from "@murmur/core/source/kafka";
 * import assert from "node:assert/strict";
 *
 * const decode = jsonDecoder<number[]>();
 * assert.deepEqual(decode(new TextEncoder().encode("[1,2]")), [1, 2]);
 * assert.throws(() => decode(new Uint8Array(0)), TypeError);
 * ```
 */
export function jsonDecoder<T>(): (bytes: Uint8Array) => T {
  return (bytes) => {
    if (bytes.length === 0) {
      throw new TypeError("message has no value (a tombstone?); expected JSON");
    }
    return JSON.parse(utf8.decode(bytes)) as T;
  };
}
