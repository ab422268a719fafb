import assert from "node:assert/strict";
import fc from "fast-check";
import {
  encodeHeaders,
  type HeaderField,
  HpackDecoder,
  HpackError,
  huffmanDecode,
  huffmanEncode,
} from "./_hpack.ts";

function hex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, "");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) {
    out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  }
  return out;
}

function toHex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Decodes `block` and returns its fields. */
function fields(decoder: HpackDecoder, block: Uint8Array): HeaderField[] {
  return decoder.decode(block).fields;
}

/** The dynamic table as the decoder sees it, newest first (index 62 on). */
function dynamicTable(decoder: HpackDecoder): HeaderField[] {
  const out: HeaderField[] = [];
  for (let index = 62;; index++) {
    try {
      out.push(...fields(decoder, Uint8Array.of(0x80 | index)));
    } catch (error) {
      assert.ok(error instanceof HpackError);
      assert.match(error.message, /past the table/);
      return out;
    }
  }
}

/** Sum of name + value + 32 over the entries (RFC 7541 §4.1). */
function tableSize(table: HeaderField[]): number {
  return table.reduce((sum, [n, v]) => sum + n.length + v.length + 32, 0);
}

function assertHpackError(fn: () => unknown, message?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(
      error instanceof HpackError,
      `expected an HpackError, got ${String(error)}`,
    );
    if (message !== undefined) assert.match(error.message, message);
    return true;
  });
}

// RFC 7541 Appendix C. Each vector was also decoded by an independent HPACK
// implementation (Python's hpack 4.2.0), which gave the same fields and the
// same dynamic table sizes as the RFC lists.

Deno.test("HpackDecoder decodes RFC 7541 C.2 (one representation each)", () => {
  const c21 = new HpackDecoder();
  assert.deepEqual(
    fields(c21, hex("400a637573746f6d2d6b65790d637573746f6d2d686561646572")),
    [["custom-key", "custom-header"]],
  );
  assert.deepEqual(dynamicTable(c21), [["custom-key", "custom-header"]]);
  assert.equal(tableSize(dynamicTable(c21)), 55);

  const c22 = new HpackDecoder();
  assert.deepEqual(fields(c22, hex("040c2f73616d706c652f70617468")), [
    [":path", "/sample/path"],
  ]);
  assert.deepEqual(dynamicTable(c22), []);

  const c23 = new HpackDecoder();
  assert.deepEqual(fields(c23, hex("100870617373776f726406736563726574")), [
    ["password", "secret"],
  ]);
  assert.deepEqual(dynamicTable(c23), []);

  const c24 = new HpackDecoder();
  assert.deepEqual(fields(c24, hex("82")), [[":method", "GET"]]);
  assert.deepEqual(dynamicTable(c24), []);
});

const REQUEST_1: HeaderField[] = [
  [":method", "GET"],
  [":scheme", "http"],
  [":path", "/"],
  [":authority", "www.example.com"],
];
const REQUEST_2: HeaderField[] = [...REQUEST_1, ["cache-control", "no-cache"]];
const REQUEST_3: HeaderField[] = [
  [":method", "GET"],
  [":scheme", "https"],
  [":path", "/index.html"],
  [":authority", "www.example.com"],
  ["custom-key", "custom-value"],
];

function checkRequests(blocks: [string, string, string]): void {
  const decoder = new HpackDecoder();
  const one = decoder.decode(hex(blocks[0]));
  assert.deepEqual(one.fields, REQUEST_1);
  assert.equal(one.size, tableSize(REQUEST_1));
  assert.deepEqual(dynamicTable(decoder), [[":authority", "www.example.com"]]);
  assert.equal(tableSize(dynamicTable(decoder)), 57);

  assert.deepEqual(fields(decoder, hex(blocks[1])), REQUEST_2);
  assert.deepEqual(dynamicTable(decoder), [
    ["cache-control", "no-cache"],
    [":authority", "www.example.com"],
  ]);
  assert.equal(tableSize(dynamicTable(decoder)), 110);

  assert.deepEqual(fields(decoder, hex(blocks[2])), REQUEST_3);
  assert.deepEqual(dynamicTable(decoder), [
    ["custom-key", "custom-value"],
    ["cache-control", "no-cache"],
    [":authority", "www.example.com"],
  ]);
  assert.equal(tableSize(dynamicTable(decoder)), 164);
}

