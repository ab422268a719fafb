// YAML text → validated plain value: parse with node ranges, substitute ${ENV}, check against schema.json, name the line of every error.

import { isMap, isScalar, LineCounter, type Node, parseDocument } from "yaml";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import schema from "./schema.json" with { type: "json" };

/**
 * Thrown for a configuration that cannot be used. The message starts with
 * `file:line:column` and the dotted path of the bad value, then says what
 * to write instead.
 *
 * @example Usage
 * ```ts
 * import { ConfigError, parseConfig } from "@murmur/core/config";
 * import assert from "node:assert/strict";
 *
 * const yaml = "pipelines:\n  - name: views\n    key: page\n    aggregate: avg\n";
 * assert.throws(() => parseConfig(yaml, { file: "w.yaml" }), (e) => e instanceof ConfigError && e.line === 4);
 * ```
 */
export class ConfigError extends Error {
  /** The file the configuration came from. */
  readonly file: string;
  /** The 1-based line of the bad value, or 0 when it has none. */
  readonly line: number;
  /** The 1-based column of the bad value, or 0. */
  readonly column: number;
  /** The dotted path of the bad value, e.g. `pipelines[0].aggregate`. */
  readonly path: string;

  /**
   * Creates the error.
   *
   * @param file The file name.
   * @param line The 1-based line, or 0.
   * @param column The 1-based column, or 0.
   * @param path The dotted path of the bad value ("" for the whole file).
   * @param detail What is wrong and what to write instead.
   */
  constructor(
    file: string,
    line: number,
    column: number,
    path: string,
    detail: string,
  ) {
    super(
      `${file}${line > 0 ? `:${line}:${column}` : ""}: ${
        path === "" ? "" : `${path}: `
      }${detail}`,
    );
    this.name = "ConfigError";
    this.file = file;
    this.line = line;
    this.column = column;
    this.path = path;
  }
}

/** A path into the document: map keys and list indexes. */
export type Segment = string | number;

/** The parsed document, able to say where a value sits. */
export interface Located {
  /** The plain value, `${ENV}` substituted. */
  readonly value: unknown;
  /** Builds a {@linkcode ConfigError} pointing at `path` (or at its key with `atKey`). */
  fail(path: readonly Segment[], detail: string, atKey?: string): ConfigError;
}

/** Renders a path as `pipelines[0].aggregate.kind`. */
export function dotted(path: readonly Segment[]): string {
  let out = "";
  for (const s of path) {
    out += typeof s === "number" ? `[${s}]` : out === "" ? s : `.${s}`;
  }
  return out;
}

let compiled: ValidateFunction | undefined;

function validator(): ValidateFunction {
  compiled ??= new Ajv({
    allErrors: false,
    verbose: true,
    coerceTypes: true,
    strict: false,
  }).compile(schema);
  return compiled;
}

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Parses YAML text, substitutes `${NAME}` and `${NAME:-default}` in strings
 * and validates it against `schema.json`.
 *
 * @throws {ConfigError} Naming the line of the first problem.
 */
export function parseAndValidate(
  text: string,
  file: string,
  env: (name: string) => string | undefined,
): Located {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const at = (offset: number) => lines.linePos(offset);
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    const pos = at(first.pos[0]);
    throw new ConfigError(
      file,
      pos.line,
      pos.col,
      "",
      `not valid YAML: ${first.message.split("\n")[0]}`,
    );
  }
  const nodeAt = (path: readonly Segment[]): Node | undefined => {
    for (let n = path.length; n >= 0; n--) {
      const node = path.length === 0
        ? doc.contents
        : doc.getIn(path.slice(0, n), true);
      if (node !== undefined && node !== null && typeof node === "object") {
        return node as Node;
      }
    }
    return undefined;
  };
  const fail = (
    path: readonly Segment[],
    detail: string,
    atKey?: string,
  ): ConfigError => {
    let node = nodeAt(path);
    if (atKey !== undefined && node !== undefined && isMap(node)) {
      const pair = node.items.find((p) =>
        isScalar(p.key) && String(p.key.value) === atKey
      );
      if (pair !== undefined && isScalar(pair.key)) node = pair.key;
    }
    const range = node?.range;
    if (range === undefined || range === null) {
      return new ConfigError(file, 0, 0, dotted(path), detail);
    }
    const pos = at(range[0]);
    return new ConfigError(file, pos.line, pos.col, dotted(path), detail);
  };
  const raw = doc.toJS({ maxAliasCount: 100 }) as unknown;
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw fail([], "the top level must be a mapping with a `pipelines:` list");
  }
  const substitute = (value: unknown, path: Segment[]): unknown => {
    if (typeof value === "string") {
      return value.replace(ENV_REF, (_, name: string, fallback?: string) => {
        const got = env(name);
        if (got !== undefined && got !== "") return got;
        if (fallback !== undefined) return fallback;
        throw fail(
          path,
          `environment variable ${name} is not set: set it, or write \${${name}:-default}`,
        );
      });
    }
    if (Array.isArray(value)) {
      return value.map((v, i) => substitute(v, [...path, i]));
    }
    if (value !== null && typeof value === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        out[k] = substitute(v, [...path, k]);
      }
      return out;
    }
    return value;
  };
  const value = substitute(raw, []);
  const validate = validator();
  if (!validate(value)) {
    const error = pickError(validate.errors ?? []);
    const path = pathOf(error.instancePath);
    if (error.keyword === "additionalProperties") {
      const key = String(error.params.additionalProperty);
      const known = Object.keys(
        (error.parentSchema as { properties?: object } | undefined)
          ?.properties ?? {},
      );
      throw fail(
        [...path, key],
        `unknown field "${key}"${
          known.length > 0 ? `; known fields here: ${known.join(", ")}` : ""
        }`,
        key,
      );
    }
    throw fail(path, describe(error));
  }
  return { value, fail };
}

