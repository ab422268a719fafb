// The Kinesis side: a Lambda function (Deno custom runtime) folding interactions into the same Top-K.
//
//   deno compile -A --output bootstrap examples/recently_interacted_topk/lambda.ts
//
// Deploy `bootstrap` with the `provided.al2023` runtime and a Kinesis event
// source mapping with ReportBatchItemFailures on. Locally it runs under the
// Lambda Runtime Interface Emulator (see README.md).

import { kinesisHandler, serveLambda } from "../../lambda/mod.ts";
import { dynamoClient, recentlyInteracted, settings } from "./pipeline.ts";

await serveLambda(async () => {
  const s = settings();
  return kinesisHandler(await recentlyInteracted(s, dynamoClient(s)));
});
