// The options, counters and schema types of the Spark Connect client.

/** Options for {@linkcode SparkConnectClient}. */
export interface SparkConnectOptions {
  /** The server, e.g. `"http://127.0.0.1:15002"` (`sc://host:port` is accepted too). */
  readonly url: string;
  /** The user the session belongs to (`UserContext.user_id`). Default: `"murmur"`. */
  readonly userId?: string;
  /** The session id, a UUID. Default: a fresh random UUID. */
  readonly sessionId?: string;
  /** How many times a broken result stream is resumed with `ReattachExecute` in a row. Default: 5. */
  readonly maxReattach?: number;
}

/** Counters one execution adds to, for benchmarks and logs. */
export interface ExecuteStats {
  /** Responses received. */
  responses: number;
  /** Arrow batches received. */
  batches: number;
  /** Rows in those batches. */
  rows: number;
  /** Bytes of Arrow IPC received. */
  arrowBytes: number;
  /** Time spent waiting for the server (planning, running, sending), in ms. */
  waitMs: number;
  /** Time spent decoding Arrow IPC, in ms. */
  decodeMs: number;
  /** How many times the stream was resumed with `ReattachExecute`. */
  reattaches: number;
  /** Operations Spark confirmed it interrupted after an abort or an early stop. */
  interrupted: number;
}

/** Options for one execution. */
export interface ExecuteOptions {
  /** Cancels the execution: the stream is closed and Spark interrupts the operation. */
  readonly signal?: AbortSignal;
  /** Counters to add to. */
  readonly stats?: ExecuteStats;
  /** Tags for the operation (interruptible together by tag). */
  readonly tags?: readonly string[];
}

/** One column of a result schema. */
export interface SparkColumn {
  /** The column's name. */
  readonly name: string;
  /** Spark's type name, e.g. `"long"`, `"string"`, `"timestamp"`, `"double"`, `"decimal"`. */
  readonly type: string;
  /** Whether it may hold nulls. */
  readonly nullable: boolean;
}

/** Fresh zeroed {@linkcode ExecuteStats}. */
export function executeStats(): ExecuteStats {
  return {
    responses: 0,
    batches: 0,
    rows: 0,
    arrowBytes: 0,
    waitMs: 0,
    decodeMs: 0,
    reattaches: 0,
    interrupted: 0,
  };
}
