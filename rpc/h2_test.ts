import assert from "node:assert/strict";
import fc from "fast-check";
import { concatBytes as concat } from "../internal/bytes.ts";
import {
  type H2Request,
  type H2Response,
  type H2Server,
  serveH2c,
  settingsPayload as settings,
  u32,
} from "./_h2.ts";
import { encodeHeaders, type HeaderField, HpackDecoder } from "./_hpack.ts";

const PREFACE = new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
/** How long a read waits for the server before the test fails: a hang guard. */
const GUARD_MS = 5_000;
const HTTP1_MESSAGE = "this port speaks HTTP/2 only (h2_test)";
const text = new TextEncoder();

const DATA = 0x0;
const HEADERS = 0x1;
const PRIORITY = 0x2;
const RST_STREAM = 0x3;
const SETTINGS = 0x4;
const PING = 0x6;
const GOAWAY = 0x7;
const WINDOW_UPDATE = 0x8;
const CONTINUATION = 0x9;

const END_STREAM = 0x1;
const ACK = 0x1;
const END_HEADERS = 0x4;

const NO_ERROR = 0x0;
const PROTOCOL_ERROR = 0x1;
const FRAME_SIZE_ERROR = 0x6;
const REFUSED_STREAM = 0x7;
const CANCEL = 0x8;
const COMPRESSION_ERROR = 0x9;
const ENHANCE_YOUR_CALM = 0xb;

const INITIAL_WINDOW_SIZE = 0x4;

interface Frame {
  readonly type: number;
  readonly flags: number;
  readonly id: number;
  readonly payload: Uint8Array;
}

function frame(
  type: number,
  flags: number,
  id: number,
  payload: Uint8Array = new Uint8Array(),
): Uint8Array {
  const out = new Uint8Array(9 + payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, payload.length << 8 | type);
  out[4] = flags;
  view.setUint32(5, id);
  out.set(payload, 9);
  return out;
}

/** A request's header block. */
function request(path: string, method = "POST"): Uint8Array {
  return encodeHeaders([
    [":method", method],
    [":scheme", "http"],
    [":path", path],
    [":authority", "127.0.0.1"],
    ["content-type", "application/octet-stream"],
  ]);
}

function errorCode(f: Frame): number {
  const at = f.type === GOAWAY ? 4 : 0;
  return new DataView(f.payload.buffer, f.payload.byteOffset).getUint32(at);
}

/** A WINDOW_UPDATE's increment. */
function increment(update: Frame): number {
  return errorCode(update) & 0x7fffffff;
}

function lastStreamId(goaway: Frame): number {
  return new DataView(goaway.payload.buffer, goaway.payload.byteOffset)
    .getUint32(0);
}

/** The answer to one stream, as the client saw it. */
interface Answer {
  head: HeaderField[];
  body: Uint8Array;
  trailers: HeaderField[] | undefined;
  /** Every frame of the stream, in order. */
  frames: Frame[];
}

/** A raw HTTP/2 client over one TCP connection. */
class Peer {
  readonly conn: Deno.TcpConn;
  readonly decoder = new HpackDecoder();
  #buffer: Uint8Array = new Uint8Array();
  #eof = false;
  #closed = false;

  private constructor(conn: Deno.TcpConn) {
    this.conn = conn;
  }