function pathOf(pointer: string): Segment[] {
  if (pointer === "") return [];
  return pointer.slice(1).split("/").map((s) => {
    const key = s.replace(/~1/g, "/").replace(/~0/g, "~");
    return /^\d+$/.test(key) ? Number(key) : key;
  });
}

const PRIORITY: Record<string, number> = {
  required: 0,
  additionalProperties: 0,
  minItems: 1,
  minimum: 1,
  maximum: 1,
  minLength: 1,
  pattern: 1,
  const: 2,
  enum: 2,
  type: 3,
};

/** The most useful error: the deepest path, then the most specific keyword. */
function pickError(errors: readonly ErrorObject[]): ErrorObject {
  let best = errors[0]!;
  const depth = (e: ErrorObject) =>
    e.instancePath === "" ? 0 : e.instancePath.split("/").length;
  const rank = (e: ErrorObject) => PRIORITY[e.keyword] ?? 9;
  for (const e of errors) {
    if (
      depth(e) > depth(best) ||
      (depth(e) === depth(best) && rank(e) < rank(best))
    ) best = e;
  }
  return best;
}

const SHAPES: Record<string, string> = {
  fieldPath: "must be a field path such as customer.id or items.0.sku",
  duration:
    "must be a duration: a number of ms or a number with a unit (500ms, 30s, 5m, 6h, 90d, 2w)",
  key:
    'a key is a field path (customer.id), {field, prefix}, {const} or {template: "c:{customer.id}"}',
  time: "the event time is a field path (at) or {field, unit, whenMissing}",
  aggregate:
    "use one of sum, count, min, max, latest, uniqueCount, topN, decayedSum",
  window: "use day, hour, minute, none or {every, retention}",
  name:
    "must be letters, digits, _ . - (up to 255), starting with a letter or digit",
};

function describe(error: ErrorObject): string {
  const shape = /definitions\/(\w+)\//.exec(error.schemaPath)?.[1];
  const got = JSON.stringify(error.data);
  switch (error.keyword) {
    case "required":
      return `missing field "${error.params.missingProperty}"`;
    case "enum":
      return `must be one of ${
        (error.params.allowedValues as unknown[]).join(", ")
      }, got ${got}`;
    case "const":
      return `must be ${JSON.stringify(error.params.allowedValue)}, got ${got}`;
    case "pattern":
      if (error.instancePath.endsWith("/name") && shape === "pipeline") {
        return `a pipeline name is letters, digits, _ . : - (up to 128), not starting with __murmur; got ${got}`;
      }
      return `${
        SHAPES[shape ?? ""] ?? `must match ${error.params.pattern}`
      }, got ${got}`;
    case "type":
      return shape !== undefined && SHAPES[shape] !== undefined &&
          !["source", "store", "pipeline", "runOptions"].includes(shape)
        ? `${SHAPES[shape]}, got ${got}`
        : `must be ${article(String(error.params.type))}, got ${got}`;
    case "minItems":
      return `needs at least ${error.params.limit} item(s)`;
    case "minLength":
      return "must not be empty";
    case "minimum":
    case "maximum":
      return `must be ${error.params.comparison} ${error.params.limit}, got ${got}`;
    default:
      return `${error.message ?? "is not valid"}${
        shape && SHAPES[shape] ? ` (${SHAPES[shape]})` : ""
      }`;
  }
}

function article(type: string): string {
  if (type === "object") return "a mapping";
  if (type === "array") return "a list";
  if (type === "integer") return "an integer";
  return `a ${type.replace(/,/g, " or ")}`;
}
