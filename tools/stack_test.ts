import assert from "node:assert/strict";
import { kafkaClusterId } from "./stack.ts";

Deno.test("kafkaClusterId() never starts with '-', whatever the random bytes", () => {
  for (let first = 0; first < 256; first++) {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[0] = first;
    const id = kafkaClusterId(bytes);
    assert.equal(id.length, 22);
    assert.match(id, /^[A-Za-f][A-Za-z0-9_-]{21}$/, `first byte ${first}`);
  }
  // The bytes that used to give a leading '-' (0xf8..0xfb) now give a letter.
  assert.equal(kafkaClusterId(new Uint8Array(16).fill(0xfb))[0], "e");
  assert.notEqual(kafkaClusterId(), kafkaClusterId());
});
