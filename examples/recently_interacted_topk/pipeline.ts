// The one pipeline both entry points share: the items users interacted with most, per day, kept 30 days.

import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { daily, days } from "../../monoid/mod.ts";
import { type Pipeline, topN } from "../../pipeline/mod.ts";
import { DynamoDBStore, ensureTable } from "../../state/dynamodb.ts";
import type { TopK } from "../../sketch/mod.ts";

/** One interaction: a user touched an item (viewed, liked, bought). */
export interface Interaction {
  readonly user: string;
  readonly item: string;
}

/** Where the shared state lives and what to call the pipeline; every field has an environment override. */
export interface Settings {
  /** `MURMUR_PIPELINE`, default `recently_interacted`. */
  readonly pipeline: string;
  /** `DDB_TABLE`, default `recently_interacted`. */
  readonly table: string;
  /** `DDB_ENDPOINT`, default DynamoDB Local on `http://127.0.0.1:8000`; empty for AWS. */
  readonly endpoint: string;
  /** `TOPK_N`: how many items the ranking reports, default 10. */
  readonly n: number;
}

/** Reads the settings from the environment. */
export function settings(): Settings {
  const env = (name: string, fallback: string) =>
    Deno.env.get(name) ?? fallback;
  return {
    pipeline: env("MURMUR_PIPELINE", "recently_interacted"),
    table: env("DDB_TABLE", "recently_interacted"),
    endpoint: env("DDB_ENDPOINT", "http://127.0.0.1:8000"),
    n: Number(env("TOPK_N", "10")),
  };
}

/** A DynamoDB client for the settings (DynamoDB Local when an endpoint is set). */
export function dynamoClient(s: Settings): DynamoDBClient {
  return s.endpoint === "" ? new DynamoDBClient({}) : new DynamoDBClient({
    endpoint: s.endpoint,
    region: Deno.env.get("AWS_REGION") ?? "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
}

/** Builds the pipeline over the shared DynamoDB table (created when missing, for development). */
export async function recentlyInteracted(
  s: Settings,
  client: DynamoDBClient,
): Promise<Pipeline<Interaction, TopK>> {
  if (s.endpoint !== "") await ensureTable(client, s.table);
  return topN<Interaction>(s.pipeline, { n: s.n, item: (e) => e.item })
    .key(() => "global")
    .window(daily({ retention: days(30) }))
    .storeIn(new DynamoDBStore(client, s.table))
    .build();
}
