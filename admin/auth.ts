// Bearer-token checks (constant time, several tokens for rotation) and CORS for the admin server.

import type { Buffer } from "node:buffer";
import { createHash, timingSafeEqual } from "node:crypto";
import { cors as connectCors } from "@connectrpc/connect";

/**
 * Checks bearer tokens in constant time.
 *
 * Several tokens may be valid at once, so a token can be rotated without
 * downtime: add the new one, move clients over, drop the old one. Tokens
 * are compared as SHA-256 digests with `timingSafeEqual`, and every
 * configured token is compared on every check, so neither the length nor
 * the position of a match leaks through timing.
 *
 * @example Usage
 * ```ts
 * import { BearerAuth } from "@murmur/core/admin";
 * const auth = new BearerAuth(["new-0123456789abcdef", "old-0123456789abcdef"]);
 * import assert from "node:assert/strict";
 * assert.equal(auth.check("Bearer old-0123456789abcdef"), true);
 * assert.equal(auth.check("Bearer nope"), false);
 * assert.equal(auth.check(null), false);
 * ```
 */
export class BearerAuth {
  readonly #digests: Buffer[];

  /**
   * Creates the checker.
   *
   * @param tokens The valid tokens; empty strings are ignored.
   * @throws {TypeError} When no non-empty token is given, or a token has
   * whitespace or fewer than 16 characters.
   */
  constructor(tokens: Iterable<string>) {
    const valid = [...tokens].filter((token) => token !== "");
    if (valid.length === 0) {
      throw new TypeError(
        "bearer auth needs at least one non-empty token, e.g. from `openssl rand -hex 32`",
      );
    }
    for (const token of valid) {
      if (/\s/.test(token) || token.length < 16) {
        throw new TypeError(
          "a bearer token must be at least 16 characters without whitespace, e.g. from `openssl rand -hex 32`",
        );
      }
    }
    this.#digests = valid.map(digest);
  }

  /** How many tokens are valid. */
  get size(): number {
    return this.#digests.length;
  }

  /**
   * Checks an `Authorization` header value.
   *
   * @param header The header, e.g. `"Bearer abc…"`; the scheme is case-insensitive.
   * @returns Whether it carries one of the valid tokens.
   */
  check(header: string | null | undefined): boolean {
    const token = bearerToken(header);
    if (token === undefined) return false;
    const candidate = digest(token);
    let matched = false;
    for (const known of this.#digests) {
      matched = timingSafeEqual(candidate, known) || matched;
    }
    return matched;
  }
}

