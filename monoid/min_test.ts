import { equal } from "node:assert/strict";
import { min } from "./mod.ts";

Deno.test("min() keeps positive minima (no fake zero)", () => {
  equal(min().combineAll([5, 2, 9]), 2);
  equal(min().combineAll([null, 1, null]), 1);
});

Deno.test("min.combineAll() folds a million numbers like a loop", () => {
  const xs = Array.from({ length: 1_000_000 }, (_, i) => Math.cos(i) * 1e6);
  let best = Infinity;
  for (const x of xs) if (x < best) best = x;
  equal(min().combineAll(xs), best);
  equal(min().combineAll(new Set(xs)), best);
});
