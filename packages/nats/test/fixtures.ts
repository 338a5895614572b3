/**
 * Shared pieces of the NATS tests: a stream of its own per test (deleted
 * after), an integration event, polling until the broker agrees.
 */
import { randomUUID } from "node:crypto"
import { DomainEvent } from "@org/core"
import { JetStreamAdmin, type NatsConnection } from "@org/nats"
import { Duration, Effect, Schedule, Schema } from "effect"

export const OrderPlaced = DomainEvent.define("OrderPlaced", {
  aggregateType: "Order",
  payload: Schema.Struct({ total: Schema.Number }),
  integration: true
})

export const placed = (total = 1) =>
  Effect.flatMap(OrderPlaced.make(`order-${total}`, { total }), OrderPlaced.toEnvelope)

export const encodeJson = Schema.encodeEffect(Schema.fromJsonString(DomainEvent.Envelope))

/** A fresh stream taking `<prefix>.>`, deleted when the scope closes. */
export const withStream = (options: { readonly duplicateWindow?: Duration.Input } = {}) =>
  Effect.gen(function* () {
    const id = randomUUID().replaceAll("-", "")
    const name = `TEST_${id}`
    const prefix = `test.${id}`
    yield* Effect.acquireRelease(
      JetStreamAdmin.ensureStream({
        name,
        subjects: [`${prefix}.>`],
        duplicateWindow: options.duplicateWindow ?? Duration.minutes(1)
      }),
      () => Effect.ignore(JetStreamAdmin.deleteStream(name))
    )
    return { name, prefix }
  })

export const streamInfo = (name: string) =>
  Effect.flatMap(JetStreamAdmin.manager, (jsm) => Effect.promise(() => jsm.streams.info(name)))

export const consumerInfo = (stream: string, durable: string) =>
  Effect.flatMap(JetStreamAdmin.manager, (jsm) => Effect.promise(() => jsm.consumers.info(stream, durable)))

/** Polls `check` until `ok` holds, for at most 10 seconds. */
export const eventually = <A, E>(
  check: Effect.Effect<A, E, NatsConnection.NatsConnection>,
  ok: (a: A) => boolean
) =>
  check.pipe(
    Effect.flatMap((a) => (ok(a) ? Effect.succeed(a) : Effect.fail("not yet" as const))),
    Effect.retry(Schedule.spaced("50 millis")),
    Effect.timeout("10 seconds"),
    Effect.orDie
  )
