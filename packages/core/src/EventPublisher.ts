/**
 * The publisher port of the outbox relay: integration events leave the
 * process through it, to a broker other services read (`@org/nats` has the
 * NATS JetStream adapter).
 *
 * A publish is idempotent by event id: the broker drops a second message
 * with the same id inside its duplicate window, so the relay may retry a
 * publish whose outcome it did not see (a lost ack, a crash between publish
 * and settle) without a duplicate reaching the other side. Every
 * `PublishError` is therefore retryable.
 *
 * `relay` turns a publisher into an outbox `Consumer`: the dispatcher hands
 * it each event at least once, with its retries and dead letters.
 *
 * @since 0.3.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import type * as DomainEvent from "./DomainEvent.ts"
import type * as Outbox from "./Outbox.ts"

/**
 * A publish that did not get the broker's acknowledgement: the broker was
 * unreachable (`Unavailable`), did not answer in time (`Timeout`; the message
 * may or may not be stored), or refused the message (`Rejected`: no stream
 * takes the subject, a limit). Always retryable: a publish is idempotent by
 * event id.
 *
 * @since 0.3.0
 * @category errors
 */
export class PublishError extends Schema.TaggedError<PublishError>()("PublishError", {
  eventId: Schema.String,
  subject: Schema.String,
  reason: Schema.Literals(["Unavailable", "Timeout", "Rejected"]),
  message: Schema.String
}) {
  /**
   * Always true: publishing again with the same event id is safe.
   *
   * @since 0.3.0
   */
  get retryable(): true {
    return true
  }
}

/**
 * Where a publish goes; the publisher derives it from the event when absent.
 *
 * @since 0.3.0
 * @category models
 */
export interface PublishOptions {
  readonly subject?: string | undefined
}

/**
 * The publisher service.
 *
 * @since 0.3.0
 * @category services
 */
export class EventPublisher extends Context.Service<
  EventPublisher,
  {
    /**
     * Publishes one event and waits for the broker's acknowledgement. A
     * duplicate (same id inside the broker's window) succeeds without a second
     * message.
     */
    readonly publish: (
      envelope: DomainEvent.Envelope,
      options?: PublishOptions
    ) => Effect.Effect<void, PublishError>
  }
>()("@org/core/EventPublisher") {}

// A subject token may not hold separators, wildcards or white space.
const token = (text: string): string => text.replace(/[.*>\s]/g, "_")

/**
 * The default subject of an event: `<prefix>.<aggregateType>.<type>`
 * (prefix `events`), so a stream can take `events.>` and a consumer can
 * filter on an aggregate (`events.Order.>`) or one type.
 *
 * @example
 * ```ts
 * import { EventPublisher } from "@org/core"
 *
 * const subjectOf = EventPublisher.subjectOf("shop")
 * // subjectOf({ aggregateType: "Order", type: "OrderPlaced" }) === "shop.Order.OrderPlaced"
 * ```
 *
 * @since 0.3.0
 * @category subjects
 */
export const subjectOf =
  (prefix = "events") =>
  (event: { readonly aggregateType: string; readonly type: string }): string =>
    `${prefix}.${token(event.aggregateType)}.${token(event.type)}`

/**
 * Options of `relay`.
 *
 * @since 0.3.0
 * @category models
 */
export interface RelayOptions {
  /** The consumer's name in the outbox (`completed` lists, the inbox); "relay" unless given. */
  readonly name?: string | undefined
  /** Subject prefix for the default subject; "events" unless given. */
  readonly prefix?: string | undefined
  /** Derives the subject; `subjectOf(prefix)` unless given. */
  readonly subject?: ((event: DomainEvent.Envelope) => string) | undefined
  /** Which events leave the process; integration events unless given. */
  readonly accepts?: ((event: DomainEvent.Envelope) => boolean) | undefined
}

