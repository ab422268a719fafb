// Dead letters: counted, handed to the handler all at once (so a batching handler sends one request), logged when no handler is set.

import { DeadLetterFailedError } from "./errors.ts";
import type { ResolvedOptions } from "./options.ts";
import type { DeadRecord } from "./_extract.ts";

/** How often, at most, records without a handler are logged, in ms. */
const LOG_EVERY_MS = 10_000;

/** Sends refused records to the pipeline's dead-letter handler. */
export class DeadLetters {
  readonly #name: string;
  readonly #options: ResolvedOptions;
  readonly #counts: { deadLetters: number };
  #loggedAt = -Infinity;
  #unlogged = 0;

  constructor(
    name: string,
    options: ResolvedOptions,
    counts: { deadLetters: number },
  ) {
    this.#name = name;
    this.#options = options;
    this.#counts = counts;
  }

  /**
   * Dead-letters records: every handler call starts at once and all are
   * awaited together.
   *
   * @throws {DeadLetterFailedError} When the handler threw for one of them.
   */
  async send(dead: readonly DeadRecord[]): Promise<void> {
    if (dead.length === 0) return;
    const { deadLetter: handler, metrics } = this.#options;
    this.#counts.deadLetters += dead.length;
    metrics.deadLettered(this.#name, dead.length);
    for (const { error } of dead) metrics.error(this.#name, error);
    if (handler === null) {
      this.#log(dead);
      return;
    }
    const results = await Promise.allSettled(
      dead.map(({ record, error }) => handler(record, error)),
    );
    const failed = results.findIndex((r) => r.status === "rejected");
    if (failed >= 0) {
      throw new DeadLetterFailedError(
        this.#name,
        dead[failed]!.record.id,
        (results[failed] as PromiseRejectedResult).reason,
      );
    }
  }

  /** Without a handler a refused record would vanish unseen: log one line per interval. */
  #log(dead: readonly DeadRecord[]): void {
    if (!this.#options.logDeadLetters) return;
    this.#unlogged += dead.length;
    const now = Date.now();
    if (now - this.#loggedAt < LOG_EVERY_MS) return;
    this.#loggedAt = now;
    const count = this.#unlogged;
    this.#unlogged = 0;
    console.warn(
      `murmur: pipeline "${this.#name}" dead-lettered ${count} record(s) with no deadLetter handler set (pass run(p, { deadLetter }) to keep them); latest: ${
        dead.at(-1)!.error.message
      }`,
    );
  }
}
