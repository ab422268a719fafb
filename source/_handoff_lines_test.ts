import assert from "node:assert/strict";
import { splitLines } from "./_handoff.ts";

async function lines(
  parts: string[],
  max = 10,
): Promise<[number, string, boolean][]> {
  const enc = new TextEncoder();
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      for (const p of parts) c.enqueue(enc.encode(p));
      c.close();
    },
  });
  const out: [number, string, boolean][] = [];
  for await (const { first, texts, tooLong } of splitLines(stream, max)) {
    texts.forEach((t, i) => out.push([first + i, t, tooLong?.has(i) ?? false]));
  }
  return out;
}

Deno.test("splitLines() numbers lines across chunks, drops \\r of \\r\\n and keeps a last line without \\n", async () => {
  assert.deepEqual(await lines(["a\r\nb", "c\n\nd"]), [
    [1, "a", false],
    [2, "bc", false],
    [3, "", false],
    [4, "d", false],
  ]);
});

Deno.test("splitLines() flags a too-long line, even one spanning chunks, and goes on after it", async () => {
  assert.deepEqual(
    await lines(["ok\n0123456", "78901234", "5\nx\n0123456789012\n"]),
    [
      [1, "ok", false],
      // A too-long line keeps what was buffered when it overflowed (at most 1 KiB).
      [2, "012345678901234", true],
      [3, "x", false],
      [4, "0123456789012", true],
    ],
  );
  assert.deepEqual(await lines(["01234567890123"]), [[
    1,
    "01234567890123",
    true,
  ]]);
});
