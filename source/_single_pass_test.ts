import assert from "node:assert/strict";
import { singlePassIterator } from "./_single_pass.ts";

Deno.test("singlePassIterator() refuses a second pass and closes the source on return()", async () => {
  let closed = 0;
  const source = {
    name: "kafka:t",
    close: () => {
      closed++;
      return Promise.resolve();
    },
  };
  const iterator = singlePassIterator(
    source,
    false,
    () => Promise.resolve({ done: false, value: [1] }),
  );
  assert.deepEqual(await iterator.next(), { done: false, value: [1] });
  assert.deepEqual(await iterator.return!(), { done: true, value: undefined });
  assert.equal(closed, 1);
  assert.throws(
    () => singlePassIterator(source, true, () => iterator.next()),
    /kafka:t can be iterated only once/,
  );
});
