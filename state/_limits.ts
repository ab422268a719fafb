// Entity checks every built-in store runs before any backend call: writes reject the delta, reads refuse the key.

import {
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
  for (let i = 0; i < deltas.length; i++) {
    const key = deltas[i]!.key;
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
  for (const key of keys) {
    const problem = entityProblem(store, key.entity);
    if (problem !== undefined) {
      throw new EntityRejectedError(namespace, String(key.entity), problem);
    }
  }
}
