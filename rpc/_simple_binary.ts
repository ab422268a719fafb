// Decodes the common request messages from protobuf binary without protobuf-es reflection: a message whose fields are all strings, bools, 32-bit unsigned integers or lists of strings (GetRequest and its kin) comes out exactly as fromBinary makes it. Anything else answers `undefined`, and the caller uses fromBinary.

import {
  create,
  type DescMessage,
  type Message,
  ScalarType,
} from "@bufbuild/protobuf";

const STRING = 0;
const BOOL = 1;
const UINT32 = 2;
const STRINGS = 3;

interface Plan {
  /** Field kinds by field number (-1: not a field of a simple message). */
  readonly kinds: Int8Array;
  /** Local (property) names by field number. */
  readonly names: string[];
  /** Properties of a new message, defaults included (lists are made fresh). */
  readonly template: Record<string, unknown>;
  /** List fields, which every message gets its own array for. */
  readonly lists: string[];
}

const plans = new WeakMap<DescMessage, Plan | null>();

function planOf(schema: DescMessage): Plan | null {
  let plan = plans.get(schema);
  if (plan !== undefined) return plan;
  plan = null;
  let max = 0;
  let simple = true;
  for (const field of schema.fields) {
    max = Math.max(max, field.number);
    const ok = field.oneof === undefined && (
      (field.fieldKind === "scalar" &&
        (field.scalar === ScalarType.STRING ||
          field.scalar === ScalarType.BOOL ||
          field.scalar === ScalarType.UINT32)) ||
      (field.fieldKind === "list" && field.listKind === "scalar" &&
        field.scalar === ScalarType.STRING)
    );
    if (!ok) simple = false;
  }
  if (simple && max < 64) {
    const kinds = new Int8Array(max + 1).fill(-1);
    const names: string[] = [];
    const lists: string[] = [];
    for (const field of schema.fields) {
      names[field.number] = field.localName;
      if (field.fieldKind === "list") {
        kinds[field.number] = STRINGS;
        lists.push(field.localName);
      } else {
        kinds[field.number] = field.scalar === ScalarType.STRING
          ? STRING
          : field.scalar === ScalarType.BOOL
          ? BOOL
          : UINT32;
      }
    }
    plan = {
      kinds,
      names,
      template: { ...create(schema) } as Record<string, unknown>,
      lists,
    };
  }
  plans.set(schema, plan);
  return plan;
}

/**
 * Decodes `bytes` as `schema` when the message is simple (see the file
 * header) and the bytes hold only its known fields, with ASCII strings and
 * varints of at most 5 bytes. Otherwise `undefined`: the caller decodes with
 * fromBinary, which also gives the errors.
 */
export function simpleBinary(
  schema: DescMessage,
  bytes: Uint8Array,
): Message | undefined {
  const plan = planOf(schema);
  if (plan === null) return undefined;
  const message: Record<string, unknown> = { ...plan.template };
  for (const list of plan.lists) message[list] = [];
  const end = bytes.length;
  let at = 0;
  while (at < end) {
    // The tag: field numbers below 64 fit one byte with the wire type.
    const tag = bytes[at++]!;
    if (tag >= 0x80) return undefined;
    const number = tag >>> 3;
    const kind = number < plan.kinds.length ? plan.kinds[number]! : -1;
    if (kind < 0) return undefined;
    const wire = tag & 7;
    if (kind === BOOL || kind === UINT32) {
      if (wire !== 0) return undefined;
      // A varint of at most 5 bytes, below 2^32.
      let value = 0;
      let shift = 0;
      for (;;) {
        if (at >= end || shift > 28) return undefined;
        const byte = bytes[at++]!;
        value += (byte & 0x7f) * 2 ** shift;
        shift += 7;
        if (byte < 0x80) break;
      }
      if (value > 0xffffffff) return undefined;
      message[plan.names[number]!] = kind === BOOL ? value !== 0 : value;
      continue;
    }
    if (wire !== 2) return undefined;
    let length = 0;
    let shift = 0;
    for (;;) {
      if (at >= end || shift > 21) return undefined;
      const byte = bytes[at++]!;
      length += (byte & 0x7f) << shift;
      shift += 7;
      if (byte < 0x80) break;
    }
    if (length > end - at || length > 1024) return undefined;
    for (let i = at; i < at + length; i++) {
      // UTF-8 beyond ASCII goes to fromBinary and its checks.
      if (bytes[i]! >= 0x80) return undefined;
    }
    const text = String.fromCharCode.apply(
      null,
      bytes.subarray(at, at + length) as unknown as number[],
    );
    at += length;
    if (kind === STRING) message[plan.names[number]!] = text;
    else (message[plan.names[number]!] as string[]).push(text);
  }
  return message as Message;
}
