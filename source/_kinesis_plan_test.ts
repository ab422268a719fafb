import assert from "node:assert/strict";
import type { Lease } from "./_kinesis_leases.ts";
import { type Observation, observe, planLeases } from "./_kinesis_plan.ts";

function lease(
  shard: string,
  owner?: string,
  extra: Partial<Lease> = {},
): Lease {
  return {
    shard,
    owner,
    counter: 1,
    checkpoint: "TRIM_HORIZON",
    parents: [],
    wanted: undefined,
    ...extra,
  };
}

function plan(me: string, leases: Lease[], now = 0, observedAt = 0) {
  const observed = new Map<string, Observation>();
  observe(observed, leases, observedAt);
  return planLeases({
    me,
    leases,
    held: new Set(leases.filter((l) => l.owner === me).map((l) => l.shard)),
    observed,
    now,
    leaseDuration: 1000,
  });
}

Deno.test("planLeases() takes free leases up to the fair share", () => {
  const p = plan("a", [
    lease("s0"),
    lease("s1"),
    lease("s2", "b"),
    lease("s3", "b"),
  ]);
  assert.deepEqual(p.take.map((l) => l.shard), ["s0", "s1"]);
  assert.equal(p.workers, 2);
});

Deno.test("planLeases() asks the busiest worker when nothing is free", () => {
  const p = plan("c", [
    lease("s0", "a"),
    lease("s1", "a"),
    lease("s2", "a"),
    lease("s3", "b"),
  ]);
  assert.equal(p.take.length, 0);
  assert.equal(p.request?.owner, "a");
});

Deno.test("planLeases() hands a wanted lease over and frees what is over the share", () => {
  const leases = [
    lease("s0", "a", { wanted: "b" }),
    lease("s1", "a"),
    lease("s2", "a"),
    lease("s3", "a"),
  ];
  const p = plan("a", leases);
  assert.deepEqual(p.handOver, [{ shard: "s0", to: "b" }]);
  assert.equal(p.release.length, 1);
});

Deno.test("planLeases() takes a lease only after it expired", () => {
  const leases = [lease("s0", "dead"), lease("s1", "dead")];
  assert.equal(plan("a", leases, 500).take.length, 0);
  assert.equal(plan("a", leases, 1000).take.length, 2);
});

Deno.test("planLeases() holds a child back until its parents ended", () => {
  const leases = [
    lease("parent", "b"),
    lease("child", undefined, { parents: ["parent"] }),
  ];
  assert.equal(plan("a", leases).take.length, 0);
  const ended = [
    lease("parent", undefined, { checkpoint: "SHARD_END" }),
    lease("child", undefined, { parents: ["parent"] }),
  ];
  assert.deepEqual(plan("a", ended).take.map((l) => l.shard), ["child"]);
});
