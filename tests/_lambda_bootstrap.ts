// The bootstrap the Lambda emulator runs in tests: a Kinesis, DynamoDB Streams or SQS handler over DynamoDB Local.
//
// Environment: MURMUR_LAMBDA_KIND (kinesis | dynamodb | sqs | throws | broken-init), MURMUR_LAMBDA_TABLE,
// MURMUR_LAMBDA_PIPELINE, MURMUR_LAMBDA_FAULTS (a JSON file read at each
// invocation: { "failFrom": n } fails the n-th and later state merges of it).

import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { count } from "../monoid/mod.ts";
import { pipeline } from "../pipeline/mod.ts";
import { DynamoDBStore } from "../state/dynamodb.ts";
import type {
  Delta,
  MergeOptions,
  MergeResult,
  Scope,
  Store,
} from "../state/mod.ts";
import { ForwardingStore } from "../testing/_forwarding_store.ts";
import {
  type DynamoDBChange,
  dynamoDBStreamsHandler,
  kinesisHandler,
  type LambdaFunction,
  serveLambda,
  sqsHandler,
} from "../lambda/mod.ts";
import { awsConfig, service } from "./_stack.ts";

/** Fails merges of the pipeline's scope from the n-th one of an invocation on. */
class FaultAtMerge extends ForwardingStore {
  failFrom = Infinity;
  merges = 0;
  constructor(inner: Store, readonly namespace: string) {
    super(inner);
  }
  override merge<V>(
    scope: Scope<V>,
    deltas: readonly Delta<V>[],
    options?: MergeOptions,
  ): Promise<MergeResult> {
    if (scope.namespace === this.namespace && ++this.merges >= this.failFrom) {
      return Promise.reject(
        new Error(`injected failure at merge ${this.merges}`),
      );
    }
    return this.inner.merge(scope, deltas, options);
  }
}

const kind = Deno.env.get("MURMUR_LAMBDA_KIND") ?? "kinesis";
const table = Deno.env.get("MURMUR_LAMBDA_TABLE")!;
const name = Deno.env.get("MURMUR_LAMBDA_PIPELINE")!;
const faults = Deno.env.get("MURMUR_LAMBDA_FAULTS");

await serveLambda(async (): Promise<LambdaFunction> => {
  if (kind === "broken-init") throw new TypeError("no table configured");
  if (kind === "throws") {
    return () => {
      throw new RangeError("the handler refused the event");
    };
  }
  const client = new DynamoDBClient(awsConfig(await service("dynamodb")));
  const store = new FaultAtMerge(new DynamoDBStore(client, table), name);
  const options = { flushEvery: 4, maxAttempts: 1 };
  let handle: (event: never) => Promise<unknown>;
  if (kind === "dynamodb") {
    const changes = pipeline<DynamoDBChange>(name)
      .key((c) => String(c.newImage?.page))
      .value(() => 1)
      .aggregate(count())
      .storeIn(store)
      .build();
    handle = dynamoDBStreamsHandler(changes, options);
  } else {
    const views = pipeline<{ page: string }>(name)
      .key((e) => e.page)
      .value(() => 1)
      .aggregate(count())
      .storeIn(store)
      .build();
    handle = kind === "sqs"
      ? sqsHandler(views, options)
      : kinesisHandler(views, options);
  }
  return async (event) => {
    store.merges = 0;
    store.failFrom = Infinity;
    if (faults !== undefined) {
      try {
        store.failFrom = JSON.parse(await Deno.readTextFile(faults)).failFrom ??
          Infinity;
      } catch {
        // no fault file: no faults
      }
    }
    return handle(event as never);
  };
});
