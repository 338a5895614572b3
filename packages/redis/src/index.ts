/**
 * @since 0.1.0
 */
export * as IoRedis from "./IoRedis.ts"
export * as RedisCacheStore from "./RedisCacheStore.ts"
export * as RedisCircuitBreakerStore from "./RedisCircuitBreakerStore.ts"
export * as RedisIdempotencyStore from "./RedisIdempotencyStore.ts"
export * as RedisInvalidationBus from "./RedisInvalidationBus.ts"
export * as RedisRateLimitStore from "./RedisRateLimitStore.ts"
export * as RedisRevocationStore from "./RedisRevocationStore.ts"
