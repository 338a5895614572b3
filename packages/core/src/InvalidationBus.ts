/**
 * The cross-instance invalidation port: every tiered cache publishes what it
 * invalidated (keys, a prefix or a tag of its namespace) and drops the same
 * entries from its L1 when another instance publishes. Each message carries
 * the id of the cache instance that sent it, so an instance ignores its own
 * echoes.
 *
 * Delivery is at most once (Redis pub/sub is): a lost message leaves a stale
 * L1 entry until its L1 TTL, which is why the tiered cache caps L1 TTLs.
 * `layerMemory` is one `PubSub` per layer build, shared by every cache that
 * uses the build, to simulate several instances in one process.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as PubSub from "effect/PubSub"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"

/**
 * What to invalidate, in the namespace of a cache.
 *
 * @since 0.1.0
 * @category models
 */
export const Target = Schema.Union([
  Schema.TaggedStruct("Keys", { keys: Schema.Array(Schema.String) }),
  Schema.TaggedStruct("Prefix", { prefix: Schema.String }),
  Schema.TaggedStruct("Tag", { tag: Schema.String })
])

/**
 * What to invalidate.
 *
 * @since 0.1.0
 * @category models
 */
export type Target = typeof Target.Type

/**
 * One invalidation message; a Schema so that a networked bus can encode it.
 *
 * @since 0.1.0
 * @category models
 */
export const Invalidation = Schema.Struct({
  /** The cache instance that sent it. */
  origin: Schema.String,
  namespace: Schema.String,
  target: Target
})

/**
 * One invalidation message.
 *
 * @since 0.1.0
 * @category models
 */
export type Invalidation = typeof Invalidation.Type

/**
 * A failure to publish.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidationBusError extends Schema.TaggedError<InvalidationBusError>()("InvalidationBusError", {
  cause: Schema.Defect()
}) {}

/**
 * The bus service. `subscribe` is active when it returns (no message
 * published afterwards is missed for lack of a subscriber) and runs
 * `handler` for every message, in order, until the scope closes.
 *
 * @since 0.1.0
 * @category services
 */
export class InvalidationBus extends Context.Service<
  InvalidationBus,
  {
    readonly publish: (message: Invalidation) => Effect.Effect<void, InvalidationBusError>
    readonly subscribe: (
      handler: (message: Invalidation) => Effect.Effect<void>
    ) => Effect.Effect<void, never, Scope.Scope>
  }
>()("@org/core/InvalidationBus") {}

/**
 * Makes an in-process bus over an unbounded `PubSub`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { InvalidationBus } from "@org/core"
 *
 * const program = Effect.gen(function* () {
 *   const bus = yield* InvalidationBus.makeMemory
 *   yield* bus.subscribe((message) => Effect.log(message.target))
 *   yield* bus.publish({ origin: "a", namespace: "users", target: { _tag: "Keys", keys: ["1"] } })
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory: Effect.Effect<InvalidationBus["Service"]> = Effect.map(
  PubSub.unbounded<Invalidation>(),
  (pubsub) =>
    InvalidationBus.of({
      publish: (message) => Effect.asVoid(PubSub.publish(pubsub, message)),
      subscribe: (handler) =>
        Effect.flatMap(PubSub.subscribe(pubsub), (subscription) =>
          Effect.asVoid(Effect.forkScoped(Effect.forever(Effect.flatMap(PubSub.take(subscription), handler))))
        )
    })
)

/**
 * One shared in-process bus per layer build.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<InvalidationBus> = Layer.effect(InvalidationBus, makeMemory)
