// Two-stage search: recall from the projected Orama index, re-rank by live counters read through the query client.

import { search } from "@orama/orama";
import type { QueryClient } from "../../query/client.ts";
import type { PostIndex } from "../search_projector/projector.ts";

/** Options of {@linkcode createSearchHandler}. */
export interface SearchOptions {
  /** The index the projector keeps. */
  readonly index: PostIndex;
  /** The Murmur query client. */
  readonly client: QueryClient;
  /** The all-time likes pipeline. Default: `"likes"`. */
  readonly allTime?: string;
  /** The daily likes pipeline (its current bucket is "today"). Default: `"likes_daily"`. */
  readonly daily?: string;
  /** How many candidates the index recalls. Default: 200. */
  readonly recall?: number;
  /** Results per page at most. Default: 20. */
  readonly limit?: number;
}

/** One result. */
export interface SearchResult {
  /** The post's entity. */
  readonly id: string;
  /** Its title. */
  readonly title: string;
  /** The final score. */
  readonly score: number;
  /** The index's BM25 relevance. */
  readonly relevance: number;
  /** All-time likes (`null` when the counters could not be read). */
  readonly likes: number | null;
  /** Likes today (`null` when the counters could not be read). */
  readonly likesToday: number | null;
  /** The likes facet the projector keeps. */
  readonly likesLabel: string;
}

/** An answer of `/search`. */
export interface SearchAnswer {
  /** Results, best first. */
  readonly results: SearchResult[];
  /** True when the counters were unavailable and the order is relevance only. */
  readonly degraded: boolean;
}

/**
 * The score: relevance, boosted by today's likes and, less, by all-time
 * likes; logarithmic, so a viral post cannot bury a better match entirely.
 */
export function score(relevance: number, today: number, all: number): number {
  return relevance * (1 + Math.log10(today + 1)) *
    (1 + 0.2 * Math.log10(all + 1));
}

/** Runs one search. */
export async function runSearch(
  options: SearchOptions,
  query: { readonly term: string; readonly minBucket?: number },
  signal?: AbortSignal,
): Promise<SearchAnswer> {
  const found = await search(options.index, {
    term: query.term,
    properties: ["title", "body"],
    limit: options.recall ?? 200,
    ...(query.minBucket === undefined
      ? {}
      : { where: { likes_bucket: { gte: query.minBucket } } }),
  });
  const hits = found.hits;
  const ids = hits.map((h) => h.id);
  let likes: number[] | null = null;
  let today: number[] | null = null;
  if (ids.length > 0) {
    try {
      const read = signal === undefined ? {} : { signal };
      [likes, today] = await Promise.all([
        options.client.number(options.allTime ?? "likes").getMany(ids, read),
        options.client.number(options.daily ?? "likes_daily").windowMany(
          ids,
          1,
          read,
        ),
      ]);
    } catch {
      // Counters unavailable: answer on relevance alone rather than fail.
      likes = null;
      today = null;
    }
  }
  const results = hits.map((h, i): SearchResult => {
    const all = likes?.[i] ?? null;
    const day = today?.[i] ?? null;
    return {
      id: h.id,
      title: h.document.title,
      relevance: h.score,
      likes: all,
      likesToday: day,
      likesLabel: h.document.likes_label,
      score: all === null || day === null ? h.score : score(h.score, day, all),
    };
  });
  results.sort((a, b) => b.score - a.score || a.id.localeCompare(b.id));
  return {
    results: results.slice(0, options.limit ?? 20),
    degraded: ids.length > 0 && likes === null,
  };
}

/**
 * The HTTP service: `GET /search?q=<terms>[&min_bucket=<n>]` answers
 * {@linkcode SearchAnswer} as JSON, `GET /stats` the counts of searches and
 * degraded answers, `GET /healthz` "ok".
 */
export function createSearchHandler(
  options: SearchOptions,
): (request: Request) => Promise<Response> {
  const stats = { searches: 0, degraded: 0 };
  const json = (body: unknown, status = 200) =>
    new Response(JSON.stringify(body), {
      status,
      headers: { "Content-Type": "application/json" },
    });
  return async (request) => {
    const url = new URL(request.url);
    if (url.pathname === "/healthz") return new Response("ok");
    if (url.pathname === "/stats") return json(stats);
    if (url.pathname !== "/search") return json({ error: "not found" }, 404);
    const term = url.searchParams.get("q")?.trim() ?? "";
    if (term === "") {
      return json({ error: "q is empty: /search?q=<terms>" }, 400);
    }
    const min = url.searchParams.get("min_bucket");
    const minBucket = min === null ? undefined : Number(min);
    if (minBucket !== undefined && !Number.isInteger(minBucket)) {
      return json({ error: `min_bucket ${min} is not an integer` }, 400);
    }
    const answer = await runSearch(
      options,
      minBucket === undefined ? { term } : { term, minBucket },
      request.signal,
    );
    stats.searches++;
    if (answer.degraded) stats.degraded++;
    return json(answer);
  };
}
