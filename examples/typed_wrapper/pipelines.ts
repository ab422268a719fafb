// The two counters behind GetPostLikes: all-time likes and likes per day.

import { pipeline } from "../../pipeline/mod.ts";
import type { Pipeline } from "../../pipeline/mod.ts";
import { count, daily, days } from "../../monoid/mod.ts";
import type { Store } from "../../state/mod.ts";

/** One like, as the app emits it. */
export interface Like {
  /** The post liked. */
  readonly postId: string;
  /** Who liked it. */
  readonly userId: string;
  /** When, in epoch ms. */
  readonly at: number;
}

/** The entity of a post in both pipelines. */
export function postEntity(postId: string): string {
  return `post:${postId}`;
}

/** The pipelines of the example, in one store. */
export interface LikePipelines {
  /** Likes per post, all time. */
  readonly likes: Pipeline<Like, number>;
  /** Likes per post per day, kept 30 days. */
  readonly dailyLikes: Pipeline<Like, number>;
}

/** Builds both pipelines over one store. */
export function likePipelines(store: Store): LikePipelines {
  const base = (name: string) =>
    pipeline<Like>(name)
      .key((like) => postEntity(like.postId))
      .value(() => 1)
      .aggregate(count())
      .time((like) => like.at)
      .storeIn(store);
  return {
    likes: base("post_likes").build(),
    dailyLikes: base("post_likes_daily").window(
      daily({ retention: days(30) }),
    ).build(),
  };
}
