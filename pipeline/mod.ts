/**
 * The pipeline DSL: say what to read, how to key, value and time each event,
 * how to fold values (a monoid), how to bucket them (a window) and where to
 * keep the result. `build()` validates and returns an immutable
 * {@linkcode Pipeline} that live, bootstrap and replay runs and the query
 * layer all share. Presets cover the common cases in one line.
 *
 * @example Usage
 * ```ts
 * import { pipeline } from "@murmur/core/pipeline";
 * import { daily, days, sum } from "@murmur/core/monoid";
 * import { MemoryStore } from "@murmur/core/state";
 * import assert from "node:assert/strict";
 *
 * interface PageView { pageId: string; country: string }
 * const views = pipeline<PageView>("page_views")
 *   .keyMany((e) => [`page:${e.pageId}`, `country:${e.country}`, "global"])
 *   .value(() => 1)
 *   .aggregate(sum())
 *   .window(daily({ retention: days(90) }))
 *   .storeIn(new MemoryStore())
 *   .build();
 * assert.deepEqual(views.describe().stages.map((s) => s.kind), [
 *   "source", "extract", "window", "aggregate", "store",
 * ]);
 * ```
 *
 * @module
 */

export {
  type DebounceOptions,
  type LateDataPolicy,
  type Pipeline,
  pipeline,
  PipelineBuilder,
  PipelineConfigError,
  type PipelineDebounce,
  type PipelineDescription,
  type PipelineExtractors,
  type PipelineStage,
} from "./pipeline.ts";
export {
  counter,
  latest,
  maximum,
  topN,
  type TopNOptions,
  trending,
  type TrendingOptions,
  uniqueCount,
} from "./presets.ts";
