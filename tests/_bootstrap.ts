// Shared pieces of the source tests: a page-view counter, a source wrapper that writes between batches, a checkpoint that stops saving, reading ids.

import { sum } from "../monoid/mod.ts";
import { type Pipeline, pipeline } from "../pipeline/mod.ts";
import {
  MemoryCheckpoint,
  type Source,
  type SourceRecord,
} from "../source/mod.ts";
import type { Store } from "../state/mod.ts";

/** Counts events per `page` into `store`, all time. */
export function pageCounter<E extends { page: string }>(
  store: Store,
  name: string,
): Pipeline<E, number> {
  return pipeline<E>(name)
    .key((e) => e.page)
    .value(() => 1)
    .aggregate(sum())
    .storeIn(store)
    .build();
}

/** Wraps a source, calling `between(i)` after batch `i` was handed on (to write while a scan runs). */
export function interleaved<T>(
  source: Source<T>,
  between: (i: number) => Promise<void>,
): Source<T> {
  return {
    name: source.name,
    close: () => source.close(),
    async *[Symbol.asyncIterator](): AsyncIterator<readonly SourceRecord<T>[]> {
      let i = 0;
      for await (const batch of source) {
        yield batch;
        await between(i++);
      }
    },
  };
}

/**
 * Keeps the first `keep` saves and ignores the rest, like a process killed
 * before it saved again; `kept` is the last value it kept.
 */
export class LaggingCheckpoint extends MemoryCheckpoint {
  /** The last value saved, `undefined` before the first save. */
  kept: unknown = undefined;
  #saves = 0;

  /** @param keep How many saves to keep. */
  constructor(readonly keep: number) {
    super();
  }

  override save(value: unknown): Promise<void> {
    if (++this.#saves > this.keep) return Promise.resolve();
    this.kept = value;
    return super.save(value);
  }
}

/**
 * Reads `source`, acking every record, until it ends or at least `atLeast`
 * records were read, then closes it.
 *
 * @returns The ids of the records read, in order.
 */
export async function ackedIds<T>(
  source: Source<T>,
  atLeast = Infinity,
): Promise<string[]> {
  const ids: string[] = [];
  for await (const batch of source) {
    for (const r of batch) {
      ids.push(r.id);
      r.ack();
    }
    if (ids.length >= atLeast) break;
  }
  await source.close();
  return ids;
}
