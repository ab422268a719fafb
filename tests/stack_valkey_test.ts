import assert from "node:assert/strict";
import { Valkey } from "iovalkey";
import { service, uniqueName } from "./_stack.ts";

Deno.test("stack: valkey INCRBY and PFADD/PFCOUNT", async () => {
  const endpoint = await service("valkey");
  const client = new Valkey(endpoint.url, { lazyConnect: true });
  const counter = uniqueName("stack:counter");
  const hll = uniqueName("stack:hll");
  try {
    await client.connect();
    assert.equal(await client.incrby(counter, 5), 5);
    assert.equal(await client.incrby(counter, 37), 42);
    assert.equal(await client.pfadd(hll, "a", "b", "c", "a"), 1);
    assert.equal(await client.pfadd(hll, "b"), 0);
    assert.equal(await client.pfcount(hll), 3);
    await client.del(counter, hll);
  } finally {
    await client.quit();
  }
});
