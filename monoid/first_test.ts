import { deepEqual, equal } from "node:assert/strict";
import { first, jsonCodec } from "./mod.ts";
import type { JsonValue, Stamped } from "./mod.ts";

Deno.test("first() keeps the earliest time", () => {
  const events: Stamped<JsonValue>[] = [
    { value: "b", time: 20 },
    { value: "a", time: 10 },
    { value: "c", time: 30 },
  ];
  deepEqual(first().combineAll(events), { value: "a", time: 10 });
});

Deno.test("first() breaks time ties by the smaller canonical encoding, not arrival order", () => {
  const x = { value: { b: 1, a: 2 }, time: 7 };
  const y = { value: { a: 1 }, time: 7 };
  // Canonical JSON: {"a":1} < {"a":2,"b":1}
  deepEqual(first().combine(x, y), y);
  deepEqual(first().combine(y, x), y);
  equal(new TextDecoder().decode(jsonCodec.encode(x.value)), '{"a":2,"b":1}');
});
