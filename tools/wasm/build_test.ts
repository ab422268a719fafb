import assert from "node:assert/strict";
import { render, TARGETS } from "./build.ts";

Deno.test("tools/wasm: every embedded module matches its .wat source", async () => {
  for (const target of TARGETS) {
    assert.equal(
      await Deno.readTextFile(target.out),
      await render(target),
      `${target.out.pathname} is stale: run deno run -A tools/wasm/build.ts`,
    );
  }
});
