// Pipelines the codegen test generates typed services for (a module exporting pipelines, as `murmur codegen --pipelines` takes).

import { count, daily, sum } from "../monoid/mod.ts";
import { hll, topK } from "../sketch/mod.ts";
import { MemoryStore } from "../state/mod.ts";

/** The store all of them share. */
export const store: MemoryStore = new MemoryStore();

/** All-time likes per post. */
export const likes = { name: "likes", monoid: count(), window: null, store };
/** Likes per post per day. */
export const daily_likes = {
  name: "daily_likes",
  monoid: count(),
  window: daily(),
  store,
};
/** Revenue per customer (a fractional sum). */
export const revenue = { name: "revenue", monoid: sum(), window: null, store };
/** Distinct visitors per page per day. */
export const visitors = {
  name: "visitors",
  monoid: hll(),
  window: daily(),
  store,
};
/** The most liked posts. */
export const top_posts = {
  name: "top_posts",
  monoid: topK({ k: 10 }),
  window: null,
  store,
  top: 3,
};
