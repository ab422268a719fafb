// Writes answers in proto3 JSON directly (what toJsonString with alwaysEmitImplicit writes, without its reflection): the hot path of every JSON query.

import { base64Encode } from "@bufbuild/protobuf/wire";
import type {
  Answer,
  Coverage,
  ReadStats,
  Value,
} from "../proto/gen/murmur/v1/query_pb.ts";

const str = JSON.stringify;

function num(n: number): string {
  if (Number.isFinite(n)) return str(n);
  return Number.isNaN(n) ? '"NaN"' : n > 0 ? '"Infinity"' : '"-Infinity"';
}

function value(v: Value): string {
  const kind = v.kind;
  switch (kind.case) {
    case undefined:
      return "{}";
    case "number":
      return `{"number":${num(kind.value)}}`;
    case "integer":
      return `{"integer":"${kind.value}"}`;
    case "json":
      return `{"json":${str(kind.value)}}`;
    case "cardinality": {
      const c = kind.value;
      return `{"cardinality":{"estimate":${num(c.estimate)},"lower":${
        num(c.lower)
      },"upper":${num(c.upper)},"confidence":${num(c.confidence)}}}`;
    }
    case "topK": {
      let entries = "";
      for (const e of kind.value.entries) {
        if (entries !== "") entries += ",";
        entries += `{"key":${str(e.key)},"count":${num(e.count)}}`;
      }
      return `{"topK":{"k":${kind.value.k},"entries":[${entries}]}}`;
    }
    case "bloom": {
      const b = kind.value;
      let probes = "";
      for (const p of b.probes) {
        if (probes !== "") probes += ",";
        probes += `{"item":${str(p.item)},"mightContain":${p.mightContain}}`;
      }
      return `{"bloom":{"probes":[${probes}],"bits":"${b.bits}","hashes":${b.hashes},"estimatedItems":${
        num(b.estimatedItems)
      }}}`;
    }
  }
}

function int64s(list: readonly bigint[]): string {
  let out = "";
  for (const v of list) out += out === "" ? `"${v}"` : `,"${v}"`;
  return `[${out}]`;
}

function coverage(c: Coverage): string {
  return `{"allTime":${c.allTime},"granularity":${
    str(c.granularity)
  },"startMs":"${c.startMs}","endMs":"${c.endMs}","buckets":${
    int64s(c.buckets)
  },"presentBuckets":${int64s(c.presentBuckets)}}`;
}

function stats(s: ReadStats): string {
  return `{"keys":${s.keys},"cacheHits":${s.cacheHits},"storeReads":${s.storeReads},"coalesced":${s.coalesced}}`;
}

/** One `murmur.v1.Answer` in proto3 JSON, every implicit field emitted. */
export function answerJson(a: Answer): string {
  let out = `{"pipeline":${str(a.pipeline)},"entity":${
    str(a.entity)
  },"present":${a.present}`;
  if (a.value !== undefined) out += `,"value":${value(a.value)}`;
  out += `,"data":"${base64Encode(a.data)}","format":${str(a.format)},"kind":${
    str(a.kind)
  }`;
  if (a.coverage !== undefined) out += `,"coverage":${coverage(a.coverage)}`;
  if (a.stats !== undefined) out += `,"stats":${stats(a.stats)}`;
  return out + "}";
}

/** A response holding one answer (`Get`, `GetWindow`, `GetRange`). */
export function oneAnswerJson(
  response: { answer?: Answer | undefined },
): string {
  return response.answer === undefined
    ? "{}"
    : `{"answer":${answerJson(response.answer)}}`;
}

/** A response holding many answers (the `*Many` methods). */
export function manyAnswersJson(
  response: { answers: readonly Answer[] },
): string {
  let out = "";
  for (const a of response.answers) {
    out += out === "" ? answerJson(a) : `,${answerJson(a)}`;
  }
  return `{"answers":[${out}]}`;
}
