// Private: a bench's command line — `--quick`, numeric sizes with quick and full defaults, and plain string or boolean flags.

import { parseArgs } from "node:util";

/** What a bench accepts besides `--quick`. */
export interface BenchFlagSpec<
  N extends string,
  S extends string,
  B extends string,
> {
  /** Numeric flags and their defaults: one number, or `[quick, full]`. */
  readonly numbers?: Readonly<Record<N, number | readonly [number, number]>>;
  /** String flags, `undefined` when absent. */
  readonly strings?: readonly S[];
  /** Boolean flags, `false` when absent. */
  readonly booleans?: readonly B[];
}

/** The parsed command line. */
export type BenchFlags<N extends string, S extends string, B extends string> =
  & { readonly quick: boolean }
  & { readonly [K in N]: number }
  & { readonly [K in S]?: string }
  & { readonly [K in B]: boolean };

/**
 * Parses `args` (default `Deno.args`): `--quick` picks the quick default of
 * every numeric flag that was not given; a numeric flag that is not a
 * finite number is refused with a `TypeError` naming it.
 */
export function benchFlags<
  N extends string = never,
  S extends string = never,
  B extends string = never,
>(
  spec: BenchFlagSpec<N, S, B>,
  args: readonly string[] = Deno.args,
): BenchFlags<N, S, B> {
  const numbers = Object.entries(spec.numbers ?? {}) as [
    N,
    number | readonly [number, number],
  ][];
  const options: Record<string, { type: "string" | "boolean" }> = {
    quick: { type: "boolean" },
  };
  for (const [name] of numbers) options[name] = { type: "string" };
  for (const name of spec.strings ?? []) options[name] = { type: "string" };
  for (const name of spec.booleans ?? []) options[name] = { type: "boolean" };
  const { values } = parseArgs({ args: [...args], options });
  const quick = values.quick === true;
  const out: Record<string, unknown> = { quick };
  for (const [name, fallback] of numbers) {
    const given = values[name];
    const value = typeof given === "string"
      ? Number(given)
      : typeof fallback === "number"
      ? fallback
      : fallback[quick ? 0 : 1];
    if (!Number.isFinite(value)) {
      throw new TypeError(`--${name} takes a number, got ${String(given)}`);
    }
    out[name] = value;
  }
  for (const name of spec.strings ?? []) out[name] = values[name];
  for (const name of spec.booleans ?? []) out[name] = values[name] === true;
  return out as BenchFlags<N, S, B>;
}
