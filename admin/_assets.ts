// The web UI's static files, imported as text so they ship inside the module graph (JSR, deno compile, offline).

import { fnv1a32 } from "../internal/hash.ts";
import indexHtml from "./ui/index.html" with { type: "text" };
import appJs from "./ui/app.js" with { type: "text" };
import styleCss from "./ui/style.css" with { type: "text" };
import faviconSvg from "./ui/favicon.svg" with { type: "text" };

interface Asset {
  readonly body: string;
  readonly type: string;
  readonly etag: string;
}

/** FNV-1a over UTF-16 code units: a cheap, stable ETag. */
function etagOf(text: string): string {
  return `"${fnv1a32(text).toString(16)}-${text.length.toString(16)}"`;
}

function asset(body: string, type: string): Asset {
  return { body, type, etag: etagOf(body) };
}

const ASSETS = new Map<string, Asset>([
  ["/", asset(indexHtml, "text/html; charset=utf-8")],
  ["/index.html", asset(indexHtml, "text/html; charset=utf-8")],
  ["/app.js", asset(appJs, "text/javascript; charset=utf-8")],
  ["/style.css", asset(styleCss, "text/css; charset=utf-8")],
  ["/favicon.svg", asset(faviconSvg, "image/svg+xml")],
]);

// The UI needs nothing from other origins: no CDN, no inline script.
const SECURITY_HEADERS = {
  "Content-Security-Policy":
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
};

/**
 * Answers a request for a UI file.
 *
 * @param path The URL path.
 * @param request The request (for the method and `If-None-Match`).
 * @returns The response, or `undefined` when the path is not a UI file.
 */
export function staticAsset(
  path: string,
  request: Request,
): Response | undefined {
  const found = ASSETS.get(path);
  if (found === undefined) return undefined;
  if (request.method !== "GET" && request.method !== "HEAD") {
    return new Response("use GET\n", {
      status: 405,
      headers: { Allow: "GET, HEAD" },
    });
  }
  const headers = {
    ...SECURITY_HEADERS,
    "Content-Type": found.type,
    "Cache-Control": "no-cache",
    ETag: found.etag,
  };
  if (request.headers.get("If-None-Match") === found.etag) {
    return new Response(null, { status: 304, headers });
  }
  return new Response(request.method === "HEAD" ? null : found.body, {
    headers,
  });
}
