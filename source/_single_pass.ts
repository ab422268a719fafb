// The iterator of a source that can be read once: a second iteration is a clear error, `return()` closes it.

/**
 * Returns the iterator of a single-pass source.
 *
 * @param source The source: its name for the error, its `close()` for `return()`.
 * @param iterated Whether it was iterated before (the caller then marks it).
 * @param next Produces the next batch.
 * @throws {TypeError} When `iterated` is true.
 */
export function singlePassIterator<B>(
  source: { readonly name: string; close(): Promise<void> },
  iterated: boolean,
  next: () => Promise<IteratorResult<B>>,
): AsyncIterator<B> {
  if (iterated) {
    throw new TypeError(
      `${source.name} can be iterated only once: create a new source to read again`,
    );
  }
  return {
    next,
    return: async () => {
      await source.close();
      return { done: true, value: undefined };
    },
  };
}
