// The page-view worker: Kafka → the pipelines of config.yaml → DynamoDB (through Valkey).
//
//   deno run -A examples/page_view_counters/worker.ts [--config file] [worker flags]
//
// It is examples/worker.ts pointed at this example's config; every flag of
// that worker (--brokers, --topic, --table, --port, …) works here too. Beside
// it runs the autoscaling signal: the consumer group's lag every
// AUTOSCALE_INTERVAL_MS (10 s), logged, and published to CloudWatch when
// MURMUR_METRICS_NAMESPACE is set (deploy/terraform sets it and scales on it).

import { fileURLToPath } from "node:url";
import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import {
  type AutoscaleSample,
  AutoscaleSignal,
  CloudWatchEmitter,
  type Emitter,
  kafkaLag,
} from "../../autoscale/mod.ts";
import type { MurmurConfig } from "../../config/mod.ts";
import { runWorker, workerConfig } from "../worker.ts";

/** Logs each sample as a JSON line. */
const logEmitter: Emitter = {
  emit(samples: readonly AutoscaleSample[]) {
    for (const s of samples) {
      console.log(JSON.stringify({
        msg: "autoscale",
        pipeline: s.pipeline,
        lagRecords: s.lagRecords,
        maxPartitionLagRecords: s.maxPartitionLagRecords,
      }));
    }
    return Promise.resolve();
  },
};

/** The autoscaling signal of the config's Kafka consumer group, or `null` without a Kafka source. */
export function autoscaleSignal(config: MurmurConfig): AutoscaleSignal | null {
  const source = config.source;
  if (source === null || source.kind !== "kafka") return null;
  const namespace = Deno.env.get("MURMUR_METRICS_NAMESPACE");
  const emitters: Emitter[] = [logEmitter];
  if (namespace !== undefined && namespace !== "") {
    emitters.push(
      new CloudWatchEmitter(new CloudWatchClient({}), { namespace }),
    );
  }
  return new AutoscaleSignal({
    // The Terraform policy tracks the first pipeline's name (MURMUR_PIPELINE there).
    pipeline: Deno.env.get("MURMUR_PIPELINE") ?? config.pipelines[0]!.name,
    probes: [kafkaLag({
      brokers: source.brokers,
      groupId: source.groupId,
      topics: [source.topic],
    })],
    emitters,
    intervalMs: Number(Deno.env.get("AUTOSCALE_INTERVAL_MS") ?? 10_000),
  });
}

/** The example's configuration file. */
export const CONFIG: string = fileURLToPath(
  new URL("./config.yaml", import.meta.url),
);

if (import.meta.main) {
  const args = Deno.args.includes("--config")
    ? Deno.args
    : ["--config", Deno.env.get("PAGE_VIEWS_CONFIG") ?? CONFIG, ...Deno.args];
  const config = await workerConfig(args, (name) => Deno.env.get(name));
  if (config === "help") {
    console.log("see examples/page_view_counters/README.md");
    Deno.exit(0);
  }
  const stop = new AbortController();
  for (const name of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(name, () => stop.abort(new Error(name)));
  }
  const signal = autoscaleSignal(config);
  signal?.start();
  const summary = await runWorker(config, stop.signal);
  await signal?.close();
  console.log(JSON.stringify({
    msg: "worker stopped",
    events: summary.pipelines[0]?.events ?? 0,
    stoppedBy: summary.stoppedBy,
  }));
  Deno.exit(0);
}
