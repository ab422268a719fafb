import { deepEqual, equal, throws } from "node:assert/strict";
import fc from "fast-check";
import { CodecError, jsonCodec, stringCodec } from "./mod.ts";

Deno.test("jsonCodec encodes canonically and refuses non-JSON values", () => {
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  equal(
    text(jsonCodec.encode({ b: [1, { d: 1, c: 2 }], a: "x" })),
    '{"a":"x","b":[1,{"c":2,"d":1}]}',
  );
  deepEqual(jsonCodec.decode(new TextEncoder().encode(' { "a" : 1 } ')), {
    a: 1,
  });
  throws(() => jsonCodec.encode({ a: NaN }), TypeError);
  throws(() => jsonCodec.encode({ a: undefined } as never), TypeError);
  throws(() => jsonCodec.encode(1n as never), TypeError);
  throws(() => jsonCodec.decode(new TextEncoder().encode("{")), CodecError);
  throws(() => jsonCodec.decode(Uint8Array.of(0xff)), CodecError);
  throws(() => jsonCodec.toJSON(Infinity), TypeError);
  deepEqual(jsonCodec.fromJSON([1]), [1]);
});

Deno.test("stringCodec round-trips UTF-8 and refuses what cannot", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary" }), (s) => {
      equal(stringCodec.decode(stringCodec.encode(s)), s);
    }),
  );
  throws(() => stringCodec.encode("\udc00"), TypeError);
  throws(() => stringCodec.encode(5 as never), TypeError);
  throws(() => stringCodec.decode(Uint8Array.of(0xe2, 0x82)), CodecError);
  throws(() => stringCodec.decode("x" as never), CodecError);
  throws(() => stringCodec.fromJSON(1), CodecError);
});
