// The Kinesis source's lease balancing, as a pure decision over one scan of the lease table.

import { type Lease, SHARD_END } from "./_kinesis_leases.ts";

/** When this worker last saw a lease's counter change, by its own clock. */
export interface Observation {
  readonly counter: number;
  readonly since: number;
}

/** What one worker should do after a scan. */
export interface LeasePlan {
  /** Unowned or expired leases to take (conditional on the counter seen). */
  readonly take: Lease[];
  /** Leases of ours to free: we hold more than our share. */
  readonly release: string[];
  /** Leases of ours another worker asked for, to hand over to it. */
  readonly handOver: { shard: string; to: string }[];
  /** A lease of the busiest worker to ask for: we hold less than our share and nothing is free. */
  readonly request: Lease | undefined;
  /** Leases whose parents are all finished and which are not finished themselves. */
  readonly ready: number;
  /** Workers seen alive, this one included. */
  readonly workers: number;
}

/** Inputs of {@linkcode planLeases}. */
export interface PlanInput {
  readonly me: string;
  readonly leases: readonly Lease[];
  /** Shards this worker holds now. */
  readonly held: ReadonlySet<string>;
  readonly observed: ReadonlyMap<string, Observation>;
  readonly now: number;
  readonly leaseDuration: number;
}

/**
 * Updates the observations with a scan: a counter that changed restarts the
 * lease's clock. Leases gone from the table are forgotten.
 */
export function observe(
  observed: Map<string, Observation>,
  leases: readonly Lease[],
  now: number,
): void {
  const seen = new Set<string>();
  for (const lease of leases) {
    seen.add(lease.shard);
    const before = observed.get(lease.shard);
    if (before === undefined || before.counter !== lease.counter) {
      observed.set(lease.shard, { counter: lease.counter, since: now });
    }
  }
  for (const shard of observed.keys()) {
    if (!seen.has(shard)) observed.delete(shard);
  }
}

/** Whether another worker's lease went unrenewed for a whole lease duration. */
export function expired(lease: Lease, input: PlanInput): boolean {
  if (lease.owner === undefined || lease.owner === input.me) return false;
  const seen = input.observed.get(lease.shard);
  return seen !== undefined && input.now - seen.since >= input.leaseDuration;
}

/**
 * Decides which leases to take, free, hand over or ask for, so that every
 * ready lease has an owner and each live worker holds `floor(L/W)` or
 * `ceil(L/W)` of them. Nobody takes a lease by force unless it expired: a
 * worker with too few asks the busiest one, which hands the lease over after
 * checkpointing what it read, so two workers never read one shard at once.
 * A child shard becomes ready only when all its parents are at `SHARD_END`.
 */
export function planLeases(input: PlanInput): LeasePlan {
  const { me, leases, held } = input;
  const byShard = new Map(leases.map((l) => [l.shard, l]));
  const ready = leases.filter((lease) =>
    lease.checkpoint !== SHARD_END &&
    lease.parents.every((p) => {
      const parent = byShard.get(p);
      return parent === undefined || parent.checkpoint === SHARD_END;
    })
  );
  const load = new Map<string, Lease[]>([[me, []]]);
  const free: Lease[] = [];
  for (const lease of ready) {
    if (lease.owner === me) {
      if (held.has(lease.shard)) load.get(me)!.push(lease);
      continue;
    }
    if (lease.owner === undefined || expired(lease, input)) {
      free.push(lease);
      continue;
    }
    const list = load.get(lease.owner) ?? [];
    list.push(lease);
    load.set(lease.owner, list);
  }
  // A worker that asked for a lease is alive even while it holds none.
  for (const lease of ready) {
    if (lease.wanted !== undefined && !load.has(lease.wanted)) {
      load.set(lease.wanted, []);
    }
  }
  const workers = load.size;
  const total = ready.length;
  const ceil = Math.ceil(total / workers);
  const floor = Math.floor(total / workers);
  const mine = load.get(me)!;
  let count = mine.length;

  // Unowned leases first, then expired ones, stable by shard id.
  free.sort((a, b) =>
    Number(a.owner !== undefined) - Number(b.owner !== undefined) ||
    (a.shard < b.shard ? -1 : a.shard > b.shard ? 1 : 0)
  );
  const take: Lease[] = [];
  for (const lease of free) {
    if (count >= ceil) break;
    take.push(lease);
    count++;
  }

  const handOver: { shard: string; to: string }[] = [];
  for (const lease of mine) {
    const to = lease.wanted;
    if (to === undefined || to === me || !load.has(to)) continue;
    if (count <= floor) break;
    handOver.push({ shard: lease.shard, to });
    count--;
  }
  const release: string[] = [];
  const handed = new Set(handOver.map((h) => h.shard));
  for (const lease of [...mine].reverse()) {
    if (count <= ceil) break;
    if (handed.has(lease.shard)) continue;
    release.push(lease.shard);
    count--;
  }

  let request: Lease | undefined;
  if (count < floor && take.length === 0 && free.length === 0) {
    let busiest: Lease[] = [];
    for (const [owner, list] of load) {
      if (owner !== me && list.length > busiest.length) busiest = list;
    }
    if (busiest.length > count + 1) {
      request = busiest.find((lease) => lease.wanted === undefined);
    }
  }
  return { take, release, handOver, request, ready: total, workers };
}
