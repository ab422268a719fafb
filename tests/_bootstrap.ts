// Shared pieces of the snapshot-source tests: a page-view counter and a source wrapper that writes between batches.

import { sum } from "../monoid/mod.ts";
import { type Pipeline, pipeline } from "../pipeline/mod.ts";
import type { Source, SourceRecord } from "../source/mod.ts";
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
