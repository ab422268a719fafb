// A Spark Connect client: one session, SQL plans executed as reattachable Arrow streams, errors and cancellation mapped.

import { Code, ConnectError, createClient } from "@connectrpc/connect";
import type { Client } from "@connectrpc/connect";
import {
  createGrpcTransport,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import { type RecordBatch, tableFromIPC } from "apache-arrow";
import {
  type ExecutePlanResponse,
  InterruptRequest_InterruptType,
  SparkConnectService,
} from "../../proto/spark/gen/spark/connect/base_pb.ts";
import type { DataType } from "../../proto/spark/gen/spark/connect/types_pb.ts";
import { delay } from "../../internal/async.ts";
import { backoff, type RetryPolicy } from "../../internal/retry.ts";
import {
  type ContextLike,
  errorInfoOf,
  isSqlError,
  isTransient,
  positionIn,
  SparkError,
  type SparkErrorInfo,
  SparkSqlError,
  SparkUnavailableError,
} from "./_errors.ts";
import type {
  ExecuteOptions,
  SparkColumn,
  SparkConnectOptions,
} from "./_types.ts";

const CLIENT_TYPE = "murmur-deno";

const REATTACH_POLICY: RetryPolicy = {
  maxAttempts: 5,
  baseDelayMs: 100,
  maxDelayMs: 2_000,
};

function httpUrl(url: string): string {
  const m = url.match(/^sc:\/\/([^/;]+)/);
  return m ? `http://${m[1]}` : url.replace(/\/+$/, "");
}

/**
 * A Spark Connect session over gRPC (HTTP/2): runs SQL and streams the result
 * as Arrow record batches.
 *
 * Executions are reattachable: when the result stream breaks, or the server
 * ends it before the result is complete, the client resumes it with
 * `ReattachExecute` after the last response it saw, and releases what it has
 * read with `ReleaseExecute`. An aborted `signal` closes the stream and
 * interrupts the operation on the server.
 */
export class SparkConnectClient {
  /** The server's URL. */
  readonly url: string;
  /** The session id. */
  readonly sessionId: string;
  /** The user the session belongs to. */
  readonly userId: string;
  readonly #manager: Http2SessionManager;
  readonly #rpc: Client<typeof SparkConnectService>;
  readonly #maxReattach: number;
  #serverSession: string | undefined;
  #closed = false;

  /**
   * Creates a session; nothing is sent until the first call.
   *
   * @param options The server and session.
   */
  constructor(options: SparkConnectOptions) {
    this.url = httpUrl(options.url);
    this.sessionId = options.sessionId ?? crypto.randomUUID();
    this.userId = options.userId ?? "murmur";
    this.#maxReattach = options.maxReattach ?? REATTACH_POLICY.maxAttempts;
    this.#manager = new Http2SessionManager(this.url);
    this.#rpc = createClient(
      SparkConnectService,
      createGrpcTransport({
        baseUrl: this.url,
        sessionManager: this.#manager,
      }),
    );
  }

  #base() {
    return {
      sessionId: this.sessionId,
      userContext: { userId: this.userId, userName: this.userId },
      clientType: CLIENT_TYPE,
      ...(this.#serverSession === undefined
        ? {}
        : { clientObservedServerSideSessionId: this.#serverSession }),
    };
  }

  #observe(serverSideSessionId: string): void {
    if (serverSideSessionId) this.#serverSession = serverSideSessionId;
  }

  /**
   * Runs a SQL query and yields its result as Arrow record batches, in order.
   *
   * @param sql The query.
   * @param options Cancellation, counters, tags.
   * @returns The record batches.
   * @throws {SparkSqlError} When Spark refuses or fails the SQL.
   * @throws {SparkUnavailableError} When the server cannot be reached.
   */
  async *sql(
    sql: string,
    options: ExecuteOptions = {},
  ): AsyncGenerator<RecordBatch> {
    for await (const response of this.#execute(sql, options)) {
      if (response.responseType.case !== "arrowBatch") continue;
      const data = response.responseType.value.data;
      const t0 = performance.now();
      const table = tableFromIPC(data);
      const stats = options.stats;
      if (stats) {
        stats.decodeMs += performance.now() - t0;
        stats.batches += 1;
        stats.rows += table.numRows;
        stats.arrowBytes += data.byteLength;
      }
      for (const batch of table.batches) yield batch;
    }
  }

  /**
   * Runs a SQL query and returns every row as a plain object (column → value;
   * Spark `long` columns arrive as `bigint`).
   *
   * @param sql The query.
   * @param options Cancellation, counters, tags.
   * @returns The rows.
   * @throws {SparkSqlError} When Spark refuses or fails the SQL.
   */
  async rows(
    sql: string,
    options: ExecuteOptions = {},
  ): Promise<Record<string, unknown>[]> {
    const out: Record<string, unknown>[] = [];
    for await (const batch of this.sql(sql, options)) {
      for (const row of batch) out.push({ ...row!.toJSON() });
    }
    return out;
  }

  /**
   * Asks Spark for a query's result schema without running it.
   *
   * @param sql The query.
   * @param options Cancellation.
   * @returns The columns.
   * @throws {SparkSqlError} When the SQL does not analyse.
   */
  async columns(
    sql: string,
    options: { readonly signal?: AbortSignal } = {},
  ): Promise<SparkColumn[]> {
    try {
      const response = await this.#rpc.analyzePlan({
        ...this.#base(),
        analyze: { case: "schema", value: { plan: sqlPlan(sql) } },
      }, options.signal ? { signal: options.signal } : {});
      this.#observe(response.serverSideSessionId);
      if (response.result.case !== "schema") {
        throw new SparkError("Spark answered a schema request without one", {
          classes: [],
          parameters: {},
        });
      }
      return columnsOf(response.result.value.schema);
    } catch (error) {
      options.signal?.throwIfAborted();
      throw await this.#mapError(error, sql);
    }
  }

  /**
   * Sets Spark SQL settings of this session, e.g.
   * `{ "spark.sql.session.timeZone": "UTC" }`.
   *
   * @param settings Setting names and values.
   * @returns When Spark has applied them.
   * @throws {SparkError} When Spark refuses one (unknown or static setting).
   */
  async setConf(settings: Readonly<Record<string, string>>): Promise<void> {
    try {
      const response = await this.#rpc.config({
        ...this.#base(),
        operation: {
          opType: {
            case: "set",
            value: {
              pairs: Object.entries(settings).map(([key, value]) => ({
                key,
                value,
              })),
            },
          },
        },
      }, { timeoutMs: 30_000 });
      this.#observe(response.serverSideSessionId);
    } catch (error) {
      throw await this.#mapError(error, "");
    }
  }

  /**
   * Interrupts running operations of this session: one by id, or all.
   *
   * @param operationId The operation; all of the session's when absent.
   * @returns The ids Spark interrupted.
   */
  async interrupt(operationId?: string): Promise<string[]> {
    const response = await this.#rpc.interrupt({
      ...this.#base(),
      interruptType: operationId === undefined
        ? InterruptRequest_InterruptType.ALL
        : InterruptRequest_InterruptType.OPERATION_ID,
      ...(operationId === undefined
        ? {}
        : { interrupt: { case: "operationId", value: operationId } }),
    }, { timeoutMs: 10_000 });
    return response.interruptedIds;
  }

  /** Releases the session on the server and closes the connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      if (this.#serverSession !== undefined) {
        await this.#rpc.releaseSession({
          sessionId: this.sessionId,
          userContext: { userId: this.userId },
          clientType: CLIENT_TYPE,
        }, { timeoutMs: 5_000 });
      }
    } catch {
      // The server may be gone already; the session then times out there.
    } finally {
      this.#manager.abort();
    }
  }

  /** Calls {@linkcode SparkConnectClient.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Executes a plan and yields every response, resuming broken streams. */
  async *#execute(
    sql: string,
    options: ExecuteOptions,
  ): AsyncGenerator<ExecutePlanResponse> {
    const { signal, stats } = options;
    signal?.throwIfAborted();
    if (this.#closed) {
      throw new SparkError(
        `the Spark Connect session ${this.sessionId} is closed: create a new client`,
        { classes: [], parameters: {} },
      );
    }
    const operationId = crypto.randomUUID();
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    const call = { signal: controller.signal };
    let lastResponseId: string | undefined;
    let complete = false;
    let failures = 0;
    let stream: AsyncIterable<ExecutePlanResponse> = this.#rpc.executePlan({
      ...this.#base(),
      operationId,
      plan: sqlPlan(sql),
      requestOptions: [{
        requestOption: {
          case: "reattachOptions",
          value: { reattachable: true },
        },
      }],
      tags: [...(options.tags ?? [])],
    }, call);
    try {
      while (!complete) {
        try {
          const iterator = stream[Symbol.asyncIterator]();
          while (true) {
            const t0 = performance.now();
            const next = await iterator.next();
            if (stats) stats.waitMs += performance.now() - t0;
            if (next.done) break;
            const response = next.value;
            failures = 0;
            this.#observe(response.serverSideSessionId);
            if (stats) stats.responses += 1;
            if (response.responseId) lastResponseId = response.responseId;
            if (response.responseType.case === "resultComplete") {
              complete = true;
            } else if (
              response.responseType.case === "arrowBatch" && response.responseId
            ) {
              // The server keeps sent responses for a reattach; read ones may go.
              this.#releaseUntil(operationId, response.responseId);
            }
            yield response;
          }
        } catch (error) {
          if (signal?.aborted) throw signal.reason;
          // Before the first response the operation may not exist on the server: nothing to reattach to.
          if (
            lastResponseId === undefined || !isTransient(error) ||
            failures >= this.#maxReattach
          ) {
            throw await this.#mapError(error, sql);
          }
          await delay(backoff(REATTACH_POLICY, failures), signal);
          failures += 1;
        }
        if (complete) break;
        // The stream ended or broke before ResultComplete: resume after the last response seen.
        if (stats) stats.reattaches += 1;
        stream = this.#rpc.reattachExecute({
          ...this.#base(),
          operationId,
          ...(lastResponseId === undefined ? {} : { lastResponseId }),
        }, call);
      }
    } finally {
      signal?.removeEventListener("abort", onAbort);
      if (complete) this.#release(operationId);
      else {
        controller.abort();
        // Abandoned (abort, error, or the consumer stopped early): stop Spark's work too.
        const ids = await this.interrupt(operationId).catch((): string[] => []);
        if (stats && ids.includes(operationId)) stats.interrupted += 1;
        this.#release(operationId);
      }
    }
  }

  /** Lets the server drop the responses up to `responseId` (best effort, not awaited). */
  #releaseUntil(operationId: string, responseId: string): void {
    this.#rpc.releaseExecute({
      ...this.#base(),
      operationId,
      release: { case: "releaseUntil", value: { responseId } },
    }, { timeoutMs: 10_000 }).catch(() => undefined);
  }

  /** Lets the server drop the operation's buffered responses (best effort, not awaited). */
  #release(operationId: string): void {
    this.#rpc.releaseExecute({
      ...this.#base(),
      operationId,
      release: { case: "releaseAll", value: {} },
    }, { timeoutMs: 10_000 }).catch(() => undefined);
  }

  /** Turns a gRPC failure into a named error, fetching Spark's error details when it kept them. */
  async #mapError(error: unknown, sql: string): Promise<Error> {
    if (!(error instanceof ConnectError)) return error as Error;
    if (error.code === Code.Unavailable) {
      return new SparkUnavailableError(this.url, error.rawMessage, {
        cause: error,
      });
    }
    const info = errorInfoOf(error);
    const details = info.errorId === undefined
      ? undefined
      : await this.#details(info.errorId);
    const message = (details?.message ?? error.rawMessage).trim();
    if (isSqlError(info)) {
      return new SparkSqlError(
        message,
        info,
        sql,
        positionIn(sql, message, details),
      );
    }
    return new SparkError(
      `Spark failed: ${message}`,
      info,
      { cause: error },
    );
  }

  async #details(
    errorId: string,
  ): Promise<{ message: string; context?: ContextLike } | undefined> {
    try {
      const response = await this.#rpc.fetchErrorDetails({
        ...this.#base(),
        errorId,
      }, { timeoutMs: 10_000 });
      const root = response.errors[response.rootErrorIdx ?? 0];
      if (!root) return undefined;
      const context = root.sparkThrowable?.queryContexts[0];
      return {
        message: root.message,
        ...(context ? { context } : {}),
      };
    } catch {
      return undefined;
    }
  }
}

function sqlPlan(sql: string) {
  return {
    opType: {
      case: "root" as const,
      value: { relType: { case: "sql" as const, value: { query: sql } } },
    },
  };
}

function columnsOf(schema: DataType | undefined): SparkColumn[] {
  if (schema?.kind.case !== "struct") return [];
  return schema.kind.value.fields.map((field) => ({
    name: field.name,
    type: field.dataType?.kind.case ?? "unknown",
    nullable: field.nullable,
  }));
}

export type { SparkErrorInfo };
export {
  type ExecuteOptions,
  type ExecuteStats,
  executeStats,
  type SparkColumn,
  type SparkConnectOptions,
} from "./_types.ts";
