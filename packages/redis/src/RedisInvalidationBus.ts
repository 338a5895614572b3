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
      subscribe: (handler) => {
        const consume = (messages: Queue.Dequeue<Redis.RedisMessage, Redis.RedisError>) =>
          Effect.forever(
            Effect.flatMap(Queue.take(messages), (message) =>
              decode(message.message).pipe(
                Effect.flatMap(handler),
                // A malformed message (another version, a stray publisher) is skipped, not fatal.
                Effect.catchTag("SchemaError", (error) =>
                  Effect.logWarning("RedisInvalidationBus: skipped a message", error)
                )
              )
            )
          )
        // Until the scope closes: subscribe, consume, and after a failure or
        // an end (Redis down at start, the subscriber closed) try again.
        const resubscribe = Effect.scoped(Effect.flatMap(redis.subscribe(channel), consume)).pipe(
          Effect.catchCause((cause) =>
            Effect.logDebug("RedisInvalidationBus: not subscribed; retrying", cause)
          ),
          Effect.andThen(Effect.sleep("1 second")),
          Effect.forever
        )
        return Effect.gen(function* () {
          // The first subscription is awaited (SUBSCRIBE is acknowledged when
          // Redis is up), so a message published once `subscribe` returns is
          // seen. It never fails the caller: a failure surfaces in the queue,
          // is logged, and the loop above tries again; without the bus, L1
          // entries live out their TTL meanwhile.
          const messages = yield* redis.subscribe(channel)
          yield* Effect.forkScoped(
            consume(messages).pipe(
              Effect.catchCause((cause) =>
                Effect.logWarning("RedisInvalidationBus: not subscribed; retrying every second", cause)
              ),
              Effect.andThen(Effect.sleep("1 second")),
              Effect.andThen(resubscribe)
            )
          )
        })
      }
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
