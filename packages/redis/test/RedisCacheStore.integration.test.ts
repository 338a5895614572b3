/**
 * The Redis cache store obeys the same CacheStore laws as the memory store,
 * on a real Redis (time passes for real: the laws use short TTLs). The Redis
 * invalidation bus carries invalidations between two clients.
 */
import { assert, describe, it } from "@effect/vitest"
import type { InvalidationBus } from "@org/core"
import { IoRedis, RedisCacheStore, RedisInvalidationBus } from "@org/redis"
import { CacheStoreLaws } from "@org/testing"
import { Deferred, Duration, Effect, Layer } from "effect"
import * as SecureRandom from "effect/crypto/SecureRandom"
import { skipRedis, url } from "./env.ts"

const RedisLive = IoRedis.layer({ url })

const unique = Effect.flatMap(SecureRandom.SecureRandom, (random) => random.uuidV4()).pipe(
  Effect.provide(SecureRandom.layerWebCrypto)
)

// Every law gets its own namespace on the shared server.
const fresh = Effect.gen(function* () {
  const store = yield* RedisCacheStore.make({ namespace: `test:${yield* unique}:` })
  return { store, prefix: "", advance: (millis: number) => Effect.sleep(Duration.millis(millis)) }
})

describe.skipIf(skipRedis)("RedisCacheStore obeys the CacheStore laws on a real Redis", () => {
  for (const [name, law] of Object.entries(CacheStoreLaws.laws)) {
    it.live(name, () => law(fresh).pipe(Effect.provide(RedisLive)), 20_000)
  }
})

describe.skipIf(skipRedis)("RedisInvalidationBus", () => {
  it.live(
    "carries an invalidation from one client to another",
    () =>
      Effect.gen(function* () {
        const channel = `test:${yield* unique}:invalidations`
        // Two clients: as two instances of a service would have.
        const clientA = yield* Layer.build(RedisLive)
        const clientB = yield* Layer.build(RedisLive)
        const publisher = yield* RedisInvalidationBus.make({ channel }).pipe(Effect.provideContext(clientA))
        const subscriber = yield* RedisInvalidationBus.make({ channel }).pipe(Effect.provideContext(clientB))
        const received = yield* Deferred.make<InvalidationBus.Invalidation>()
        yield* subscriber.subscribe((message) => Deferred.succeed(received, message).pipe(Effect.asVoid))
        const message: InvalidationBus.Invalidation = {
          origin: "instance-a",
          namespace: "items",
          target: { _tag: "Tag", tag: "item:42" }
        }
        yield* publisher.publish(message)
        const got = yield* Deferred.await(received).pipe(Effect.timeout("2 seconds"))
        assert.deepStrictEqual(got, message)
      }).pipe(Effect.scoped),
    20_000
  )
})
