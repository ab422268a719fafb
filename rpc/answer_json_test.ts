import assert from "node:assert/strict";
import fc from "fast-check";
import { create, toBinary, toJsonString } from "@bufbuild/protobuf";
import {
  AnswerSchema,
  GetManyResponseSchema,
  GetResponseSchema,
} from "../proto/gen/murmur/v1/query_pb.ts";
import { manyAnswersJson, oneAnswerJson } from "./_answer_json.ts";
import { manyAnswersBinary, oneAnswerBinary } from "./_answer_binary.ts";

const arbDouble = fc.oneof(
  fc.double(),
  fc.constantFrom(NaN, Infinity, -Infinity, -0, 0, 1e21, 5e-324),
);
const arbU32 = fc.nat({ max: 2 ** 32 - 1 });
const arbI64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
/** A coverage with up to `maxBuckets` buckets in each list. */
function arbCoverage(maxBuckets: number) {
  return fc.record({
    allTime: fc.boolean(),
    granularity: fc.string(),
    startMs: arbI64,
    endMs: arbI64,
    buckets: fc.array(arbI64, { maxLength: maxBuckets }),
    presentBuckets: fc.array(arbI64, { maxLength: maxBuckets }),
  });
}
const arbValue = fc.oneof(
  fc.constant({ kind: { case: undefined } }),
  arbDouble.map((value) => ({ kind: { case: "number", value } })),
  arbI64.map((value) => ({ kind: { case: "integer", value } })),
  fc.string().map((value) => ({ kind: { case: "json", value } })),
  fc.record({
    estimate: arbDouble,
    lower: arbDouble,
    upper: arbDouble,
    confidence: arbDouble,
  }).map((value) => ({ kind: { case: "cardinality", value } })),
  fc.record({
    k: arbU32,
    entries: fc.array(fc.record({ key: fc.string(), count: arbDouble }), {
      maxLength: 4,
    }),
  }).map((value) => ({ kind: { case: "topK", value } })),
  fc.record({
    probes: fc.array(
      fc.record({ item: fc.string(), mightContain: fc.boolean() }),
      { maxLength: 3 },
    ),
    bits: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    hashes: arbU32,
    estimatedItems: arbDouble,
  }).map((value) => ({ kind: { case: "bloom", value } })),
);
const arbAnswer = fc.record({
  pipeline: fc.string(),
  entity: fc.string({ unit: "grapheme" }),
  present: fc.boolean(),
  value: fc.option(arbValue, { nil: undefined }),
  data: fc.uint8Array({ maxLength: 20 }),
  format: fc.string(),
  kind: fc.string(),
  coverage: fc.option(
    arbCoverage(3),
    { nil: undefined },
  ),
  stats: fc.option(
    fc.record({
      keys: arbU32,
      cacheHits: arbU32,
      storeReads: arbU32,
      coalesced: fc.boolean(),
    }),
    { nil: undefined },
  ),
}, { requiredKeys: [] }).map((init) => create(AnswerSchema, init as never));

Deno.test("answerJson() writes exactly what toJsonString(alwaysEmitImplicit) writes", () => {
  fc.assert(
    fc.property(arbAnswer, fc.array(arbAnswer, { maxLength: 3 }), (a, many) => {
      const one = create(GetResponseSchema, { answer: a });
      assert.deepEqual(
        JSON.parse(oneAnswerJson(one)),
        JSON.parse(
          toJsonString(GetResponseSchema, one, { alwaysEmitImplicit: true }),
        ),
      );
      const list = create(GetManyResponseSchema, { answers: many });
      assert.deepEqual(
        JSON.parse(manyAnswersJson(list)),
        JSON.parse(
          toJsonString(GetManyResponseSchema, list, {
            alwaysEmitImplicit: true,
          }),
        ),
      );
    }),
    { numRuns: 500 },
  );
  assert.equal(oneAnswerJson(create(GetResponseSchema)), "{}");
});

Deno.test("oneAnswerBinary() and manyAnswersBinary() write exactly what toBinary writes", () => {
  fc.assert(
    fc.property(arbAnswer, fc.array(arbAnswer, { maxLength: 3 }), (a, many) => {
      const one = create(GetResponseSchema, { answer: a });
      assert.deepEqual(oneAnswerBinary(one), toBinary(GetResponseSchema, one));
      const list = create(GetManyResponseSchema, { answers: many });
      assert.deepEqual(
        manyAnswersBinary(list),
        toBinary(GetManyResponseSchema, list),
      );
    }),
    { numRuns: 500 },
  );
  assert.deepEqual(
    oneAnswerBinary(create(GetResponseSchema)),
    new Uint8Array(),
  );
});

Deno.test("the binary answer writer handles long strings, long lists and nested lengths over 127 bytes", () => {
  const big = fc.record({
    pipeline: fc.string({ minLength: 100, maxLength: 400 }),
    entity: fc.string({ unit: "grapheme", maxLength: 300 }),
    present: fc.boolean(),
    value: fc.oneof(
      fc.record({
        k: arbU32,
        entries: fc.array(
          fc.record({ key: fc.string({ maxLength: 200 }), count: arbDouble }),
          { maxLength: 40 },
        ),
      }).map((value) => ({ kind: { case: "topK", value } })),
      fc.string({ unit: "binary", maxLength: 5000 }).map((value) => ({
        kind: { case: "json", value },
      })),
    ),
    data: fc.uint8Array({ maxLength: 20_000 }),
    format: fc.string(),
    kind: fc.string(),
    coverage: arbCoverage(200),
  }).map((init) => create(AnswerSchema, init as never));
  fc.assert(
    fc.property(fc.array(big, { maxLength: 4 }), (many) => {
      const list = create(GetManyResponseSchema, { answers: many });
      assert.deepEqual(
        manyAnswersBinary(list),
        toBinary(GetManyResponseSchema, list),
      );
    }),
    { numRuns: 200 },
  );
});
