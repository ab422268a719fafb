import { deepEqual } from "node:assert/strict";
import { last } from "./mod.ts";
import type { JsonValue, Stamped } from "./mod.ts";

Deno.test("last() keeps the latest event time, not the latest arrival", () => {
  const events: Stamped<JsonValue>[] = [
    { value: "b", time: 20 },
    { value: "c", time: 30 },
    { value: "a", time: 10 },
  ];
  deepEqual(last().combineAll(events), { value: "c", time: 30 });
});

Deno.test("last() breaks time ties by the larger canonical encoding, not arrival order", () => {
  const x = { value: { b: 1, a: 2 }, time: 7 };
  const y = { value: { a: 1 }, time: 7 };
  deepEqual(last().combine(x, y), x);
  deepEqual(last().combine(y, x), x);
  deepEqual(last().combine(x, x), x);
});
