// Runs the native gRPC listener (_grpc_child.ts) as a supervised child process, restarts it whenever it dies, and answers its calls over a private loopback connection.

import {
  batchedWriter,
  CALL,
  CANCEL,
  DATA,
  END,
  FAIL,
  frame,
  frames,
  HEAD,
  jsonPayload,
  readCall,
} from "./_bridge_frames.ts";
import type { UnaryHandler } from "./_unary.ts";

/** Options for {@linkcode startGrpcBridge}. */
export interface GrpcBridgeOptions {
  /** The address to bind. */
  readonly hostname: string;
  /** The port; `0` picks a free one (kept across restarts). */
  readonly port: number;
  /** Answers the calls the child forwards (as gRPC-Web requests). */
  readonly handler: (request: Request) => Promise<Response>;
  /**
   * Answers unary calls first, without a `Request` built for them (the same
   * gate, limits and metrics as `handler`); `undefined` passes the call on
   * to `handler`. Default: every call goes to `handler`.
   */
  readonly unary?: UnaryHandler;
  /** Largest request message, in bytes. */
  readonly maxBytes: number;
  /** Told about every restart of the listener. Default: a `console.warn` line. */
  readonly onRestart?: (info: { restarts: number; reason: string }) => void;
}

/** A running gRPC listener process, restarted whenever it dies. */
export interface GrpcBridge {
  /** The bound port. */
  readonly port: number;
  /** How many times the listener was restarted. */
  readonly restarts: number;
  /** Resolves once a listener is up again (immediately when it is). */
  ready(): Promise<void>;
  /** Stops the listener for good. */
  close(): Promise<void>;
}

/** Thrown when the gRPC listener process does not come up. */
export class GrpcListenerError extends Error {
  /**
   * Creates the error.
   *
   * @param detail What the child said.
   */
  constructor(detail: string) {
    super(
      `the gRPC listener process did not start (${detail}): check that the port is free and that the process may run subprocesses (--allow-run) and use the network`,
    );
    this.name = "GrpcListenerError";
  }
}

const CHILD = new URL("./_grpc_child.ts", import.meta.url).href;

interface Running {
  readonly child: Deno.ChildProcess;
  readonly port: number;
  readonly stderr: () => string;
}

interface BridgeEnd {
  readonly port: number;
  readonly token: string;
}

async function spawn(
  options: GrpcBridgeOptions,
  port: number,
  bridge: BridgeEnd,
): Promise<Running> {
  const config = JSON.stringify({
    hostname: options.hostname,
    port,
    bridgePort: bridge.port,
    token: bridge.token,
    maxBytes: options.maxBytes,
  });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--no-config",
      "--no-lock",
      "--allow-net",
      CHILD,
      config,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let errText = "";
  (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) {
      errText = (errText + decoder.decode(chunk, { stream: true })).slice(
        -2000,
      );
    }
  })().catch(() => {});
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let line = "";
  const first = (async () => {
    while (!line.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      line += value;
    }
    // Keep draining so the child never blocks on a full pipe.
    (async () => {
      while (!(await reader.read()).done) {
        // discard
      }
    })().catch(() => {});
    return line;
  })();
  const timeout = new Promise<string>((resolve) => {
    const timer = setTimeout(() => resolve(""), 60_000);
    child.status.finally(() => clearTimeout(timer));
  });
  const text = await Promise.race([
    first,
    child.status.then(() => first),
    timeout,
  ]);
  let bound: number | undefined;
  try {
    bound = (JSON.parse(text.split("\n")[0] ?? "") as { port?: number }).port;
  } catch {
    bound = undefined;
  }
  if (typeof bound !== "number") {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await child.status;
    throw new GrpcListenerError(errText.trim() || "no port reported");
  }
  return { child, port: bound, stderr: () => errText };
}

/**
 * Starts the gRPC listener process and keeps it running: when it dies (a
 * client can make `node:http2` abort it), it is started again on the same
 * port, with a backoff from 50 ms to 2 s when it keeps dying.
 *
 * @param options Address, upstream and limits.
 * @returns The bridge once the first listener is up.
 * @throws {GrpcListenerError} When the first listener does not start.
 */
