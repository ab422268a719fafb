// Reads the merged ranking: one Top-K row per day, written by the Kafka worker and the Kinesis Lambda alike.
//
//   deno run -A examples/recently_interacted_topk/query.ts [days=30]

import { createQuerier } from "../../query/mod.ts";
import type { TopKItem } from "../../sketch/mod.ts";
import {
  dynamoClient,
  recentlyInteracted,
  type Settings,
  settings,
} from "./pipeline.ts";

/**
 * The top items over the last `lastDays` days, merged with the pipeline's
 * monoid across days and across both writers.
 *
 * @param lastDays How many days back, today included.
 * @param s Table, endpoint and pipeline name; default: from the environment.
 */
export async function ranking(
  lastDays = 30,
  s: Settings = settings(),
): Promise<TopKItem[]> {
  const client = dynamoClient(s);
  try {
    const pipeline = await recentlyInteracted(s, client);
    const answer = await createQuerier([pipeline]).getWindow(
      pipeline,
      "global",
      lastDays,
      { freshRead: true },
    );
    return answer.value.top(s.n);
  } finally {
    client.destroy();
  }
}

if (import.meta.main) {
  const items = await ranking(Number(Deno.args[0] ?? "30"));
  for (const { key, count } of items) {
    console.log(`${String(count).padStart(8)}  ${key}`);
  }
}
