/**
 * The in-process event bus: handlers subscribe to domain event types, use
 * cases publish the events their writes raised.
 *
 * Two kinds of handler:
 *
 * - `sync` handlers run in the publisher's fiber, inside its transaction:
 *   their writes join it, and a failing sync handler vetoes the write
 *   (`publish` fails with `EventVetoed`, so the caller's unit of work rolls
 *   back). Use them for invariants that span aggregates.
 * - `async` handlers run after the transaction commits, never on rollback,
 *   and never hold up the publisher. With `layer` the events are appended to
 *   the `Outbox` in the caller's transaction and the outbox dispatcher hands
 *   them to `consumers` (one per async subscription): delivery is
 *   at-least-once, across crashes, so async handlers must be idempotent
 *   (see `Outbox.Inbox`). With `layerMemory` (for tests, no outbox) they are
 *   fed through a `PubSub` after commit, one fiber per subscription, each with
 *   its own timeout and retry policy; a handler that exhausts its retries is
 *   logged and the event dropped for it (memory keeps no dead letters).
 *
 * Subscriptions are made while layers are built (`subscriber` gives a layer),
 * so every handler is in place before the first event is published.
 *
 * To encode an event for the outbox the bus needs its definition: it knows
 * the definitions it has subscriptions for, those given to `register`, and
 * those of `emit` (make and publish in one call). Publishing an event of an
 * unknown type is a defect.
 *
 * Both layers obey the law suite `EventBusLaws` of `@org/testing`.
 *
 * @since 0.3.0
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Latch from "effect/Latch"
import * as Layer from "effect/Layer"
import * as Predicate from "effect/Predicate"
import * as PubSub from "effect/PubSub"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as DomainEvent from "./DomainEvent.ts"
import type * as OutboxPort from "./Outbox.ts"
import { Outbox } from "./Outbox.ts"
import { UnitOfWork } from "./UnitOfWork.ts"

/**
 * A sync handler failed: the publish is vetoed and the caller's transaction
 * rolls back. `reason` is the handler's error, as text.
 *
 * @since 0.3.0
 * @category errors
 */
export class EventVetoed extends Schema.TaggedError<EventVetoed>()("EventVetoed", {
  eventId: Schema.String,
  type: Schema.String,
  handler: Schema.String,
  reason: Schema.String
}) {}

/**
 * `sync`: in the publisher's fiber and transaction, may veto. `async`: after
 * commit, isolated, retried.
 *
 * @since 0.3.0
 * @category models
 */
export type Mode = "sync" | "async"

/**
 * How a subscription is known: `name` is stable across deployments (the
 * outbox records it per event) and unique per bus.
 *
 * @since 0.3.0
 * @category models
 */
export interface SubscribeOptions {
  readonly name: string
  readonly mode: Mode
}

/**
 * Any event definition.
 *
 * @since 0.3.0
 * @category models
 */
export type AnyDefinition = DomainEvent.AnyDefinition

/**
 * A handler of the events of one definition.
 *
 * @since 0.3.0
 * @category models
 */
export type Handler<D extends AnyDefinition, R> = (
  event: DomainEvent.EventOf<D>
) => Effect.Effect<void, unknown, R>

/**
 * Any typed event.
 *
 * @since 0.3.0
 * @category models
 */
// biome-ignore lint/suspicious/noExplicitAny: a handler of any event reads the payload it knows (`unknown` would make every reader cast)
export type AnyEvent = DomainEvent.DomainEvent<string, any>

/**
 * The event bus service.
 *
 * @since 0.3.0
 * @category services
 */
export class EventBus extends Context.Service<
  EventBus,
  {
    /**
     * Subscribes `handler` to the events of `definition`. The handler runs
     * with the context `subscribe` ran in (sync handlers: overridden by the
     * publisher's, so they join its transaction).
     */
    readonly subscribe: <D extends AnyDefinition, R>(
      definition: D,
      handler: Handler<D, R>,
      options: SubscribeOptions
    ) => Effect.Effect<void, never, R>
    /** Makes event types publishable that no subscription names (e.g. integration events). */
    readonly register: (definitions: ReadonlyArray<AnyDefinition>) => Effect.Effect<void>
    /** Runs the sync handlers, then hands the events to the async side (after commit). */
    readonly publish: (events: ReadonlyArray<AnyEvent>) => Effect.Effect<void, EventVetoed>
    /** One outbox consumer per async subscription, for the outbox dispatcher. */
    readonly consumers: Effect.Effect<ReadonlyArray<OutboxPort.Consumer>>
  }
