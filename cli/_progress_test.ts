import assert from "node:assert/strict";
import { clock, ProgressView } from "./_progress.ts";

Deno.test("ProgressView draws a bar with rate, share and ETA on a terminal", () => {
  const out: string[] = [];
  const view = new ProgressView({
    terminal: true,
    write: (t) => void out.push(t),
    unit: "events",
  });
  view.update({
    events: 12_345,
    eventsPerSecond: 2469,
    elapsedMs: 5000,
    done: 1,
    total: 4,
    bytes: 3 * 1024 * 1024,
  });
  view.finish();
  assert.equal(
    out[0],
    "\r\x1b[2K[######------------------] 12,345 events · 2,469/s · 3.0 MiB · 25% (1/4 files) · ETA 0:15",
  );
  assert.equal(out[1], "\n");
});

Deno.test("ProgressView prints plain lines, at most one per interval, when not a terminal", () => {
  const out: string[] = [];
  const view = new ProgressView({
    terminal: false,
    write: (t) => void out.push(t),
    lineInterval: 1000,
  });
  for (const elapsedMs of [0, 200, 900, 1000, 1500, 2100]) {
    view.update({ events: elapsedMs, eventsPerSecond: 1000, elapsedMs });
  }
  view.finish();
  assert.deepEqual(out, [
    "progress: 0 rows · 1,000/s · 0:00 elapsed\n",
    "progress: 1,000 rows · 1,000/s · 0:01 elapsed\n",
    "progress: 2,100 rows · 1,000/s · 0:02 elapsed\n",
  ]);
  assert.equal(clock(3725), "1:02:05");
});
