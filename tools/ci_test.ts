import assert from "node:assert/strict";
import { parseTestSummary } from "./ci.ts";
import { exportEntries } from "./doc_lint.ts";
import { parseServices } from "./stack.ts";

Deno.test("parseTestSummary() reads passed and failed counts", () => {
  assert.deepEqual(
    parseTestSummary("foo\nok | 120 passed | 0 failed (5s)\n"),
    { passed: 120, failed: 0, ignored: 0 },
  );
  assert.deepEqual(
    parseTestSummary(
      "\x1b[0m\x1b[31mFAILED\x1b[0m | 3 passed (2 steps) | 1 failed | 2 ignored \x1b[0m(1s)",
    ),
    { passed: 3, failed: 1, ignored: 2 },
  );
});

Deno.test("parseTestSummary() returns undefined without a summary", () => {
  assert.equal(parseTestSummary("error: Type checking failed."), undefined);
});

Deno.test("exportEntries() lists each entry file once", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = `${dir}/deno.json`;
    await Deno.writeTextFile(
      config,
      JSON.stringify({
        exports: { ".": "./mod.ts", "./a": "./a.ts", "./b": "./a.ts" },
      }),
    );
    assert.deepEqual(await exportEntries(config), ["./mod.ts", "./a.ts"]);
    await Deno.writeTextFile(config, JSON.stringify({ name: "x" }));
    await assert.rejects(exportEntries(config), TypeError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseServices() maps aliases and keeps table order", () => {
  assert.deepEqual(parseServices([]), [
    "kafka",
    "dynamodb",
    "valkey",
    "mongo",
    "moto",
  ]);
  assert.deepEqual(parseServices(["s3", "redis", "kinesis", "kafka"]), [
    "kafka",
    "valkey",
    "moto",
  ]);
  assert.throws(() => parseServices(["postgres"]), TypeError);
});
