// Child processes for the worker tests: spawn a Deno script, follow its JSON lines, kill or stop it.

/** One JSON line a worker printed. */
export type Step = Readonly<Record<string, unknown>>;

/** A Deno script run as a child process, with the JSON lines it prints on stdout. */
export class Worker {
  readonly steps: Step[] = [];
  readonly #child: Deno.ChildProcess;
  readonly #reading: Promise<void>;
  #waiters: { test: (step: Step) => boolean; resolve: () => void }[] = [];

  constructor(script: string, args: readonly string[]) {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", script, ...args],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#reading = this.#read();
  }

  async #read(): Promise<void> {
    const lines = this.#child.stdout
      .pipeThrough(new TextDecoderStream())
      .pipeThrough(
        new TransformStream<string, string>(
          {
            buffer: "",
            transform(chunk, controller) {
              this.buffer += chunk;
              const parts = this.buffer.split("\n");
              this.buffer = parts.pop()!;
              for (const line of parts) controller.enqueue(line);
            },
          } as Transformer<string, string> & { buffer: string },
        ),
      );
    for await (const line of lines) {
      if (!line.startsWith("{")) continue;
      const step = JSON.parse(line) as Step;
      this.steps.push(step);
      this.#waiters = this.#waiters.filter((waiter) => {
        if (!waiter.test(step)) return true;
        waiter.resolve();
        return false;
      });
    }
  }

  /** Resolves when the worker prints a step passing `test` (counting steps already printed). */
  until(test: (step: Step) => boolean, timeoutMs = 60_000): Promise<void> {
    if (this.steps.some(test)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`worker never reached the awaited step`)),
        timeoutMs,
      );
      this.#waiters.push({
        test,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  count(step: string): number {
    return this.steps.filter((s) => s.step === step).length;
  }

  total(step: string, field: string): number {
    return this.steps.filter((s) => s.step === step).reduce(
      (n, s) => n + Number(s[field] ?? 0),
      0,
    );
  }

  async kill(): Promise<void> {
    this.#child.kill("SIGKILL");
    await this.#child.status;
    await this.#reading.catch(() => {});
  }

  async stop(): Promise<Deno.CommandStatus> {
    this.#child.kill("SIGTERM");
    const status = await this.#child.status;
    await this.#reading.catch(() => {});
    return status;
  }
}
