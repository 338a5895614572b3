/**
 * Effect's client-agnostic `Redis` service (`effect/persistence/Redis`) on
 * ioredis, so everything built on that service (our stores, Effect's
 * Redis-backed RateLimiter, CircuitBreaker store and Persistence) runs on
 * ioredis: commands, Lua scripts (`EVALSHA`, reloaded on `NOSCRIPT`),
 * pub/sub, and dedicated connections for blocking commands.
 *
 * Connection behaviour, chosen so a dead Redis degrades callers instead of
 * stalling them:
 * - the shared connection reconnects forever with capped exponential backoff
 *   (50 ms doubling, at most 2 s, plus up to 100 ms of jitter);
 * - while it is down, commands fail at once with a `RedisError` (the offline
 *   queue is off and a command is not retried on reconnect), so callers'
 *   timeouts and fallbacks apply;
 * - subscribers reconnect and re-subscribe on their own; messages published
 *   while they were away are missed (pub/sub has no replay);
 * - reserved connections never reconnect: a dropped one fails its command
 *   and leaves the pool;
 * - a Redis that is down at start does not stop the start: the layer logs
 *   a warning naming the URL (never its password) and keeps reconnecting,
 *   commands fail at once meanwhile (a readiness check that sends `PING`
 *   tells the truth), and everything works once Redis answers. With
 *   `requireAtStart: true` the layer fails instead if Redis cannot be
 *   reached within `connectTimeout` (default 5 s).
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as SecureRandom from "effect/crypto/SecureRandom"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redis from "effect/persistence/Redis"
import * as Redacted from "effect/Redacted"
import { Redis as IoRedisClient, type RedisOptions } from "ioredis"

/**
 * The underlying ioredis client, for what the generic service does not cover.
 *
 * @since 0.1.0
 * @category services
 */
export class IoRedis extends Context.Service<IoRedis, { readonly client: IoRedisClient }>()(
  "@org/redis/IoRedis"
) {}

/**
 * Options: a `redis://` URL (secret: it may hold a password), ioredis
 * options, and the pool behind `Redis.reserve`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly url: Redacted.Redacted<string> | string
  readonly options?: RedisOptions | undefined
  readonly pool?: Redis.PoolOptions | undefined
  /** Fail the layer when Redis cannot be reached at start (default: start anyway, reconnect in the background). */
  readonly requireAtStart?: boolean | undefined
}

// Reconnect delay: capped exponential with jitter, so instances that lost
// Redis together do not reconnect in lockstep (ioredis calls it per attempt).
const retryStrategy = (attempt: number): number =>
  Math.min(50 * 2 ** Math.min(attempt, 16), 2_000) + ((SecureRandom.randomBytesUnsafe(1)[0] ?? 0) % 100)

const redactUrl = (url: string): string => {
  const parsed = URL.parse(url)
  if (parsed === null) return "an invalid URL"
  if (parsed.password !== "") parsed.password = "***"
  return parsed.toString()
}

const errorOf = (cause: unknown) => new Redis.RedisError({ cause })

const commandOf =
  (client: IoRedisClient) =>
  <A = unknown>(command: string, ...args: ReadonlyArray<string>): Effect.Effect<A, Redis.RedisError> =>
    Effect.tryPromise({
      try: () => client.call(command, [...args]) as Promise<A>,
      catch: errorOf
    })

