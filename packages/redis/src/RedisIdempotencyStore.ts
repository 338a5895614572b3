/**
 * The `IdempotencyStore` on Redis: one hash per (scope, key) at
 * `<prefix><scope>\n<key>`, expiring with the record (`PEXPIRE` of the
 * `ttl` when it is created), so Redis forgets a key on its own. Each
 * operation is one Lua script, atomic on the server, keeping time with
 * Redis's clock (`TIME`), so instances with skewed clocks agree on leases.
 *
 * Fields: `fp` (fingerprint), `state`, `token` and `lease` (ms) while in
 * progress; `status`, `headers` (JSON) and `body` (base64) once completed.
 *
 * Every call is bounded by `timeout` (default 500 ms) and fails with
 * `IdempotencyUnavailable`.
 *
 * @since 0.2.0
 */
import { IdempotencyStore } from "@org/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Base64 from "effect/encoding/Base64"
import * as Layer from "effect/Layer"
import * as Redis from "effect/persistence/Redis"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"

/**
 * Options of `make`/`layer`.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /** Prefix of every key (default `idempotency:`). */
  readonly prefix?: string | undefined
  /** Longest wait for one call before `IdempotencyUnavailable` (default 500 ms). */
  readonly timeout?: Duration.Input | undefined
}

const now = `local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)`

// Returns {'started'} | {'mismatch'} | {'busy', ms} | {'replay', status, headers, body}.
const beginScript = Redis.script(
  (key: string, fingerprint: string, token: string, ttl: number, lease: number) => [
    key,
    fingerprint,
    token,
    ttl,
    lease
  ],
  {
    lua: `${now}
local fp = redis.call('HGET', KEYS[1], 'fp')
if not fp then
  redis.call('HSET', KEYS[1], 'fp', ARGV[1], 'state', 'in-progress', 'token', ARGV[2],
    'lease', string.format('%d', now + tonumber(ARGV[4])))
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return { 'started' }
end
if fp ~= ARGV[1] then return { 'mismatch' } end
if redis.call('HGET', KEYS[1], 'state') == 'completed' then
  local r = redis.call('HMGET', KEYS[1], 'status', 'headers', 'body')
  return { 'replay', r[1], r[2], r[3] }
end
local lease = tonumber(redis.call('HGET', KEYS[1], 'lease'))
if lease > now then return { 'busy', string.format('%d', lease - now) } end
redis.call('HSET', KEYS[1], 'token', ARGV[2], 'lease', string.format('%d', now + tonumber(ARGV[4])))
return { 'started' }`,
    numberOfKeys: 1
  }
).withReturnType<ReadonlyArray<string>>()

// Returns 1 when stored, 0 when the claim was lost.
const completeScript = Redis.script(
  (key: string, token: string, status: number, headers: string, body: string) => [
    key,
    token,
    status,
    headers,
    body
  ],
  {
    lua: `
if redis.call('HGET', KEYS[1], 'state') ~= 'in-progress' or redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then
  return 0
end
redis.call('HDEL', KEYS[1], 'token', 'lease')
redis.call('HSET', KEYS[1], 'state', 'completed', 'status', ARGV[2], 'headers', ARGV[3], 'body', ARGV[4])
return 1`,
    numberOfKeys: 1
  }
).withReturnType<number>()

const abandonScript = Redis.script((key: string, token: string) => [key, token], {
  lua: `
if redis.call('HGET', KEYS[1], 'state') == 'in-progress' and redis.call('HGET', KEYS[1], 'token') == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
return 0`,
  numberOfKeys: 1
}).withReturnType<number>()

const Reply = Schema.Union([
  Schema.Tuple([Schema.Literals(["started", "mismatch"])]),
  Schema.Tuple([Schema.Literal("busy"), Schema.NumberFromString]),
  Schema.Tuple([
    Schema.Literal("replay"),
    Schema.NumberFromString,
    Schema.fromJsonString(Schema.Record(Schema.String, Schema.String)),
    Schema.String
  ])
])
const decodeReply = Schema.decodeUnknownEffect(Reply)

