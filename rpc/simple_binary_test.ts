import assert from "node:assert/strict";
import fc from "fast-check";
import {
  create,
  type DescMessage,
  fromBinary,
  ScalarType,
  toBinary,
} from "@bufbuild/protobuf";
import {
  file_murmur_v1_query,
  GetRequestSchema,
} from "../proto/gen/murmur/v1/query_pb.ts";
import { file_murmur_admin_v1_admin } from "../proto/gen/murmur/admin/v1/admin_pb.ts";
import { simpleBinary } from "./_simple_binary.ts";

const schemas = [
  ...file_murmur_v1_query.messages,
  ...file_murmur_admin_v1_admin.messages,
];

/** Messages of a schema's simple fields (strings, bools, uint32s, string lists). */
function arbMessage(schema: DescMessage) {
  const text = fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.string({ unit: "binary", maxLength: 20 }),
    fc.stringMatching(/^[a-z:0-9]{0,300}$/),
  );
  const parts: Record<string, fc.Arbitrary<unknown>> = {};
  for (const field of schema.fields) {
    if (field.fieldKind === "list" && field.scalar === ScalarType.STRING) {
      parts[field.localName] = fc.array(text, { maxLength: 4 });
    } else if (field.fieldKind === "scalar") {
      parts[field.localName] = field.scalar === ScalarType.STRING
        ? text
        : field.scalar === ScalarType.BOOL
        ? fc.boolean()
        : field.scalar === ScalarType.UINT32
        ? fc.oneof(fc.nat(200), fc.constantFrom(0, 127, 128, 2 ** 32 - 1))
        : fc.constant(undefined);
    }
  }
  return fc.record(parts, { requiredKeys: [] }).map((init) =>
    create(schema, init as never)
  );
}

Deno.test("simpleBinary() decodes every request message exactly as fromBinary, or declines", () => {
  let decoded = 0;
  for (const schema of schemas) {
    fc.assert(
      fc.property(arbMessage(schema), (message) => {
        const bytes = toBinary(schema, message);
        const fast = simpleBinary(schema, bytes);
        if (fast !== undefined) {
          decoded++;
          assert.deepEqual(fast, fromBinary(schema, bytes));
        }
      }),
      { numRuns: 200 },
    );
  }
  assert.ok(decoded > 500, `the fast path decoded ${decoded} messages`);
});

Deno.test("simpleBinary() takes GetRequest's common shape and declines what it does not know", () => {
  const request = create(GetRequestSchema, {
    pipeline: "likes",
    entity: "post:7",
    probes: ["a", "b"],
    top: 0,
    freshRead: true,
  });
  const bytes = toBinary(GetRequestSchema, request);
  assert.deepEqual(simpleBinary(GetRequestSchema, bytes), request);
  // An unknown field (fromBinary keeps it in $unknown), a wrong wire type,
  // non-ASCII text and a cut-off string all go to fromBinary.
  assert.equal(
    simpleBinary(GetRequestSchema, Uint8Array.of(0x50, 1)),
    undefined,
  );
  assert.equal(
    simpleBinary(GetRequestSchema, Uint8Array.of(0x08, 1)),
    undefined,
  );
  assert.equal(
    simpleBinary(GetRequestSchema, Uint8Array.of(0x0a, 2, 0xc3, 0xa9)),
    undefined,
  );
  assert.equal(
    simpleBinary(GetRequestSchema, Uint8Array.of(0x0a, 5, 0x61)),
    undefined,
  );
});

Deno.test("simpleBinary() on arbitrary bytes agrees with fromBinary whenever it answers", () => {
  for (const schema of schemas) {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const fast = simpleBinary(schema, bytes);
        if (fast === undefined) return;
        assert.deepEqual(fast, fromBinary(schema, bytes));
      }),
      { numRuns: 300 },
    );
  }
});
