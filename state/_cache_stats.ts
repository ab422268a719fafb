// Private: the counters behind `Cache.stats()`, mutable inside a cache, all zero to start.

import type { CacheStats } from "./cache.ts";

/** {@linkcode CacheStats} as a cache counts them; `stats()` hands out a copy. */
export type CacheCounters = { -readonly [K in keyof CacheStats]: number };

/** Fresh counters, every one zero. */
export function zeroCacheStats(): CacheCounters {
  return {
    hits: 0,
    misses: 0,
    fills: 0,
    fillsRefused: 0,
    updates: 0,
    invalidations: 0,
    errors: 0,
  };
}
