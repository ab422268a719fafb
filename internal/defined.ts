// Private: building options objects from maybe-undefined values under exactOptionalPropertyTypes.

/**
 * The properties of `fields` whose value is not `undefined`. Spread into an
 * options object, it sets exactly the options that were given (an explicit
 * `undefined` would otherwise be a type error, or override a default).
 *
 * @param fields Candidate properties, some `undefined`.
 * @returns A new object without the `undefined` ones.
 */
export function definedOnly<T extends Record<string, unknown>>(
  fields: T,
): { [K in keyof T]?: Exclude<T[K], undefined> } {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined) out[key] = value;
  }
  return out as { [K in keyof T]?: Exclude<T[K], undefined> };
}
