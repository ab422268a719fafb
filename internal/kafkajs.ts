// kafkajs with a fix to its request queue applied: the package imports kafkajs from here, never directly.

import RequestQueue from "kafkajs/src/network/requestQueue/index.js";

/** The part of kafkajs's per-connection request queue the fix below touches. */
interface RequestQueueInternals {
  pending: unknown[];
  throttledUntil: number;
  scheduleCheckPendingRequests(): void;
}

// kafkajs 2.2.4 re-arms its pending-request check after every check with a
// delay of `throttledUntil - now`, also when nothing is pending and no
// throttle is set (`throttledUntil` is -1): a negative delay that timers
// round up to 1 ms. So once a connection ever queued a request, it wakes
// every millisecond for good, and Deno prints a TimeoutNegativeWarning.
// With nothing pending and no throttle there is nothing to check; the
// next queued request schedules the check again.
const queue = (RequestQueue as { prototype: RequestQueueInternals }).prototype;
const schedule = queue.scheduleCheckPendingRequests;
queue.scheduleCheckPendingRequests = function (this: RequestQueueInternals) {
  if (this.pending.length === 0 && !(this.throttledUntil > Date.now())) return;
  schedule.call(this);
};

export * from "kafkajs";