Deno.test("HpackDecoder decodes RFC 7541 C.3 (requests, one decoder)", () => {
  checkRequests([
    "828684410f7777772e6578616d706c652e636f6d",
    "828684be58086e6f2d6361636865",
    "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565",
  ]);
});

Deno.test("HpackDecoder decodes RFC 7541 C.4 (requests with Huffman, one decoder)", () => {
  checkRequests([
    "828684418cf1e3c2e5f23a6ba0ab90f4ff",
    "828684be5886a8eb10649cbf",
    "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf",
  ]);
});

const DATE_1 = "Mon, 21 Oct 2013 20:13:21 GMT";
const DATE_2 = "Mon, 21 Oct 2013 20:13:22 GMT";
const LOCATION = "https://www.example.com";
const COOKIE = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";

function checkResponses(blocks: [string, string, string]): void {
  // The RFC's table is 256 octets here: entries are evicted.
  const decoder = new HpackDecoder(256);
  assert.deepEqual(fields(decoder, hex(blocks[0])), [
    [":status", "302"],
    ["cache-control", "private"],
    ["date", DATE_1],
    ["location", LOCATION],
  ]);
  assert.deepEqual(dynamicTable(decoder), [
    ["location", LOCATION],
    ["date", DATE_1],
    ["cache-control", "private"],
    [":status", "302"],
  ]);
  assert.equal(tableSize(dynamicTable(decoder)), 222);

  assert.deepEqual(fields(decoder, hex(blocks[1])), [
    [":status", "307"],
    ["cache-control", "private"],
    ["date", DATE_1],
    ["location", LOCATION],
  ]);
  assert.deepEqual(dynamicTable(decoder), [
    [":status", "307"],
    ["location", LOCATION],
    ["date", DATE_1],
    ["cache-control", "private"],
  ]);
  assert.equal(tableSize(dynamicTable(decoder)), 222);

  assert.deepEqual(fields(decoder, hex(blocks[2])), [
    [":status", "200"],
    ["cache-control", "private"],
    ["date", DATE_2],
    ["location", LOCATION],
    ["content-encoding", "gzip"],
    ["set-cookie", COOKIE],
  ]);
  assert.deepEqual(dynamicTable(decoder), [
    ["set-cookie", COOKIE],
    ["content-encoding", "gzip"],
    ["date", DATE_2],
  ]);
  assert.equal(tableSize(dynamicTable(decoder)), 215);
}

Deno.test("HpackDecoder decodes RFC 7541 C.5 (responses, eviction at 256 octets)", () => {
  checkResponses([
    "4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d",
    "4803333037c1c0bf",
    "88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738666f6f3d4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d6167653d333630303b2076657273696f6e3d31",
  ]);
});

Deno.test("HpackDecoder decodes RFC 7541 C.6 (responses with Huffman, eviction)", () => {
  checkResponses([
    "488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3",
    "4883640effc1c0bf",
    "88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007",
  ]);
});

Deno.test("huffmanEncode() writes the strings of RFC 7541 C.4 and C.6", () => {
  const cases: [string, string][] = [
    ["www.example.com", "f1e3c2e5f23a6ba0ab90f4ff"],
    ["no-cache", "a8eb10649cbf"],
    ["custom-key", "25a849e95ba97d7f"],
    ["custom-value", "25a849e95bb8e8b4bf"],
    ["302", "6402"],
    ["307", "640eff"],
    ["private", "aec3771a4b"],
    [DATE_1, "d07abe941054d444a8200595040b8166e082a62d1bff"],
    [DATE_2, "d07abe941054d444a8200595040b8166e084a62d1bff"],
    [LOCATION, "9d29ad171863c78f0b97c8e9ae82ae43d3"],
    ["gzip", "9bd9ab"],
    [
      COOKIE,
      "94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007",
    ],
    ["", ""],
  ];
  for (const [text, encoded] of cases) {
    assert.equal(toHex(huffmanEncode(text)), encoded, text);
    const bytes = hex(encoded);
    assert.equal(huffmanDecode(bytes, 0, bytes.length), text);
  }
});

Deno.test("huffmanDecode() reads only [start, end)", () => {
  const inner = huffmanEncode("www.example.com");
  const bytes = new Uint8Array(inner.length + 4).fill(0x00);
  bytes.set(inner, 2);
  assert.equal(huffmanDecode(bytes, 2, 2 + inner.length), "www.example.com");
  assert.equal(huffmanDecode(bytes, 2, 2), "");
});

