// deploy/terraform: the HCL parses, and the state table matches what DynamoDBStore reads and writes.

import { deepEqual, equal, ok } from "node:assert/strict";
import { parse } from "@cdktf/hcl2json";
import { fileURLToPath } from "node:url";
import { PK, SK, TTL } from "../state/_dynamodb_layout.ts";
import { awsConfig, service, uniqueName } from "./_stack.ts";

const MODULE = fileURLToPath(new URL("../deploy/terraform/", import.meta.url));

// deno-lint-ignore no-explicit-any
type Hcl = Record<string, any>;

async function loadModule(): Promise<Hcl> {
  const merged: Hcl = {};
  for await (const entry of Deno.readDir(MODULE)) {
    if (!entry.isFile || !entry.name.endsWith(".tf")) continue;
    const text = await Deno.readTextFile(MODULE + entry.name);
    const parsed = await parse(entry.name, text) as Hcl;
    for (const [block, body] of Object.entries(parsed)) {
      merged[block] ??= {};
      for (const [type, named] of Object.entries(body as Hcl)) {
        // Blocks with one label (variable, output) hold the list directly.
        merged[block][type] = Array.isArray(named)
          ? named
          : { ...merged[block][type], ...named };
      }
    }
  }
  return merged;
}

const module = await loadModule();
const one = (list: Hcl[] | undefined): Hcl => {
  equal(list?.length, 1);
  return list![0]!;
};

Deno.test("terraform state table has the key schema DynamoDBStore writes", () => {
  const table = one(module.resource.aws_dynamodb_table.state);
  equal(table.hash_key, PK);
  equal(table.range_key, SK);
  deepEqual(
    table.attribute.map((a: Hcl) => [a.name, a.type]).sort(),
    [[PK, "S"], [SK, "S"]],
  );
  equal(table.billing_mode, "PAY_PER_REQUEST");
});

Deno.test("terraform state table expires rows on the TTL attribute DynamoDBStore sets", () => {
  const table = one(module.resource.aws_dynamodb_table.state);
  const ttl = one(table.ttl);
  equal(ttl.attribute_name, TTL);
  equal(ttl.enabled, true);
});

Deno.test("terraform state table streams new images for projectors", () => {
  const table = one(module.resource.aws_dynamodb_table.state);
  equal(table.stream_enabled, true);
  equal(table.stream_view_type, "${var.stream_view_type}");
  const variable = one(module.variable.stream_view_type);
  // The stream consumers (lambda/ DynamoDB Streams handler, search projector)
  // decode the row's new value, so the view must carry the new image.
  equal(variable.default, "NEW_AND_OLD_IMAGES");
});

Deno.test("terraform IAM: the worker writes the state table, the query service only reads it", () => {
  const statements = (doc: string) =>
    one(module.data.aws_iam_policy_document[doc]).statement as Hcl[];
  const worker = statements("worker");
  const state = worker.find((s) => s.sid === "StateReadWrite")!;
  deepEqual(state.resources, ["${aws_dynamodb_table.state.arn}"]);
  deepEqual([...state.actions].sort(), [
    "dynamodb:BatchGetItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
  ]);
  const metrics = worker.find((s) => s.sid === "AutoscaleMetrics")!;
  deepEqual(metrics.actions, ["cloudwatch:PutMetricData"]);
  equal(one(metrics.condition).variable, "cloudwatch:namespace");
  const query = statements("query");
  const read = query.find((s) => s.sid === "StateRead")!;
  deepEqual([...read.actions].sort(), [
    "dynamodb:BatchGetItem",
    "dynamodb:GetItem",
  ]);
  for (const s of [...worker, ...query]) {
    for (const action of s.actions ?? []) {
      ok(!action.includes("*"), `wildcard action ${action}`);
    }
  }
});

Deno.test("terraform scaling policy tracks the metric the CloudWatchEmitter publishes", async () => {
  const { CLOUDWATCH_METRICS } = await import("../autoscale/mod.ts");
  const policy = one(module.resource.aws_appautoscaling_policy.worker_backlog);
  const config = one(policy.target_tracking_scaling_policy_configuration);
  const spec = one(config.customized_metric_specification);
  const lag = (spec.metrics as Hcl[]).find((m) => m.id === "lag")!;
  const metric = one(one(lag.metric_stat).metric);
  equal(metric.metric_name, CLOUDWATCH_METRICS.consumerLag);
  equal(one(metric.dimensions).name, "Pipeline");
  const health = one(
    one(module.resource.aws_lb_target_group.query).health_check,
  );
  equal(health.path, "/healthz");
});

Deno.test("terraform tables match the tables ensureTable and ensureAliasTable create on DynamoDB Local", async () => {
  const { DynamoDBClient, DescribeTableCommand, DescribeTimeToLiveCommand } =
    await import("@aws-sdk/client-dynamodb");
  const { ensureTable } = await import("../state/dynamodb.ts");
  const { ensureAliasTable } = await import("../state/swap.ts");
  const client = new DynamoDBClient(awsConfig(await service("dynamodb")));
  try {
    // The live table's keys and attributes equal the HCL resource's.
    const assertMatches = async (name: string, hcl: Hcl) => {
      const { Table } = await client.send(
        new DescribeTableCommand({ TableName: name }),
      );
      deepEqual({
        keys: Table!.KeySchema!.map((k) => [k.AttributeName, k.KeyType])
          .sort(),
        attributes: Table!.AttributeDefinitions!.map((
          a,
        ) => [a.AttributeName, a.AttributeType]).sort(),
      }, {
        keys: [
          [hcl.hash_key, "HASH"],
          ...(hcl.range_key === undefined ? [] : [[hcl.range_key, "RANGE"]]),
        ].sort(),
        attributes: hcl.attribute.map((a: Hcl) => [a.name, a.type]).sort(),
      });
    };
    const state = uniqueName("tf-state");
    await ensureTable(client, state);
    const stateHcl = one(module.resource.aws_dynamodb_table.state);
    await assertMatches(state, stateHcl);
    const ttl = await client.send(
      new DescribeTimeToLiveCommand({ TableName: state }),
    );
    equal(
      ttl.TimeToLiveDescription?.AttributeName,
      one(stateHcl.ttl).attribute_name,
    );
    const swap = uniqueName("tf-swap");
    await ensureAliasTable(client, swap);
    await assertMatches(swap, one(module.resource.aws_dynamodb_table.swap));
  } finally {
    client.destroy();
  }
});
