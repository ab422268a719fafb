import { deepEqual, equal } from "node:assert/strict";
import { first, jsonCodec, last } from "./mod.ts";
import type { JsonValue, Monoid, Stamped } from "./mod.ts";

type StampedMonoid = Monoid<Stamped<JsonValue> | null>;

const events: Stamped<JsonValue>[] = [
  { value: "b", time: 20 },
  { value: "c", time: 30 },
  { value: "a", time: 10 },
];
// Equal times; canonical JSON orders {"a":1} before {"a":2,"b":1}.
const x = { value: { b: 1, a: 2 }, time: 7 };
const y = { value: { a: 1 }, time: 7 };

const CASES: {
  monoid: StampedMonoid;
  keeps: string;
  winner: Stamped<JsonValue>;
  ties: string;
  tieWinner: Stamped<JsonValue>;
}[] = [
  {
    monoid: first(),
    keeps: "first() keeps the earliest time",
    winner: { value: "a", time: 10 },
    ties:
      "first() breaks time ties by the smaller canonical encoding, not arrival order",
    tieWinner: y,
  },
  {
    monoid: last(),
    keeps: "last() keeps the latest event time, not the latest arrival",
    winner: { value: "c", time: 30 },
    ties:
      "last() breaks time ties by the larger canonical encoding, not arrival order",
    tieWinner: x,
  },
];

for (const { monoid, keeps, winner, ties, tieWinner } of CASES) {
  Deno.test(keeps, () => {
    deepEqual(monoid.combineAll(events), winner);
  });

  Deno.test(ties, () => {
    deepEqual(monoid.combine(x, y), tieWinner);
    deepEqual(monoid.combine(y, x), tieWinner);
    deepEqual(monoid.combine(tieWinner, tieWinner), tieWinner);
  });
}

Deno.test("canonical JSON sorts keys, which is what breaks the ties above", () => {
  equal(new TextDecoder().decode(jsonCodec.encode(x.value)), '{"a":2,"b":1}');
});
