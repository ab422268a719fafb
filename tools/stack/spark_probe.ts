// Health check of the Spark Connect service: a real ExecutePlan of `SELECT 1` through the project's own client.

import type { ProbeResult } from "./probe.ts";
import { SparkConnectClient } from "../../batch/spark/_client.ts";

/**
 * Runs `SELECT 1` on the Spark Connect server at `host:port`.
 *
 * @param host Host to connect to.
 * @param port Port to connect to.
 * @param timeoutMs Give up after this long.
 * @returns `ok` with the Spark version when the query answered 1.
 */
export async function probeSpark(
  host: string,
  port: number,
  timeoutMs = 20_000,
): Promise<ProbeResult> {
  const client = new SparkConnectClient({
    url: `http://${host}:${port}`,
    userId: "murmur-stack",
  });
  try {
    const rows = await client.rows("SELECT 1 AS one, version() AS version", {
      signal: AbortSignal.timeout(timeoutMs),
    });
    const row = rows[0];
    if (row?.["one"] !== 1) {
      return { ok: false, detail: `SELECT 1 answered ${JSON.stringify(row)}` };
    }
    const version = String(row["version"] ?? "?").split(" ")[0];
    return { ok: true, detail: `Spark ${version}, SELECT 1 ok` };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, detail: message.split("\n")[0] ?? message };
  } finally {
    await client.close();
  }
}
