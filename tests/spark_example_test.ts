// examples/backfill_from_spark end to end, as a user runs it: its CLI against Spark Connect and DynamoDB Local.

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { service } from "./_stack.ts";
import { sparkService } from "./_spark.ts";

const MAIN = fileURLToPath(
  new URL("../examples/backfill_from_spark/main.ts", import.meta.url),
);

Deno.test({
  name:
    "examples/backfill_from_spark answers batch ⊕ live totals equal to the order history",
  fn: async () => {
    const spark = await sparkService();
    const dynamo = await service("dynamodb");
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        MAIN,
        "--json",
        "--orders",
        "4000",
        "--days",
        "10",
        "--spark",
        spark.url,
        "--dynamodb",
        dynamo.url,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(output.stdout);
    assert.ok(
      output.success,
      `the example failed:\n${stdout}\n${
        new TextDecoder().decode(output.stderr)
      }`,
    );
    const result = JSON.parse(stdout.trim().split("\n").at(-1)!);
    assert.equal(result.ok, true);
    assert.equal(result.rerunApplied, 0);
    assert.equal(result.backfill.applied, result.backfill.rows);
    assert.ok(result.liveOrders > 0);
    for (const shop of result.shops) {
      assert.equal(shop.batch + shop.live, shop.expected, shop.shop);
    }
  },
});
