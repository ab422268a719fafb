/**
 * AWS Lambda handlers on the same runtime as `run()`: a Kinesis, DynamoDB
 * Streams or SQS event batch is run through the pipeline as a finite source
 * (same extract, fold, store, dedup and dead letters), and the answer's
 * `batchItemFailures` names exactly the records whose effect is not durable.
 * {@linkcode serveLambda} is a Deno custom runtime (the Runtime API loop), so
 * a function deploys as a `deno compile`d `bootstrap` or with a Deno layer.
 *
 * @example Handle a Kinesis batch
 * ```ts
 * import { kinesisHandler } from "@murmur/core/lambda";
 * import { pipeline } from "@murmur/core/pipeline";
 * import { count } from "@murmur/core/monoid";
 * import { MemoryStore } from "@murmur/core/state";
 * import assert from "node:assert/strict";
 *
 * const store = new MemoryStore();
 * const views = pipeline<{ page: string }>("views")
 *   .key((e) => e.page).value(() => 1).aggregate(count()).storeIn(store).build();
 * const handler = kinesisHandler(views);
 * const response = await handler({
 *   Records: [{
 *     eventID: "shardId-000000000000:1",
 *     eventSourceARN: "arn:aws:kinesis:us-east-1:123456789012:stream/views",
 *     kinesis: { partitionKey: "a", sequenceNumber: "1", data: btoa('{"page":"home"}'), approximateArrivalTimestamp: 1700000000 },
 *   }],
 * });
 * assert.deepEqual(response, { batchItemFailures: [] });
 * ```
 *
 * @module
 */

export {
  type BatchHandler,
  type BatchReport,
  dynamoDBStreamsHandler,
  type DynamoDBStreamsHandlerOptions,
  type InvocationDeadline,
  kinesisHandler,
  type KinesisHandlerOptions,
  type LambdaHandlerOptions,
  sqsHandler,
  type SQSHandlerOptions,
} from "./handlers.ts";
export {
  type AttributeValueJson,
  type BatchResponse,
  type DynamoDBChange,
  type DynamoDBStreamEvent,
  type DynamoDBStreamEventRecord,
  fromAttributeValue,
  type KinesisEventRecord,
  type KinesisStreamEvent,
  type SQSEvent,
  type SQSEventRecord,
} from "./events.ts";
export {
  type LambdaContext,
  type LambdaFunction,
  RuntimeApiMissingError,
  serveLambda,
  type ServeLambdaOptions,
} from "./runtime.ts";
