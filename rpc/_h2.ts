// A small HTTP/2 server over cleartext TCP with prior knowledge (RFC 9113), enough for gRPC: whole request bodies in, answers out with headers, data and trailers under the peer's flow control. Written for this one job, in process, with every limit a hostile peer could push on bounded.

import { concatBytes } from "../internal/bytes.ts";
import { encodeHeaders, type HeaderField, HpackDecoder } from "./_hpack.ts";

const PREFACE = new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

// Frame types.
const DATA = 0x0;
const HEADERS = 0x1;
const PRIORITY = 0x2;
const RST_STREAM = 0x3;
const SETTINGS = 0x4;
const PUSH_PROMISE = 0x5;
const PING = 0x6;
const GOAWAY = 0x7;
const WINDOW_UPDATE = 0x8;
const CONTINUATION = 0x9;

// Flags.
const END_STREAM = 0x1;
const ACK = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY_FLAG = 0x20;

/** The HTTP/2 error codes this server sends (RFC 9113 §7). */
const H2Error = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  COMPRESSION_ERROR: 0x9,
  ENHANCE_YOUR_CALM: 0xb,
} as const;

/** What this side announces and enforces. */
const MAX_FRAME = 16_384;
const MAX_STREAMS = 128;
const HEADER_TABLE = 4096;
const MAX_HEADER_LIST = 16_384;
/** A header block (HEADERS plus CONTINUATIONs) may not grow past this. */
const MAX_HEADER_BLOCK = 65_536;
const CONNECTION_WINDOW = 16 * 1024 * 1024;
const MAX_WINDOW = 0x7fffffff;
/** Output queued for a peer that does not read: reading pauses above it. */
const HIGH_WATER = 4 * 1024 * 1024;
/**
 * Streams the peer may reset while they are being answered (rapid reset,
 * CVE-2023-44487): a bucket of this many, refilled at RESET_REFILL per second.
 */
const RESET_BURST = 1000;
const RESET_REFILL = 100;
/** Settings and pings the peer may send per second (each costs an answer). */
const CONTROL_PER_SECOND = 1000;
const PREFACE_TIMEOUT_MS = 10_000;

/** One request, its body whole. */
export interface H2Request {
  /** The stream's id. */
  readonly id: number;
  /** The header fields in order, pseudo-headers included. */
  readonly headers: readonly HeaderField[];
  /** The body; `undefined` when it went over the limit (and was dropped). */
  readonly body: Uint8Array | undefined;
  /** Aborts when the peer resets the stream or the connection ends. */
  readonly signal: AbortSignal;
}

/** Writes one stream's answer: headers, data, then trailers or an end. */
export interface H2Response {
  /** Sends the response headers; `end` closes the stream (a trailers-only answer). */
  headers(fields: readonly HeaderField[], end: boolean): void;
  /**
   * Sends data. Resolves when it left under the peer's flow control, so a
   * streaming writer can wait; rejects when the stream is gone.
   */
  data(bytes: Uint8Array, end?: boolean): Promise<void>;
  /** Sends trailers and closes the stream. */
  trailers(fields: readonly HeaderField[]): void;
  /**
   * Sends a whole answer at once: a header block and a trailer block
   * (encoded with `encodeHeaders`) around a body in parts, in one write
   * when the peer's windows allow.
   */
  whole(
    head: Uint8Array,
    body: readonly Uint8Array[],
    trailers: Uint8Array,
  ): void;
  /** Whether the stream is gone (reset, or the connection ended). */
  readonly closed: boolean;
}

/** Options for {@linkcode serveH2c}. */
export interface H2ServerOptions {
  /** The address to bind. */
  readonly hostname: string;
  /** The port; `0` picks a free one. */
  readonly port: number;
  /** Largest request body, in bytes; a bigger one is dropped and `body` is `undefined`. */
  readonly maxBodyBytes: number;
  /** Answers one request. A throw resets the stream. */
  readonly onRequest: (request: H2Request, response: H2Response) => unknown;
  /** Answers a client that spoke HTTP/1.x (one plain-text line). */
  readonly http1Message: string;
}

/** A running server. */
export interface H2Server {
  /** The bound port. */
  readonly port: number;
  /** Stops listening and ends every connection (GOAWAY, then close). */
  close(): Promise<void>;
}

/**
 * Listens for HTTP/2 cleartext connections with prior knowledge.
 *
 * @param options Address, limits and the request callback.
 * @returns The server once it listens.
 */
