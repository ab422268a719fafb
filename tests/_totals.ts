// Shared by the end-to-end tests: how many events each page should hold, and which pages a store holds another total for.

import type { Scope, Store } from "../state/mod.ts";

/** Counts the events of each page, in the order pages first appear. */
export function pageTotals<E>(
  events: Iterable<E>,
  page: (event: E) => string,
): Map<string, number> {
  const out = new Map<string, number>();
  for (const event of events) {
    const key = page(event);
    out.set(key, (out.get(key) ?? 0) + 1);
  }
  return out;
}

/**
 * Reads the unwindowed total of every page of `expected` in one call and
 * describes each that differs (`"/p3: 4 instead of 5"`), in the order of
 * `expected`: empty when the store holds exactly the expected totals.
 */
export async function wrongTotals(
  store: Store,
  scope: Scope<number>,
  expected: ReadonlyMap<string, number>,
): Promise<string[]> {
  const stored = await store.getMany(
    scope,
    [...expected.keys()].map((entity) => ({ entity, bucket: null })),
  );
  return [...expected].flatMap(([page, count], i) =>
    stored[i] === count ? [] : [`${page}: ${stored[i]} instead of ${count}`]
  );
}