/**
 * An outbox consumer that publishes integration events through the
 * `EventPublisher` in context. Register it with the dispatcher like any other
 * consumer: a broker outage fails its deliveries, which the dispatcher
 * retries; the events wait in the outbox meanwhile.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { EventPublisher } from "@org/core"
 *
 * const consumers = Effect.gen(function*() {
 *   const relay = yield* EventPublisher.relay({ prefix: "shop" })
 *   return [relay]
 * }).pipe(Effect.provide(EventPublisher.layerMemory()))
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const relay = (options: RelayOptions = {}): Effect.Effect<Outbox.Consumer, never, EventPublisher> =>
  Effect.map(EventPublisher, (publisher) => {
    const subject = options.subject ?? subjectOf(options.prefix)
    return {
      name: options.name ?? "relay",
      accepts: options.accepts ?? ((event) => event.integration),
      handle: (event) => publisher.publish(event, { subject: subject(event) })
    }
  })

/**
 * One message the memory publisher took.
 *
 * @since 0.3.0
 * @category models
 */
export interface Published {
  readonly subject: string
  readonly envelope: DomainEvent.Envelope
}

/**
 * The test handle of `layerMemory`: what was published, how many publish
 * calls there were (duplicates included), and a switch that makes the broker
 * unreachable.
 *
 * @since 0.3.0
 * @category services
 */
export class Memory extends Context.Service<
  Memory,
  {
    /** Stored messages, in order (duplicates dropped). */
    readonly published: Effect.Effect<ReadonlyArray<Published>>
    /** Publish calls so far, failed and duplicate ones included. */
    readonly attempts: Effect.Effect<number>
    /** While down, every publish fails with `PublishError` ("Unavailable"). */
    readonly setDown: (down: boolean) => Effect.Effect<void>
  }
>()("@org/core/EventPublisher/Memory") {}

interface MemoryState {
  readonly published: ReadonlyArray<Published>
  /** Event id → when it was stored, for the duplicate window. */
  readonly seen: ReadonlyMap<string, number>
  readonly attempts: number
  readonly down: boolean
}

/**
 * An in-memory broker for tests: records published envelopes and drops a
 * second publish of the same event id within `duplicateWindow` (two
 * minutes, JetStream's default), timed by the `Clock`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { EventPublisher } from "@org/core"
 *
 * const count = Effect.gen(function*() {
 *   const memory = yield* EventPublisher.Memory
 *   return (yield* memory.published).length
 * }).pipe(Effect.provide(EventPublisher.layerMemory()))
 * ```
 *
 * @since 0.3.0
 * @category layers
 */
export const layerMemory = (
  options: {
    readonly prefix?: string | undefined
    readonly duplicateWindow?: Duration.Input | undefined
  } = {}
): Layer.Layer<EventPublisher | Memory> =>
  Layer.effectContext(
    Effect.gen(function* () {
      const window = Duration.toMillis(options.duplicateWindow ?? Duration.minutes(2))
      const defaultSubject = subjectOf(options.prefix)
      const state = yield* Ref.make<MemoryState>({ published: [], seen: new Map(), attempts: 0, down: false })
      const publish = (envelope: DomainEvent.Envelope, publishOptions?: PublishOptions) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          const subject = publishOptions?.subject ?? defaultSubject(envelope)
          return Effect.flatten(
            Ref.modify(state, (current): [Effect.Effect<void, PublishError>, MemoryState] => {
              const attempts = current.attempts + 1
              if (current.down) {
                return [
                  Effect.fail(
                    new PublishError({
                      eventId: envelope.id,
                      subject,
                      reason: "Unavailable",
                      message: "the memory broker is down"
                    })
                  ),
                  { ...current, attempts }
                ]
              }
              const seenAt = current.seen.get(envelope.id)
              if (seenAt !== undefined && now - seenAt < window)
                return [Effect.void, { ...current, attempts }]
              const seen = new Map(current.seen)
              seen.set(envelope.id, now)
              return [
                Effect.void,
                {
                  ...current,
                  attempts,
                  seen,
                  published: [...current.published, { subject, envelope }]
                }
              ]
            })
          )
        })
      return Context.make(EventPublisher, EventPublisher.of({ publish })).pipe(
        Context.add(
          Memory,
          Memory.of({
            published: Effect.map(Ref.get(state), (current) => current.published),
            attempts: Effect.map(Ref.get(state), (current) => current.attempts),
            setDown: (down) => Ref.update(state, (current) => ({ ...current, down }))
          })
        )
      )
    })
  )