  static async connect(port: number): Promise<Peer> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.setNoDelay(true);
    return new Peer(conn);
  }

  /** Sends the preface and SETTINGS; returns the server's frames up to its ACK of them (its SETTINGS and WINDOW_UPDATE come first). */
  async handshake(pairs: [number, number][] = []): Promise<Frame[]> {
    await this.write(PREFACE, frame(SETTINGS, 0, 0, settings(pairs)));
    const seen = await this.until((f) =>
      f.type === SETTINGS && (f.flags & ACK) !== 0
    );
    await this.write(frame(SETTINGS, ACK, 0));
    return seen;
  }

  async write(...parts: Uint8Array[]): Promise<void> {
    let bytes = concat(parts);
    while (bytes.length > 0) {
      bytes = bytes.subarray(await this.conn.write(bytes));
    }
  }

  /** The next frame, or `undefined` once the server closed. */
  async read(): Promise<Frame | undefined> {
    for (;;) {
      if (this.#buffer.length >= 9) {
        const b = this.#buffer;
        const length = (b[0]! << 16) | (b[1]! << 8) | b[2]!;
        if (b.length >= 9 + length) {
          const f: Frame = {
            type: b[3]!,
            flags: b[4]!,
            id: new DataView(b.buffer, b.byteOffset + 5, 4).getUint32(0) &
              0x7fffffff,
            payload: b.slice(9, 9 + length),
          };
          this.#buffer = b.subarray(9 + length);
          return f;
        }
      }
      if (this.#eof) {
        assert.equal(this.#buffer.length, 0, "the server sent half a frame");
        return undefined;
      }
      const chunk = await this.readBytes();
      if (chunk === undefined) this.#eof = true;
      else this.#buffer = concat([this.#buffer, chunk]);
    }
  }

  /** Raw bytes from the socket (`undefined` at the end), failing after GUARD_MS. */
  async readBytes(): Promise<Uint8Array | undefined> {
    const chunk = new Uint8Array(64 * 1024);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const guard = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), GUARD_MS);
    });
    const reading = this.conn.read(chunk);
    try {
      const n = await Promise.race([reading, guard]);
      if (n === "timeout") {
        reading.catch(() => {});
        this.close();
        throw new Error(`the server said nothing for ${GUARD_MS} ms`);
      }
      return n === null ? undefined : chunk.subarray(0, n);
    } catch (error) {
      // A server that closes with our bytes unread resets the connection;
      // what it sent before is still read first.
      if (error instanceof Deno.errors.ConnectionReset) return undefined;
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Reads frames up to and including the first that passes `test`. */
  async until(test: (f: Frame) => boolean): Promise<Frame[]> {
    const seen: Frame[] = [];
    for (;;) {
      const f = await this.read();
      assert.ok(
        f !== undefined,
        `the server closed; frames before: ${describe(seen)}`,
      );
      seen.push(f);
      if (test(f)) return seen;
    }
  }

  /** Reads every frame until the server closes. */
  async rest(): Promise<Frame[]> {
    const seen: Frame[] = [];
    for (let f = await this.read(); f !== undefined; f = await this.read()) {
      seen.push(f);
    }
    return seen;
  }

  /** Sends a PING and returns the frames that came before its ACK: everything the frames sent before it caused. */
  async sync(): Promise<Frame[]> {
    const data = text.encode("syncsync");
    await this.write(frame(PING, 0, 0, data));
    const seen = await this.until((f) =>
      f.type === PING && (f.flags & ACK) !== 0 &&
      data.every((b, i) => f.payload[i] === b)
    );
    return seen.slice(0, -1);
  }

  /** Reads one stream's frames up to its END_STREAM (other streams' frames are skipped). */
  async stream(id: number): Promise<Frame[]> {
    const frames: Frame[] = [];
    for (;;) {
      const f = await this.read();
      assert.ok(f !== undefined, `the server closed: ${describe(frames)}`);
      if (f.id !== id) continue;
      frames.push(f);
      if (f.type === RST_STREAM) {
        assert.fail(`stream ${id} reset with ${errorCode(f)}`);
      }
      if ((f.flags & END_STREAM) !== 0) return frames;
    }
  }

  /** Reads one stream's answer up to its END_STREAM. */
  async answer(id: number): Promise<Answer> {
    return this.collect(await this.stream(id));
  }

  /** Puts one stream's frames together: head, body, trailers. */
  collect(frames: Frame[]): Answer {
    let head: HeaderField[] | undefined;
    let trailers: HeaderField[] | undefined;
    const body: Uint8Array[] = [];
    for (const f of frames) {
      if (f.type === HEADERS) {
        assert.ok((f.flags & END_HEADERS) !== 0, "a header block in one frame");
        assert.equal(trailers, undefined, "HEADERS after the trailers");
        const fields = this.decoder.decode(f.payload).fields;
        if (head === undefined) head = fields;
        else trailers = fields;
      } else if (f.type === DATA) {
        assert.ok(head !== undefined, "DATA before HEADERS");
        assert.equal(trailers, undefined, "DATA after the trailers");
        assert.ok(f.payload.length <= 16_384);
        body.push(f.payload);
      } else {
        assert.fail(`unexpected frame ${describe([f])}`);
      }
    }
    assert.ok(head !== undefined, "no HEADERS");
    return { head, body: concat(body), trailers, frames };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

function describe(frames: readonly Frame[]): string {
  return frames.map((f) =>
    `${f.type}/${f.flags}/${f.id}/${f.payload.length}` +
    (f.type === GOAWAY || f.type === RST_STREAM ? `(${errorCode(f)})` : "")
  ).join(" ");
}

/** What the test handler saw. */
interface Seen {
  requests: H2Request[];
  /** Errors that the server's response API should never have caused. */
  unexpected: unknown[];
}

/**
 * The handler most tests use, by path: `/echo` answers the body back with
 * `headers`, `data` and `trailers` (413 trailers-only when the body was too
 * big); `/whole` answers with `whole()`; `/size` answers the body's
 * length; `/hang` never answers.
 */
function handler(seen: Seen) {
  return async (req: H2Request, res: H2Response): Promise<void> => {
    seen.requests.push(req);
    const path = req.headers.find(([n]) => n === ":path")?.[1];
    try {
      if (path === "/hang") return;
      if (req.body === undefined) {
        res.headers([[":status", "413"]], true);
        return;
      }
      if (path === "/size") {
        res.whole(
          encodeHeaders([[":status", "200"]]),
          [text.encode(String(req.body.length))],
          encodeHeaders([["x-done", "3"]]),
        );
        return;
      }
      if (path === "/whole") {
        res.whole(
          encodeHeaders([[":status", "200"], ["content-type", "text/plain"]]),
          [text.encode("whole "), req.body],
          encodeHeaders([["x-done", "2"]]),
        );
        return;
      }
      res.headers([[":status", "200"]], false);
      try {
        await res.data(req.body);
      } catch (error) {
        // Only a stream that is gone may refuse data.
        if (!res.closed) seen.unexpected.push(error);
        return;
      }
      res.trailers([["x-done", "1"]]);
    } catch (error) {
      seen.unexpected.push(error);
    }
  };
}

function start(maxBodyBytes = 1 << 20): { server: H2Server; seen: Seen } {
  const seen: Seen = { requests: [], unexpected: [] };
  const server = serveH2c({
    hostname: "127.0.0.1",
    port: 0,
    maxBodyBytes,
    http1Message: HTTP1_MESSAGE,
    onRequest: handler(seen),
  });
  return { server, seen };
}

/** A fresh connection gets an echo answered: the server is still up. */
async function assertServes(server: H2Server): Promise<void> {
  using peer = await Peer.connect(server.port);
  await peer.handshake();
  await peer.write(
    frame(HEADERS, END_HEADERS, 1, request("/echo")),
    frame(DATA, END_STREAM, 1, text.encode("still here")),
  );
  const answer = await peer.answer(1);
  assert.deepEqual(answer.head, [[":status", "200"]]);
  assert.equal(new TextDecoder().decode(answer.body), "still here");
  assert.deepEqual(answer.trailers, [["x-done", "1"]]);
}

/** Reads to the end: the last frame must be a GOAWAY with `code`. */
async function assertGoaway(peer: Peer, code: number): Promise<Frame> {
  const frames = await peer.rest();
  const last = frames.at(-1);
  assert.ok(
    last !== undefined && last.type === GOAWAY,
    `expected GOAWAY last, got ${describe(frames)}`,
  );
  assert.equal(errorCode(last), code, describe(frames));
  assert.equal(last.id, 0);
  return last;
}

Deno.test("serveH2c() answers with headers, data and trailers", async () => {
  const { server, seen } = start();
  try {
    using peer = await Peer.connect(server.port);
    await peer.handshake();
    const body = new Uint8Array(40_000).map((_, i) => i * 7);
    await peer.write(
      frame(HEADERS, END_HEADERS, 1, request("/echo")),
      frame(DATA, 0, 1, body.subarray(0, 16_384)),
      frame(DATA, 0, 1, body.subarray(16_384, 32_768)),
      frame(DATA, END_STREAM, 1, body.subarray(32_768)),
    );
    const answer = await peer.answer(1);
    assert.deepEqual(answer.head, [[":status", "200"]]);
    assert.deepEqual(answer.body, body);
    assert.deepEqual(answer.trailers, [["x-done", "1"]]);
    assert.equal(answer.frames[0]!.type, HEADERS);
    assert.equal(answer.frames[0]!.flags & END_STREAM, 0);
    const last = answer.frames.at(-1)!;
    assert.equal(last.type, HEADERS);
    assert.equal(last.flags, END_HEADERS | END_STREAM);
    for (const f of answer.frames.slice(1, -1)) {
      assert.equal(f.type, DATA);
      assert.equal(f.flags, 0);
      assert.ok(f.payload.length <= 16_384);
    }

    // The handler saw the request whole.
    assert.equal(seen.requests.length, 1);
    const req = seen.requests[0]!;
    assert.equal(req.id, 1);
    assert.deepEqual(req.headers, [
      [":method", "POST"],
      [":scheme", "http"],
      [":path", "/echo"],
      [":authority", "127.0.0.1"],
      ["content-type", "application/octet-stream"],
    ]);
    assert.deepEqual(req.body, body);
    assert.equal(req.signal.aborted, false);

    // An empty body with END_STREAM on HEADERS, then a second stream on
    // the same connection with whole().
    await peer.write(
      frame(HEADERS, END_HEADERS | END_STREAM, 3, request("/echo")),
    );
    const empty = await peer.answer(3);
    assert.deepEqual(empty.head, [[":status", "200"]]);
    assert.equal(empty.body.length, 0);
    assert.deepEqual(empty.trailers, [["x-done", "1"]]);

    await peer.write(
      frame(HEADERS, END_HEADERS, 5, request("/whole")),
      frame(DATA, END_STREAM, 5, text.encode("body")),
    );
    const whole = await peer.answer(5);
    assert.deepEqual(whole.head, [[":status", "200"], [
      "content-type",
      "text/plain",
    ]]);
    assert.equal(new TextDecoder().decode(whole.body), "whole body");
    assert.deepEqual(whole.trailers, [["x-done", "2"]]);
    assert.deepEqual(whole.frames.map((f) => [f.type, f.flags]), [
      [HEADERS, END_HEADERS],
      [DATA, 0],
      [HEADERS, END_HEADERS | END_STREAM],
    ]);
    // No RST_STREAM follows: the client had ended its side.
    assert.deepEqual(describe(await peer.sync()), "");
    assert.deepEqual(seen.unexpected, []);
  } finally {
    await server.close();
  }
});

Deno.test("serveH2c() sends its SETTINGS first, ACKs the client's and answers PING", async () => {
  const { server } = start(1000);
  try {
    using peer = await Peer.connect(server.port);
    await peer.write(PREFACE);
    const first = await peer.read();
    assert.ok(first !== undefined);
    assert.equal(first.type, SETTINGS);
    assert.equal(first.flags, 0);
    assert.equal(first.id, 0);
    const view = new DataView(first.payload.buffer);
    const announced = new Map<number, number>();
    for (let at = 0; at < first.payload.length; at += 6) {
      announced.set(view.getUint16(at), view.getUint32(at + 2));
    }
    assert.deepEqual(
      announced,
      new Map([
        [0x1, 4096],
        [0x2, 0],
        [0x3, 128],
        [0x4, 1000 + 5 + 1024],
        [0x5, 16_384],
        [0x6, 16_384],
      ]),
    );
    const update = await peer.read();
    assert.ok(update !== undefined);
    assert.equal(update.type, WINDOW_UPDATE);
    assert.equal(update.id, 0);
    assert.equal(increment(update), 16 * 1024 * 1024 - 65_535);

    await peer.write(
      frame(SETTINGS, 0, 0, settings([[INITIAL_WINDOW_SIZE, 100_000]])),
    );
    const ack = await peer.read();
    assert.ok(ack !== undefined);
    assert.deepEqual([ack.type, ack.flags, ack.id, ack.payload.length], [
      SETTINGS,
      ACK,
      0,
      0,
    ]);
    // An empty SETTINGS is ACKed too; a SETTINGS ACK from us gets nothing.
    await peer.write(frame(SETTINGS, ACK, 0), frame(SETTINGS, 0, 0));
    const ack2 = await peer.read();
    assert.deepEqual([ack2?.type, ack2?.flags], [SETTINGS, ACK]);

    const data = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 0xff);
    await peer.write(frame(PING, 0, 0, data));
    const pong = await peer.read();
    assert.ok(pong !== undefined);
    assert.deepEqual([pong.type, pong.flags, pong.id], [PING, ACK, 0]);
    assert.deepEqual(pong.payload, data);
    // A PING ACK from the client is not answered; the next PING is.
    await peer.write(
      frame(PING, ACK, 0, new Uint8Array(8)),
      frame(PING, 0, 0, new Uint8Array(8).fill(9)),
    );
    const pong2 = await peer.read();
    assert.deepEqual(pong2?.payload, new Uint8Array(8).fill(9));
    // Unknown frame types and PRIORITY are ignored.
    await peer.write(
      frame(0x0f, 0xff, 1, text.encode("unknown")),
      frame(PRIORITY, 0, 1, new Uint8Array(5)),
    );
    assert.equal(describe(await peer.sync()), "");
  } finally {
    await server.close();
  }
});

Deno.test("serveH2c() sends data under the client's stream and connection windows", async () => {
  const total = 100_000;
  const payload = new Uint8Array(total).map((_, i) => i % 251);
  let resolved = false;
  let failure: unknown;
  const server = serveH2c({
    hostname: "127.0.0.1",
    port: 0,
    maxBodyBytes: 1024,
    http1Message: HTTP1_MESSAGE,
    onRequest: async (_req, res) => {
      try {
        res.headers([[":status", "200"]], false);
        await res.data(payload);
        resolved = true;
        res.trailers([["x-done", "1"]]);
      } catch (error) {
        failure = error;
      }
    },
  });
  try {
    using peer = await Peer.connect(server.port);
    // A stream window of 1000; the connection's stays at 65 535.
    await peer.handshake([[INITIAL_WINDOW_SIZE, 1000]]);
    await peer.write(
      frame(HEADERS, END_HEADERS | END_STREAM, 1, request("/big")),
    );
    let received = 0;
    const frames: Frame[] = [];
    const take = (f: Frame) => {
      assert.equal(f.id, 1, describe([f]));
      frames.push(f);
      if (f.type === DATA) received += f.payload.length;
    };
    await peer.until((f) => {
      take(f);
      return received >= 1000;
    });
    // Nothing more until the stream window grows.
    (await peer.sync()).forEach(take);
    assert.equal(received, 1000);
    assert.equal(resolved, false, "data() resolved before its bytes left");

    await peer.write(frame(WINDOW_UPDATE, 0, 1, u32(500)));
    (await peer.sync()).forEach(take);
    assert.equal(received, 1500);
    assert.equal(resolved, false);

    // A big stream window: now the connection's 65 535 is the limit.
    await peer.write(frame(WINDOW_UPDATE, 0, 1, u32(1_000_000)));
    (await peer.sync()).forEach(take);
    assert.equal(received, 65_535);
    assert.equal(resolved, false);

    // Connection credit in two steps; the last one lets everything out.
    await peer.write(frame(WINDOW_UPDATE, 0, 0, u32(10_000)));
    (await peer.sync()).forEach(take);
    assert.equal(received, 75_535);
    assert.equal(resolved, false);
    await peer.write(frame(WINDOW_UPDATE, 0, 0, u32(total - 75_535)));
    (await peer.stream(1)).forEach(take);
    const answer = peer.collect(frames);
    assert.equal(received, total);
    assert.deepEqual(answer.head, [[":status", "200"]]);
    assert.deepEqual(answer.body, payload);
    assert.deepEqual(answer.trailers, [["x-done", "1"]]);
    assert.equal(answer.frames.at(-1)!.flags, END_HEADERS | END_STREAM);
    assert.equal(resolved, true);
    assert.equal(failure, undefined);
  } finally {
    await server.close();
  }
});

Deno.test("serveH2c() whole() waits for the windows when the body does not fit", async () => {
  const { server, seen } = start();
  try {
    using peer = await Peer.connect(server.port);
    await peer.handshake([[INITIAL_WINDOW_SIZE, 4]]);
    await peer.write(
      frame(HEADERS, END_HEADERS, 1, request("/whole")),
      frame(DATA, END_STREAM, 1, text.encode("0123456789")),
    );
    const early = await peer.sync();
    assert.deepEqual(early.map((f) => [f.type, f.id]), [[HEADERS, 1], [
      DATA,
      1,
    ]]);
    assert.equal(early[1]!.payload.length, 4);
    await peer.write(frame(WINDOW_UPDATE, 0, 1, u32(100)));
    const answer = peer.collect([...early, ...await peer.stream(1)]);
    assert.equal(new TextDecoder().decode(answer.body), "whole 0123456789");
    assert.deepEqual(answer.trailers, [["x-done", "2"]]);
    assert.deepEqual(seen.unexpected, []);
  } finally {
    await server.close();
  }
});

Deno.test("serveH2c() gives the connection window back while bodies are still arriving", async () => {
  // Four uploads of 4.5 MB side by side: 18 MB in all, more than the
  // 16 MiB connection window, and none is whole before the window runs
  // out. The server must send its connection WINDOW_UPDATE on its own.
  const size = 4_500_000;
  const { server, seen } = start(5_000_000);
  try {
    using peer = await Peer.connect(server.port);
    const first = await peer.handshake();
    let window = 65_535;
    for (const f of first) {
      if (f.type === WINDOW_UPDATE && f.id === 0) window += increment(f);
    }
    assert.equal(window, 16 * 1024 * 1024);
    const ids = [1, 3, 5, 7];
    await peer.write(
      ...ids.map((id) => frame(HEADERS, END_HEADERS, id, request("/size"))),
    );
    const chunk = new Uint8Array(16_384).fill(0x61);
    const sent = new Map(ids.map((id) => [id, 0]));
    const answers = new Map<number, Frame[]>(ids.map((id) => [id, []]));
    const take = (f: Frame) => {
      if (f.type === WINDOW_UPDATE && f.id === 0) window += increment(f);
      else if (f.id !== 0) answers.get(f.id)!.push(f);
    };
    let waits = 0;
    while (ids.some((id) => sent.get(id)! < size)) {
      const batch: Uint8Array[] = [];
      for (const id of ids) {
        const n = Math.min(chunk.length, size - sent.get(id)!, window);
        if (n <= 0) continue;
        window -= n;
        sent.set(id, sent.get(id)! + n);
        const end = sent.get(id) === size ? END_STREAM : 0;
        batch.push(frame(DATA, end, id, chunk.subarray(0, n)));
      }
      if (batch.length > 0) {
        await peer.write(...batch);
        continue;
      }
      // The window is used up with no body whole: only the server's
      // credit lets the client go on.
      assert.ok(ids.every((id) => sent.get(id)! < size));
      waits++;
      (await peer.until((f) => f.type === WINDOW_UPDATE && f.id === 0))
        .forEach(take);
    }
    assert.ok(waits > 0);
    const ended = (id: number) =>
      answers.get(id)!.some((f) => (f.flags & END_STREAM) !== 0);
    while (!ids.every(ended)) {
      const f = await peer.read();
      assert.ok(f !== undefined, "the server closed");
      take(f);
    }
    for (const id of ids) {
      const answer = peer.collect(answers.get(id)!);
      assert.equal(new TextDecoder().decode(answer.body), String(size));
      assert.deepEqual(answer.trailers, [["x-done", "3"]]);
    }
    assert.equal(seen.requests.length, 4);
  } finally {
    await server.close();
  }
});

Deno.test("serveH2c() refuses a frame over 16 384 bytes with FRAME_SIZE_ERROR", async () => {
  const { server } = start();
  try {
    {
      using peer = await Peer.connect(server.port);
      await peer.handshake();
      // The header alone: the server must not wait for the payload.
      // 0x004001 = 16 385 bytes of DATA on stream 1.
      await peer.write(Uint8Array.of(0x00, 0x40, 0x01, DATA, 0, 0, 0, 0, 1));
      await assertGoaway(peer, FRAME_SIZE_ERROR);
    }
    await assertServes(server);
  } finally {
    await server.close();
  }
});

Deno.test("serveH2c() refuses a header block over 64 KiB with ENHANCE_YOUR_CALM", async () => {
  const { server } = start();
  try {
    {
      using peer = await Peer.connect(server.port);
      await peer.handshake();
      const piece = new Uint8Array(16_384);
      await peer.write(
        frame(HEADERS, 0, 1, piece),
        frame(CONTINUATION, 0, 1, piece),
        frame(CONTINUATION, 0, 1, piece),
        frame(CONTINUATION, 0, 1, piece), // 65 536: still allowed
        frame(CONTINUATION, 0, 1, new Uint8Array(1)),
      );
      await assertGoaway(peer, ENHANCE_YOUR_CALM);
    }
    await assertServes(server);
  } finally {
    await server.close();
  }
});

Deno.test("serveH2c() refuses a header block that does not decode with COMPRESSION_ERROR", async () => {
  const { server, seen } = start();
  try {
    for (
      const block of [
        Uint8Array.of(0x80), // index 0
        Uint8Array.of(0xff), // an integer cut off
        Uint8Array.of(0x04, 0x82, 0x1f, 0xff), // bad Huffman padding
        Uint8Array.of(0x3f, 0xe2, 0x1f), // a table size over 4096
      ]
    ) {
      {
        using peer = await Peer.connect(server.port);
        await peer.handshake();
        await peer.write(frame(HEADERS, END_HEADERS | END_STREAM, 1, block));
        await assertGoaway(peer, COMPRESSION_ERROR);
      }
      await assertServes(server);
    }
    // Only the liveness requests reached the handler.
    assert.equal(seen.requests.length, 4);
  } finally {
    await server.close();
  }
});

Deno.test("serveH2c() refuses an even stream id with PROTOCOL_ERROR", async () => {
  const { server, seen } = start();
  try {
    {
      using peer = await Peer.connect(server.port);
      await peer.handshake();
      await peer.write(
        frame(HEADERS, END_HEADERS | END_STREAM, 2, request("/echo")),
      );
      const goaway = await assertGoaway(peer, PROTOCOL_ERROR);
      assert.equal(lastStreamId(goaway), 0);
    }
    assert.equal(seen.requests.length, 0);
    await assertServes(server);
  } finally {
    await server.close();
  }
});

Deno.test("serveH2c() refuses the 129th concurrent stream with REFUSED_STREAM", async () => {
  const { server, seen } = start();
  try {
    using peer = await Peer.connect(server.port);
    await peer.handshake();
    const frames: Uint8Array[] = [];
    for (let i = 0; i < 129; i++) {
      frames.push(
        frame(HEADERS, END_HEADERS | END_STREAM, 2 * i + 1, request("/hang")),
      );
    }
    await peer.write(...frames);
    const refused = await peer.until((f) => f.type === RST_STREAM);
    assert.equal(refused.length, 1, describe(refused));
    assert.equal(refused[0]!.id, 257);
    assert.equal(errorCode(refused[0]!), REFUSED_STREAM);
    assert.equal(describe(await peer.sync()), "");
    assert.equal(seen.requests.length, 128);
    assert.ok(seen.requests.every((r) => !r.signal.aborted));

    // Once one stream is reset by the client, a new one is taken.
    await peer.write(
      frame(RST_STREAM, 0, 1, u32(CANCEL)),
      frame(HEADERS, END_HEADERS, 259, request("/echo")),
      frame(DATA, END_STREAM, 259, text.encode("room again")),
    );
    const answer = await peer.answer(259);
    assert.equal(new TextDecoder().decode(answer.body), "room again");
    assert.equal(seen.requests[0]!.signal.aborted, true);

    // Other connections have their own count.
    await assertServes(server);
  } finally {
    await server.close();
  }
  // Closing the server ended the calls that were never answered.
  const hung = seen.requests.filter((r) =>
    r.headers.some(([n, v]) => n === ":path" && v === "/hang")
  );
  assert.equal(hung.length, 128);
  assert.ok(hung.every((r) => r.signal.aborted));
});

Deno.test("serveH2c() refuses a stream whose body would take the connection past four bodies' worth", async () => {
  // maxBodyBytes 1 MiB: a connection may hold 4 MiB + 1 MiB of bodies not
  // yet whole. Six bodies of just under 1 MiB, none ended, go past it.
  const { server, seen } = start(1 << 20);
  try {
    using peer = await Peer.connect(server.port);
    await peer.handshake();
    const ids = [1, 3, 5, 7, 9, 11];
    await peer.write(
      ...ids.map((id) => frame(HEADERS, END_HEADERS, id, request("/size"))),
    );
    const chunk = new Uint8Array(16_000).fill(0x62);
    for (let i = 0; i < 64; i++) {
      await peer.write(...ids.map((id) => frame(DATA, 0, id, chunk)));
    }
    const frames = await peer.sync();
    // The stream whose frame crossed the line (the fourth, in round 55) is
    // refused; its bytes are let go, so the others fit.
    const resets = frames.filter((f) => f.type === RST_STREAM);
    assert.deepEqual(resets.map((f) => [f.id, errorCode(f)]), [[
      7,
      REFUSED_STREAM,
    ]]);
    const rest = ids.filter((id) => id !== 7);
    await peer.write(...rest.map((id) => frame(DATA, END_STREAM, id, chunk)));
    for (const id of rest) {
      const answer = await peer.answer(id);
      assert.equal(new TextDecoder().decode(answer.body), String(65 * 16_000));
    }
    assert.equal(seen.requests.length, 5);
  } finally {
    await server.close();
  }
});

Deno.test("serveH2c() ends a connection that resets streams too fast with ENHANCE_YOUR_CALM", async () => {
  const { server, seen } = start();
  try {
    {
      using peer = await Peer.connect(server.port);
      await peer.handshake();
      // 2000 streams opened and reset at once: past the bucket of 1 000
      // resets (refilled at 100 a second) long before the last.
      const frames: Uint8Array[] = [];
      const block = request("/hang");
      for (let i = 0; i < 2000; i++) {
        frames.push(
          frame(HEADERS, END_HEADERS | END_STREAM, 2 * i + 1, block),
          frame(RST_STREAM, 0, 2 * i + 1, u32(CANCEL)),
        );
      }
      await peer.write(...frames);
      const goaway = await assertGoaway(peer, ENHANCE_YOUR_CALM);
      assert.ok(lastStreamId(goaway) >= 2001);
    }
    assert.ok(seen.requests.length > 1000);
    await assertServes(server);
  } finally {
    await server.close();
  }
});

Deno.test("serveH2c() answers a body over maxBodyBytes early, without it", async () => {
  const { server, seen } = start(100);
  try {
    using peer = await Peer.connect(server.port);
    await peer.handshake();
    // The client has not ended the stream: RST_STREAM NO_ERROR follows.
    await peer.write(
      frame(HEADERS, END_HEADERS, 1, request("/echo")),
      frame(DATA, 0, 1, new Uint8Array(60)),
      frame(DATA, 0, 1, new Uint8Array(60)),
    );
    const frames = await peer.until((f) => f.type === RST_STREAM);
    assert.deepEqual(frames.map((f) => [f.type, f.flags, f.id]), [
      [HEADERS, END_HEADERS | END_STREAM, 1],
      [RST_STREAM, 0, 1],
    ]);
    assert.deepEqual(peer.decoder.decode(frames[0]!.payload).fields, [[
      ":status",
      "413",
    ]]);
    assert.equal(errorCode(frames[1]!), NO_ERROR);
    assert.equal(seen.requests.length, 1);
    assert.equal(seen.requests[0]!.body, undefined);
    // The rest of that body is dropped without harm.
    await peer.write(frame(DATA, END_STREAM, 1, new Uint8Array(60)));
    assert.equal(describe(await peer.sync()), "");

    // Ended by the client (END_STREAM on the DATA that goes over): no reset.
    await peer.write(
      frame(HEADERS, END_HEADERS, 3, request("/echo")),
      frame(DATA, END_STREAM, 3, new Uint8Array(101)),
    );
    const ended = await peer.answer(3);
    assert.deepEqual(ended.head, [[":status", "413"]]);
    assert.equal(describe(await peer.sync()), "");
    assert.equal(seen.requests[1]!.body, undefined);

    // Exactly maxBodyBytes is delivered.
    const body = new Uint8Array(100).fill(7);
    await peer.write(
      frame(HEADERS, END_HEADERS, 5, request("/echo")),
      frame(DATA, END_STREAM, 5, body),
    );
    assert.deepEqual((await peer.answer(5)).body, body);
    assert.deepEqual(seen.unexpected, []);
  } finally {
    await server.close();
  }
});

Deno.test("serveH2c() answers an HTTP/1.1 client with a 400 and its message", async () => {
  const { server, seen } = start();
  try {
    {
      using peer = await Peer.connect(server.port);
      await peer.write(text.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
      const parts: Uint8Array[] = [];
      for (
        let chunk = await peer.readBytes();
        chunk !== undefined;
        chunk = await peer.readBytes()
      ) {
        parts.push(chunk.slice());
      }
      const answer = new TextDecoder().decode(concat(parts));
      assert.match(answer, /^HTTP\/1\.1 400 /);
      assert.ok(answer.includes(HTTP1_MESSAGE), answer);
      assert.match(answer, /\r\n\r\n/);
      const [head, body] = answer.split("\r\n\r\n") as [string, string];
      const length = /content-length: (\d+)/i.exec(head)?.[1];
      assert.equal(Number(length), text.encode(body).length);
    }
    assert.equal(seen.requests.length, 0);
    await assertServes(server);
  } finally {
    await server.close();
  }
});

Deno.test("serveH2c() close() sends what is queued, ends open calls and closes without a GOAWAY", async () => {
  const { server, seen } = start();
  let closing: Promise<void> | undefined;
  try {
    using peer = await Peer.connect(server.port);
    await peer.handshake();
    await peer.write(
      frame(HEADERS, END_HEADERS | END_STREAM, 1, request("/hang")),
    );
    await peer.sync();
    assert.equal(seen.requests.length, 1);
    closing = server.close();
    // No GOAWAY (node:http2 in Deno 2.9 can abort its process on one): the
    // connection just ends.
    assert.deepEqual(await peer.rest(), []);
    await closing;
    assert.equal(seen.requests[0]!.signal.aborted, true);
    // The port no longer listens.
    await assert.rejects(() =>
      Deno.connect({ hostname: "127.0.0.1", port: server.port })
    );
  } finally {
    await (closing ?? server.close());
  }
});

/** One frame a fuzzing client sends. */
interface FuzzFrame {
  type: number;
  flags: number;
  id: number;
  payload: Uint8Array;
}

/**
 * What a fuzzing client does: mostly well-formed steps on the streams it
 * opened (so that sequences get past the first check and reach the
 * handler, flow control and resets), with raw frames of any type, flags,
 * stream and payload mixed in. `stream` picks one of the streams opened so
 * far (opening one if none is).
 */
type Step =
  | { step: "open"; path: string; flags: number; split: boolean }
  | {
    step: "frame";
    type: number;
    flags: number;
    stream: number;
    payload: Uint8Array;
  }
  | { step: "raw"; frame: FuzzFrame };

const arbRaw = fc.record({
  type: fc.integer({ min: 0, max: 10 }),
  flags: fc.integer({ min: 0, max: 255 }),
  id: fc.integer({ min: 0, max: 8 }),
  payload: fc.uint8Array({ maxLength: 100 }),
});
const arbStep: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 2,
    arbitrary: arbRaw.map((frame) => ({ step: "raw" as const, frame })),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      step: fc.constant("open"),
      path: fc.constantFrom("/echo", "/whole", "/hang"),
      flags: fc.constantFrom(END_HEADERS, END_HEADERS | END_STREAM),
      split: fc.boolean(), // HEADERS then CONTINUATION
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      step: fc.constant("frame"),
      type: fc.constant(DATA),
      flags: fc.constantFrom(0, END_STREAM, 0x8, 0x8 | END_STREAM),
      stream: fc.nat(),
      payload: fc.uint8Array({ maxLength: 100 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      step: fc.constant("frame"),
      type: fc.constantFrom(WINDOW_UPDATE, RST_STREAM),
      flags: fc.constant(0),
      stream: fc.nat(),
      payload: fc.oneof(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.integer({ min: 0, max: 100 }),
      ).map(u32),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      step: fc.constant("frame"),
      type: fc.constant(PRIORITY),
      flags: fc.constant(0),
      stream: fc.nat(),
      payload: fc.uint8Array({ minLength: 5, maxLength: 5 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      step: fc.constant("raw"),
      frame: fc.record({
        type: fc.constant(SETTINGS),
        flags: fc.constant(0),
        id: fc.constant(0),
        payload: fc.array(
          fc.tuple(
            fc.constantFrom(0x1, 0x2, 0x3, 0x4, 0x5, 0x6, 0x9),
            fc.oneof(
              fc.integer({ min: 0, max: 70_000 }),
              fc.constantFrom(0, 1, 16_384, 16_777_215, 2 ** 31 - 1),
            ),
          ),
          { maxLength: 3 },
        ).map(settings),
      }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      step: fc.constant("raw"),
      frame: fc.record({
        type: fc.constantFrom(PING, WINDOW_UPDATE, GOAWAY),
        flags: fc.constantFrom(0, ACK),
        id: fc.constant(0),
        payload: fc.uint8Array({ minLength: 8, maxLength: 8 }),
      }),
    }),
  },
);

function fuzzFrames(steps: readonly Step[]): FuzzFrame[] {
  const out: FuzzFrame[] = [];
  const opened: number[] = [];
  const open = (path: string, flags: number, split: boolean) => {
    const id = 2 * opened.length + 1;
    opened.push(id);
    const block = request(path);
    if (!split) {
      out.push({ type: HEADERS, flags, id, payload: block });
      return id;
    }
    out.push(
      {
        type: HEADERS,
        flags: flags & ~END_HEADERS,
        id,
        payload: block.subarray(0, 3),
      },
      {
        type: CONTINUATION,
        flags: END_HEADERS,
        id,
        payload: block.subarray(3),
      },
    );
    return id;
  };
  for (const step of steps) {
    if (step.step === "raw") out.push(step.frame);
    else if (step.step === "open") open(step.path, step.flags, step.split);
    else {
      const id = opened.length === 0
        ? open("/echo", END_HEADERS, false)
        : opened[step.stream % opened.length]!;
      let payload = step.payload;
      if (step.type === DATA && (step.flags & 0x8) !== 0) {
        // PADDED: a pad length within the frame.
        payload = concat([Uint8Array.of(payload.length % 7), payload]);
        payload = concat([payload, new Uint8Array(payload[0]!)]);
      }
      out.push({ type: step.type, flags: step.flags, id, payload });
    }
  }
  return out;
}

Deno.test("serveH2c() survives arbitrary frames after the preface", async () => {
  const { server, seen } = start(200);
  const sentinel = text.encode("sentinel");
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.array(arbStep, { maxLength: 14 }).map(fuzzFrames),
        async (frames) => {
          using peer = await Peer.connect(server.port);
          try {
            await peer.write(
              PREFACE,
              frame(SETTINGS, 0, 0),
              ...frames.map((f) => frame(f.type, f.flags, f.id, f.payload)),
              frame(PING, 0, 0, sentinel),
            );
          } catch (error) {
            // The server may close before it has read everything.
            if (
              !(error instanceof Deno.errors.ConnectionReset ||
                error instanceof Deno.errors.BrokenPipe)
            ) throw error;
          }
          // Either the PING is answered, or the connection ends: with a
          // GOAWAY of ours, or after the client's own GOAWAY.
          const seenFrames: Frame[] = [];
          for (;;) {
            const f = await peer.read();
            if (f === undefined) {
              const goaway = seenFrames.some((s) => s.type === GOAWAY);
              const clientGoaway = frames.some((s) =>
                s.type === GOAWAY && s.id === 0
              );
              assert.ok(
                goaway || clientGoaway,
                `closed without GOAWAY: ${describe(seenFrames)}`,
              );
              return;
            }
            seenFrames.push(f);
            if (
              f.type === PING && (f.flags & ACK) !== 0 &&
              sentinel.every((b, i) => f.payload[i] === b)
            ) return;
          }
        },
      ),
      { numRuns: 200 },
    );
    assert.deepEqual(seen.unexpected, []);
    await assertServes(server);
  } finally {
    await server.close();
  }
});
