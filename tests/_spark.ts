// Spark Connect for the Spark tests: the stack's opt-in `spark` service, started on first use and shared.

import { up } from "../tools/stack.ts";
import { type Endpoint, service, ServiceUnavailableError } from "./_stack.ts";

/**
 * Returns the Spark Connect endpoint, starting the stack's `spark` service
 * (about 10-30 s) when nothing answers yet. It stays up, managed by the
 * stack tool: `deno task stack:down spark` stops it.
 *
 * @returns Where Spark Connect listens.
 * @throws {Error} When the service does not come up (with the log's tail on stderr).
 */
export async function sparkService(): Promise<Endpoint> {
  try {
    return await service("spark");
  } catch (error) {
    if (!(error instanceof ServiceUnavailableError)) throw error;
    if (Deno.env.get("MURMUR_SPARK_URL")) throw error;
  }
  const [result] = await up(["spark"]);
  if (!result || result.state === "failed") {
    throw new Error(
      `the Spark Connect service did not come up (${result?.detail}): see .stack/logs/spark.log`,
    );
  }
  return await service("spark");
}
