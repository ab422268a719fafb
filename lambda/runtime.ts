// A Deno custom runtime for AWS Lambda: the Runtime API loop (next invocation, response, error, init error).

/** What a handler learns about its invocation. */
export interface LambdaContext {
  /** The invocation's request id. */
  readonly awsRequestId: string;
  /** The function's ARN as invoked. */
  readonly invokedFunctionArn: string;
  /** The invocation's deadline, in epoch ms. */
  readonly deadlineMs: number;
  /** Milliseconds left before Lambda stops the invocation. */
  getRemainingTimeInMillis(): number;
}

/**
 * A Lambda function: takes the event (parsed JSON) and answers a value
 * sent back as JSON.
 *
 * @typeParam E The event type the function expects.
 */
export type LambdaFunction<E = unknown> = (
  event: E,
  context: LambdaContext,
) => unknown | Promise<unknown>;

/** Options of {@linkcode serveLambda}. */
export interface ServeLambdaOptions {
  /** `host:port` of the Runtime API. Default: the `AWS_LAMBDA_RUNTIME_API` environment variable. */
  readonly api?: string;
  /** Stops the loop after the invocation in flight. Default: none (Lambda freezes or kills the process). */
  readonly signal?: AbortSignal;
}

/** Thrown by {@linkcode serveLambda} when no Runtime API address is known. */
export class RuntimeApiMissingError extends Error {
  /** Creates the error. */
  constructor() {
    super(
      'serveLambda(): AWS_LAMBDA_RUNTIME_API is not set; run this program as a Lambda custom runtime (bootstrap) or pass { api: "host:port" }',
    );
    this.name = "RuntimeApiMissingError";
  }
}

function errorBody(error: unknown): string {
  const e = error instanceof Error ? error : new Error(String(error));
  return JSON.stringify({
    errorMessage: e.message,
    errorType: e.name,
    stackTrace: (e.stack ?? "").split("\n").slice(1).map((l) => l.trim()),
  });
}

/**
 * Runs a Lambda custom runtime loop: calls `setup` once (an error there is
 * posted to `/runtime/init/error` and rethrown), then forever asks the
 * Runtime API for the next invocation, calls the function, and posts its
 * answer to `/response`, or the error to `/error`. Build the bootstrap with
 * `deno compile --output bootstrap main.ts`, or run it with a Deno layer.
 *
 * @typeParam E The event type the function expects.
 * @param setup Creates the function once per execution environment (open clients here).
 * @param options Runtime API address and a stop signal; see {@linkcode ServeLambdaOptions}.
 * @returns A promise that resolves when the signal stops the loop.
 * @throws {RuntimeApiMissingError} When no Runtime API address is known.
 *
 * @example A bootstrap for a Kinesis handler
 * ```ts ignore
 * import { kinesisHandler, serveLambda } from "@murmur/core/lambda";
 *
 * await serveLambda(() => kinesisHandler(clicksPipeline));
 * ```
 */
export async function serveLambda<E>(
  setup: () => LambdaFunction<E> | Promise<LambdaFunction<E>>,
  options: ServeLambdaOptions = {},
): Promise<void> {
  const api = options.api ?? Deno.env.get("AWS_LAMBDA_RUNTIME_API");
  if (api === undefined || api === "") throw new RuntimeApiMissingError();
  const base = `http://${api}/2018-06-01/runtime`;
  let fn: LambdaFunction<E>;
  try {
    fn = await setup();
  } catch (error) {
    await fetch(`${base}/init/error`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "Lambda-Runtime-Function-Error-Type": "Runtime.InitError",
      },
      body: errorBody(error),
    }).then((r) => r.body?.cancel()).catch(() => {});
    throw error;
  }
  const signal = options.signal;
  while (!signal?.aborted) {
    let next: Response;
    try {
      next = await fetch(`${base}/invocation/next`, signal ? { signal } : {});
    } catch (error) {
      if (signal?.aborted) return;
      throw error;
    }
    const id = next.headers.get("Lambda-Runtime-Aws-Request-Id") ?? "";
    const deadlineMs = Number(
      next.headers.get("Lambda-Runtime-Deadline-Ms") ?? "0",
    );
    const trace = next.headers.get("Lambda-Runtime-Trace-Id");
    if (trace !== null) Deno.env.set("_X_AMZN_TRACE_ID", trace);
    const context: LambdaContext = {
      awsRequestId: id,
      invokedFunctionArn:
        next.headers.get("Lambda-Runtime-Invoked-Function-Arn") ?? "",
      deadlineMs,
      getRemainingTimeInMillis: () => Math.max(0, deadlineMs - Date.now()),
    };
    let url: string;
    let body: string;
    const headers: Record<string, string> = {
      "content-type": "application/json",
    };
    try {
      const text = await next.text();
      const event = (text === "" ? {} : JSON.parse(text)) as E;
      const result = await fn(event, context);
      url = `${base}/invocation/${id}/response`;
      body = JSON.stringify(result ?? null);
    } catch (error) {
      url = `${base}/invocation/${id}/error`;
      body = errorBody(error);
      headers["Lambda-Runtime-Function-Error-Type"] = "Runtime.HandlerError";
    }
    const posted = await fetch(url, { method: "POST", headers, body });
    await posted.body?.cancel();
  }
}
