/**
 * The other side of the relay: a service reading integration events from a
 * stream through a durable pull consumer with explicit acks.
 *
 * `consume` sets up the consumer (`JetStreamAdmin.ensureConsumer`) and runs
 * one fiber for the scope that pulls messages one at a time:
 *
 * - a message that is not an event envelope is `term`inated and logged: it
 *   would fail the same way on every redelivery (the reason is logged, not
 *   sent: `+TERM <reason>` needs a 2.10 server);
 * - the handler's success `ack`s the message;
 * - its failure (or defect) `nak`s it with a delay (`nakDelay`), so it comes
 *   back later; the last allowed delivery (`maxDeliver`) is terminated
 *   instead and logged as given up;
 * - an interrupted handler (shutdown) `nak`s at once, for another instance.
 *
 * Delivery is at least once (an ack can be lost, `ackWait` can pass):
 * handlers should be idempotent by event id, e.g. through `@org/core`'s
 * `Inbox` (`inbox.once(durable, event.id, effect)`).
 *
 * @since 0.3.0
 */
import { type JsMsg, jetstream } from "@nats-io/jetstream"
import * as DomainEvent from "@org/core/DomainEvent"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as JetStreamAdmin from "./JetStreamAdmin.ts"
import { messageOf, NatsConnection, NatsError } from "./NatsConnection.ts"

/**
 * What the handler knows about a delivery besides the event.
 *
 * @since 0.3.0
 * @category models
 */
export interface Delivery {
  readonly subject: string
  /** 1 on the first delivery. */
  readonly deliveryCount: number
  readonly streamSequence: number
}

/**
 * Options of `consume`.
 *
 * @since 0.3.0
 * @category models
 */
export interface Options<E, R> extends JetStreamAdmin.ConsumerOptions {
  readonly handler: (event: DomainEvent.Envelope, delivery: Delivery) => Effect.Effect<void, E, R>
  /** Redelivery delay after a failure; 1 s doubled per delivery up to 1 minute unless given. */
  readonly nakDelay?: ((deliveryCount: number) => Duration.Input) | undefined
  /** How long one pull waits for a message (at least 1 s); 5 seconds unless given. */
  readonly expires?: Duration.Input | undefined
  /** Pause after a failed setup or pull (broker down) before trying again; 1 second unless given. */
  readonly retryWait?: Duration.Input | undefined
}

const decode = Schema.decodeUnknownEffect(Schema.fromJsonString(DomainEvent.Envelope))

const defaultNakDelay = (deliveryCount: number): Duration.Input =>
  Duration.millis(Math.min(60_000, 1_000 * 2 ** Math.max(0, deliveryCount - 1)))

/**
 * Consumes the stream for the scope: returns once the fiber is started (it
 * sets the consumer up itself, and keeps trying while the broker is down).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { JetStreamConsumer } from "@org/nats"
 *
 * const billing = JetStreamConsumer.consume({
 *   stream: "EVENTS",
 *   durable: "billing",
 *   filterSubject: "events.Order.>",
 *   handler: (event) => Effect.log("got", event.type, event.id)
 * })
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const consume = <E, R>(
  options: Options<E, R>
): Effect.Effect<Fiber.Fiber<never>, never, NatsConnection | Scope.Scope | R> =>
  Effect.gen(function* () {
    const connection = yield* NatsConnection
    const maxDeliver = options.maxDeliver ?? 5
    const nakDelay = options.nakDelay ?? defaultNakDelay
    const expires = Math.max(1_000, Duration.toMillis(options.expires ?? Duration.seconds(5)))
    const retryWait = options.retryWait ?? Duration.seconds(1)
    const annotations = { stream: options.stream, durable: options.durable }

    const handle = (message: JsMsg) => {
      const delivery: Delivery = {
        subject: message.subject,
        deliveryCount: message.info.deliveryCount,
        streamSequence: message.info.streamSequence
      }
      return decode(message.string()).pipe(
        Effect.matchEffect({
          onFailure: (error) =>
            Effect.andThen(
              Effect.sync(() => message.term()),
              Effect.logError("terminated a message that is not an event envelope", {
                ...delivery,
                error: error.message
              })
            ),
          onSuccess: (event) =>
            options.handler(event, delivery).pipe(
              Effect.onInterrupt(() => Effect.sync(() => message.nak())),
              Effect.matchCauseEffect({
                onSuccess: () => Effect.sync(() => message.ack()),
                onFailure: (cause) =>
                  delivery.deliveryCount >= maxDeliver
                    ? Effect.andThen(
                        Effect.sync(() => message.term()),
                        Effect.logError(
                          "gave up on an event after its last delivery",
                          event.id,
                          delivery,
                          cause
                        )
                      )
                    : Effect.andThen(
                        Effect.sync(() => message.nak(Duration.toMillis(nakDelay(delivery.deliveryCount)))),
                        Effect.logWarning(
                          "event handler failed, redelivering later",
                          event.id,
                          delivery,
                          cause
                        )
                      )
              })
            )
        })
      )
    }

    const run = Effect.gen(function* () {
      yield* JetStreamAdmin.ensureConsumer(options)
      const client = yield* connection.client
      const consumer = yield* Effect.tryPromise({
        try: () => jetstream(client).consumers.get(options.stream, options.durable),
        catch: (cause) => new NatsError({ operation: "consumers.get", message: messageOf(cause) })
      })
      // A pull interrupted by shutdown stays open on the server until it
      // expires: a message it still brings is handed back at once (nak),
      // instead of waiting out `ackWait`.
      const pull = Effect.suspend(() => {
        const pending = consumer.next({ expires })
        return Effect.tryPromise({
          try: () => pending,
          catch: (cause) => new NatsError({ operation: "consumer.next", message: messageOf(cause) })
        }).pipe(
          Effect.onInterrupt(() =>
            Effect.sync(() => {
              pending.then(
                (message) => message?.nak(),
                () => undefined
              )
            })
          )
        )
      })
      return yield* Effect.forever(
        Effect.flatMap(pull, (message) => (message === null ? Effect.void : handle(message)))
      )
    }).pipe(
      Effect.catchCause((cause) =>
        Cause.hasInterruptsOnly(cause)
          ? Effect.interrupt
          : Effect.andThen(
              Effect.logWarning("JetStream consumer failed, retrying", cause),
              Effect.sleep(retryWait)
            )
      ),
      Effect.forever,
      Effect.annotateLogs(annotations)
    )

    return yield* Effect.forkScoped(run)
  })
