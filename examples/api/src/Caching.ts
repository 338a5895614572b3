/**
 * Where the example's shared cache state lives: in memory by default (one
 * process), in Redis when `REDIS_URL` is set (every instance shares the L2
 * cache, and invalidations reach every instance's L1 over pub/sub). With
 * Redis configured, readiness also checks it.
 *
 * @since 0.1.0
 */
import { CacheStore, InvalidationBus } from "@org/core"
import { Health } from "@org/http"
import { IoRedis, RedisCacheStore, RedisInvalidationBus } from "@org/redis"
import { Config, Effect, Layer, Option } from "effect"
import { Redis } from "effect/persistence"

/**
 * In-process cache state.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory = Layer.mergeAll(CacheStore.layerMemory, InvalidationBus.layerMemory)

/**
 * Redis-backed cache state, plus a `redis` readiness check (`PING`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerRedis = Layer.mergeAll(
  RedisCacheStore.layer({ namespace: "example-api:cache:" }),
  RedisInvalidationBus.layer({ channel: "example-api:cache:invalidations" }),
  Health.check(
    "redis",
    Effect.flatMap(Redis.Redis, (redis) => redis.send("PING"))
  )
).pipe(Layer.provide(IoRedis.layerConfig()))

/**
 * Redis when `REDIS_URL` is set, memory otherwise.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = Layer.unwrap(
  Effect.map(Config.option(Config.String("REDIS_URL")), (url) =>
    Option.isSome(url) && url.value.trim() !== "" ? layerRedis : layerMemory
  )
)
