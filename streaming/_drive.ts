// Web Streams plumbing shared by run() and runFanout(): source → extract → fold/write lanes, with shutdown.

import { setImmediate } from "node:timers";
import type { Source, SourceRecord } from "../source/mod.ts";
import type { Prepared, Processor } from "./_processor.ts";
import { StoreFailureError } from "./errors.ts";

/** How long a drive may run without letting timers and I/O callbacks in, in ms. */
const YIELD_EVERY_MS = 10;

/** What one pipeline did during a run. */
export interface RunSummary {
  /** The pipeline's name. */
  readonly pipeline: string;
  /** Records read from the source. */
  readonly events: number;
  /** Records acked: their effect is durable (or they were dead-lettered, debounced or skipped). */
  readonly acked: number;
  /** Records read but not acked (a shutdown deadline passed first); the source redelivers them. */
  readonly unacked: number;
  /** Store merge calls. */
  readonly merges: number;
  /** Writes of the batch window. */
  readonly flushes: number;
  /** Records dead-lettered. */
  readonly deadLetters: number;
  /** Deltas skipped as already applied (exactly-once). */
  readonly dedupSkips: number;
  /** Records dropped by debouncers. */
  readonly debounced: number;
  /**
   * Records dropped because their window bucket was past retention (the
   * pipeline's `.lateData("drop")`, the default); with `"deadLetter"` they
   * count in `deadLetters` instead.
   */
  readonly late: number;
  /** Wall-clock duration of the run in ms. */
  readonly durationMs: number;
  /** Why the run ended: the source ended, or the signal stopped it. */
  readonly stoppedBy: "end" | "signal";
}

/** One pipeline's share of a drive: its processor and the stream stages feeding it. */
export interface Lane<E> {
  readonly processor: Processor<E, unknown>;
  readonly writer: WritableStreamDefaultWriter<readonly SourceRecord<E>[]>;
  readonly done: Promise<void>;
  readonly shutdown: AbortController;
}

/** Builds the extract (transform) and fold/write (sink) stages of one pipeline. */
export function lane<E>(processor: Processor<E, unknown>): Lane<E> {
  const shutdown = new AbortController();
  const extract = new TransformStream<
    readonly SourceRecord<E>[],
    Prepared<unknown>
  >(
    {
      transform: async (batch, controller) =>
        controller.enqueue(await processor.prepare(batch)),
    },
    { highWaterMark: 1 },
    { highWaterMark: 1 },
  );
  const sink = new WritableStream<Prepared<unknown>>({
    write: (prepared) => processor.accept(prepared),
    close: () => processor.drain(shutdown.signal),
  }, { highWaterMark: 1 });
  const done = extract.readable.pipeTo(sink);
  done.catch(() => {});
  return { processor, writer: extract.writable.getWriter(), done, shutdown };
}

/** Shutdown and source handling of a drive. */
export interface DriveOptions {
  readonly signal?: AbortSignal | undefined;
  readonly shutdownTimeout: number;
  readonly closeSource: boolean;
}

/**
 * Pipes `source` into the lanes until it ends, the signal fires or a lane
 * fails; then lets every lane finish what it read, write it and ack it.
 *
 * @returns Whether the signal stopped the drive.
 * @throws The first lane failure or source error, after the other lanes drained.
 */
export async function drive<E>(
  source: Source<E>,
  lanes: readonly Lane<E>[],
  copy: (
    batch: readonly SourceRecord<E>[],
    lane: number,
  ) => readonly SourceRecord<E>[],
  options: DriveOptions,
): Promise<"end" | "signal"> {
  const stop = new AbortController();
  const user = options.signal;
  let stoppedBy: "end" | "signal" = "end";
  let deadline: ReturnType<typeof setTimeout> | undefined;
  const onAbort = () => {
    stoppedBy = "signal";
    stop.abort(user!.reason);
    deadline = setTimeout(() => {
      for (const l of lanes) {
        l.shutdown.abort(new Error("shutdown deadline passed"));
      }
    }, options.shutdownTimeout);
  };
  if (user?.aborted) onAbort();
  else user?.addEventListener("abort", onAbort, { once: true });
  for (const l of lanes) {
    l.processor.onFailure = (error) => stop.abort(error);
  }
  const timers = lanes
    .filter((l) => l.processor.options.batchTime > 0)
    .map((l) =>
      setInterval(
        () => l.processor.requestFlush(),
        l.processor.options.batchTime,
      )
    );

  const readable = ReadableStream.from(source);
  // A source that never waits (memory, synthetic) would keep the event loop
  // on microtasks: give timers, signals and servers a turn every few ms.
  let turn = performance.now();
  const distribute = new WritableStream<readonly SourceRecord<E>[]>({
    write: async (batch) => {
      if (performance.now() - turn >= YIELD_EVERY_MS) {
        // setImmediate lets due timers and I/O run without setTimeout's clamp.
        await new Promise((resolve) => setImmediate(resolve));
        turn = performance.now();
      }
      await Promise.all(lanes.map(async (l, i) => {
        await l.writer.ready;
        l.writer.write(copy(batch, i)).catch(() => {});
      }));
    },
  }, { highWaterMark: 1 });

  const errors: unknown[] = [];
  let pipeFailed = false;
  try {
    if (!stop.signal.aborted) {
      await readable.pipeTo(distribute, {
        signal: stop.signal,
        preventCancel: true,
        preventAbort: true,
        preventClose: true,
      });
    }
  } catch (error) {
    pipeFailed = true;
    if (!stop.signal.aborted) errors.push(error);
  }
  if (pipeFailed || stop.signal.aborted) readable.cancel().catch(() => {});
  const settled = await Promise.allSettled(lanes.map(async (l) => {
    await l.writer.close();
    await l.done;
  }));
  for (const t of timers) clearInterval(t);
  clearTimeout(deadline);
  user?.removeEventListener("abort", onAbort);
  settled.forEach((r, i) => {
    if (r.status === "fulfilled") return;
    const lane = lanes[i]!;
    const failure = lane.processor.failure ?? r.reason;
    // A write cut short by the shutdown deadline is not an error: its records stay unacked.
    if (
      stoppedBy === "signal" && lane.shutdown.signal.aborted &&
      failure instanceof StoreFailureError
    ) return;
    if (!errors.includes(failure)) errors.push(failure);
  });
  if (options.closeSource) {
    await source.close().catch((error) => {
      if (errors.length === 0) errors.push(error);
    });
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) {
    throw new AggregateError(errors, `${errors.length} pipelines failed`);
  }
  return stoppedBy;
}

/** Builds a run's summary from its processor's counts. */
export function summarize(
  processor: Processor<unknown, unknown>,
  started: number,
  stoppedBy: "end" | "signal",
): RunSummary {
  const c = processor.counts;
  return {
    pipeline: processor.pipeline.name,
    events: c.events,
    acked: c.acked,
    unacked: c.events - c.acked,
    merges: c.merges,
    flushes: c.flushes,
    deadLetters: c.deadLetters,
    dedupSkips: c.dedupSkips,
    debounced: c.debounced,
    late: c.late,
    durationMs: performance.now() - started,
    stoppedBy,
  };
}
