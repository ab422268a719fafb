import assert from "node:assert/strict";
import RequestQueue from "kafkajs/src/network/requestQueue/index.js";
import "./kafkajs.ts";

interface QueueState {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: number | null;
  checkPendingRequests(): void;
}

const schedule = (
  RequestQueue as {
    prototype: { scheduleCheckPendingRequests(this: QueueState): void };
  }
).prototype.scheduleCheckPendingRequests;

function state(pending: unknown[], throttledUntil: number): QueueState {
  return {
    pending,
    throttledUntil,
    throttleCheckTimeoutId: null,
    checkPendingRequests() {},
  };
}

Deno.test("kafkajs's request queue arms no timer with nothing pending and no throttle (no 1 ms wake-up loop, no negative timeout)", () => {
  const idle = state([], -1);
  schedule.call(idle);
  assert.equal(idle.throttleCheckTimeoutId, null);
});

Deno.test("kafkajs's request queue still checks pending requests, and waits out a throttle", () => {
  for (const queue of [state([{}], -1), state([], Date.now() + 60_000)]) {
    schedule.call(queue);
    assert.notEqual(queue.throttleCheckTimeoutId, null);
    clearTimeout(queue.throttleCheckTimeoutId!);
  }
});
