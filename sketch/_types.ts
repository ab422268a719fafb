// Private: the monoid types every sketch module re-exports for its users
// (`export type * from "./_types.ts"`), listed once.

export type {
  Codec,
  JsonValue,
  Monoid,
  MonoidKind,
  Semigroup,
} from "../monoid/mod.ts";
