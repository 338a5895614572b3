/**
 * The ioredis adapter against a real Redis: commands, Lua scripts, pub/sub,
 * reserved connections for blocking commands, Effect's Redis-backed
 * RateLimiter store on top of it, and a clear failure when Redis is absent.
 */
import { assert, describe, it, layer } from "@effect/vitest"
import { IoRedis, RedisInvalidationBus } from "@org/redis"
import { Duration, Effect, Fiber, Layer, Queue, Schedule } from "effect"
import * as SecureRandom from "effect/crypto/SecureRandom"
import { RateLimiter, Redis } from "effect/persistence"
import { TestClock } from "effect/testing"
import { skipRedis, url } from "./env.ts"
import * as RedisServer from "./redisServer.ts"

const RedisLive = IoRedis.layer({ url })

// Keys of one run never collide with another run's on the same server.
const prefix = Effect.map(
  Effect.flatMap(SecureRandom.SecureRandom, (random) => random.uuidV4()),
  (id) => `test:${id}:`
).pipe(Effect.provide(SecureRandom.layerWebCrypto))

describe.skipIf(skipRedis)("IoRedis on a real Redis", () => {
  layer(RedisLive, { timeout: 30_000 })((it) => {
    it.effect("sends commands", () =>
      Effect.gen(function* () {
        const redis = yield* Redis.Redis
        const key = `${yield* prefix}greeting`
        assert.strictEqual(yield* redis.send("SET", key, "hello", "PX", "10000"), "OK")
        assert.strictEqual(yield* redis.send("GET", key), "hello")
        assert.strictEqual(yield* redis.send("DEL", key), 1)
        assert.isNull(yield* redis.send("GET", key))
      })
    )

    it.effect("runs Lua scripts by their sha", () =>
      Effect.gen(function* () {
        const redis = yield* Redis.Redis
        const key = `${yield* prefix}counter`
        const incrementBy = Redis.script((key: string, by: number) => [key, by], {
          lua: "return redis.call('INCRBY', KEYS[1], ARGV[1])",
          numberOfKeys: 1
        }).withReturnType<number>()
        const run = redis.eval(incrementBy)
        assert.strictEqual(yield* run(key, 2), 2)
        assert.strictEqual(yield* run(key, 40), 42)
        yield* redis.send("SCRIPT", "FLUSH")
        assert.strictEqual(yield* run(key, 1), 43, "NOSCRIPT after a flush reloads the script")
        yield* redis.send("DEL", key)
      })
    )

    it.effect("delivers pub/sub messages to subscribers", () =>
      Effect.gen(function* () {
        const redis = yield* Redis.Redis
        const channel = `${yield* prefix}channel`
        const messages = yield* redis.subscribe(channel)
        // SUBSCRIBE is acknowledged before `subscribe` returns.
        assert.strictEqual(yield* redis.send("PUBLISH", channel, "one"), 1)
        yield* redis.send("PUBLISH", channel, "two")
        const received = [yield* Queue.take(messages), yield* Queue.take(messages)]
        assert.deepStrictEqual(
          received.map((m) => m.message),
          ["one", "two"]
        )
        assert.strictEqual(received[0]!.channel, channel)
      }).pipe(Effect.scoped)
    )

    it.effect("Effect's Redis-backed rate limiter works on it", () =>
      Effect.gen(function* () {
        const limiter = yield* RateLimiter.RateLimiter
        const key = `${yield* prefix}client`
        const consume = limiter.consume({ key, limit: 2, window: "1 minute", onExceeded: "fail" })
        yield* consume
        yield* consume
        const refused = yield* Effect.flip(consume)
        assert.strictEqual(refused._tag, "RateLimiterError")
        yield* TestClock.adjust(Duration.minutes(1))
      }).pipe(
        Effect.provide(
          RateLimiter.layer.pipe(Layer.provide(RateLimiter.layerStoreRedis({ prefix: "test-ratelimit:" })))
        )
      )
    )
  })

  describe("with the real clock", () => {
    it.live("a reserved connection blocks alone: other commands keep flowing", () =>
      Effect.gen(function* () {
        const redis = yield* Redis.Redis
        const list = `${yield* prefix}queue`
        const popper = yield* Effect.forkChild(
          Effect.scoped(
            Effect.flatMap(redis.reserve, (connection) =>
              connection.send<[string, string]>("BLPOP", list, "5")
            )
          )
        )
        yield* Effect.sleep("100 millis")
        assert.strictEqual(yield* redis.send("PING"), "PONG", "the shared connection is not blocked")
        yield* redis.send("RPUSH", list, "job")
        const popped = yield* Fiber.join(popper)
        assert.deepStrictEqual(popped, [list, "job"])
      }).pipe(Effect.provide(RedisLive))
    )

    it.live(
      "with requireAtStart, fails at start with the URL, never the password, when Redis is absent",
      () =>
        Effect.gen(function* () {
          const error = yield* Effect.flip(
            Effect.scoped(
              IoRedis.make({
                url: "redis://user:s3cret@127.0.0.1:1/0",
                options: { connectTimeout: 500 },
                requireAtStart: true
              })
            )
          )
          assert.strictEqual(error._tag, "RedisError")
          const text = String(error.cause)
          assert.include(text, "127.0.0.1:1")
          assert.notInclude(text, "s3cret")
        })
    )
  })
})

describe.skipIf(RedisServer.skipPrivateRedis)("IoRedis while Redis is down", () => {
  it.live(
    "starts without Redis, fails commands at once meanwhile, and works once Redis is up; a subscriber catches up",
    () =>
      Effect.gen(function* () {
        const server = yield* RedisServer.make
        yield* server.kill
        const { redis } = yield* IoRedis.make({ url: server.url, options: { connectTimeout: 500 } })
        const started = performance.now()
        const down = yield* Effect.flip(redis.send("PING"))
        assert.strictEqual(down._tag, "RedisError")
        assert.isBelow(performance.now() - started, 200, "a command fails at once while Redis is down")
        const bus = yield* RedisInvalidationBus.make({ channel: "test:down-at-start" }).pipe(
          Effect.provideService(Redis.Redis, redis)
        )
        const received = yield* Queue.unbounded<string>()
        yield* bus.subscribe((message) => Queue.offer(received, message.namespace).pipe(Effect.asVoid))

        yield* server.start
        // reconnects within the capped backoff (at most about 2 s between attempts)
        yield* redis
          .send("PING")
          .pipe(Effect.retry(Schedule.spaced("100 millis")), Effect.timeout("5 seconds"))
        // the subscriber retries every second: publish until one arrives
        const namespace = "items"
        const publishing = Effect.forever(
          Effect.andThen(
            Effect.ignore(bus.publish({ origin: "other", namespace, target: { _tag: "Keys", keys: ["1"] } })),
            Effect.sleep("200 millis")
          )
        )
        const delivered = yield* Queue.take(received).pipe(
          Effect.raceFirst(publishing),
          Effect.timeout("6 seconds")
        )
        assert.strictEqual(delivered, namespace)
      }).pipe(Effect.scoped),
    30_000
  )
})
