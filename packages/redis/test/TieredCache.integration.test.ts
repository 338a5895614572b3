/**
 * The tiered cache on a real Redis, as two instances of a service would use
 * it (two clients): L2 sharing, cross-instance L1 invalidation over pub/sub
 * with a measured delay, and degradation while Redis hangs (a private
 * redis-server stopped with SIGSTOP, so the shared one is never paused
 * under other tests): zero failed reads, bounded latency, recovery after.
 */
import { assert, describe, it } from "@effect/vitest"
import { TieredCache } from "@org/core"
import { IoRedis, RedisCacheStore, RedisInvalidationBus } from "@org/redis"
import { Clock, Effect, Layer, Option, Schema } from "effect"
import * as SecureRandom from "effect/crypto/SecureRandom"
import { skipRedis, url } from "./env.ts"
import * as RedisServer from "./redisServer.ts"

const unique = Effect.flatMap(SecureRandom.SecureRandom, (random) => random.uuidV4()).pipe(
  Effect.provide(SecureRandom.layerWebCrypto)
)

// One "instance": its own Redis client, store and bus on the shared namespace and channel.
const instance = (namespace: string, redisUrl = url) =>
  Effect.gen(function* () {
    const client = yield* Layer.build(IoRedis.layer({ url: redisUrl }))
    const services = yield* Layer.build(
      Layer.mergeAll(
        RedisCacheStore.layer({ namespace }),
        RedisInvalidationBus.layer({ channel: `${namespace}bus` })
      ).pipe(Layer.provide(Layer.succeedContext(client)))
    )
    const cache = yield* TieredCache.make({
      name: `test-${namespace}`,
      schema: Schema.String,
      ttl: "1 minute",
      timeout: "50 millis",
      outage: { failures: 3, coolDown: "300 millis" },
      lock: false
    }).pipe(Effect.provideContext(services))
    return { cache }
  })

const elapsed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const start = yield* Clock.currentTimeMillis
    const value = yield* effect
    return { value, millis: (yield* Clock.currentTimeMillis) - start }
  })

describe.skipIf(skipRedis)("TieredCache on a real Redis, two instances", () => {
  it.live(
    "L2 is shared, and an invalidation on one instance drops the other's L1 copy within a bounded delay",
    () =>
      Effect.gen(function* () {
        const namespace = `test:${yield* unique}:`
        const a = yield* instance(namespace)
        const b = yield* instance(namespace)
        let loads = 0
        const load = (value: string) =>
          Effect.sync(() => {
            loads++
            return value
          })
        assert.strictEqual(yield* a.cache.getOrLoad("k", () => load("v1")), "v1")
        assert.strictEqual(
          yield* b.cache.getOrLoad("k", () => load("never")),
          "v1",
          "b reads a's value from L2"
        )
        assert.strictEqual(loads, 1)
        yield* a.cache.set("k", "v2")
        const { millis } = yield* elapsed(
          Effect.gen(function* () {
            while (Option.getOrUndefined(yield* b.cache.get("k")) !== "v2") yield* Effect.sleep("2 millis")
          }).pipe(Effect.timeout("2 seconds"))
        )
        assert.isBelow(millis, 500, `b saw the new value after ${millis} ms`)
      }).pipe(Effect.scoped),
    20_000
  )
})

describe.skipIf(RedisServer.skipPrivateRedis)("TieredCache while Redis hangs", () => {
  it.live(
    "while Redis is paused, every read succeeds through L1 or the loader within a bounded time, and L2 returns after",
    () =>
      Effect.gen(function* () {
        const namespace = `test:${yield* unique}:`
        const server = yield* RedisServer.make
        const a = yield* instance(namespace, server.url)
        yield* a.cache.getOrLoad("warm", () => Effect.succeed("cached"))
        yield* server.pause
        yield* Effect.forkScoped(Effect.andThen(Effect.sleep("1500 millis"), server.resume))
        const reads = yield* Effect.forEach(
          Array.from({ length: 30 }, (_, i) => i),
          (i) =>
            elapsed(
              i % 3 === 0
                ? a.cache.getOrLoad("warm", () => Effect.succeed("reloaded"))
                : a.cache.getOrLoad(`cold-${i}`, () => Effect.succeed(`v${i}`))
            ),
          { concurrency: 5 }
        )
        assert.strictEqual(reads.length, 30, "zero failed reads")
        const worst = Math.max(...reads.map((r) => r.millis))
        assert.isBelow(worst, 400, `slowest read during the pause took ${worst} ms`)
        assert.isTrue((yield* a.cache.stats).outage, "the cache noticed the outage")
        yield* Effect.sleep("1700 millis")
        // After the pause and the cool-down, L2 is used again.
        yield* Effect.sleep("400 millis")
        yield* a.cache.getOrLoad("after", () => Effect.succeed("x"))
        yield* a.cache.invalidate("after")
        yield* a.cache.getOrLoad("after", () => Effect.succeed("y"))
        assert.isFalse((yield* a.cache.stats).outage, "the cache recovered")
      }).pipe(Effect.scoped),
    20_000
  )
})
