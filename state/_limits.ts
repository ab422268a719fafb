// Entity checks every built-in store runs before any backend call: writes reject the delta, reads refuse the key.

import {
  DEFAULT_MAX_ENTITY_BYTES,
  type Delta,
  DeltaRejectedError,
  entityProblem,
  EntityRejectedError,
  type StateKey,
  type Store,
} from "./store.ts";

/**
 * Throws {@linkcode DeltaRejectedError} for the first delta whose entity the
 * store cannot hold (see {@linkcode entityProblem}).
 */
export function checkDeltaEntities(
  store: Pick<Store, "limits" | "name">,
  namespace: string,
  deltas: readonly Delta<unknown>[],
): void {
  const short = shortEntityLength(store);
  for (let i = 0; i < deltas.length; i++) {
    const key = deltas[i]!.key;
    if (isShortEntity(key.entity, short)) continue;
    const problem = entityProblem(store, key.entity);
    if (problem !== undefined) {
      throw new DeltaRejectedError(namespace, i, key, problem);
    }
  }
}

/**
 * Throws {@linkcode EntityRejectedError} for the first key whose entity the
 * store cannot hold (see {@linkcode entityProblem}).
 */
export function checkReadEntities(
  store: Pick<Store, "limits" | "name">,
  namespace: string,
  keys: readonly StateKey[],
): void {
  const short = shortEntityLength(store);
  for (const key of keys) {
    if (isShortEntity(key.entity, short)) continue;
    const problem = entityProblem(store, key.entity);
    if (problem !== undefined) {
      throw new EntityRejectedError(namespace, String(key.entity), problem);
    }
  }
}

/**
 * The longest entity (in UTF-16 units) the store surely holds without
 * counting its UTF-8 bytes: each unit is at most 3 bytes.
 */
export function shortEntityLength(store: Pick<Store, "limits">): number {
  return Math.floor(
    (store.limits?.maxEntityBytes ?? DEFAULT_MAX_ENTITY_BYTES) / 3,
  );
}

/**
 * A non-empty string entity no longer than `short` (the store's
 * {@linkcode shortEntityLength}): the store holds it, no
 * {@linkcode entityProblem} call needed.
 */
export function isShortEntity(entity: unknown, short: number): boolean {
  return typeof entity === "string" && entity.length !== 0 &&
    entity.length <= short;
}
