/**
 * The cross-instance `InvalidationBus` on Redis pub/sub: every instance
 * publishes its invalidations to one channel and applies everyone else's to
 * its L1. Delivery is at most once and unordered across publishers; a
 * subscriber that was disconnected misses what was published meanwhile, so
 * L1 entries should keep short TTLs (the bound on staleness during an
 * outage; see docs/cache.md).
 *
 * @since 0.1.0
 */
import { InvalidationBus } from "@org/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redis from "effect/persistence/Redis"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"

const Message = Schema.fromJsonString(InvalidationBus.Invalidation)
const encode = Schema.encodeEffect(Message)
const decode = Schema.decodeUnknownEffect(Message)

/**
 * Makes the bus over the `Redis` service in context, on `channel`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { IoRedis, RedisInvalidationBus } from "@org/redis"
 *
 * const bus = RedisInvalidationBus.make({ channel: "shop:invalidations" }).pipe(
 *   Effect.provide(IoRedis.layer({ url: "redis://127.0.0.1:6379" }))
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: { readonly channel?: string } = {}) =>
  Effect.map(Redis.Redis, (redis) => {
    const channel = options.channel ?? "cache:invalidations"
    return InvalidationBus.InvalidationBus.of({
      publish: (message) =>
        encode(message).pipe(
          Effect.flatMap((text) => redis.send("PUBLISH", channel, text)),
          Effect.asVoid,
          Effect.mapError((cause) => new InvalidationBus.InvalidationBusError({ cause }))
        ),
      subscribe: (handler) =>
        Effect.gen(function* () {
          const messages = yield* redis.subscribe(channel)
          const next = Effect.flatMap(Queue.take(messages), (message) =>
            decode(message.message).pipe(
              Effect.flatMap(handler),
              // A malformed message (another version, a stray publisher) is skipped, not fatal.
              Effect.catchTag("SchemaError", (error) =>
                Effect.logWarning("RedisInvalidationBus: skipped a message", error)
              )
            )
          )
          yield* Effect.forkScoped(
            Effect.forever(next).pipe(
              Effect.catchCause((cause) =>
                Effect.logWarning("RedisInvalidationBus: subscription ended", cause)
              )
            )
          )
        }).pipe(
          // Subscribing never fails the caller: without the bus, L1 entries simply live out their TTL.
          Effect.catchCause((cause) => Effect.logWarning("RedisInvalidationBus: cannot subscribe", cause))
        )
    })
  })

/**
 * Provides `InvalidationBus` on the `Redis` service in context.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: { readonly channel?: string } = {}
): Layer.Layer<InvalidationBus.InvalidationBus, never, Redis.Redis> =>
  Layer.effect(InvalidationBus.InvalidationBus, make(options))
