// What codegen knows of a pipeline: its name, the typed shape of its answers and whether it is windowed.

/** The answer type of a typed service method. */
export type ValueShape =
  /** A whole number: `count`, `monotonic`, `sumBigInt` → proto `int64`. */
  | "int64"
  /** A real number: `sum`, `min`, `max`, `decayed`, `latest` → proto `double`. */
  | "double"
  /** A HyperLogLog: `{ estimate, lower, upper, confidence }`. */
  | "cardinality"
  /** A top-K sketch: ranked `{ key, count }` entries. */
  | "ranked";

/** One pipeline as the code generator sees it. */
export interface PipelineShape {
  /** The pipeline's name, as the querier knows it. */
  readonly name: string;
  /** The answer type. */
  readonly value: ValueShape;
  /** Whether the pipeline is windowed (Window and Range methods) or all-time (Get). */
  readonly windowed: boolean;
}

/** The parts of a pipeline (built, or a plain `QueryTarget`) that decide its shape. */
export interface PipelineLike {
  /** The pipeline's name. */
  readonly name: string;
  /** Its monoid: the `kind` and the identity's type decide the answer type. */
  readonly monoid: { readonly kind: string; identity(): unknown };
  /** Its window, or `null`. */
  readonly window: unknown;
}

/** Thrown when a pipeline cannot become a typed service. */
export class CodegenError extends Error {
  /**
   * Creates the error.
   *
   * @param message What is wrong and what to do.
   */
  constructor(message: string) {
    super(message);
    this.name = "CodegenError";
  }
}

const NAME = /^[a-z][a-z0-9_]*$/;

/**
 * The shape of a built pipeline or query target.
 *
 * @param pipeline The pipeline.
 * @returns Its shape, or `undefined` for a monoid kind no typed answer fits
 * (set, map, tuple, first/last, bloom, custom): the generic QueryService
 * serves those.
 * @throws {CodegenError} When the name cannot become a proto identifier.
 *
 * @example Usage
 * ```ts
 * import { shapeOf } from "@murmur/core/codegen";
 * import { count } from "@murmur/core/monoid";
 * import assert from "node:assert/strict";
 *
 * const shape = shapeOf({ name: "likes", monoid: count(), window: null });
 * assert.deepEqual(shape, { name: "likes", value: "int64", windowed: false });
 * ```
 */
export function shapeOf(pipeline: PipelineLike): PipelineShape | undefined {
  checkName(pipeline.name);
  const kind = pipeline.monoid.kind;
  let value: ValueShape | undefined;
  if (kind === "count" || kind === "monotonic") value = "int64";
  else if (kind === "sum") {
    value = typeof pipeline.monoid.identity() === "bigint" ? "int64" : "double";
  } else if (kind === "min" || kind === "max" || kind === "decayed") {
    value = "double";
  } else if (kind === "hll") value = "cardinality";
  else if (kind === "topk") value = "ranked";
  if (value === undefined) return undefined;
  return {
    name: pipeline.name,
    value,
    windowed: pipeline.window !== null && pipeline.window !== undefined,
  };
}

/** The part of a YAML pipeline spec (`config/`) that decides its shape. */
export interface PipelineSpecLike {
  /** The pipeline's name. */
  readonly name: string;
  /** The aggregate, as the config names it. */
  readonly aggregate: { readonly kind: string };
  /** The window, or `null`. */
  readonly window: unknown;
}

/**
 * The shape of a pipeline of the YAML configuration.
 *
 * @param spec A `PipelineSpec` from `config/`'s `parseConfig`/`loadConfig`.
 * @returns Its shape, or `undefined` when no typed answer fits.
 * @throws {CodegenError} When the name cannot become a proto identifier.
 *
 * @example Usage
 * ```ts
 * import { shapeOfSpec } from "@murmur/core/codegen";
 * import assert from "node:assert/strict";
 *
 * const shape = shapeOfSpec({ name: "visitors", aggregate: { kind: "uniqueCount" }, window: { every: "day" } });
 * assert.deepEqual(shape, { name: "visitors", value: "cardinality", windowed: true });
 * ```
 */
export function shapeOfSpec(spec: PipelineSpecLike): PipelineShape | undefined {
  checkName(spec.name);
  const shapes: Record<string, ValueShape> = {
    count: "int64",
    sum: "double",
    min: "double",
    max: "double",
    decayedSum: "double",
    uniqueCount: "cardinality",
    topN: "ranked",
  };
  const value = shapes[spec.aggregate.kind];
  if (value === undefined) return undefined;
  return {
    name: spec.name,
    value,
    windowed: spec.window !== null && spec.window !== undefined,
  };
}

function checkName(name: string): void {
  if (!NAME.test(name)) {
    throw new CodegenError(
      `codegen: pipeline name ${
        JSON.stringify(name)
      } must be lower_snake_case (a-z, 0-9, _; starting with a letter) to become a proto service; rename the pipeline`,
    );
  }
}

/**
 * The PascalCase form of a pipeline name: `page_views` → `PageViews`.
 *
 * @param name A lower_snake_case name.
 * @returns The PascalCase name.
 */
export function pascal(name: string): string {
  return name.split("_").filter((p) => p !== "").map((p) =>
    p[0]!.toUpperCase() + p.slice(1)
  ).join("");
}

/**
 * The camelCase form of a method or field name, as protoc-gen-es spells it.
 *
 * @param name A PascalCase or snake_case name.
 * @returns The camelCase name.
 */
export function camel(name: string): string {
  const p = pascal(name);
  return p[0]!.toLowerCase() + p.slice(1);
}