Deno.test("huffmanDecode(huffmanEncode(s)) === s for every Latin-1 string", () => {
  const latin1 = fc.string({
    unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)),
    maxLength: 300,
  });
  fc.assert(
    fc.property(latin1, (text) => {
      const encoded = huffmanEncode(text);
      assert.equal(huffmanDecode(encoded, 0, encoded.length), text);
    }),
    { numRuns: 2_000 },
  );
});

Deno.test("huffmanDecode() refuses bad padding and EOS", () => {
  // "a" is 00011 (5 bits): 0x1f pads it with three one bits.
  assert.equal(huffmanDecode(Uint8Array.of(0x1f), 0, 1), "a");
  // More than 7 bits of padding: a whole byte of ones after it.
  assertHpackError(
    () => huffmanDecode(Uint8Array.of(0x1f, 0xff), 0, 2),
    /padding/,
  );
  assertHpackError(() => huffmanDecode(Uint8Array.of(0xff), 0, 1), /padding/);
  // Padding with a zero bit in it: 00011 110, and 00011 000.
  assertHpackError(() => huffmanDecode(Uint8Array.of(0x1e), 0, 1), /padding/);
  assertHpackError(() => huffmanDecode(Uint8Array.of(0x18), 0, 1), /padding/);
  // EOS (30 one bits) inside a string, alone or after a symbol.
  assertHpackError(
    () => huffmanDecode(Uint8Array.of(0xff, 0xff, 0xff, 0xff), 0, 4),
    /EOS/,
  );
  assertHpackError(
    () => huffmanDecode(Uint8Array.of(0x1f, 0xff, 0xff, 0xff, 0xf0), 0, 5),
    /EOS/,
  );
  // The same errors through a header block (a Huffman-coded value).
  assertHpackError(
    () => new HpackDecoder().decode(Uint8Array.of(0x04, 0x82, 0x1f, 0xff)),
    /padding/,
  );
  assertHpackError(
    () =>
      new HpackDecoder().decode(
        Uint8Array.of(0x04, 0x84, 0xff, 0xff, 0xff, 0xff),
      ),
    /EOS/,
  );
});

Deno.test("HpackDecoder throws HpackError on malformed blocks", () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ["indexed field 0", Uint8Array.of(0x80), /index 0/],
    ["indexed name 0 is a new name, cut off", Uint8Array.of(0x40), /cut off/],
    ["index past the static table", Uint8Array.of(0xbe), /past the table/],
    ["index past the static table", Uint8Array.of(0xff, 0x00), /past/],
    ["literal name index past the table", Uint8Array.of(0x0f, 0x30), /past/],
    ["integer cut off", Uint8Array.of(0xff), /integer is cut off/],
    ["integer cut off", Uint8Array.of(0xff, 0x80, 0x80), /cut off/],
    [
      "integer over 2^31 - 1",
      Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0x7f),
      /too large/,
    ],
    [
      "integer with too many continuation bytes",
      Uint8Array.of(0xff, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00),
      /too large/,
    ],
    ["string longer than the block", Uint8Array.of(0x40, 0x0a, 0x61), /cut/],
    ["value cut off", Uint8Array.of(0x04), /string is cut off/],
    ["value longer than the block", Uint8Array.of(0x04, 0x05, 0x61), /cut/],
    [
      "string length over 2^31 - 1",
      Uint8Array.of(0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0x7f),
      /too large/,
    ],
    [
      "table size update over the limit (4097 > 4096)",
      Uint8Array.of(0x3f, 0xe2, 0x1f),
      /4097 over 4096/,
    ],
    [
      "table size update after a header field",
      Uint8Array.of(0x82, 0x20),
      /after a header field/,
    ],
  ];
  for (const [what, block, message] of cases) {
    assert.throws(
      () => new HpackDecoder().decode(block),
      (error: unknown) => {
        assert.ok(error instanceof HpackError, `${what}: ${String(error)}`);
        assert.match(error.message, message, what);
        return true;
      },
      what,
    );
  }
  // Exactly the limit is allowed, and two updates in a row at the start.
  assert.deepEqual(
    fields(new HpackDecoder(), Uint8Array.of(0x3f, 0xe1, 0x1f, 0x20, 0x82)),
    [[":method", "GET"]],
  );
  // A block of size updates only decodes to no fields.
  assert.deepEqual(new HpackDecoder().decode(Uint8Array.of(0x20)), {
    fields: [],
    size: 0,
  });
  assert.deepEqual(new HpackDecoder().decode(new Uint8Array()), {
    fields: [],
    size: 0,
  });
});

