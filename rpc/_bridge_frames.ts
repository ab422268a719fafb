// The frames between the gRPC listener process and the server: one TCP connection on loopback, calls multiplexed by id.
//
// Every frame: u32 length of the rest, u32 call id, u8 type, payload.
// Imports nothing, so the listener process stays free of npm packages.

/** Listener → server: a call (path, headers, body). */
export const CALL = 1;
/** Listener → server: the client went away. */
export const CANCEL = 2;
/** Server → listener: the answer's status and headers (JSON). */
export const HEAD = 10;
/** Server → listener: a chunk of the answer's (gRPC-Web) body. */
export const DATA = 11;
/** Server → listener: the answer is complete. */
export const END = 12;
/** Server → listener: the call failed before it had an answer. */
export const FAIL = 13;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One decoded frame. */
export interface Frame {
  readonly id: number;
  readonly type: number;
  readonly payload: Uint8Array;
}

/** Encodes a frame. */
export function frame(
  id: number,
  type: number,
  payload: Uint8Array = new Uint8Array(),
): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(9 + payload.byteLength);
  const view = new DataView(out.buffer);
  view.setUint32(0, 5 + payload.byteLength);
  view.setUint32(4, id);
  out[8] = type;
  out.set(payload, 9);
  return out;
}

/** A call's payload: path, headers and body. */
export function callPayload(
  path: string,
  headers: [string, string][],
  body: Uint8Array,
): Uint8Array {
  const p = encoder.encode(path);
  const h = encoder.encode(JSON.stringify(headers));
  const out = new Uint8Array(
    2 + p.byteLength + 4 + h.byteLength + body.byteLength,
  );
  const view = new DataView(out.buffer);
  view.setUint16(0, p.byteLength);
  out.set(p, 2);
  view.setUint32(2 + p.byteLength, h.byteLength);
  out.set(h, 6 + p.byteLength);
  out.set(body, 6 + p.byteLength + h.byteLength);
  return out;
}

/** Reads a call's payload. */
export function readCall(
  payload: Uint8Array,
): { path: string; headers: [string, string][]; body: Uint8Array } {
  const view = new DataView(payload.buffer, payload.byteOffset);
  const pathLength = view.getUint16(0);
  const path = decoder.decode(payload.subarray(2, 2 + pathLength));
  const headersLength = view.getUint32(2 + pathLength);
  const start = 6 + pathLength;
  const headers = JSON.parse(
    decoder.decode(payload.subarray(start, start + headersLength)),
  ) as [string, string][];
  return { path, headers, body: payload.subarray(start + headersLength) };
}

/** JSON payloads (HEAD, FAIL). */
export function jsonPayload(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** Reads a JSON payload. */
export function readJson<T>(payload: Uint8Array): T {
  return JSON.parse(decoder.decode(payload)) as T;
}

/**
 * Coalesces the frames written in one turn of the event loop into one
 * write: with many calls in flight, one syscall carries them all.
 *
 * @param write Writes bytes to the connection.
 * @returns Queues one frame (or several already joined).
 */
export function batchedWriter(
  write: (bytes: Uint8Array<ArrayBuffer>) => void,
): (bytes: Uint8Array<ArrayBuffer>) => void {
  let queued: Uint8Array<ArrayBuffer>[] = [];
  let size = 0;
  const flush = () => {
    const batch = queued;
    queued = [];
    if (batch.length === 1) {
      write(batch[0]!);
    } else {
      const out = new Uint8Array(size);
      let offset = 0;
      for (const bytes of batch) {
        out.set(bytes, offset);
        offset += bytes.byteLength;
      }
      write(out);
    }
    size = 0;
  };
  return (bytes) => {
    if (queued.length === 0) queueMicrotask(flush);
    queued.push(bytes);
    size += bytes.byteLength;
  };
}

/**
 * Splits a byte stream into frames synchronously: every frame of a chunk is
 * handled in the same turn, so answers that arrive together go out together.
 *
 * @param stream The connection's bytes.
 * @param onFrame Called for each frame, in order.
 * @returns Resolves when the stream ends.
 */
export async function readFrames(
  stream: ReadableStream<Uint8Array>,
  onFrame: (f: Frame) => void,
): Promise<void> {
  let buffer: Uint8Array = new Uint8Array(0);
  for await (const chunk of stream) {
    if (buffer.byteLength === 0) {
      buffer = chunk;
    } else {
      const joined = new Uint8Array(buffer.byteLength + chunk.byteLength);
      joined.set(buffer);
      joined.set(chunk, buffer.byteLength);
      buffer = joined;
    }
    let at = 0;
    while (buffer.byteLength - at >= 9) {
      const view = new DataView(buffer.buffer, buffer.byteOffset + at);
      const length = view.getUint32(0);
      if (buffer.byteLength - at < 4 + length) break;
      onFrame({
        id: view.getUint32(4),
        type: buffer[at + 8]!,
        payload: buffer.subarray(at + 9, at + 4 + length),
      });
      at += 4 + length;
    }
    buffer = at === buffer.byteLength ? new Uint8Array(0) : buffer.slice(at);
  }
}

/** Splits a byte stream into frames. */
export async function* frames(
  stream: ReadableStream<Uint8Array>,
): AsyncGenerator<Frame> {
  let buffer: Uint8Array = new Uint8Array(0);
  for await (const chunk of stream) {
    if (buffer.byteLength === 0) {
      buffer = chunk;
    } else {
      const joined = new Uint8Array(buffer.byteLength + chunk.byteLength);
      joined.set(buffer);
      joined.set(chunk, buffer.byteLength);
      buffer = joined;
    }
    while (buffer.byteLength >= 9) {
      const view = new DataView(buffer.buffer, buffer.byteOffset);
      const length = view.getUint32(0);
      if (buffer.byteLength < 4 + length) break;
      yield {
        id: view.getUint32(4),
        type: buffer[8]!,
        payload: buffer.slice(9, 4 + length),
      };
      buffer = buffer.subarray(4 + length);
    }
  }
}
