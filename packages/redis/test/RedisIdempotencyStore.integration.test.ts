/**
 * The Redis idempotency store obeys the IdempotencyStore laws on the shared
 * Redis (REDIS_URL), each law under a fresh key prefix; time passes for
 * real, since leases and expiry run on Redis's clock.
 */
import { assert, describe, it } from "@effect/vitest"
import { IoRedis, RedisIdempotencyStore } from "@org/redis"
import { IdempotencyStoreLaws } from "@org/testing"
import { Duration, Effect } from "effect"
import * as SecureRandom from "effect/crypto/SecureRandom"
import { Redis } from "effect/persistence"
import { skipRedis, url } from "./env.ts"

const unique = Effect.flatMap(SecureRandom.SecureRandom, (random) => random.uuidV4()).pipe(
  Effect.provide(SecureRandom.layerWebCrypto)
)

const fresh = Effect.gen(function* () {
  const prefix = `test:idempotency:${yield* unique}:`
  const store = yield* RedisIdempotencyStore.make({ prefix })
  return { store, advance: (millis: number) => Effect.sleep(Duration.millis(millis)) }
})

describe.skipIf(skipRedis)("RedisIdempotencyStore on a real Redis", () => {
  for (const [name, law] of Object.entries(IdempotencyStoreLaws.laws)) {
    it.live(name, () => law(fresh).pipe(Effect.provide(IoRedis.layer({ url }))), 30_000)
  }

  it.live(
    "a record's key expires in Redis with its ttl",
    () =>
      Effect.gen(function* () {
        const prefix = `test:idempotency:${yield* unique}:`
        const store = yield* RedisIdempotencyStore.make({ prefix })
        yield* store.begin("sub:u1", "k", "fp", { ttl: "10 seconds", lease: "1 second" })
        const redis = yield* Redis.Redis
        const ttl = Number(yield* redis.send("PTTL", `${prefix}sub:u1\nk`))
        assert.isAbove(ttl, 8_000)
        assert.isAtMost(ttl, 10_000)
      }).pipe(Effect.provide(IoRedis.layer({ url }))),
    30_000
  )
})
