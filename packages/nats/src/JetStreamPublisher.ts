/**
 * `@org/core`'s `EventPublisher` on NATS JetStream: each event is published
 * as its encoded envelope (JSON) with the event id as the message id (the
 * `Nats-Msg-Id` header), and the publish waits for the stream's PubAck.
 *
 * The stream drops a message whose id it saw within its duplicate window
 * and acknowledges it as a `duplicate`: that counts as a success, so a relay
 * may publish again an event whose first ack it never saw (a lost ack, a
 * timeout, a crash before the outbox settled it) and the other side still
 * gets one message. Keep the window longer than the outbox's retry horizon.
 *
 * A publish fails with `PublishError` (always retryable): `Unavailable`
 * before the first connection, `Timeout` when no ack came within `timeout`,
 * `Rejected` when the server refused the message (no stream takes the
 * subject, a limit).
 *
 * @since 0.3.0
 */
import { JetStreamApiError, type JetStreamClient, jetstream } from "@nats-io/jetstream"
import { type NatsConnection as Client, errors } from "@nats-io/transport-node"
import * as DomainEvent from "@org/core/DomainEvent"
import * as EventPublisher from "@org/core/EventPublisher"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { messageOf, NatsConnection } from "./NatsConnection.ts"

/**
 * Options of `make` and `layer`.
 *
 * @since 0.3.0
 * @category models
 */
export interface Options {
  /** Time allowed to one publish, from the call to the PubAck; 5 seconds unless given. */
  readonly timeout?: Duration.Input | undefined
  /** Prefix of the default subject `<prefix>.<aggregateType>.<type>`; "events" unless given. */
  readonly prefix?: string | undefined
  /** Derives the subject when the caller gives none; `EventPublisher.subjectOf(prefix)` unless given. */
  readonly subject?: ((envelope: DomainEvent.Envelope) => string) | undefined
}

const encode = Schema.encodeEffect(Schema.fromJsonString(DomainEvent.Envelope))

// The client reports "no responders" (no stream takes the subject, or
// JetStream is off) as `JetStreamNotEnabled`.
const reasonOf = (cause: unknown): EventPublisher.PublishError["reason"] =>
  cause instanceof errors.TimeoutError
    ? "Timeout"
    : cause instanceof JetStreamApiError ||
        cause instanceof errors.NoRespondersError ||
        (cause instanceof Error && cause.name === "JetStreamNotEnabled")
      ? "Rejected"
      : "Unavailable"

const describe = (cause: unknown, subject: string): string =>
  cause instanceof Error && cause.name === "JetStreamNotEnabled"
    ? `no stream takes ${subject} (or JetStream is not enabled)`
    : messageOf(cause)

/**
 * Builds the publisher on the `NatsConnection` in context.
 *
 * @example
 * ```ts
 * import { JetStreamPublisher } from "@org/nats"
 *
 * const publisher = JetStreamPublisher.make({ prefix: "shop", timeout: "2 seconds" })
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const make = Effect.fnUntraced(function* (options: Options = {}) {
  const connection = yield* NatsConnection
  const timeout = Duration.fromInputUnsafe(options.timeout ?? Duration.seconds(5))
  const timeoutMillis = Duration.toMillis(timeout)
  const subjectOf = options.subject ?? EventPublisher.subjectOf(options.prefix)
  let cached: readonly [Client, JetStreamClient] | undefined
  const jetStreamOf = (client: Client): JetStreamClient => {
    if (cached === undefined || cached[0] !== client)
      cached = [client, jetstream(client, { timeout: timeoutMillis })]
    return cached[1]
  }

  const publish = Effect.fn("JetStreamPublisher.publish")(function* (
    envelope: DomainEvent.Envelope,
    publishOptions?: EventPublisher.PublishOptions
  ) {
    const subject = publishOptions?.subject ?? subjectOf(envelope)
    const fail = (reason: EventPublisher.PublishError["reason"], message: string) =>
      new EventPublisher.PublishError({ eventId: envelope.id, subject, reason, message })
    yield* Effect.annotateCurrentSpan({
      "messaging.system": "nats",
      "messaging.destination": subject,
      eventId: envelope.id
    })
    // An envelope that does not encode was built wrong: a bug, not a broker failure.
    const body = yield* Effect.orDie(encode(envelope))
    // Before the first connection the client would wait for ever: fail now,
    // the dispatcher retries and the event waits in the outbox. Once connected,
    // a reconnecting client buffers the publish and the ack may still come.
    const client = yield* connection.current
    if (Option.isNone(client)) return yield* fail("Unavailable", "not connected to NATS yet")
    const ack = yield* Effect.tryPromise({
      try: () =>
        jetStreamOf(client.value).publish(subject, body, { msgID: envelope.id, timeout: timeoutMillis }),
      catch: (cause) => fail(reasonOf(cause), describe(cause, subject))
    }).pipe(
      Effect.timeoutOrElse({
        duration: timeout,
        orElse: () => Effect.fail(fail("Timeout", `no PubAck within ${Duration.format(timeout)}`))
      })
    )
    if (ack.duplicate)
      yield* Effect.logDebug("duplicate publish dropped by the stream", envelope.id, ack.stream)
  })

  return EventPublisher.EventPublisher.of({ publish })
})

/**
 * The publisher layer.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { JetStreamPublisher, NatsConnection } from "@org/nats"
 *
 * const Publisher = JetStreamPublisher.layer({ prefix: "shop" }).pipe(
 *   Layer.provide(NatsConnection.layerConfig({ startWhileDown: true }))
 * )
 * ```
 *
 * @since 0.3.0
 * @category layers
 */
export const layer = (
  options: Options = {}
): Layer.Layer<EventPublisher.EventPublisher, never, NatsConnection> =>
  Layer.effect(EventPublisher.EventPublisher, make(options))
