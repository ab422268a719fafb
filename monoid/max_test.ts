import { equal } from "node:assert/strict";
import { max } from "./mod.ts";

Deno.test("max() keeps negative maxima (no fake zero)", () => {
  equal(max().combineAll([-5, -2, -9]), -2);
  equal(max().combineAll([null, -1, null]), -1);
});

Deno.test("max.combineAll() folds a million numbers like a loop", () => {
  const xs = Array.from({ length: 1_000_000 }, (_, i) => Math.sin(i) * 1e6);
  let best = -Infinity;
  for (const x of xs) if (x > best) best = x;
  equal(max().combineAll(xs), best);
  equal(max().combineAll(new Set(xs)), best);
});
