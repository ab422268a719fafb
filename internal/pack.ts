// Private: splitting a list into consecutive groups under a weight budget.

/**
 * Splits `items` into consecutive groups whose summed `weight` stays within
 * `limit`, keeping their order. An item heavier than `limit` alone still
 * gets a group of its own (the caller decides whether that can be sent).
 *
 * @param items The items, in order.
 * @param weight The weight of one item (for example its actions in a transaction).
 * @param limit The most weight one group may carry.
 * @returns The groups, none empty.
 */
export function packByWeight<T>(
  items: readonly T[],
  weight: (item: T) => number,
  limit: number,
): T[][] {
  const groups: T[][] = [];
  let current: T[] = [];
  let load = 0;
  for (const item of items) {
    const need = weight(item);
    if (current.length > 0 && load + need > limit) {
      groups.push(current);
      current = [];
      load = 0;
    }
    current.push(item);
    load += need;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}