/**
 * Builds the service on a fresh ioredis client; closed with the scope.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { IoRedis } from "@org/redis"
 *
 * const program = Effect.scoped(
 *   Effect.flatMap(IoRedis.make({ url: "redis://127.0.0.1:6379" }), ({ redis }) => redis.send("PING"))
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fnUntraced(function* (options: Options) {
  const url = Redacted.isRedacted(options.url) ? Redacted.value(options.url) : options.url
  const base: RedisOptions = {
    lazyConnect: true,
    connectTimeout: 5_000,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy,
    ...options.options
  }
  const context = yield* Effect.context<never>()
  const runFork = Effect.runForkWith(context)
  // ioredis emits `error` on every failed reconnect attempt; an `error` with
  // no listener would crash the process. Log the first of an outage only.
  const watch = (client: IoRedisClient, role: string) => {
    let down = false
    client.on("error", (cause) => {
      if (!down) runFork(Effect.logWarning(`IoRedis ${role}: connection error, reconnecting`, cause))
      down = true
    })
    client.on("ready", () => {
      if (down) runFork(Effect.logInfo(`IoRedis ${role}: connection restored`))
      down = false
    })
  }
  const client = yield* Effect.acquireRelease(
    // ioredis' own option types do not hold under exactOptionalPropertyTypes
    // (its `RedisOptions` is not assignable to its constructor's parameter).
    Effect.sync(() => new IoRedisClient(url, base as never)),
    (client) => Effect.sync(() => client.disconnect())
  )
  watch(client, "client")
  const connected = Effect.tryPromise({
    try: () => client.connect(),
    catch: (cause) =>
      new Redis.RedisError({ cause: new Error(`Cannot connect to Redis at ${redactUrl(url)}`, { cause }) })
  })
  if (options.requireAtStart === true) yield* connected
  else {
    // ioredis keeps reconnecting after a failed first attempt (`retryStrategy`).
    yield* connected.pipe(
      Effect.catch((error) =>
        Effect.logWarning(
          `IoRedis: Redis at ${redactUrl(url)} is not reachable; starting without it`,
          error.cause
        )
      )
    )
  }

  const redis = yield* Redis.make({
    send: commandOf(client),
    connect: Effect.tryPromise({
      try: async () => {
        const connection = client.duplicate({ ...base, retryStrategy: () => null, lazyConnect: true })
        connection.on("error", () => {})
        await connection.connect()
        return connection
      },
      catch: errorOf
    }).pipe(
      Effect.map((connection) => ({
        send: commandOf(connection),
        close: Effect.sync(() => connection.disconnect())
      }))
    ),
    pool: options.pool,
    subscribe: Effect.fnUntraced(function* (channel, onMessage) {
      const ended = yield* Deferred.make<void, Redis.RedisError>()
      const subscriber = yield* Effect.acquireRelease(
        Effect.tryPromise({
          try: async () => {
            // Subscribers keep an offline queue: SUBSCRIBE is replayed after a reconnect.
            const subscriber = client.duplicate({ ...base, enableOfflineQueue: true, lazyConnect: true })
            watch(subscriber, `subscriber(${channel})`)
            subscriber.on("message", (from: string, message: string) => onMessage({ channel: from, message }))
            subscriber.on("end", () => runFork(Deferred.fail(ended, errorOf(new Error("subscriber closed")))))
            await subscriber.connect()
            await subscriber.subscribe(channel)
            return subscriber
          },
          catch: errorOf
        }),
        (subscriber) => Effect.sync(() => subscriber.disconnect())
      )
      return Effect.ensuring(
        Deferred.await(ended),
        Effect.sync(() => subscriber.disconnect())
      )
    })
  })
  return { redis, client }
})

/**
 * Provides `Redis` (Effect's service) and `IoRedis` (the raw client).
 *
 * @example
 * ```ts
 * import { IoRedis } from "@org/redis"
 * const RedisLive = IoRedis.layer({ url: "redis://127.0.0.1:6379" })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<Redis.Redis | IoRedis, Redis.RedisError> =>
  Layer.effectContext(
    Effect.map(make(options), ({ redis, client }) =>
      Context.make(Redis.Redis, redis).pipe(Context.add(IoRedis, IoRedis.of({ client })))
    )
  )

/**
 * `layer` with the URL from `REDIS_URL` (a secret).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Omit<Options, "url"> = {}
): Layer.Layer<Redis.Redis | IoRedis, Redis.RedisError | Config.ConfigError> =>
  Layer.unwrap(Effect.map(Config.Redacted("REDIS_URL"), (url) => layer({ ...options, url })))
