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

/**
 * Validates an option that must be a positive integer.
 *
 * @param owner Who is asking, for the message (`"s3:b/p"`, `run("views")`).
 * @param name The option's name.
 * @param value The value given.
 * @returns The value.
 * @throws {RangeError} Unless it is a positive integer.
 */
export function positiveInteger(
  owner: string,
  name: string,
  value: number,
): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(
      `${owner}: ${name} must be a positive integer, got ${value}`,
    );
  }
  return value;
}