export function serveH2c(options: H2ServerOptions): H2Server {
  const listener = Deno.listen({
    hostname: options.hostname,
    port: options.port,
  });
  const connections = new Set<Connection>();
  let closed = false;
  const accepting = (async () => {
    for await (const conn of listener) {
      if (closed) {
        conn.close();
        break;
      }
      try {
        conn.setNoDelay(true);
      } catch {
        // Not a TCP connection option here; fine.
      }
      const connection = new Connection(conn, options);
      connections.add(connection);
      connection.run().finally(() => connections.delete(connection));
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async close() {
      if (closed) return;
      closed = true;
      listener.close();
      await accepting;
      await Promise.all([...connections].map((c) => c.shutdown()));
    },
  };
}

/** A connection-level error: GOAWAY with `code`, then close. */
class ConnectionError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

interface Outgoing {
  /** Already framed bytes (a header block), or data still to frame. */
  readonly kind: "framed" | "data";
  bytes: Uint8Array;
  readonly end: boolean;
  readonly done?: () => void;
  readonly fail?: (error: Error) => void;
}

class Stream implements H2Response {
  readonly id: number;
  readonly #connection: Connection;
  headerFields: HeaderField[] | undefined;
  chunks: Uint8Array[] = [];
  size = 0;
  oversize = false;
  /** The peer sent END_STREAM. */
  remoteClosed = false;
  /** Handed to the request callback. */
  dispatched = false;
  /** Counted in the connection's calls being answered. */
  answering = false;
  /** Request bytes held for it, counted in the connection's total. */
  held = 0;
  /** This side queued its END_STREAM. */
  localClosed = false;
  gone = false;
  sendWindow: number;
  queue: Outgoing[] = [];
  #controller: AbortController | undefined;

  constructor(id: number, connection: Connection, sendWindow: number) {
    this.id = id;
    this.#connection = connection;
    this.sendWindow = sendWindow;
  }

  get signal(): AbortSignal {
    const controller = this.#controller ??= new AbortController();
    if (this.gone && !controller.signal.aborted) controller.abort();
    return controller.signal;
  }

  get closed(): boolean {
    return this.gone || this.localClosed;
  }

  abort(reason: string): void {
    if (this.gone) return;
    this.gone = true;
    const error = new Error(reason);
    this.#controller?.abort(error);
    const queue = this.queue;
    this.queue = [];
    for (const item of queue) item.fail?.(error);
  }

  headers(fields: readonly HeaderField[], end: boolean): void {
    if (this.closed) return;
    this.#connection.sendHeaders(this, fields, end);
  }

  data(bytes: Uint8Array, end = false): Promise<void> {
    if (this.closed) {
      return Promise.reject(new Error("the stream is closed"));
    }
    return new Promise<void>((done, fail) => {
      this.queue.push({ kind: "data", bytes, end, done, fail });
      if (end) this.localClosed = true;
      this.#connection.pump(this);
    });
  }

  trailers(fields: readonly HeaderField[]): void {
    if (this.closed) return;
    this.#connection.sendHeaders(this, fields, true);
  }

  whole(
    head: Uint8Array,
    body: readonly Uint8Array[],
    trailers: Uint8Array,
  ): void {
    if (this.closed) return;
    this.#connection.sendWhole(this, head, body, trailers);
  }
}

class Connection {
  readonly #conn: Deno.Conn;
  readonly #options: H2ServerOptions;
  readonly #decoder = new HpackDecoder(HEADER_TABLE);
  readonly #streams = new Map<number, Stream>();
  #lastStream = 0;
  #goingAway = false;
  #ended = false;

  // Flow control, this side sending.
  #sendWindow = 65_535;
  #peerInitialWindow = 65_535;
  #peerMaxFrame = 16_384;
  #blocked = new Set<Stream>();

  // Flow control, this side receiving: credit given back once consumed.
  #recvWindow = CONNECTION_WINDOW;
  #recvCredit = 0;

  // Request bodies held on this connection, and the most it may hold.
  #held = 0;
  readonly #maxHeld: number;

  // A header block in pieces (HEADERS then CONTINUATION).
  #block:
    | { stream: number; end: boolean; parts: Uint8Array[]; size: number }
    | undefined;

  // Output.
  #out: Uint8Array[] = [];
  #outBytes = 0;
  #writing: Promise<void> | undefined;
  #flushQueued = false;
  #timerQueued = false;
  /** Streams handed to the callback and not yet answered in full. */
  #answering = 0;
  #drained: (() => void)[] = [];

  // Abuse counters, per second.
  #second = 0;
  #control = 0;
  #resetTokens = RESET_BURST;
  #resetAt = performance.now();

  constructor(conn: Deno.Conn, options: H2ServerOptions) {
    this.#conn = conn;
    this.#options = options;
    // Four bodies of the largest size at once, and then some.
    this.#maxHeld = 4 * options.maxBodyBytes + 1024 * 1024;
  }

  async run(): Promise<void> {
    const buffer = new Uint8Array(4 * MAX_FRAME + 9 * 4);
    let start = 0;
    let end = 0;
    try {
      // The preface, within a time limit.
      const timer = setTimeout(() => this.#close(), PREFACE_TIMEOUT_MS);
      try {
        while (end < PREFACE.length) {
          const n = await this.#conn.read(buffer.subarray(end));
          if (n === null) return;
          end += n;
          const seen = Math.min(end, PREFACE.length);
          for (let i = 0; i < seen; i++) {
            if (buffer[i] !== PREFACE[i]) {
              await this.#refuseHttp1();
              return;
            }
          }
        }
      } finally {
        clearTimeout(timer);
      }
      start = PREFACE.length;
      this.#queueFrame(
        SETTINGS,
        0,
        0,
        settingsPayload([
          [0x1, HEADER_TABLE],
          [0x2, 0], // no push
          [0x3, MAX_STREAMS],
          [0x4, Math.min(MAX_WINDOW, this.#options.maxBodyBytes + 5 + 1024)],
          [0x5, MAX_FRAME],
          [0x6, MAX_HEADER_LIST],
        ]),
      );
      this.#queueFrame(
        WINDOW_UPDATE,
        0,
        0,
        u32(CONNECTION_WINDOW - 65_535),
      );
      this.#flush();
      for (;;) {
        // Whole frames in [start, end).
        while (end - start >= 9) {
          const length = (buffer[start]! << 16) | (buffer[start + 1]! << 8) |
            buffer[start + 2]!;
          if (length > MAX_FRAME) {
            throw new ConnectionError(
              H2Error.FRAME_SIZE_ERROR,
              `a frame of ${length} bytes (at most ${MAX_FRAME})`,
            );
          }
          if (end - start < 9 + length) break;
          const type = buffer[start + 3]!;
          const flags = buffer[start + 4]!;
          const id = ((buffer[start + 5]! & 0x7f) << 24 |
            buffer[start + 6]! << 16 | buffer[start + 7]! << 8 |
            buffer[start + 8]!) >>> 0;
          const payload = buffer.subarray(start + 9, start + 9 + length);
          start += 9 + length;
          this.#frame(type, flags, id, payload);
        }
        if (this.#ended) return;
        if (this.#goingAway && this.#streams.size === 0) {
          await this.#drain();
          return;
        }
        if (start === end) {
          start = end = 0;
        } else if (start > buffer.length - 9 - MAX_FRAME) {
          buffer.copyWithin(0, start, end);
          end -= start;
          start = 0;
        }
        if (this.#outBytes > HIGH_WATER) await this.#drain();
        const n = await this.#conn.read(buffer.subarray(end));
        if (n === null) return;
        end += n;
      }
    } catch (error) {
      if (error instanceof ConnectionError) {
        this.#goaway(error.code, error.message);
        await this.#drain().catch(() => {});
      }
    } finally {
      this.#close();
    }
  }

  /**
   * Ends the connection: what is queued goes out (for at most a second),
   * open calls are cancelled, the socket closes. No GOAWAY: node:http2 in
   * Deno 2.9 (nghttp2) aborts its whole process on some GOAWAYs, even the
   * RFC 9113 §6.8 shutdown notice, and every client handles a closed
   * connection (its open calls fail as UNAVAILABLE, as they would anyway).
   */
  async shutdown(): Promise<void> {
    if (this.#ended) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#drain().catch(() => {}),
      new Promise((r) => timer = setTimeout(r, 1000)),
    ]);
    clearTimeout(timer);
    this.#close();
  }

  async #refuseHttp1(): Promise<void> {
    const body = this.#options.http1Message + "\n";
    const text =
      `HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${
        new TextEncoder().encode(body).length
      }\r\nconnection: close\r\n\r\n${body}`;
    await this.#conn.write(new TextEncoder().encode(text)).catch(() => 0);
  }

  #close(): void {
    if (this.#ended) return;
    this.#ended = true;
    for (const stream of this.#streams.values()) {
      stream.abort("the connection closed");
    }
    this.#streams.clear();
    this.#answering = 0;
    this.#blocked.clear();
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
    for (const resolve of this.#drained) resolve();
    this.#drained = [];
  }

  #tick(): void {
    const second = Math.floor(performance.now() / 1000);
    if (second !== this.#second) {
      this.#second = second;
      this.#control = 0;
    }
  }

  #frame(type: number, flags: number, id: number, payload: Uint8Array): void {
    if (this.#block !== undefined && type !== CONTINUATION) {
      throw new ConnectionError(
        H2Error.PROTOCOL_ERROR,
        "a frame inside a header block",
      );
    }
    switch (type) {
      case DATA:
        return this.#data(flags, id, payload);
      case HEADERS:
        return this.#headers(flags, id, payload);
      case CONTINUATION:
        return this.#continuation(flags, id, payload);
      case PRIORITY:
        if (id === 0) {
          throw new ConnectionError(H2Error.PROTOCOL_ERROR, "PRIORITY on 0");
        }
        if (payload.length !== 5) {
          this.#reset(id, H2Error.FRAME_SIZE_ERROR);
        }
        return;
      case RST_STREAM:
        return this.#rst(id, payload);
      case SETTINGS:
        return this.#settings(flags, id, payload);
      case PUSH_PROMISE:
        throw new ConnectionError(
          H2Error.PROTOCOL_ERROR,
          "a client may not push",
        );
      case PING:
        if (id !== 0) {
          throw new ConnectionError(H2Error.PROTOCOL_ERROR, "PING on a stream");
        }
        if (payload.length !== 8) {
          throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, "PING size");
        }
        if ((flags & ACK) === 0) {
          this.#calm();
          this.#queueFrame(PING, ACK, 0, payload.slice());
          this.#flush();
        }
        return;
      case GOAWAY:
        if (id !== 0) {
          throw new ConnectionError(
            H2Error.PROTOCOL_ERROR,
            "GOAWAY on a stream",
          );
        }
        this.#goingAway = true;
        return;
      case WINDOW_UPDATE:
        return this.#windowUpdate(id, payload);
      default:
        return; // Unknown frame types are ignored (RFC 9113 §4.1).
    }
  }

  #calm(): void {
    this.#tick();
    if (++this.#control > CONTROL_PER_SECOND) {
      throw new ConnectionError(
        H2Error.ENHANCE_YOUR_CALM,
        "too many control frames",
      );
    }
  }

  #unpad(flags: number, payload: Uint8Array): Uint8Array {
    if ((flags & PADDED) === 0) return payload;
    if (payload.length < 1) {
      throw new ConnectionError(H2Error.PROTOCOL_ERROR, "padding cut off");
    }
    const pad = payload[0]!;
    if (pad >= payload.length) {
      throw new ConnectionError(H2Error.PROTOCOL_ERROR, "padding too long");
    }
    return payload.subarray(1, payload.length - pad);
  }

  #data(flags: number, id: number, payload: Uint8Array): void {
    if (id === 0) {
      throw new ConnectionError(H2Error.PROTOCOL_ERROR, "DATA on stream 0");
    }
    this.#recvWindow -= payload.length;
    if (this.#recvWindow < 0) {
      throw new ConnectionError(
        H2Error.FLOW_CONTROL_ERROR,
        "DATA past the connection window",
      );
    }
    this.#credit(payload.length);
    const stream = this.#streams.get(id);
    if (stream === undefined || stream.remoteClosed) {
      if (id > this.#lastStream) {
        throw new ConnectionError(
          H2Error.PROTOCOL_ERROR,
          "DATA on an idle stream",
        );
      }
      return; // A stream already closed or reset: dropped.
    }
    const ended = (flags & END_STREAM) !== 0;
    if (ended) stream.remoteClosed = true;
    if (stream.dispatched) return; // Answered early (too big): the rest is dropped.
    const body = this.#unpad(flags, payload);
    stream.size += body.length;
    if (stream.size > this.#options.maxBodyBytes) {
      // Answer now; the rest of the body is not worth reading.
      stream.oversize = true;
      stream.chunks = [];
      this.#hold(stream, -stream.held);
      this.#dispatch(stream);
      return;
    }
    if (body.length > 0) {
      this.#hold(stream, body.length);
      if (this.#held > this.#maxHeld) {
        // Bodies in flight on this connection past what it may hold.
        this.#reset(stream.id, H2Error.REFUSED_STREAM);
        return;
      }
      stream.chunks.push(body.slice());
    }
    if (ended) this.#dispatch(stream);
  }

  /** Counts request bytes held for a stream (negative: released). */
  #hold(stream: Stream, bytes: number): void {
    stream.held += bytes;
    this.#held += bytes;
  }

  /** Gives receive window back (batched: one update per half window). */
  #credit(bytes: number): void {
    this.#recvCredit += bytes;
    if (this.#recvCredit >= CONNECTION_WINDOW / 2) {
      this.#queueFrame(WINDOW_UPDATE, 0, 0, u32(this.#recvCredit));
      this.#recvWindow += this.#recvCredit;
      this.#recvCredit = 0;
      this.#flush();
    }
  }

  #headers(flags: number, id: number, payload: Uint8Array): void {
    if (id === 0) {
      throw new ConnectionError(H2Error.PROTOCOL_ERROR, "HEADERS on stream 0");
    }
    let fragment = this.#unpad(flags, payload);
    if ((flags & PRIORITY_FLAG) !== 0) {
      if (fragment.length < 5) {
        throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, "priority cut off");
      }
      fragment = fragment.subarray(5);
    }
    const end = (flags & END_STREAM) !== 0;
    if ((flags & END_HEADERS) !== 0) {
      this.#headerBlock(id, end, fragment);
    } else {
      this.#block = {
        stream: id,
        end,
        parts: [fragment.slice()],
        size: fragment.length,
      };
    }
  }

  #continuation(flags: number, id: number, payload: Uint8Array): void {
    const block = this.#block;
    if (block === undefined || block.stream !== id) {
      throw new ConnectionError(
        H2Error.PROTOCOL_ERROR,
        "CONTINUATION without its HEADERS",
      );
    }
    block.size += payload.length;
    if (block.size > MAX_HEADER_BLOCK) {
      throw new ConnectionError(
        H2Error.ENHANCE_YOUR_CALM,
        `a header block over ${MAX_HEADER_BLOCK} bytes`,
      );
    }
    block.parts.push(payload.slice());
    if ((flags & END_HEADERS) === 0) return;
    this.#block = undefined;
    const whole = new Uint8Array(block.size);
    let at = 0;
    for (const part of block.parts) {
      whole.set(part, at);
      at += part.length;
    }
    this.#headerBlock(id, block.end, whole);
  }

  #headerBlock(id: number, end: boolean, block: Uint8Array): void {
    let decoded: { fields: HeaderField[]; size: number };
    try {
      decoded = this.#decoder.decode(block);
    } catch (error) {
      throw new ConnectionError(
        H2Error.COMPRESSION_ERROR,
        error instanceof Error ? error.message : String(error),
      );
    }
    const existing = this.#streams.get(id);
    if (existing !== undefined) {
      // Trailers from the client: they must end the stream.
      if (!end || existing.remoteClosed) {
        this.#reset(id, H2Error.PROTOCOL_ERROR);
        return;
      }
      existing.remoteClosed = true;
      if (!existing.dispatched) this.#dispatch(existing);
      return;
    }
    if (id <= this.#lastStream) {
      // A stream already done (we reset it, or answered it): ignored.
      return;
    }
    if ((id & 1) === 0) {
      throw new ConnectionError(
        H2Error.PROTOCOL_ERROR,
        `stream ${id} is even (client streams are odd)`,
      );
    }
    this.#lastStream = id;
    if (this.#goingAway) {
      this.#reset(id, H2Error.REFUSED_STREAM);
      return;
    }
    if (this.#streams.size >= MAX_STREAMS) {
      this.#reset(id, H2Error.REFUSED_STREAM);
      return;
    }
    if (decoded.size > MAX_HEADER_LIST) {
      this.#reset(id, H2Error.ENHANCE_YOUR_CALM);
      return;
    }
    const stream = new Stream(id, this, this.#peerInitialWindow);
    stream.headerFields = decoded.fields;
    this.#streams.set(id, stream);
    if (end) {
      stream.remoteClosed = true;
      this.#dispatch(stream);
    }
  }

  #dispatch(stream: Stream): void {
    const fields = stream.headerFields;
    if (fields === undefined || stream.dispatched) return;
    stream.dispatched = true;
    this.#hold(stream, -stream.held);
    stream.answering = true;
    this.#answering++;
    stream.headerFields = undefined;
    const chunks = stream.chunks;
    stream.chunks = [];
    const body = stream.oversize
      ? undefined
      : chunks.length === 1
      ? chunks[0]!
      : concatBytes(chunks, stream.size);
    const request: H2Request = {
      id: stream.id,
      headers: fields,
      body,
      get signal() {
        return stream.signal;
      },
    };
    try {
      const result = this.#options.onRequest(request, stream);
      if (result instanceof Promise) {
        result.catch(() => this.#reset(stream.id, H2Error.INTERNAL_ERROR));
      }
    } catch {
      this.#reset(stream.id, H2Error.INTERNAL_ERROR);
    }
  }

  #rst(id: number, payload: Uint8Array): void {
    if (id === 0) {
      throw new ConnectionError(H2Error.PROTOCOL_ERROR, "RST_STREAM on 0");
    }
    if (payload.length !== 4) {
      throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, "RST_STREAM size");
    }
    if (id > this.#lastStream) {
      throw new ConnectionError(
        H2Error.PROTOCOL_ERROR,
        "RST_STREAM on an idle stream",
      );
    }
    const stream = this.#streams.get(id);
    if (stream === undefined) return;
    this.#forget(stream);
    stream.abort("the client cancelled the call");
    const now = performance.now();
    this.#resetTokens = Math.min(
      RESET_BURST,
      this.#resetTokens + (now - this.#resetAt) * RESET_REFILL / 1000,
    );
    this.#resetAt = now;
    if (--this.#resetTokens < 0) {
      throw new ConnectionError(
        H2Error.ENHANCE_YOUR_CALM,
        "too many streams reset",
      );
    }
  }

  #settings(flags: number, id: number, payload: Uint8Array): void {
    if (id !== 0) {
      throw new ConnectionError(
        H2Error.PROTOCOL_ERROR,
        "SETTINGS on a stream",
      );
    }
    if ((flags & ACK) !== 0) {
      if (payload.length !== 0) {
        throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, "SETTINGS ack");
      }
      return;
    }
    if (payload.length % 6 !== 0) {
      throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, "SETTINGS size");
    }
    this.#calm();
    const view = new DataView(
      payload.buffer,
      payload.byteOffset,
      payload.byteLength,
    );
    for (let at = 0; at < payload.length; at += 6) {
      const key = view.getUint16(at);
      const value = view.getUint32(at + 2);
      if (key === 0x2 && value > 1) {
        throw new ConnectionError(H2Error.PROTOCOL_ERROR, "ENABLE_PUSH > 1");
      } else if (key === 0x4) {
        if (value > MAX_WINDOW) {
          throw new ConnectionError(
            H2Error.FLOW_CONTROL_ERROR,
            "INITIAL_WINDOW_SIZE over 2^31 - 1",
          );
        }
        const delta = value - this.#peerInitialWindow;
        this.#peerInitialWindow = value;
        for (const stream of this.#streams.values()) {
          stream.sendWindow += delta;
          if (stream.sendWindow > MAX_WINDOW) {
            throw new ConnectionError(
              H2Error.FLOW_CONTROL_ERROR,
              "a stream window over 2^31 - 1",
            );
          }
        }
        if (delta > 0) this.#unblock();
      } else if (key === 0x5) {
        if (value < 16_384 || value > 16_777_215) {
          throw new ConnectionError(
            H2Error.PROTOCOL_ERROR,
            "MAX_FRAME_SIZE out of range",
          );
        }
        this.#peerMaxFrame = value;
      }
      // HEADER_TABLE_SIZE needs nothing: this side never indexes.
    }
    this.#queueFrame(SETTINGS, ACK, 0, new Uint8Array());
    this.#flush();
  }

  #windowUpdate(id: number, payload: Uint8Array): void {
    if (payload.length !== 4) {
      throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, "WINDOW_UPDATE size");
    }
    const increment = new DataView(payload.buffer, payload.byteOffset, 4)
      .getUint32(0) & 0x7fffffff;
    if (id === 0) {
      if (increment === 0) {
        throw new ConnectionError(H2Error.PROTOCOL_ERROR, "a zero increment");
      }
      this.#sendWindow += increment;
      if (this.#sendWindow > MAX_WINDOW) {
        throw new ConnectionError(
          H2Error.FLOW_CONTROL_ERROR,
          "the connection window over 2^31 - 1",
        );
      }
      this.#unblock();
      return;
    }
    const stream = this.#streams.get(id);
    if (stream === undefined) {
      if (id > this.#lastStream) {
        throw new ConnectionError(
          H2Error.PROTOCOL_ERROR,
          "WINDOW_UPDATE on an idle stream",
        );
      }
      return;
    }
    if (increment === 0) {
      this.#reset(id, H2Error.PROTOCOL_ERROR);
      return;
    }
    stream.sendWindow += increment;
    if (stream.sendWindow > MAX_WINDOW) {
      this.#reset(id, H2Error.FLOW_CONTROL_ERROR);
      return;
    }
    if (this.#blocked.has(stream)) this.pump(stream);
  }

  #unblock(): void {
    for (const stream of [...this.#blocked]) {
      if (this.#sendWindow <= 0) return;
      this.pump(stream);
    }
  }

  /** Resets a stream from this side and forgets it. */
  #reset(id: number, code: number): void {
    const stream = this.#streams.get(id);
    if (stream !== undefined) {
      this.#forget(stream);
      stream.abort("the stream was reset");
    }
    if (this.#ended) return;
    this.#queueFrame(RST_STREAM, 0, id, u32(code));
    this.#flush();
  }

  /** The stream has started its answer: no write waits for it any more. */
  #answered(stream: Stream): void {
    if (stream.answering) {
      stream.answering = false;
      this.#answering--;
    }
  }

  #forget(stream: Stream): void {
    this.#answered(stream);
    this.#hold(stream, -stream.held);
    this.#streams.delete(stream.id);
    this.#blocked.delete(stream);
  }

  /** Queues a whole answer; one buffer when it fits the windows and a frame each. */
  sendWhole(
    stream: Stream,
    head: Uint8Array,
    body: readonly Uint8Array[],
    trailers: Uint8Array,
  ): void {
    if (this.#ended) return;
    let size = 0;
    for (const part of body) size += part.length;
    const room = Math.min(
      this.#sendWindow,
      stream.sendWindow,
      this.#peerMaxFrame,
    );
    if (
      stream.queue.length > 0 || size > room || size === 0 ||
      head.length > this.#peerMaxFrame || trailers.length > this.#peerMaxFrame
    ) {
      this.sendBlock(stream, head, false);
      stream.queue.push({
        kind: "data",
        bytes: concatBytes(body, size),
        end: false,
      });
      this.sendBlock(stream, trailers, true);
      return;
    }
    const out = new Uint8Array(27 + head.length + size + trailers.length);
    let at = frameHeader(out, 0, head.length, HEADERS, END_HEADERS, stream.id);
    out.set(head, at);
    at = frameHeader(out, at + head.length, size, DATA, 0, stream.id);
    for (const part of body) {
      out.set(part, at);
      at += part.length;
    }
    at = frameHeader(
      out,
      at,
      trailers.length,
      HEADERS,
      END_HEADERS | END_STREAM,
      stream.id,
    );
    out.set(trailers, at);
    this.#sendWindow -= size;
    stream.sendWindow -= size;
    stream.localClosed = true;
    this.#answered(stream);
    this.#queue(out);
    this.#finish(stream);
    this.#flushSoon();
  }

  sendHeaders(
    stream: Stream,
    fields: readonly HeaderField[],
    end: boolean,
  ): void {
    this.sendBlock(stream, encodeHeaders(fields), end);
  }

  /** Queues an encoded header block (split into CONTINUATIONs when needed). */
  sendBlock(stream: Stream, block: Uint8Array, end: boolean): void {
    if (this.#ended) return;
    const frames: Uint8Array[] = [];
    const max = this.#peerMaxFrame;
    let at = 0;
    let first = true;
    do {
      const part = block.subarray(at, at + max);
      at += part.length;
      const last = at >= block.length;
      frames.push(
        frameBytes(
          first ? HEADERS : CONTINUATION,
          (first && end ? END_STREAM : 0) | (last ? END_HEADERS : 0),
          stream.id,
          part,
        ),
      );
      first = false;
    } while (at < block.length);
    const bytes = frames.length === 1 ? frames[0]! : concatBytes(frames);
    stream.queue.push({ kind: "framed", bytes, end });
    if (end) stream.localClosed = true;
    this.pump(stream);
  }

  /** Sends what the windows allow of a stream's queue. */
  pump(stream: Stream): void {
    if (this.#ended || stream.gone) return;
    this.#answered(stream);
    const queue = stream.queue;
    while (queue.length > 0) {
      const item = queue[0]!;
      if (item.kind === "framed") {
        this.#queue(item.bytes);
      } else {
        do {
          let part = item.bytes;
          if (part.length > 0) {
            const room = Math.min(
              this.#sendWindow,
              stream.sendWindow,
              this.#peerMaxFrame,
            );
            if (room <= 0) {
              this.#blocked.add(stream);
              this.#flushSoon();
              return;
            }
            part = part.subarray(0, room);
            this.#sendWindow -= part.length;
            stream.sendWindow -= part.length;
          }
          item.bytes = item.bytes.subarray(part.length);
          const last = item.bytes.length === 0 && item.end;
          this.#queue(
            frameBytes(DATA, last ? END_STREAM : 0, stream.id, part),
          );
        } while (item.bytes.length > 0);
      }
      queue.shift();
      item.done?.();
      if (item.end) this.#finish(stream);
    }
    this.#blocked.delete(stream);
    this.#flushSoon();
  }

  /** The stream is done on this side: forget it, resetting a peer still sending. */
  #finish(stream: Stream): void {
    this.#forget(stream);
    if (!stream.remoteClosed) {
      stream.remoteClosed = true;
      this.#queueFrame(RST_STREAM, 0, stream.id, u32(H2Error.NO_ERROR));
    }
  }

  #goaway(code: number, message: string): void {
    if (this.#ended) return;
    this.#goingAway = true;
    const debug = new TextEncoder().encode(message.slice(0, 200));
    const payload = new Uint8Array(8 + debug.length);
    const view = new DataView(payload.buffer);
    view.setUint32(0, this.#lastStream);
    view.setUint32(4, code);
    payload.set(debug, 8);
    this.#queueFrame(GOAWAY, 0, 0, payload);
    this.#flush();
  }

  #queueFrame(type: number, flags: number, id: number, payload: Uint8Array) {
    this.#queue(frameBytes(type, flags, id, payload));
  }

  #queue(bytes: Uint8Array): void {
    this.#out.push(bytes);
    this.#outBytes += bytes.length;
  }

  /**
   * Writes soon: at once (after this turn's microtasks) when no call is
   * still being answered, else when the last one is, or on the next turn of
   * the event loop, whichever comes first: answers to requests that came
   * together leave in one write.
   */
  #flushSoon(): void {
    if (this.#answering > 0) {
      if (this.#timerQueued) return;
      this.#timerQueued = true;
      setTimeout(() => {
        this.#timerQueued = false;
        this.#flush();
      }, 0);
      return;
    }
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    queueMicrotask(() => {
      this.#flushQueued = false;
      this.#flush();
    });
  }

  #flush(): void {
    if (this.#writing !== undefined || this.#out.length === 0 || this.#ended) {
      return;
    }
    this.#writing = this.#write().finally(() => {
      this.#writing = undefined;
      if (this.#out.length > 0 && !this.#ended) this.#flush();
      else {
        for (const resolve of this.#drained) resolve();
        this.#drained = [];
      }
    });
  }

  async #write(): Promise<void> {
    while (this.#out.length > 0 && !this.#ended) {
      const parts = this.#out;
      const size = this.#outBytes;
      this.#out = [];
      this.#outBytes = 0;
      let bytes = parts.length === 1 ? parts[0]! : concatBytes(parts, size);
      try {
        while (bytes.length > 0) {
          const n = await this.#conn.write(bytes);
          bytes = bytes.subarray(n);
        }
      } catch {
        this.#close();
        return;
      }
    }
  }

  /** Resolves when everything queued has been written. */
  #drain(): Promise<void> {
    this.#flush();
    if (this.#writing === undefined || this.#ended) return Promise.resolve();
    return new Promise((resolve) => this.#drained.push(resolve));
  }
}