>()("@org/core/EventBus") {}

/**
 * Waits until the async side has handled (or given up on) every event
 * published so far: tests wait on it instead of on time. `layerMemory`
 * provides it; an outbox setup provides one that drains the dispatcher.
 *
 * @since 0.3.0
 * @category services
 */
export class Idle extends Context.Service<Idle, { readonly await: Effect.Effect<void> }>()(
  "@org/core/EventBus/Idle"
) {}

/**
 * Waits until the bus is idle (see `Idle`).
 *
 * @since 0.3.0
 * @category accessors
 */
export const awaitIdle: Effect.Effect<void, never, Idle> = Effect.flatMap(Idle, (idle) => idle.await)

/**
 * Publishes events on the bus in context.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { DomainEvent, EventBus } from "@org/core"
 *
 * const ItemCreated = DomainEvent.define("ItemCreated", {
 *   aggregateType: "Item",
 *   payload: Schema.Struct({ name: Schema.String })
 * })
 *
 * const program = Effect.gen(function* () {
 *   const event = yield* ItemCreated.make("item-1", { name: "pen" })
 *   yield* EventBus.publish([event])
 * })
 * ```
 *
 * @since 0.3.0
 * @category accessors
 */
export const publish = (events: ReadonlyArray<AnyEvent>): Effect.Effect<void, EventVetoed, EventBus> =>
  Effect.flatMap(EventBus, (bus) => bus.publish(events))

/**
 * Raises an event of `definition` and publishes it; returns the event.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { DomainEvent, EventBus } from "@org/core"
 *
 * const ItemCreated = DomainEvent.define("ItemCreated", {
 *   aggregateType: "Item",
 *   payload: Schema.Struct({ name: Schema.String })
 * })
 *
 * const created = EventBus.emit(ItemCreated, "item-1", { name: "pen" })
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const emit = <D extends AnyDefinition>(
  definition: D,
  aggregateId: string,
  payload: D["payload"]["Type"]
): Effect.Effect<DomainEvent.EventOf<D>, EventVetoed, EventBus> =>
  Effect.flatMap(EventBus, (bus) =>
    Effect.flatMap(
      Effect.andThen(bus.register([definition]), definition.make(aggregateId, payload)),
      (event) => Effect.as(bus.publish([event]), event as DomainEvent.EventOf<D>)
    )
  )

/**
 * A layer that subscribes `handler` to the events of `definition` when it is
 * built. Its requirements are the bus and the handler's.
 *
 * @example
 * ```ts
 * import { Effect, Layer, Schema } from "effect"
 * import { DomainEvent, EventBus, UnitOfWork } from "@org/core"
 *
 * const ItemCreated = DomainEvent.define("ItemCreated", {
 *   aggregateType: "Item",
 *   payload: Schema.Struct({ name: Schema.String })
 * })
 *
 * const welcome = EventBus.subscriber(ItemCreated, { name: "welcome-mail", mode: "async" }, (event) =>
 *   Effect.logInfo(`created ${event.payload.name}`)
 * )
 * const App = welcome.pipe(Layer.provideMerge(EventBus.layerMemory), Layer.provide(UnitOfWork.layerMemory))
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const subscriber = <D extends AnyDefinition, R>(
  definition: D,
  options: SubscribeOptions,
  handler: Handler<D, R>
): Layer.Layer<never, never, EventBus | R> =>
  Layer.effectDiscard(Effect.flatMap(EventBus, (bus) => bus.subscribe(definition, handler, options)))

interface Subscription {
  readonly name: string
  readonly mode: Mode
  readonly definition: AnyDefinition
  /** The handler in `context(captured)`: the subscriber's context combined with the running fiber's. */
  readonly run: (
    event: AnyEvent,
    context: <R>(captured: Context.Context<R>) => Context.Context<R>
  ) => Effect.Effect<void, unknown>
}

/** Text for logs and `EventVetoed`: the message of an error, else its formatting. */
const describe = (error: unknown): string =>
  Predicate.hasProperty(error, "message") && Predicate.isString(error.message) && error.message !== ""
    ? Predicate.hasProperty(error, "_tag") && Predicate.isString(error._tag)
      ? `${error._tag}: ${error.message}`
      : error.message
    : Predicate.hasProperty(error, "_tag") && Predicate.isString(error._tag)
      ? error._tag
      : String(error)

/**
 * The part both layers share: the subscription registry, sync dispatch and
 * the consumers. `handOver` passes the published events to the async side.
 */
