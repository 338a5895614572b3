/**
 * What the Redis tests may use. With REDIS_URL they run against it; without
 * it they are skipped (and say so) unless REQUIRE_SERVICES=1, in which case
 * they fail: CI never skips them.
 */
export const redisUrl: string | undefined = process.env.REDIS_URL || undefined
export const requireServices: boolean = ["1", "true", "yes"].includes(process.env.REQUIRE_SERVICES ?? "")
export const skipRedis: boolean = redisUrl === undefined && !requireServices
if (skipRedis)
  console.warn("Redis tests skipped: REDIS_URL is not set (set it, or REQUIRE_SERVICES=1 to fail instead)")
/** The URL to use: REQUIRE_SERVICES without REDIS_URL fails loudly at connect. */
export const url: string = redisUrl ?? "redis://127.0.0.1:1/REDIS_URL-is-not-set"
