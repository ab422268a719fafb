// The one in-process string form of a state key (map keys, dedup sets), and its inverse.

import type { StateKey } from "../state/store.ts";

/**
 * A string that names one state key: the entity, a NUL, then the bucket in
 * decimal (nothing for all-time). Distinct keys give distinct strings, and a
 * bucket never holds a NUL, so {@linkcode parseStateKey} reads it back even
 * when the entity holds one.
 *
 * @param key The key.
 * @returns Its string form.
 */
export function stateKeyString(key: StateKey): string {
  return key.bucket === null
    ? `${key.entity}\u0000`
    : `${key.entity}\u0000${key.bucket}`;
}

/**
 * The string form of a key within a namespace (for maps that span scopes).
 *
 * @param namespace The scope's namespace.
 * @param key The key.
 * @returns `namespace`, a NUL, then {@linkcode stateKeyString}.
 */
export function scopedKeyString(namespace: string, key: StateKey): string {
  return `${namespace}\u0000${stateKeyString(key)}`;
}

/**
 * Reads back a {@linkcode stateKeyString}.
 *
 * @param text The string form.
 * @returns The key.
 */
export function parseStateKey(text: string): StateKey {
  const cut = text.lastIndexOf("\u0000");
  const rest = text.slice(cut + 1);
  return {
    entity: text.slice(0, cut),
    bucket: rest === "" ? null : Number(rest),
  };
}

/**
 * The keys without repeats, in the order each first came.
 *
 * @param keys The keys.
 * @returns One key per distinct string form.
 */
export function uniqueStateKeys(keys: Iterable<StateKey>): StateKey[] {
  const seen = new Map<string, StateKey>();
  for (const key of keys) {
    const k = stateKeyString(key);
    if (!seen.has(k)) seen.set(k, key);
  }
  return [...seen.values()];
}
