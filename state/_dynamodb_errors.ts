// The errors DynamoDBStore throws when DynamoDB stays unavailable or a key stays contended.

import { unavailableAdvice } from "./_dynamodb_retry.ts";
import { type StateKey, StoreUnavailableError } from "./store.ts";

/**
 * Thrown when DynamoDB kept throttling, failing or leaving keys unprocessed
 * through every retry (a {@linkcode StoreUnavailableError}: the store
 * retried by its own policy, so the runtime stops the worker on it at once
 * rather than retry again and multiply the attempts).
 * The message's advice fits the cause: a refused connection asks whether
 * DynamoDB runs at the endpoint, throttling asks for capacity.
 *
 * @example Usage
 * ```ts
 * import { DynamoDBUnavailableError } from "@murmur/core/state/dynamodb";
 * import assert from "node:assert/strict";
 * const error = new DynamoDBUnavailableError("murmur_state", "UpdateItem", 8, new Error("ThrottlingException"));
 * assert.equal(error.attempts, 8);
 * ```
 */
export class DynamoDBUnavailableError extends StoreUnavailableError {
  /** The table. */
  readonly table: string;
  /** The DynamoDB operation that gave up. */
  readonly operation: string;
  /**
   * Creates the error.
   *
   * @param table The table.
   * @param operation The DynamoDB operation.
   * @param attempts How many attempts were made.
   * @param cause The last error.
   */
  constructor(
    table: string,
    operation: string,
    attempts: number,
    cause: unknown,
  ) {
    super(
      `dynamodb:${table}`,
      attempts,
      `${operation} (${
        cause instanceof Error ? `${cause.name}: ${cause.message}` : cause
      }); ${unavailableAdvice(cause)}`,
      { cause },
    );
    this.name = "DynamoDBUnavailableError";
    this.table = table;
    this.operation = operation;
  }
}

/**
 * Thrown when a read-combine-write lost the race to other writers of the same
 * item on every attempt. Merging again later is safe with marks or claims;
 * a batch window in front of the store makes hot keys far less contended.
 *
 * @example Usage
 * ```ts
 * import { DynamoDBContentionError } from "@murmur/core/state/dynamodb";
 * import assert from "node:assert/strict";
 * const error = new DynamoDBContentionError("murmur_state", "top_posts", { entity: "all", bucket: null }, 10);
 * assert.equal(error.name, "DynamoDBContentionError");
 * ```
 */
export class DynamoDBContentionError extends Error {
  /** The table. */
  readonly table: string;
  /** The scope's namespace. */
  readonly namespace: string;
  /** The contended key. */
  readonly key: StateKey;
  /**
   * Creates the error.
   *
   * @param table The table.
   * @param namespace The scope's namespace.
   * @param key The contended key.
   * @param attempts How many attempts were made.
   */
  constructor(
    table: string,
    namespace: string,
    key: StateKey,
    attempts: number,
  ) {
    super(
      `dynamodb table "${table}" scope "${namespace}" key ${
        JSON.stringify(key)
      }: other writers changed the item during each of ${attempts} read-combine-write attempts; use a batch window to fold hot keys before writing, or raise maxCasAttempts`,
    );
    this.name = "DynamoDBContentionError";
    this.table = table;
    this.namespace = namespace;
    this.key = key;
  }
}

/** How a scope's values travel: ADD, conditional set-if-greater/less, or versioned bytes. */