/** One frame's bytes: the 9-byte header, then the payload. */
export function frameBytes(
  type: number,
  flags: number,
  id: number,
  payload: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(9 + payload.length);
  frameHeader(out, 0, payload.length, type, flags, id);
  out.set(payload, 9);
  return out;
}

/** Writes a frame header at `at`; returns where its payload starts. */
function frameHeader(
  out: Uint8Array,
  at: number,
  length: number,
  type: number,
  flags: number,
  id: number,
): number {
  out[at] = length >>> 16;
  out[at + 1] = length >>> 8;
  out[at + 2] = length;
  out[at + 3] = type;
  out[at + 4] = flags;
  out[at + 5] = id >>> 24;
  out[at + 6] = id >>> 16;
  out[at + 7] = id >>> 8;
  out[at + 8] = id;
  return at + 9;
}

/** A 32-bit big-endian number's bytes. */
export function u32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value);
  return out;
}

/** A SETTINGS payload of `[identifier, value]` pairs. */
export function settingsPayload(pairs: [number, number][]): Uint8Array {
  const out = new Uint8Array(6 * pairs.length);
  const view = new DataView(out.buffer);
  pairs.forEach(([key, value], i) => {
    view.setUint16(6 * i, key);
    view.setUint32(6 * i + 2, value);
  });
  return out;
}
