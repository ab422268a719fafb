/**
 * Protocol-level health checks for the local service stack.
 *
 * Each probe speaks just enough of the service's own protocol to prove that the
 * server behind a port is the service we expect and that it answers requests:
 * a Kafka Metadata request that lists at least one broker, DynamoDB ListTables,
 * a Redis/Valkey PING, a MongoDB `hello`, and an S3 ListBuckets. None of them
 * needs a client library, so the stack script starts fast.
 *
 * @module
 */

/** The result of one probe: `ok` plus a short human-readable detail. */
export interface ProbeResult {
  /** True when the service answered correctly. */
  readonly ok: boolean;
  /** What was seen (server version, broker count, or the error). */
  readonly detail: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Tells whether something accepts TCP connections on `host:port`.
 *
 * @param host Host to connect to.
 * @param port Port to connect to.
 * @param timeoutMs Give up after this long.
 * @returns True when a connection was accepted.
 */
export async function portOpen(
  host: string,
  port: number,
  timeoutMs = 1000,
): Promise<boolean> {
  try {
    const conn = await withTimeout(
      Deno.connect({ hostname: host, port }),
      timeoutMs,
    );
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds a free TCP port on the loopback interface.
 *
 * @returns A port number nothing listens on right now.
 */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Sends one request on a fresh TCP connection and reads until `done` says the reply is complete. */
async function exchange(
  host: string,
  port: number,
  request: Uint8Array,
  done: (received: Uint8Array) => boolean,
  timeoutMs: number,
): Promise<Uint8Array> {
  const conn = await withTimeout(
    Deno.connect({ hostname: host, port }),
    timeoutMs,
  );
  try {
    const work = (async () => {
      let written = 0;
      while (written < request.length) {
        written += await conn.write(request.subarray(written));
      }
      let received = new Uint8Array(0);
      const buf = new Uint8Array(64 * 1024);
      while (!done(received)) {
        const n = await conn.read(buf);
        if (n === null) break;
        const next = new Uint8Array(received.length + n);
        next.set(received);
        next.set(buf.subarray(0, n), received.length);
        received = next;
      }
      return received;
    })();
    return await withTimeout(work, timeoutMs);
  } finally {
    try {
      conn.close();
    } catch {
      // already closed by the peer
    }
  }
}

function lengthPrefixedComplete(received: Uint8Array): boolean {
  if (received.length < 4) return false;
  const size = new DataView(received.buffer, received.byteOffset).getInt32(0);
  return received.length >= 4 + size;
}

function failure(error: unknown): ProbeResult {
  return {
    ok: false,
    detail: error instanceof Error ? error.message : String(error),
  };
}

/**
 * Kafka: sends a Metadata (v4) request and expects at least one broker.
 *
 * @param host Broker host.
 * @param port Broker port.
 * @param timeoutMs Give up after this long.
 * @returns The probe result; `detail` names the broker count.
 */
export async function probeKafka(
  host: string,
  port: number,
  timeoutMs = 3000,
): Promise<ProbeResult> {
  try {
    const clientId = encoder.encode("murmur-stack");
    // header v1: api_key int16, api_version int16, correlation_id int32, client_id string
    // body v4: topics array (empty: none), allow_auto_topic_creation bool
    const bodyLength = 2 + 2 + 4 + 2 + clientId.length + 4 + 1;
    const req = new Uint8Array(4 + bodyLength);
    const view = new DataView(req.buffer);
    let o = 0;
    view.setInt32(o, bodyLength);
    o += 4;
    view.setInt16(o, 3);
    o += 2;
    view.setInt16(o, 4);
    o += 2;
    view.setInt32(o, 7);
    o += 4;
    view.setInt16(o, clientId.length);
    o += 2;
    req.set(clientId, o);
    o += clientId.length;
    view.setInt32(o, 0);
    o += 4;
    view.setUint8(o, 0);
    const res = await exchange(
      host,
      port,
      req,
      lengthPrefixedComplete,
      timeoutMs,
    );
    if (!lengthPrefixedComplete(res)) {
      return { ok: false, detail: "connection closed before a Metadata reply" };
    }
    const r = new DataView(res.buffer, res.byteOffset);
    const correlation = r.getInt32(4);
    if (correlation !== 7) {
      return { ok: false, detail: "reply is not a Kafka Metadata response" };
    }
    const brokers = r.getInt32(12);
    if (brokers < 1) return { ok: false, detail: "no broker registered yet" };
    return { ok: true, detail: `${brokers} broker(s)` };
  } catch (error) {
    return failure(error);
  }
}

const FAKE_SIGNATURE = (service: string) =>
  `AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/${service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000`;

async function fetchWithTimeout(
  url: string,
  init: RequestInit,
  timeoutMs: number,
): Promise<Response> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    return await fetch(url, { ...init, signal: controller.signal });
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Calls an operation of an AWS JSON-protocol service (DynamoDB, Kinesis)
 * with an empty request; the local emulators accept the fake signature.
 */
function awsJsonCall(
  host: string,
  port: number,
  service: string,
  target: string,
  jsonVersion: "1.0" | "1.1",
  timeoutMs: number,
): Promise<Response> {
  return fetchWithTimeout(`http://${host}:${port}/`, {
    method: "POST",
    headers: {
      "content-type": `application/x-amz-json-${jsonVersion}`,
      "x-amz-target": target,
      "x-amz-date": "20240101T000000Z",
      authorization: FAKE_SIGNATURE(service),
    },
    body: "{}",
  }, timeoutMs);
}

/**
 * DynamoDB Local: calls ListTables.
 *
 * @param host Server host.
 * @param port Server port.
 * @param timeoutMs Give up after this long.
 * @returns The probe result; `detail` names the table count.
 */
export async function probeDynamo(
  host: string,
  port: number,
  timeoutMs = 3000,
): Promise<ProbeResult> {
  try {
    const res = await awsJsonCall(
      host,
      port,
      "dynamodb",
      "DynamoDB_20120810.ListTables",
      "1.0",
      timeoutMs,
    );
    const text = await res.text();
    if (!res.ok) {
      return { ok: false, detail: `ListTables: HTTP ${res.status}` };
    }
    const body = JSON.parse(text) as { TableNames?: unknown };
    if (!Array.isArray(body.TableNames)) {
      return { ok: false, detail: "ListTables reply has no TableNames" };
    }
    return { ok: true, detail: `${body.TableNames.length} table(s)` };
  } catch (error) {
    return failure(error);
  }
}

/**
 * Valkey / Redis: sends PING and expects PONG.
 *
 * @param host Server host.
 * @param port Server port.
 * @param timeoutMs Give up after this long.
 * @returns The probe result.
 */
export async function probeValkey(
  host: string,
  port: number,
  timeoutMs = 2000,
): Promise<ProbeResult> {
  try {
    const res = await exchange(
      host,
      port,
      encoder.encode("*1\r\n$4\r\nPING\r\n"),
      (r) => r.includes(10),
      timeoutMs,
    );
    const line = decoder.decode(res).trim();
    return line === "+PONG" ? { ok: true, detail: "PONG" } : {
      ok: false,
      detail: `PING answered ${JSON.stringify(line.slice(0, 40))}`,
    };
  } catch (error) {
    return failure(error);
  }
}

/** Encodes a flat BSON document of int32 and string fields. */
function bson(fields: Record<string, number | string>): Uint8Array {
  const parts: number[] = [];
  for (const [name, value] of Object.entries(fields)) {
    const key = [...encoder.encode(name), 0];
    if (typeof value === "number") {
      const b = new Uint8Array(4);
      new DataView(b.buffer).setInt32(0, value, true);
      parts.push(0x10, ...key, ...b);
    } else {
      const s = encoder.encode(value);
      const b = new Uint8Array(4);
      new DataView(b.buffer).setInt32(0, s.length + 1, true);
      parts.push(0x02, ...key, ...b, ...s, 0);
    }
  }
  const out = new Uint8Array(4 + parts.length + 1);
  new DataView(out.buffer).setInt32(0, out.length, true);
  out.set(parts, 4);
  return out;
}

/**
 * MongoDB wire: sends the `isMaster` handshake in an OP_MSG and expects `ok: 1`.
 *
 * @param host Server host.
 * @param port Server port.
 * @param timeoutMs Give up after this long.
 * @returns The probe result.
 */
export async function probeMongo(
  host: string,
  port: number,
  timeoutMs = 3000,
): Promise<ProbeResult> {
  try {
    // mongo-java-server knows the legacy `isMaster` handshake, not `hello`.
    const doc = bson({ isMaster: 1, $db: "admin" });
    const msg = new Uint8Array(16 + 4 + 1 + doc.length);
    const v = new DataView(msg.buffer);
    v.setInt32(0, msg.length, true);
    v.setInt32(4, 11, true);
    v.setInt32(8, 0, true);
    v.setInt32(12, 2013, true);
    v.setUint32(16, 0, true);
    msg[20] = 0;
    msg.set(doc, 21);
    const res = await exchange(host, port, msg, (r) => {
      if (r.length < 4) return false;
      return r.length >=
        new DataView(r.buffer, r.byteOffset).getInt32(0, true);
    }, timeoutMs);
    if (res.length < 21) {
      return {
        ok: false,
        detail: "connection closed before an isMaster reply",
      };
    }
    const rv = new DataView(res.buffer, res.byteOffset);
    if (rv.getInt32(12, true) !== 2013 || rv.getInt32(8, true) !== 11) {
      return { ok: false, detail: "reply is not a MongoDB OP_MSG response" };
    }
    // Find the `ok` field (a double or an int32) named "ok\0".
    for (let i = res.length - 8; i >= 21; i--) {
      const type = res[i];
      if (
        (type === 0x01 || type === 0x10) && res[i + 1] === 0x6f &&
        res[i + 2] === 0x6b && res[i + 3] === 0
      ) {
        const ok = type === 0x01
          ? rv.getFloat64(i + 4, true)
          : rv.getInt32(i + 4, true);
        return ok === 1
          ? { ok: true, detail: "isMaster ok" }
          : { ok: false, detail: "isMaster answered ok: 0" };
      }
    }
    return { ok: false, detail: "isMaster reply has no ok field" };
  } catch (error) {
    return failure(error);
  }
}

/**
 * moto (S3 + Kinesis): calls S3 ListBuckets and Kinesis ListStreams.
 *
 * @param host Server host.
 * @param port Server port.
 * @param timeoutMs Give up after this long.
 * @returns The probe result.
 */
export async function probeMoto(
  host: string,
  port: number,
  timeoutMs = 3000,
): Promise<ProbeResult> {
  try {
    const s3 = await fetchWithTimeout(`http://${host}:${port}/`, {
      headers: {
        "x-amz-date": "20240101T000000Z",
        "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
        authorization: FAKE_SIGNATURE("s3"),
      },
    }, timeoutMs);
    const s3Body = await s3.text();
    if (!s3.ok || !s3Body.includes("ListAllMyBucketsResult")) {
      return { ok: false, detail: `S3 ListBuckets: HTTP ${s3.status}` };
    }
    const kinesis = await awsJsonCall(
      host,
      port,
      "kinesis",
      "Kinesis_20131202.ListStreams",
      "1.1",
      timeoutMs,
    );
    const kBody = await kinesis.text();
    if (!kinesis.ok || !kBody.includes("StreamNames")) {
      return {
        ok: false,
        detail: `Kinesis ListStreams: HTTP ${kinesis.status}`,
      };
    }
    return { ok: true, detail: "S3 + Kinesis answer" };
  } catch (error) {
    return failure(error);
  }
}
