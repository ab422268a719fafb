// The exactly-once decision shared by the in-process backends: apply, skip or conflict.
//
// A remembered position may come back as a number (MemoryStore keeps positions
// that fit a safe integer as numbers): `<` and `<=` between a bigint and a
// number compare exactly, and both print the same decimal text.

import { type Delta, MarkConflictError, type StreamMark } from "./store.ts";

/** What to do with one delta given the entry's remembered marks and claims. */
export type MarkDecision = "apply" | "skip" | "conflict";

/**
 * Decides a delta from its marks against the entry's remembered positions.
 *
 * @returns `undefined` when the delta has no marks.
 */
export function decideMarks(
  marks: readonly StreamMark[] | undefined,
  remembered: (stream: string) => bigint | number | undefined,
): MarkDecision | undefined {
  if (marks === undefined || marks.length === 0) return undefined;
  let apply = 0;
  let skip = 0;
  for (const mark of marks) {
    const at = remembered(mark.stream);
    if (at === undefined || mark.from > at) apply++;
    else if (mark.to <= at) skip++;
    else return "conflict";
  }
  if (apply === marks.length) return "apply";
  if (skip === marks.length) return "skip";
  return "conflict";
}

/**
 * Decides a delta from its claims against the claims the entry holds.
 *
 * @returns `undefined` when the delta has no claims.
 */
export function decideClaims(
  claims: readonly string[] | undefined,
  held: (claim: string) => boolean,
): MarkDecision | undefined {
  if (claims === undefined || claims.length === 0) return undefined;
  let count = 0;
  for (const claim of claims) if (held(claim)) count++;
  if (count === 0) return "apply";
  if (count === claims.length) return "skip";
  return "conflict";
}

/** Combines the marks and claims decisions: both must agree. */
export function decide(
  byMarks: MarkDecision | undefined,
  byClaims: MarkDecision | undefined,
): MarkDecision {
  if (byMarks === undefined) return byClaims ?? "apply";
  if (byClaims === undefined || byClaims === byMarks) return byMarks;
  return "conflict";
}

/** Describes why a delta conflicted, for {@linkcode MarkConflictError}. */
export function conflictDetail(
  marks: readonly StreamMark[] | undefined,
  remembered: (stream: string) => bigint | number | undefined,
  claims: readonly string[] | undefined,
  held: (claim: string) => boolean,
): string {
  const parts: string[] = [];
  for (const mark of marks ?? []) {
    const at = remembered(mark.stream);
    parts.push(
      `${mark.stream} holds ${
        at ?? "nothing"
      }, delta covers ${mark.from}..${mark.to}`,
    );
  }
  const claimed = (claims ?? []).filter(held);
  if (claims !== undefined && claims.length > 0) {
    parts.push(`${claimed.length} of ${claims.length} claims already held`);
  }
  return parts.join("; ");
}

/**
 * Decides one delta for a backend that holds the entry's marks and claims in
 * hand, throwing on a conflict.
 *
 * @returns `true` to apply the delta, `false` to skip it as applied already.
 * @throws {MarkConflictError} When its marks or claims were partly applied already.
 */
export function admits(
  namespace: string,
  delta: Delta<unknown>,
  remembered: (stream: string) => bigint | number | undefined,
  held: (claim: string) => boolean,
): boolean {
  const decision = decide(
    decideMarks(delta.marks, remembered),
    decideClaims(delta.claims, held),
  );
  if (decision === "conflict") {
    throw new MarkConflictError(
      namespace,
      delta.key,
      conflictDetail(delta.marks, remembered, delta.claims, held),
    );
  }
  return decision === "apply";
}

/** Raises each stream's remembered position to the mark's `to` (an applied delta's marks). */
export function rememberMarks(
  remembered: Map<string, bigint>,
  marks: readonly StreamMark[],
): void {
  for (const mark of marks) {
    const at = remembered.get(mark.stream);
    if (at === undefined || mark.to > at) remembered.set(mark.stream, mark.to);
  }
}