const makeCore = (handOver: (envelopes: ReadonlyArray<DomainEvent.Envelope>) => Effect.Effect<void>) => {
  const subscriptions: Array<Subscription> = []
  const definitions = new Map<string, AnyDefinition>()
  const listeners: Array<(subscription: Subscription) => Effect.Effect<void>> = []

  const register = (definition: AnyDefinition): Effect.Effect<void> =>
    Effect.suspend(() => {
      const known = definitions.get(definition.type)
      if (known !== undefined && known.version !== definition.version) {
        return Effect.die(
          new Error(
            `EventBus: two versions of ${definition.type} (${known.version} and ${definition.version})`
          )
        )
      }
      definitions.set(definition.type, definition)
      return Effect.void
    })

  const subscribe = <D extends AnyDefinition, R>(
    definition: D,
    handler: Handler<D, R>,
    options: SubscribeOptions
  ): Effect.Effect<void, never, R> =>
    Effect.flatMap(Effect.context<R>(), (context) =>
      Effect.suspend(() => {
        if (subscriptions.some((s) => s.name === options.name)) {
          return Effect.die(new Error(`EventBus: a subscription named ${options.name} already exists`))
        }
        const subscription: Subscription = {
          name: options.name,
          mode: options.mode,
          definition,
          run: (event, combine) =>
            Effect.provideContext(handler(event as DomainEvent.EventOf<D>), combine(context))
        }
        return Effect.andThen(
          register(definition),
          Effect.suspend(() => {
            subscriptions.push(subscription)
            return Effect.forEach(listeners, (listener) => listener(subscription), { discard: true })
          })
        )
      })
    )

  const runSync = (event: AnyEvent) =>
    Effect.flatMap(Effect.context<never>(), (caller) =>
      Effect.forEach(
        subscriptions.filter((s) => s.mode === "sync" && s.definition.type === event.type),
        (subscription) =>
          // The publisher's services win: its transaction (connection, journal) is the handler's.
          subscription
            .run(event, (captured) => Context.merge(captured, caller))
            .pipe(
              Effect.mapError(
                (error) =>
                  new EventVetoed({
                    eventId: event.id,
                    type: event.type,
                    handler: subscription.name,
                    reason: describe(error)
                  })
              )
            ),
        { discard: true }
      )
    )

  const toEnvelope = (event: AnyEvent): Effect.Effect<DomainEvent.Envelope> =>
    Effect.suspend(() => {
      const definition = definitions.get(event.type)
      return definition === undefined
        ? Effect.die(
            new Error(
              `EventBus: no definition of ${event.type} is known: subscribe to it, register it or use EventBus.emit`
            )
          )
        : definition.toEnvelope(event)
    })

  const consumerOf = (subscription: Subscription): OutboxPort.Consumer => ({
    name: subscription.name,
    accepts: (envelope) => envelope.type === subscription.definition.type,
    handle: (envelope) =>
      Effect.flatMap(subscription.definition.fromEnvelope(envelope), (event) =>
        Effect.flatMap(Effect.context<never>(), (running) =>
          subscription.run(event, (captured) =>
            // The subscriber's services win; events the handler raises carry
            // the request and actor of the event it handles.
            Context.add(Context.merge(running, captured), DomainEvent.CurrentMetadata, envelope.metadata)
          )
        )
      )
  })

  return {
    subscriptions,
    /** Called for every subscription, present and future. */
    onSubscribe: (listener: (subscription: Subscription) => Effect.Effect<void>) =>
      Effect.suspend(() => {
        listeners.push(listener)
        return Effect.forEach([...subscriptions], listener, { discard: true })
      }),
    consumerOf,
    service: EventBus.of({
      subscribe,
      register: (list) => Effect.forEach(list, register, { discard: true }),
      publish: (events) =>
        events.length === 0
          ? Effect.void
          : Effect.andThen(
              Effect.forEach(events, runSync, { discard: true }),
              Effect.flatMap(Effect.forEach(events, toEnvelope), handOver)
            ),
      consumers: Effect.sync(() => subscriptions.filter((s) => s.mode === "async").map(consumerOf))
    })
  }
}

/**
 * The bus over the transactional outbox: `publish` appends the events to the
 * `Outbox` in the caller's transaction; the outbox dispatcher delivers them to
 * `consumers` after commit, at least once.
 *
 * @since 0.3.0
 * @category layers
 */
export const layer: Layer.Layer<EventBus, never, Outbox> = Layer.effect(
  EventBus,
  Effect.map(Outbox, (outbox) => makeCore(outbox.append).service)
)

/**
 * Options of the memory bus's async side.
 *
 * @since 0.3.0
 * @category models
 */
