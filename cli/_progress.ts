// Progress of long CLI work: a redrawn bar on a terminal, plain lines otherwise.

import type { ReplayProgress } from "../streaming/replay.ts";

/** Where progress goes and how it looks. */
export interface ProgressOptions {
  /** Redraw one line (a terminal) or print plain lines. Default: `Deno.stdout.isTerminal()`. */
  readonly terminal?: boolean;
  /** Writes text. Default: stdout. */
  readonly write?: (text: string) => void;
  /** What a unit of work is called. Default: `"rows"`. */
  readonly unit?: string;
  /** Least ms between plain lines. Default: 5000. */
  readonly lineInterval?: number;
}

const encoder = new TextEncoder();

/** Formats an integer with thousands separators. */
export function grouped(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** Formats seconds as `1:02:03` or `2:03`. */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

/** Renders progress reports for a terminal or a log. */
export class ProgressView {
  readonly #terminal: boolean;
  readonly #write: (text: string) => void;
  readonly #unit: string;
  readonly #lineInterval: number;
  #lastLine = -Infinity;
  #drawn = false;

  /**
   * Creates the view.
   *
   * @param options Terminal or not, output, unit name, line interval.
   */
  constructor(options: ProgressOptions = {}) {
    this.#terminal = options.terminal ?? Deno.stdout.isTerminal();
    this.#write = options.write ??
      ((text) => Deno.stdout.writeSync(encoder.encode(text)));
    this.#unit = options.unit ?? "rows";
    this.#lineInterval = options.lineInterval ?? 5000;
  }

  /** The text of one report: rows or bytes done, rate, share and ETA when the total is known. */
  describe(p: ReplayProgress): string {
    const parts = [
      `${grouped(p.events)} ${this.#unit}`,
      `${grouped(p.eventsPerSecond)}/s`,
    ];
    if (p.bytes !== undefined) parts.push(bytes(p.bytes));
    if (p.done !== undefined && p.total !== undefined && p.total > 0) {
      const share = Math.min(1, p.done / p.total);
      parts.push(`${Math.floor(share * 100)}% (${p.done}/${p.total} files)`);
      const eta = share > 0 ? (p.elapsedMs / share - p.elapsedMs) / 1000 : NaN;
      parts.push(Number.isFinite(eta) ? `ETA ${clock(eta)}` : "ETA ?");
    } else {
      parts.push(`${clock(p.elapsedMs / 1000)} elapsed`);
    }
    return parts.join(" · ");
  }

  /** Draws a report: a bar on a terminal, a line at most every `lineInterval` otherwise. */
  update(p: ReplayProgress): void {
    if (this.#terminal) {
      const share = p.done !== undefined && p.total !== undefined && p.total > 0
        ? Math.min(1, p.done / p.total)
        : null;
      const width = 24;
      const bar = share === null
        ? "·".repeat(width).split("").map((c, i) =>
          i === Math.floor(p.elapsedMs / 250) % width ? "#" : c
        ).join("")
        : "#".repeat(Math.round(share * width)).padEnd(width, "-");
      this.#write(`\r\x1b[2K[${bar}] ${this.describe(p)}`);
      this.#drawn = true;
      return;
    }
    if (p.elapsedMs - this.#lastLine < this.#lineInterval) return;
    this.#lastLine = p.elapsedMs;
    this.#write(`progress: ${this.describe(p)}\n`);
  }

  /** Ends the bar (a newline on a terminal). */
  finish(): void {
    if (this.#terminal && this.#drawn) this.#write("\n");
  }
}
