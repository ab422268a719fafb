import assert from "node:assert/strict";
import { JsonLinesSource, LineTooLongError } from "./jsonl.ts";
import type { SourceRecord } from "./source.ts";

const enc = new TextEncoder();

function chunks(...parts: (string | Uint8Array)[]): ReadableStream<Uint8Array> {
  return ReadableStream.from(
    parts.map((p) => typeof p === "string" ? enc.encode(p) : p),
  );
}

async function collect<T>(
  source: JsonLinesSource<T>,
  ack = true,
): Promise<SourceRecord<T>[]> {
  const out: SourceRecord<T>[] = [];
  for await (const batch of source) {
    for (const r of batch) {
      out.push(r);
      if (ack) r.ack();
    }
  }
  return out;
}

Deno.test("JsonLinesSource yields one record per line with line-number ids and positions", async () => {
  const source = new JsonLinesSource<{ n: number }>(
    chunks('{"n":1}\n{"n"', ':2}\r\n\n  \n{"n":3}'),
    { name: "f" },
  );
  const records = await collect(source);
  assert.deepEqual(
    records.map((r) => [r.id, r.value?.n, r.stream, r.position]),
    [
      ["f:1", 1, "jsonl:f", 1n],
      ["f:2", 2, "jsonl:f", 2n],
      ["f:5", 3, "jsonl:f", 5n],
    ],
  );
  assert.equal(source.committable(), 5n);
  assert.equal(source.lines, 5);
});

Deno.test("JsonLinesSource turns bad lines into error records and keeps scanning", async () => {
  const long = `{"x":"${"y".repeat(200)}"}`;
  const source = new JsonLinesSource<unknown>(
    chunks(
      '{"ok":1}\n',
      "{bad json\n",
      new Uint8Array([0xff, 0xfe, 0x0a]),
      `${long}\n`,
      '{"ok":2}\n',
    ),
    { name: "f", maxLineBytes: 100 },
  );
  const records = await collect(source);
  assert.equal(records.length, 5);
  assert.equal(records[0]!.error, undefined);
  assert.ok(records[1]!.error instanceof SyntaxError);
  assert.match(records[1]!.error!.message, /^line 2:/);
  assert.ok(records[2]!.error instanceof TypeError);
  assert.ok(records[3]!.error instanceof LineTooLongError);
  assert.equal(
    records[3]!.raw!.length,
    long.length,
    "keeps the start of the long line for the dead letter",
  );
  assert.deepEqual(records[4]!.value, { ok: 2 });
});

Deno.test("JsonLinesSource survives an over-long line split across many chunks", async () => {
  const parts = [
    '{"a":1}\n',
    ...Array.from({ length: 50 }, () => "z".repeat(100)),
    '\n{"a":2}\n',
  ];
  const records = await collect(
    new JsonLinesSource<{ a: number }>(chunks(...parts), {
      maxLineBytes: 1000,
    }),
  );
  assert.deepEqual(records.map((r) => r.error?.name ?? r.value!.a), [
    1,
    "LineTooLongError",
    2,
  ]);
  assert.equal(records[1]!.raw!.length, 1024, "keeps at most 1 KiB of it");
});

Deno.test("JsonLinesSource applies decode and time, refusing what decode throws on", async () => {
  const source = new JsonLinesSource(chunks('{"t":5,"k":"a"}\n{"k":"b"}\n'), {
    decode: (json, line) => {
      const o = json as { t?: number; k: string };
      if (o.t === undefined) throw new TypeError(`missing t on line ${line}`);
      return { k: o.k, t: o.t };
    },
    time: (e) => e.t,
  });
  const records = await collect(source);
  assert.equal(records[0]!.time, 5);
  assert.match(records[1]!.error!.message, /missing t on line 2/);
});

Deno.test("JsonLinesSource resumes after fromLine and reads files", async () => {
  const path = await Deno.makeTempFile({ suffix: ".jsonl" });
  try {
    await Deno.writeTextFile(
      path,
      Array.from({ length: 10 }, (_, i) => JSON.stringify({ i })).join("\n") +
        "\n",
    );
    const records = await collect(
      new JsonLinesSource<{ i: number }>(path, { fromLine: 7, batchSize: 2 }),
    );
    assert.deepEqual(records.map((r) => r.value!.i), [7, 8, 9]);
    assert.equal(records[0]!.id.endsWith(":8"), true);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("JsonLinesSource commits only contiguous acks", async () => {
  const source = new JsonLinesSource<number>(chunks("1\n2\n3\n"));
  const records = await collect(source, false);
  records[2]!.ack();
  records[0]!.ack();
  assert.equal(source.committable(), 1n);
  records[1]!.ack();
  assert.equal(source.committable(), 3n);
  assert.equal(source.acked, 3);
});

Deno.test("JsonLinesSource.close() stops a live input", async () => {
  let pull: ReadableStreamDefaultController<Uint8Array> | undefined;
  const live = new ReadableStream<Uint8Array>({
    start: (c) => void (pull = c),
  });
  const source = new JsonLinesSource<number>(live);
  const it = source[Symbol.asyncIterator]();
  pull!.enqueue(enc.encode("1\n"));
  const first = await it.next();
  assert.equal((first.value as SourceRecord<number>[])[0]!.value, 1);
  const pending = it.next();
  await source.close();
  assert.equal((await pending).done, true);
});

Deno.test("JsonLinesSource validates its options", () => {
  assert.throws(() => new JsonLinesSource("-", { batchSize: 0 }), RangeError);
  assert.throws(() => new JsonLinesSource("-", { fromLine: -1 }), RangeError);
  assert.equal(new JsonLinesSource("-").name, "stdin");
  assert.equal(new JsonLinesSource("/tmp/x/views.jsonl").name, "views.jsonl");
});

Deno.test("JsonLinesSource reads event time from timeField (epoch ms or date string)", async () => {
  const source = new JsonLinesSource(
    chunks(
      '{"m":{"t":5}}\n{"m":{"t":"2024-01-01T00:00:00Z"}}\n{"m":{}}\n{"m":{"t":"soon"}}\n',
    ),
    { timeField: "m.t" },
  );
  const records = await collect(source);
  assert.equal(records[0]!.time, 5);
  assert.equal(records[1]!.time, Date.UTC(2024, 0, 1));
  assert.match(records[2]!.error!.message, /line 3: .*"m\.t" holds nothing/);
  assert.match(records[3]!.error!.message, /line 4: .*"soon"/);
  assert.throws(
    () => new JsonLinesSource("-", { timeField: "a..b" }),
    RangeError,
  );
});

Deno.test("JsonLinesSource warns once when it falls back to read time, never when the choice is explicit", async () => {
  const warnings: string[] = [];
  const original = console.warn;
  console.warn = (message: string) => warnings.push(message);
  try {
    await collect(
      new JsonLinesSource(chunks('{"a":1}\n{"a":2}\n'), { now: () => 7 }),
    );
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /timeField/);
    await collect(
      new JsonLinesSource(chunks('{"a":1}\n'), { time: "read", now: () => 7 }),
    );
    await collect(new JsonLinesSource(chunks('{"a":1}\n'), { time: () => 1 }));
    await collect(new JsonLinesSource(chunks('{"a":1}\n'), { timeField: "a" }));
    assert.equal(warnings.length, 1);
  } finally {
    console.warn = original;
  }
});