/**
 * Makes the store over the `Redis` service in context.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { IoRedis, RedisIdempotencyStore } from "@org/redis"
 *
 * const program = Effect.gen(function* () {
 *   const store = yield* RedisIdempotencyStore.make({ prefix: "shop:idempotency:" })
 *   return yield* store.begin("sub:u1", "k1", "POST /items 9f86d0", { ttl: "24 hours", lease: "30 seconds" })
 * }).pipe(Effect.provide(IoRedis.layer({ url: "redis://127.0.0.1:6379" })))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = Effect.fnUntraced(function* (
  options: Options = {}
): Effect.fn.Return<IdempotencyStore.IdempotencyStore["Service"], never, Redis.Redis> {
  const redis = yield* Redis.Redis
  const prefix = options.prefix ?? "idempotency:"
  const timeout = Duration.fromInputUnsafe(options.timeout ?? Duration.millis(500))
  const beginInRedis = redis.eval(beginScript)
  const completeInRedis = redis.eval(completeScript)
  const abandonInRedis = redis.eval(abandonScript)
  // A newline cannot be in a key (visible ASCII) nor in a scope we make: the pair stays unambiguous.
  const keyOf = (scope: string, key: string) => `${prefix}${scope}\n${key}`
  const bounded =
    (operation: string) =>
    <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, IdempotencyStore.IdempotencyUnavailable> =>
      effect.pipe(
        Effect.timeout(timeout),
        Effect.mapError(
          (cause) =>
            new IdempotencyStore.IdempotencyUnavailable({
              operation: `RedisIdempotencyStore.${operation}`,
              cause
            })
        )
      )

  const begin = (
    scope: string,
    key: string,
    fingerprint: string,
    timing: IdempotencyStore.Timing
  ): Effect.Effect<IdempotencyStore.Begin, IdempotencyStore.IdempotencyUnavailable> =>
    Effect.gen(function* () {
      const token = yield* IdempotencyStore.makeToken
      const { ttl, lease } = IdempotencyStore.timingMillis(timing)
      const reply = yield* decodeReply(yield* beginInRedis(keyOf(scope, key), fingerprint, token, ttl, lease))
      switch (reply[0]) {
        case "started":
          return { _tag: "Started", token } as const
        case "mismatch":
          return { _tag: "Mismatch" } as const
        case "busy":
          return { _tag: "Busy", retryAfterMillis: reply[1] } as const
        case "replay": {
          const body = Base64.decode(reply[3])
          if (Result.isFailure(body)) return yield* Effect.fail(body.failure)
          return {
            _tag: "Replay",
            response: { status: reply[1], headers: reply[2], body: body.success }
          } as const
        }
      }
    }).pipe(bounded("begin"))

  return IdempotencyStore.IdempotencyStore.of({
    begin,
    complete: (scope, key, token, response) =>
      completeInRedis(
        keyOf(scope, key),
        token,
        response.status,
        JSON.stringify(response.headers),
        Base64.encode(response.body)
      ).pipe(
        Effect.map((stored) => stored === 1),
        bounded("complete")
      ),
    abandon: (scope, key, token) =>
      abandonInRedis(keyOf(scope, key), token).pipe(Effect.asVoid, bounded("abandon"))
  })
})

/**
 * Provides `IdempotencyStore` on the `Redis` service in context.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { IoRedis, RedisIdempotencyStore } from "@org/redis"
 *
 * const Idempotency = RedisIdempotencyStore.layer({ prefix: "shop:idempotency:" }).pipe(
 *   Layer.provide(IoRedis.layerConfig())
 * )
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (
  options: Options = {}
): Layer.Layer<IdempotencyStore.IdempotencyStore, never, Redis.Redis> =>
  Layer.effect(IdempotencyStore.IdempotencyStore, make(options))
