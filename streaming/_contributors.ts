// A flush's failed key traced back to the buffered records that fed it, by running the extractors again.

import type { Pipeline } from "../pipeline/mod.ts";
import type { StateKey } from "../state/mod.ts";
import type { Buffer } from "./_buffer.ts";
import type { AnyRecord } from "./_extract.ts";

/** Finds the records of a buffer that fed a key, by running the extractors again. */
export function contributors<E>(
  pipeline: Pipeline<E, unknown>,
  key: StateKey,
  buffer: Buffer<unknown>,
): AnyRecord[] {
  const { key: keyOf, keys: keysOf, time: timeOf } = pipeline.extract;
  const window = pipeline.window;
  const out: AnyRecord[] = [];
  for (const batch of buffer.batches) {
    for (const record of batch) {
      if (record.error !== undefined) continue;
      try {
        const event = record.value as E;
        const keys = keyOf !== null ? [keyOf(event)] : keysOf!(event);
        if (!keys.includes(key.entity)) continue;
        const time = timeOf === null ? record.time : timeOf(event, record.time);
        const bucket = window === null ? null : window.bucketOf(time);
        if (bucket === key.bucket) out.push(record);
      } catch {
        continue;
      }
    }
  }
  return out;
}
