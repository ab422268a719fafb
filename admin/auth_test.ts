import assert from "node:assert/strict";
import { BearerAuth, bearerToken, Cors, isLoopback } from "./auth.ts";

const A = "alpha-0123456789abcdef";
const B = "bravo-0123456789abcdef";

Deno.test("BearerAuth.check() accepts every configured token, for rotation", () => {
  const auth = new BearerAuth([A, "", B]);
  assert.equal(auth.size, 2);
  assert.equal(auth.check(`Bearer ${A}`), true);
  assert.equal(auth.check(`bearer ${B}`), true);
  assert.equal(auth.check(`Bearer ${A}x`), false);
  assert.equal(auth.check(`Bearer ${A.slice(0, -1)}`), false);
  assert.equal(auth.check(`Basic ${A}`), false);
  assert.equal(auth.check(A), false);
  assert.equal(auth.check(""), false);
  assert.equal(auth.check(null), false);
});

Deno.test("BearerAuth refuses no tokens and weak tokens", () => {
  assert.throws(() => new BearerAuth([]), /at least one non-empty token/);
  assert.throws(() => new BearerAuth([""]), /at least one non-empty token/);
  assert.throws(() => new BearerAuth(["short"]), /at least 16 characters/);
  assert.throws(
    () => new BearerAuth(["has spaces in it 0123"]),
    /without whitespace/,
  );
});

Deno.test("bearerToken() reads the scheme case-insensitively and nothing else", () => {
  assert.equal(bearerToken("Bearer abc"), "abc");
  assert.equal(bearerToken("BEARER   abc  "), "abc");
  assert.equal(bearerToken("Bearer a b"), undefined);
  assert.equal(bearerToken("Token abc"), undefined);
  assert.equal(bearerToken(undefined), undefined);
});

Deno.test("Cors is closed by default and answers preflights with 403", () => {
  const cors = new Cors();
  assert.equal(cors.open, false);
  const res = cors.preflight(
    new Request("http://x/", {
      method: "OPTIONS",
      headers: {
        Origin: "https://a.example",
        "Access-Control-Request-Method": "POST",
      },
    }),
  );
  assert.equal(res.status, 403);
  const plain = cors.decorate(
    new Request("http://x/", { headers: { Origin: "https://a.example" } }),
    new Response("ok"),
  );
  assert.equal(plain.headers.get("Access-Control-Allow-Origin"), null);
});

Deno.test("Cors, when opened, echoes allowed origins and allows Authorization", () => {
  const cors = new Cors({ origins: ["https://a.example/"] });
  const preflight = cors.preflight(
    new Request("http://x/", {
      method: "OPTIONS",
      headers: {
        Origin: "https://a.example",
        "Access-Control-Request-Method": "POST",
      },
    }),
  );
  assert.equal(preflight.status, 204);
  assert.equal(
    preflight.headers.get("Access-Control-Allow-Origin"),
    "https://a.example",
  );
  const allowed = preflight.headers.get("Access-Control-Allow-Headers") ?? "";
  for (const header of ["Authorization", "Connect-Protocol-Version"]) {
    assert.ok(allowed.includes(header), allowed);
  }
  assert.equal(preflight.headers.get("Vary"), "Origin");
  const any = new Cors({ origins: "*" });
  const decorated = any.decorate(
    new Request("http://x/", { headers: { Origin: "https://b.example" } }),
    new Response("ok"),
  );
  assert.equal(decorated.headers.get("Access-Control-Allow-Origin"), "*");
});

Deno.test("isLoopback() knows localhost, 127/8 and ::1", () => {
  for (const host of ["localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]"]) {
    assert.equal(isLoopback(host), true, host);
  }
  for (const host of ["0.0.0.0", "::", "10.0.0.1", "example.com"]) {
    assert.equal(isLoopback(host), false, host);
  }
});
