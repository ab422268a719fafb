// Private: the monoid record around a mergeable sketch, shared by hll(),
// topK() and bloom().

import type { Codec, Monoid, MonoidKind } from "../monoid/mod.ts";

/** A sketch class's merge surface, as the monoid needs it. */
interface Mergeable<S> {
  merge(other: S): S;
  mergeInPlace(other: S): unknown;
}

/** What differs between the sketch monoids. */
interface SketchMonoidSpec<S> {
  readonly kind: MonoidKind;
  readonly name: string;
  readonly idempotent: boolean;
  /** A new empty sketch with the monoid's settings (the identity). */
  readonly empty: () => S;
  readonly codec: Codec<S>;
}

/**
 * The frozen monoid of a sketch: commutative, never additive, `combine` is
 * `merge`, and `combineAll` folds into one fresh sketch in place.
 */
export function sketchMonoid<S extends Mergeable<S>>(
  spec: SketchMonoidSpec<S>,
): Monoid<S> {
  const { empty } = spec;
  return Object.freeze({
    kind: spec.kind,
    name: spec.name,
    additive: false,
    commutative: true,
    idempotent: spec.idempotent,
    identity: empty,
    combine: (a: S, b: S): S => a.merge(b),
    combineAll(values: Iterable<S>): S {
      const out = empty();
      for (const value of values) out.mergeInPlace(value);
      return out;
    },
    codec: spec.codec,
  });
}
