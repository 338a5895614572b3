/**
 * The sliding-window `RateLimitStore` on Redis (ADR 0009): one limit shared
 * by every instance. Each decision is one Lua script, so it is atomic on
 * the server, and it keeps time with Redis's own clock (`TIME`), so
 * instances with skewed clocks still agree.
 *
 * A key is a sorted set `<prefix><limit>/<windowMs>:<key>` (two policies on
 * one client key never share a log) of the allowed requests, scored by
 * their time in ms, each member unique (time, count and a per-instance
 * sequence), so two requests in the same millisecond both count. The
 * script drops members older than the window (`ZREMRANGEBYSCORE`), counts
 * (`ZCARD`), and when allowed adds this request (`ZADD`) and expires the
 * key one window later (`PEXPIRE`); a refused request is not recorded. A
 * key therefore holds at most `limit` members and disappears a window
 * after its last allowed request.
 *
 * Failures never hang a request: every call is bounded by `timeout`
 * (default 250 ms) and fails with `RateLimitUnavailable`; after a failure
 * the store skips Redis for `cooldown` (default 1 s), failing at once, so a
 * hung server costs one timeout per cooldown, not one per request. Whether
 * the request then passes is the caller's choice (fail open or closed).
 *
 * @since 0.2.0
 */
import { RateLimiter } from "@org/core"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redis from "effect/persistence/Redis"
import * as Random from "effect/Random"

/**
 * Options of `make`/`layer`.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /** Prefix of every key (default `ratelimit:`). */
  readonly prefix?: string | undefined
  /** Longest wait for one decision before `RateLimitUnavailable` (default 250 ms). */
  readonly timeout?: Duration.Input | undefined
  /** How long Redis is skipped (failing at once) after a failure (default 1 s; 0 never skips). */
  readonly cooldown?: Duration.Input | undefined
}

// Returns { allowed (0/1), remaining, resetAfter ms, retryAfter ms }.
// Members are "<now>:<count>:<instance>.<seq>": unique even within one
// millisecond, and even if the server's clock steps back.
const takeScript = Redis.script(
  (key: string, limit: number, windowMillis: number, member: string) => [key, limit, windowMillis, member],
  {
    lua: `
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  redis.call('ZADD', KEYS[1], now, string.format('%d:%d:%s', now, count, ARGV[3]))
  redis.call('PEXPIRE', KEYS[1], window)
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return { 1, limit - count - 1, tonumber(oldest[2]) + window - now, 0 }
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local leaving = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
return { 0, 0, tonumber(oldest[2]) + window - now, tonumber(leaving[2]) + window - now }`,
    numberOfKeys: 1
  }
).withReturnType<[number, number, number, number]>()

/**
 * Makes the store over the `Redis` service in context.
 *
 * @example
 * ```ts
 * import { Duration, Effect } from "effect"
 * import { IoRedis, RedisRateLimitStore } from "@org/redis"
 *
 * const program = Effect.gen(function* () {
 *   const store = yield* RedisRateLimitStore.make({ prefix: "shop:ratelimit:" })
 *   const decision = yield* store.take("login:203.0.113.7", { limit: 5, window: Duration.minutes(1) })
 *   return decision.allowed
 * }).pipe(Effect.provide(IoRedis.layer({ url: "redis://127.0.0.1:6379" })))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = Effect.fnUntraced(function* (
  options: Options = {}
): Effect.fn.Return<RateLimiter.RateLimitStore["Service"], never, Redis.Redis> {
  const redis = yield* Redis.Redis
  const prefix = options.prefix ?? "ratelimit:"
  const timeout = Duration.fromInputUnsafe(options.timeout ?? Duration.millis(250))
  const cooldownMillis = Duration.toMillis(Duration.fromInputUnsafe(options.cooldown ?? Duration.seconds(1)))
  const takeInRedis = redis.eval(takeScript)
  // Members need only be unique per key: this instance's id and a sequence.
  const instance = (yield* Random.nextIntBetween(0, Number.MAX_SAFE_INTEGER)).toString(36)
  let sequence = 0
  let downUntil = 0

  const unavailable = (cause: unknown) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      downUntil = now + cooldownMillis
      return Effect.fail(new RateLimiter.RateLimitUnavailable({ cause }))
    })

  const skipped = new RateLimiter.RateLimitUnavailable({
    cause: new Error("RedisRateLimitStore: Redis failed recently; skipped until the cooldown ends")
  })

  const decision = (
    limit: number,
    [allowed, remaining, resetAfter, retryAfter]: readonly [number, number, number, number]
  ): RateLimiter.Decision => ({
    allowed: allowed === 1,
    limit,
    remaining,
    resetAfter: Duration.millis(Math.max(0, resetAfter)),
    retryAfter: Duration.millis(Math.max(0, retryAfter))
  })

  // A hot path: no span per call (Effect.fn would add one); plain combinators.
  const take = (
    key: string,
    policy: RateLimiter.Policy
  ): Effect.Effect<RateLimiter.Decision, RateLimiter.RateLimitUnavailable> => {
    if (!RateLimiter.isValidPolicy(policy)) {
      return Effect.die(
        new Error(
          `RedisRateLimitStore: invalid policy (limit ${policy.limit}, window ${Duration.format(policy.window)})`
        )
      )
    }
    const windowMillis = Duration.toMillis(policy.window)
    return Effect.flatMap(Clock.currentTimeMillis, (now) => {
      if (now < downUntil) return Effect.fail(skipped)
      const member = `${instance}.${(sequence++).toString(36)}`
      return takeInRedis(
        `${prefix}${policy.limit}/${windowMillis}:${key}`,
        policy.limit,
        windowMillis,
        member
      ).pipe(
        Effect.timeout(timeout),
        Effect.map((reply) => decision(policy.limit, reply)),
        Effect.catch(unavailable)
      )
    })
  }

  return RateLimiter.RateLimitStore.of({ take })
})

/**
 * Provides `RateLimitStore` on the `Redis` service in context.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { IoRedis, RedisRateLimitStore } from "@org/redis"
 *
 * const RateLimits = RedisRateLimitStore.layer({ prefix: "shop:ratelimit:" }).pipe(
 *   Layer.provide(IoRedis.layerConfig())
 * )
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<RateLimiter.RateLimitStore, never, Redis.Redis> =>
  Layer.effect(RateLimiter.RateLimitStore, make(options))
