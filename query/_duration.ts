// Durations for trailing reads: whole ms, or a count and a unit ("90s", "15m", "24h", "7d", "2w").

import { InvalidQueryError } from "./errors.ts";

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** Reads a duration: whole ms, or a count and a unit (`ms`, `s`, `m`, `h`, `d`, `w`). */
export function parseDuration(duration: number | string): number {
  let ms: number;
  if (typeof duration === "number") {
    ms = duration;
  } else {
    const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$/.exec(
      String(duration),
    );
    ms = match === null ? NaN : Number(match[1]) * UNIT_MS[match[2]!]!;
  }
  if (!Number.isFinite(ms) || ms <= 0 || ms > 8.64e15) {
    throw new InvalidQueryError(
      "duration",
      `${
        JSON.stringify(duration)
      } is not a duration: give positive ms, or a count and a unit like "24h" or "7d"`,
    );
  }
  return Math.ceil(ms);
}
