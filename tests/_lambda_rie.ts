// Runs a Deno bootstrap under the AWS Lambda Runtime Interface Emulator and invokes it over HTTP.

import { ensureLambdaRie } from "../tools/stack.ts";

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** One emulator process with its bootstrap. */
export class Emulator {
  readonly #child: Deno.ChildProcess;
  readonly url: string;
  readonly log: string[] = [];
  readonly #reading: Promise<void>;

  private constructor(child: Deno.ChildProcess, port: number) {
    this.#child = child;
    this.url =
      `http://127.0.0.1:${port}/2015-03-31/functions/function/invocations`;
    this.#reading = (async () => {
      const lines = child.stderr.pipeThrough(new TextDecoderStream());
      for await (const chunk of lines) this.log.push(chunk);
    })();
    child.stdout.pipeTo(new WritableStream()).catch(() => {});
  }

  /** Starts the emulator with `script` (run by `deno run -A`) as the bootstrap. */
  static async start(
    script: string,
    env: Record<string, string>,
  ): Promise<Emulator> {
    const rie = await ensureLambdaRie();
    const port = freePort();
    const api = freePort();
    const child = new Deno.Command(rie, {
      args: [
        "--runtime-interface-emulator-address",
        `127.0.0.1:${port}`,
        "--runtime-api-address",
        `127.0.0.1:${api}`,
        Deno.execPath(),
        "run",
        "-A",
        script,
      ],
      env: { ...env, AWS_LAMBDA_FUNCTION_TIMEOUT: "120", LOG_LEVEL: "error" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const emulator = new Emulator(child, port);
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        conn.close();
        return emulator;
      } catch {
        if (Date.now() > deadline) {
          await emulator.stop();
          throw new Error(
            `aws-lambda-rie did not listen on ${port}: ${
              emulator.log.join("")
            }`,
          );
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /** Invokes the function with an event; returns its parsed answer. */
  async invoke(event: unknown): Promise<unknown> {
    const response = await fetch(this.url, {
      method: "POST",
      body: JSON.stringify(event),
    });
    const text = await response.text();
    if (!response.ok) {
      throw new Error(`invoke failed ${response.status}: ${text}`);
    }
    return JSON.parse(text);
  }

  /** Stops the emulator and its bootstrap. */
  async stop(): Promise<void> {
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // already gone
    }
    await this.#child.status;
    await this.#reading.catch(() => {});
  }
}