function digest(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

/**
 * Extracts the token from an `Authorization: Bearer <token>` header.
 *
 * @param header The header value.
 * @returns The token, or `undefined` when the header is absent or not a bearer token.
 *
 * @example Usage
 * ```ts
 * import { bearerToken } from "@murmur/core/admin";
 * import assert from "node:assert/strict";
 * assert.equal(bearerToken("bearer abc"), "abc");
 * assert.equal(bearerToken("Basic abc"), undefined);
 * ```
 */
export function bearerToken(
  header: string | null | undefined,
): string | undefined {
  if (header === null || header === undefined) return undefined;
  const match = /^bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/** Cross-origin access to the admin server. Closed unless configured. */
export interface CorsOptions {
  /** Origins allowed to call the API, e.g. `["https://ops.example.com"]`, or `"*"` for any. */
  readonly origins: readonly string[] | "*";
  /** How long browsers may cache a preflight answer, in seconds. Default: 600. */
  readonly maxAgeSeconds?: number;
}

/** The request headers a cross-origin caller may send: Connect's, plus `Authorization`. */
export const CORS_ALLOWED_HEADERS: readonly string[] = Object.freeze([
  ...new Set([...connectCors.allowedHeaders, "Authorization"]),
]);

/** The response headers a cross-origin caller may read: Connect's. */
export const CORS_EXPOSED_HEADERS: readonly string[] = Object.freeze([
  ...connectCors.exposedHeaders,
]);

/**
 * Decides CORS for the admin server. Closed by default; when opened, the
 * preflight allows the `Authorization` header so browser clients can send
 * their bearer token.
 *
 * @example Usage
 * ```ts
 * import { Cors } from "@murmur/core/admin";
 * import assert from "node:assert/strict";
 * const cors = new Cors({ origins: ["https://ops.example.com"] });
 * const preflight = new Request("http://localhost:8080/x", {
 *   method: "OPTIONS",
 *   headers: {
 *     Origin: "https://ops.example.com",
 *     "Access-Control-Request-Method": "POST",
 *   },
 * });
 * const response = cors.preflight(preflight);
 * assert.ok(response.headers.get("Access-Control-Allow-Headers")?.includes("Authorization"));
 * ```
 */
export class Cors {
  readonly #origins: ReadonlySet<string> | "*" | null;
  readonly #maxAge: number;

  /**
   * Creates the policy.
   *
   * @param options The allowed origins, or `undefined` for closed.
   */
  constructor(options?: CorsOptions) {
    this.#origins = options === undefined
      ? null
      : options.origins === "*"
      ? "*"
      : new Set(options.origins.map((o) => o.replace(/\/$/, "")));
    this.#maxAge = options?.maxAgeSeconds ?? 600;
  }

  /** Whether any cross-origin caller is allowed. */
  get open(): boolean {
    return this.#origins !== null;
  }

  #allowed(origin: string | null): string | undefined {
    if (origin === null || this.#origins === null) return undefined;
    if (this.#origins === "*") return "*";
    return this.#origins.has(origin) ? origin : undefined;
  }

  /**
   * Answers a preflight (`OPTIONS`) request.
   *
   * @param request The preflight.
   * @returns `204` with the CORS headers when the origin is allowed; `403` otherwise.
   */
  preflight(request: Request): Response {
    const allowed = this.#allowed(request.headers.get("Origin"));
    if (allowed === undefined) {
      return new Response("cross-origin requests are not allowed here\n", {
        status: 403,
        headers: {
          "Content-Type": "text/plain; charset=utf-8",
          Vary: "Origin",
        },
      });
    }
    return new Response(null, {
      status: 204,
      headers: {
        "Access-Control-Allow-Origin": allowed,
        "Access-Control-Allow-Methods": connectCors.allowedMethods.join(", "),
        "Access-Control-Allow-Headers": CORS_ALLOWED_HEADERS.join(", "),
        "Access-Control-Expose-Headers": CORS_EXPOSED_HEADERS.join(", "),
        "Access-Control-Max-Age": String(this.#maxAge),
        Vary: "Origin",
      },
    });
  }

  /**
   * Adds CORS headers to a response for an allowed origin.
   *
   * @param request The request.
   * @param response The response to decorate.
   * @returns The same response, with headers when the origin is allowed.
   */
  decorate(request: Request, response: Response): Response {
    const allowed = this.#allowed(request.headers.get("Origin"));
    if (allowed === undefined) return response;
    try {
      response.headers.set("Access-Control-Allow-Origin", allowed);
      response.headers.set(
        "Access-Control-Expose-Headers",
        CORS_EXPOSED_HEADERS.join(", "),
      );
      response.headers.append("Vary", "Origin");
      return response;
    } catch {
      // Immutable headers (e.g. a fetched response): copy it.
      const copy = new Response(response.body, response);
      copy.headers.set("Access-Control-Allow-Origin", allowed);
      copy.headers.set(
        "Access-Control-Expose-Headers",
        CORS_EXPOSED_HEADERS.join(", "),
      );
      copy.headers.append("Vary", "Origin");
      return copy;
    }
  }
}

/**
 * Tells whether a hostname binds only to this machine.
 *
 * @param hostname The hostname or address a server listens on.
 * @returns `true` for `localhost`, `127.0.0.0/8` and `::1`.
 *
 * @example Usage
 * ```ts
 * import { isLoopback } from "@murmur/core/admin";
 * import assert from "node:assert/strict";
 * assert.equal(isLoopback("127.0.0.1"), true);
 * assert.equal(isLoopback("0.0.0.0"), false);
 * ```
 */
export function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return host === "localhost" || host === "::1" ||
    /^127(\.\d{1,3}){3}$/.test(host);
}
