/**
 * The shared state of circuit breakers in Redis (`CircuitBreaker.StateStore`):
 * one hash per breaker (`<ns><name>` with status, openUntil, openings,
 * version), written only by a compare-and-set Lua script, so instances agree
 * on openings and closes without locks. Breakers never touch the store on
 * the call path; they push transitions and poll (see docs/resilience-circuit-breaker.md).
 *
 * @since 0.1.0
 */
import { CircuitBreaker } from "@org/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redis from "effect/persistence/Redis"

const compareAndSetScript = Redis.script(
  (key: string, expected: number, next: CircuitBreaker.SharedState) => [
    key,
    expected,
    next.status,
    next.openUntil,
    next.openings,
    next.version
  ],
  {
    lua: `
local current = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if current ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'openUntil', ARGV[3], 'openings', ARGV[4], 'version', ARGV[5])
return 1`,
    numberOfKeys: 1
  }
).withReturnType<number>()

/**
 * Makes the store over the `Redis` service in context; keys live under
 * `namespace` (default `circuit-breaker:`).
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { CircuitBreaker } from "@org/core"
 * import { IoRedis, RedisCircuitBreakerStore } from "@org/redis"
 *
 * const Breakers = CircuitBreaker.layerRegistry().pipe(
 *   Layer.provide(RedisCircuitBreakerStore.layer()),
 *   Layer.provide(IoRedis.layerConfig())
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: { readonly namespace?: string } = {}) =>
  Effect.map(Redis.Redis, (redis) => {
    const ns = options.namespace ?? "circuit-breaker:"
    const compareAndSet = redis.eval(compareAndSetScript)
    const failure = (message: string) => (cause: unknown) =>
      new CircuitBreaker.StateStoreError({ message, cause })
    return CircuitBreaker.StateStore.of({
      get: (name) =>
        redis
          .send<Array<string> | null>("HMGET", `${ns}${name}`, "status", "openUntil", "openings", "version")
          .pipe(
            Effect.map((fields): CircuitBreaker.SharedState | undefined => {
              const [raw, openUntil, openings, version] = fields ?? []
              const status = raw === "open" ? "open" : raw === "closed" ? "closed" : undefined
              if (status === undefined || version === undefined || version === null) return undefined
              return {
                status,
                openUntil: Number(openUntil),
                openings: Number(openings),
                version: Number(version)
              }
            }),
            Effect.mapError(failure(`cannot read the state of ${name}`))
          ),
      compareAndSet: (name, expectedVersion, next) =>
        compareAndSet(`${ns}${name}`, expectedVersion, next).pipe(
          Effect.map((written) => written === 1),
          Effect.mapError(failure(`cannot write the state of ${name}`))
        )
    })
  })

/**
 * Provides `CircuitBreaker.StateStore` on the `Redis` service in context.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: { readonly namespace?: string } = {}
): Layer.Layer<CircuitBreaker.StateStore, never, Redis.Redis> =>
  Layer.effect(CircuitBreaker.StateStore, make(options))
