// A hostile HTTP/2 client for tests/grpc_hammer_test.ts: many sessions, each with several calls, closed or destroyed mid-stream in every way node:http2 allows.
//
// Usage: deno run -A tests/_h2_hammer.ts <base url> <calls> <content-type>
// Runs in its own process: node:http2 may abort the client too, which must not take the test down.

import http2 from "node:http2";

const [url, callsArg, contentType] = Deno.args;
const calls = Number(callsArg ?? 1000);
// A GetRequest { pipeline: "likes", entity: "post:1" } in a 5-byte envelope.
const message = Uint8Array.of(
  0x0a,
  5,
  ...new TextEncoder().encode("likes"),
  0x12,
  6,
  ...new TextEncoder().encode("post:1"),
);
const body = new Uint8Array(5 + message.length);
body[4] = message.length;
body.set(message, 5);
const PER_SESSION = 8;

let started = 0;
async function session(i: number): Promise<void> {
  const s = http2.connect(url!);
  s.on("error", () => {});
  const closed: Promise<unknown>[] = [];
  for (let j = 0; j < PER_SESSION; j++) {
    started++;
    const stream = s.request({
      ":method": "POST",
      ":path": "/murmur.v1.QueryService/Get",
      "content-type": contentType!,
      te: "trailers",
    });
    stream.on("error", () => {});
    stream.on("data", () => {});
    // Half the calls send a whole request, half stop inside the envelope.
    if (j % 2 === 1) stream.end(body);
    else stream.write(body.subarray(0, 3 + (i % 5)));
    closed.push(new Promise((resolve) => stream.on("close", resolve)));
  }
  await new Promise((resolve) => setTimeout(resolve, i % 4));
  try {
    switch (i % 4) {
      case 0:
        s.destroy();
        break;
      case 1:
        s.close();
        s.destroy();
        break;
      case 2:
        s.goaway(0);
        s.destroy();
        break;
      default:
        s.goaway(2);
    }
  } catch {
    // Already destroyed by the peer.
  }
  await Promise.race([
    Promise.all(closed),
    new Promise((resolve) => setTimeout(resolve, 50)),
  ]);
  s.destroy();
}

const batch: Promise<void>[] = [];
for (let i = 0; started < calls; i++) {
  batch.push(session(i).catch(() => {}));
  if (batch.length >= 16) {
    await Promise.all(batch);
    batch.length = 0;
  }
}
await Promise.all(batch);
console.log(JSON.stringify({ calls: started }));
