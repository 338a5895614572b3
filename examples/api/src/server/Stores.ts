/**
 * Where the example's shared state lives: in memory by default (one
 * process), in Redis when `REDIS_URL` is set (every instance shares the L2
 * cache, invalidations reach every instance's L1 over pub/sub, and token
 * revocations are seen everywhere). With Redis configured, readiness also
 * checks it. `Idempotency-Key` records live in Postgres (they must outlive
 * a restart, and every instance sees them), or in Redis when it is set.
 *
 * @since 0.1.0
 */
import {
  CacheStore,
  IdempotencyStoreSql,
  InvalidationBus,
  RateLimiter,
  RevocationStore,
  RevocationStoreSql
} from "@org/core"
import { Health } from "@org/http"
import {
  IoRedis,
  RedisCacheStore,
  RedisIdempotencyStore,
  RedisInvalidationBus,
  RedisRateLimitStore,
  RedisRevocationStore
} from "@org/redis"
import { Config, Effect, Layer, Option } from "effect"
import { Redis } from "effect/persistence"

/**
 * In-process state: cache, invalidations, rate-limit windows; revocations
 * answered from memory and written through to Postgres, so a logout
 * survives a restart; and the idempotency records in Postgres (so this
 * needs a `SqlClient`). One process: several instances need `REDIS_URL`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory = Layer.mergeAll(
  CacheStore.layerMemory,
  InvalidationBus.layerMemory,
  RevocationStore.layerWriteThrough(RevocationStoreSql.layer()),
  RateLimiter.layerMemory,
  IdempotencyStoreSql.layer()
)

/**
 * Redis-backed state (revocations with a durable copy in Postgres, so this
 * needs a `SqlClient`), plus a `redis` readiness check (`PING`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerRedisFrom = <E>(redis: Layer.Layer<Redis.Redis | IoRedis.IoRedis, E>) =>
  Layer.mergeAll(
    RedisCacheStore.layer({ namespace: "example-api:cache:" }),
    RedisInvalidationBus.layer({ channel: "example-api:cache:invalidations" }),
    // Revocations in Redis for speed and cross-instance visibility, with the
    // durable copy in Postgres that survives a Redis restart or outage.
    RedisRevocationStore.layer({ namespace: "example-api:revocations:" }).pipe(
      Layer.provide(RedisRevocationStore.layerDurable(RevocationStoreSql.layer()))
    ),
    // one sliding window per client for every instance
    RedisRateLimitStore.layer({ prefix: "example-api:ratelimit:" }),
    // Idempotency-Key records, expiring on their own
    RedisIdempotencyStore.layer({ prefix: "example-api:idempotency:" }),
    Health.check(
      "redis",
      Effect.flatMap(Redis.Redis, (redis) => redis.send("PING"))
    )
  ).pipe(Layer.provide(redis))

/**
 * `layerRedisFrom` on the Redis at `REDIS_URL`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerRedis = layerRedisFrom(IoRedis.layerConfig())

/**
 * Redis when `REDIS_URL` is set, memory otherwise.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = Layer.unwrap(
  Effect.map(
    Config.option(Config.String("REDIS_URL")),
    (
      url
    ): Layer.Layer<
      Layer.Success<typeof layerMemory>,
      Layer.Error<typeof layerMemory | typeof layerRedis>,
      Layer.Services<typeof layerMemory | typeof layerRedis>
    > => (Option.isSome(url) && url.value.trim() !== "" ? layerRedis : layerMemory)
  )
)