/** A literal with incremental indexing and a new name (no Huffman). */
function indexed(name: string, value: string): number[] {
  const out = [0x40, name.length];
  for (const c of name) out.push(c.charCodeAt(0));
  out.push(value.length);
  for (const c of value) out.push(c.charCodeAt(0));
  return out;
}

Deno.test("HpackDecoder evicts the oldest entries when the table is full", () => {
  // Each entry "k?" / "v?" is 2 + 2 + 32 = 36 octets; 100 holds two.
  const decoder = new HpackDecoder(100);
  fields(decoder, Uint8Array.from(indexed("k1", "v1")));
  fields(decoder, Uint8Array.from(indexed("k2", "v2")));
  assert.deepEqual(dynamicTable(decoder), [["k2", "v2"], ["k1", "v1"]]);
  assert.deepEqual(fields(decoder, Uint8Array.from(indexed("k3", "v3"))), [[
    "k3",
    "v3",
  ]]);
  assert.deepEqual(dynamicTable(decoder), [["k3", "v3"], ["k2", "v2"]]);
  // Index 62 is the newest, 63 the one before; 64 was evicted.
  assert.deepEqual(fields(decoder, Uint8Array.of(0xbe, 0xbf)), [
    ["k3", "v3"],
    ["k2", "v2"],
  ]);
  assertHpackError(() => decoder.decode(Uint8Array.of(0xc0)), /past/);

  // A size update down to 64 keeps only the newest entry (36 <= 64).
  decoder.decode(Uint8Array.of(0x3f, 0x21)); // 31 + 33 = 64
  assert.deepEqual(dynamicTable(decoder), [["k3", "v3"]]);
  // A new entry evicts it.
  fields(decoder, Uint8Array.from(indexed("k4", "v4")));
  assert.deepEqual(dynamicTable(decoder), [["k4", "v4"]]);
  // An indexed name (62 = k4) with a new value is added too.
  assert.deepEqual(
    fields(decoder, Uint8Array.of(0x7e, 0x02, 0x78, 0x79)),
    [["k4", "xy"]],
  );
  assert.deepEqual(dynamicTable(decoder), [["k4", "xy"]]);
  // An entry larger than the table empties it.
  fields(decoder, Uint8Array.from(indexed("k5", "v".repeat(40))));
  assert.deepEqual(dynamicTable(decoder), []);
  // Size 0 empties the table; a later update may raise it to the limit again.
  fields(decoder, Uint8Array.from(indexed("k6", "v6")));
  assert.deepEqual(dynamicTable(decoder), [["k6", "v6"]]);
  decoder.decode(Uint8Array.of(0x20));
  assert.deepEqual(dynamicTable(decoder), []);
  fields(decoder, Uint8Array.from(indexed("k7", "v7")));
  assert.deepEqual(dynamicTable(decoder), []);
  decoder.decode(Uint8Array.of(0x3f, 0x45)); // 31 + 69 = 100
  fields(decoder, Uint8Array.from(indexed("k8", "v8")));
  fields(decoder, Uint8Array.from(indexed("k9", "v9")));
  assert.deepEqual(dynamicTable(decoder), [["k9", "v9"], ["k8", "v8"]]);
  assertHpackError(() => decoder.decode(Uint8Array.of(0x3f, 0x46)), /over/);
});

Deno.test("HpackDecoder constructed with 64 evicts by index after a size update", () => {
  const decoder = new HpackDecoder(64);
  // "a" / "1" is 34 octets: one fits in 64, two do not.
  fields(decoder, Uint8Array.from(indexed("a", "1")));
  assert.deepEqual(fields(decoder, Uint8Array.of(0xbe)), [["a", "1"]]);
  fields(decoder, Uint8Array.from(indexed("b", "2")));
  assert.deepEqual(fields(decoder, Uint8Array.of(0xbe)), [["b", "2"]]);
  assertHpackError(() => decoder.decode(Uint8Array.of(0xbf)), /index 63/);
  // Down to 40 in the same block as a new entry: still one entry.
  assert.deepEqual(
    fields(decoder, Uint8Array.of(0x3f, 0x09, ...indexed("c", "3"))),
    [["c", "3"]],
  );
  assert.deepEqual(dynamicTable(decoder), [["c", "3"]]);
  // 65 is over the limit this decoder was built with.
  assertHpackError(() => decoder.decode(Uint8Array.of(0x3f, 0x22)), /65/);
});

