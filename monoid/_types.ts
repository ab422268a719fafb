// Private: the monoid types that the entry points beside monoid/mod.ts
// (monoid/laws.ts and the sketch modules) re-export for their users, listed
// once (`export type * from "./_types.ts"`).

export type {
  Codec,
  JsonValue,
  Monoid,
  MonoidKind,
  Semigroup,
} from "./monoid.ts";