export interface MemoryOptions {
  /** Bound of one handler attempt; 30 seconds when omitted. */
  readonly timeout?: Duration.Input | undefined
  /**
   * When to retry a failed (or timed out) attempt; exponential from 100 ms,
   * 5 retries, when omitted.
   */
  readonly retry?: Schedule.Schedule<unknown, unknown> | undefined
}

const defaultRetry: Schedule.Schedule<unknown, unknown> = Schedule.max([
  Schedule.exponential("100 millis"),
  Schedule.recurs(5)
])

/**
 * Makes the memory bus and its `Idle` signal; its async fibers live as long
 * as the scope.
 *
 * @example
 * ```ts
 * import { Effect, Layer, Schedule } from "effect"
 * import { EventBus, UnitOfWork } from "@org/core"
 *
 * const Bus = Layer.effectContext(
 *   EventBus.makeMemory({ timeout: "5 seconds", retry: Schedule.recurs(2) })
 * ).pipe(Layer.provide(UnitOfWork.layerMemory))
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const makeMemory = Effect.fnUntraced(function* (options?: MemoryOptions) {
  const uow = yield* UnitOfWork
  const scope = yield* Effect.scope
  const timeout = options?.timeout ?? "30 seconds"
  const policy = options?.retry ?? defaultRetry
  const pubsub = yield* PubSub.unbounded<DomainEvent.Envelope>()
  const latch = Latch.makeUnsafe(true)
  let pending = 0
  const settle = () => {
    pending--
    if (pending === 0) latch.openUnsafe()
  }

  const core = makeCore((envelopes) =>
    uow.afterCommit(
      Effect.suspend(() => {
        const async = core.subscriptions.filter((s) => s.mode === "async")
        for (const envelope of envelopes) {
          pending += async.filter((s) => s.definition.type === envelope.type).length
        }
        if (pending > 0) latch.closeUnsafe()
        return PubSub.publishAll(pubsub, envelopes)
      })
    )
  )

  const deliver = (consumer: OutboxPort.Consumer, envelope: DomainEvent.Envelope) => {
    let attempt = 0
    const annotations = () => ({
      eventId: envelope.id,
      eventType: envelope.type,
      handler: consumer.name,
      attempt
    })
    return Effect.suspend(() => {
      attempt++
      return consumer.handle(envelope)
    }).pipe(
      Effect.timeout(timeout),
      // Defects and timeouts are retried like failures: the handler is not trusted.
      Effect.catchCause((cause) => (Cause.hasInterruptsOnly(cause) ? Effect.interrupt : Effect.fail(cause))),
      Effect.tapError((cause) =>
        Effect.logWarning("event handler failed").pipe(
          Effect.annotateLogs({ ...annotations(), cause: Cause.pretty(cause) })
        )
      ),
      Effect.retry(policy),
      Effect.catch((cause) =>
        Effect.logError("event handler gave up: the event is dropped for it").pipe(
          Effect.annotateLogs({ ...annotations(), cause: Cause.pretty(cause) })
        )
      ),
      Effect.ensuring(Effect.sync(settle))
    )
  }

  yield* core.onSubscribe((subscription) => {
    if (subscription.mode !== "async") return Effect.void
    const consumer = core.consumerOf(subscription)
    // Subscribed before forking: no event published from now on is missed.
    return Effect.flatMap(Scope.provide(PubSub.subscribe(pubsub), scope), (queue) =>
      Effect.asVoid(
        Effect.forkIn(
          Effect.forever(
            Effect.flatMap(PubSub.take(queue), (envelope) =>
              consumer.accepts(envelope) ? deliver(consumer, envelope) : Effect.void
            )
          ),
          scope
        )
      )
    )
  })

  return Context.make(EventBus, core.service).pipe(Context.add(Idle, Idle.of({ await: latch.await })))
})

/**
 * The memory bus with `MemoryOptions`; requires a `UnitOfWork` (its
 * `afterCommit` releases the async side).
 *
 * @since 0.3.0
 * @category layers
 */
export const layerMemoryWith = (options?: MemoryOptions): Layer.Layer<EventBus | Idle, never, UnitOfWork> =>
  Layer.effectContext(makeMemory(options))

/**
 * The memory bus with default options: async handlers run after commit
 * through a `PubSub`, 30 s timeout, exponential retries from 100 ms, 5 times.
 *
 * @since 0.3.0
 * @category layers
 */
export const layerMemory: Layer.Layer<EventBus | Idle, never, UnitOfWork> = layerMemoryWith()