function roundTrip(input: HeaderField[]): void {
  const decoder = new HpackDecoder();
  const decoded = decoder.decode(encodeHeaders(input));
  assert.deepEqual(decoded.fields, input);
  assert.equal(decoded.size, tableSize(input));
  // The encoder never indexes: the peer's table stays empty.
  assert.deepEqual(dynamicTable(decoder), []);
}

Deno.test("encodeHeaders() round-trips through HpackDecoder", () => {
  assert.deepEqual(encodeHeaders([[":status", "200"]]), Uint8Array.of(0x88));
  // ":status" 404: a literal without indexing, name by static index 8.
  assert.deepEqual(
    encodeHeaders([[":status", "404"]]),
    Uint8Array.of(0x08, 0x03, 0x34, 0x30, 0x34),
  );
  assert.deepEqual(encodeHeaders([]), new Uint8Array());
  roundTrip([[":status", "200"]]);
  for (const status of ["204", "304", "400", "404", "413", "500", "503"]) {
    roundTrip([[":status", status], ["content-type", "application/grpc"]]);
  }
  roundTrip([
    [":method", "POST"],
    [":scheme", "http"],
    [":path", "/murmur.v1.QueryService/Get"],
    [":authority", "127.0.0.1:1234"],
    ["content-type", "application/grpc+proto"],
    ["te", "trailers"],
    ["grpc-timeout", "10S"],
    ["x-custom", ""],
    ["", "empty name"],
    ["www-authenticate", "Basic"], // the last static entry, index 61
    ["latin-1", "caf\u00e9 \u00ff\u0080"],
  ]);
  roundTrip([["grpc-status", "0"], ["grpc-message", "a%20b"]]);
  // Length prefixes of one, two and three continuation bytes.
  for (const length of [126, 127, 128, 200, 16_383, 16_384, 16_511, 70_000]) {
    roundTrip([["x-long", "v".repeat(length)]]);
    roundTrip([["n".repeat(length), "short"]]);
    roundTrip([["user-agent", "u".repeat(length)], [":status", "200"]]);
  }
});

Deno.test("encodeHeaders() round-trips arbitrary fields", () => {
  const name = fc.oneof(
    fc.constantFrom(":status", ":path", "content-type", "te", "grpc-status"),
    fc.string({
      unit: fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789-_."),
      maxLength: 40,
    }),
  );
  const value = fc.oneof(
    fc.constantFrom("200", "404", ""),
    fc.string({
      unit: fc.integer({ min: 0x20, max: 0xff }).map((c) =>
        String.fromCharCode(c)
      ),
      maxLength: 400,
    }),
  );
  fc.assert(
    fc.property(
      fc.array(fc.tuple(name, value), { maxLength: 12 }),
      (input) => roundTrip(input as HeaderField[]),
    ),
    { numRuns: 500 },
  );
});

Deno.test("HpackDecoder throws only HpackError on arbitrary bytes", () => {
  const vectors = [
    "828684418cf1e3c2e5f23a6ba0ab90f4ff",
    "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf",
    "4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d",
    "3fe11f400a637573746f6d2d6b65790d637573746f6d2d686561646572",
  ].map(hex);
  // Raw bytes, and valid blocks with bytes changed, cut or glued together.
  const mutated = fc.tuple(
    fc.constantFrom(...vectors),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
      maxLength: 4,
    }),
    fc.nat(),
    fc.uint8Array({ maxLength: 8 }),
  ).map(([vector, changes, cut, tail]) => {
    const bytes = vector.slice(0, cut % (vector.length + 1));
    for (const [at, byte] of changes) {
      if (bytes.length > 0) bytes[at % bytes.length] = byte;
    }
    const out = new Uint8Array(bytes.length + tail.length);
    out.set(bytes);
    out.set(tail, bytes.length);
    return out;
  });
  const blocks = fc.oneof(fc.uint8Array({ maxLength: 200 }), mutated);
  fc.assert(
    fc.property(blocks, (block) => {
      try {
        const { fields, size } = new HpackDecoder().decode(block);
        assert.equal(size, tableSize(fields));
      } catch (error) {
        if (!(error instanceof HpackError)) throw error;
      }
    }),
    { numRuns: 5_000 },
  );
  // The same with one decoder for many blocks (a table that carries over).
  const shared = new HpackDecoder(256);
  fc.assert(
    fc.property(blocks, (block) => {
      try {
        shared.decode(block);
      } catch (error) {
        if (!(error instanceof HpackError)) throw error;
      }
      assert.ok(tableSize(dynamicTable(shared)) <= 256);
    }),
    { numRuns: 2_000 },
  );
});