export async function startGrpcBridge(
  options: GrpcBridgeOptions,
): Promise<GrpcBridge> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const token = crypto.randomUUID();
  const bridge = { port: listener.addr.port, token };
  const connections = new Set<Deno.Conn>();
  (async () => {
    for await (const conn of listener) {
      conn.setNoDelay(true);
      connections.add(conn);
      serveBridge(conn, token, options.handler, options.unary)
        .catch(() => {})
        .finally(() => {
          connections.delete(conn);
          try {
            conn.close();
          } catch {
            // Already closed.
          }
        });
    }
  })().catch(() => {});
  let running: Running;
  try {
    running = await spawn(options, options.port, bridge);
  } catch (error) {
    listener.close();
    throw error;
  }
  const port = running.port;
  let restarts = 0;
  let closed = false;
  let backoff = 50;
  let up: Promise<void> = Promise.resolve();
  const onRestart = options.onRestart ??
    ((info) =>
      console.warn(
        `murmur: the gRPC listener on port ${port} stopped (${info.reason}); restarted it (${info.restarts} restarts so far)`,
      ));

  const watch = (current: Running) => {
    const started = Date.now();
    current.child.status.then(async (status) => {
      if (closed) return;
      if (Date.now() - started > 10_000) backoff = 50;
      const reason = status.signal !== null
        ? `signal ${status.signal}`
        : `exit ${status.code}`;
      const detail = current.stderr().trim().split("\n").pop() ?? "";
      const { promise, resolve } = Promise.withResolvers<void>();
      up = promise;
      while (!closed) {
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(2000, backoff * 2);
        if (closed) break;
        try {
          running = await spawn(options, port, bridge);
          restarts++;
          onRestart({
            restarts,
            reason: detail === "" ? reason : `${reason}: ${detail}`,
          });
          if (closed) {
            running.child.kill("SIGTERM");
          } else {
            watch(running);
          }
          break;
        } catch {
          // The port may still be held for a moment: try again.
        }
      }
      resolve();
    });
  };
  watch(running);

  return {
    port,
    get restarts() {
      return restarts;
    },
    ready: () => up,
    async close() {
      if (closed) return;
      closed = true;
      try {
        running.child.kill("SIGTERM");
      } catch {
        // Already gone.
      }
      await running.child.status;
      await up;
      listener.close();
      for (const conn of connections) {
        try {
          conn.close();
        } catch {
          // Already closed.
        }
      }
    },
  };
}

/**
 * Answers one listener connection: after the token, every CALL frame becomes
 * a gRPC-Web request to `handler`, whose answer goes back as HEAD, DATA…,
 * END (or FAIL); a CANCEL aborts the request.
 */
async function serveBridge(
  conn: Deno.Conn,
  token: string,
  handler: (request: Request) => Promise<Response>,
  unary: UnaryHandler | undefined,
): Promise<void> {
  const writer = conn.writable.getWriter();
  const send = batchedWriter((bytes) => {
    writer.write(bytes).catch(() => {});
  });
  const calls = new Map<number, AbortController>();
  let trusted = false;
  for await (const f of frames(conn.readable)) {
    if (!trusted) {
      if (f.type !== CALL || new TextDecoder().decode(f.payload) !== token) {
        return;
      }
      trusted = true;
      continue;
    }
    if (f.type === CANCEL) {
      calls.get(f.id)?.abort();
      calls.delete(f.id);
      continue;
    }
    if (f.type !== CALL) continue;
    const controller = new AbortController();
    calls.set(f.id, controller);
    answer(f.id, f.payload, controller.signal)
      .catch((error) => {
        send(
          frame(
            f.id,
            FAIL,
            jsonPayload(error instanceof Error ? error.message : String(error)),
          ),
        );
      })
      .finally(() => calls.delete(f.id));
  }
  for (const controller of calls.values()) controller.abort();

  async function answer(id: number, payload: Uint8Array, signal: AbortSignal) {
    const { path, headers, body } = readCall(payload);
    const url = `http://grpc-bridge${path}`;
    const requestHeaders = new Headers(headers);
    const response = await unary?.(
      { method: "POST", url, headers: requestHeaders },
      path,
      body,
      signal,
    ) ??
      await handler(
        new Request(url, {
          method: "POST",
          headers: requestHeaders,
          body: body as Uint8Array<ArrayBuffer>,
          signal,
        }),
      );
    const list: [string, string][] = [];
    response.headers.forEach((value, key) => list.push([key, value]));
    if (!path.endsWith("/WatchMetrics")) {
      // A unary answer: one write for head, body and end (the head says so,
      // so the listener takes it whole instead of as a stream).
      const head = frame(
        id,
        HEAD,
        jsonPayload({ status: response.status, headers: list, whole: true }),
      );
      const data = frame(id, DATA, await response.bytes());
      const end = frame(id, END);
      const out = new Uint8Array(
        head.byteLength + data.byteLength + end.byteLength,
      );
      out.set(head);
      out.set(data, head.byteLength);
      out.set(end, head.byteLength + data.byteLength);
      send(out);
      return;
    }
    send(
      frame(id, HEAD, jsonPayload({ status: response.status, headers: list })),
    );
    if (response.body !== null) {
      for await (const chunk of response.body) {
        if (signal.aborted) {
          await response.body.cancel().catch(() => {});
          return;
        }
        send(frame(id, DATA, chunk));
      }
    }
    send(frame(id, END));
  }
}
