/**
 * The example's events: the `EventBus` over the Postgres outbox (events are
 * stored in the transaction of the write that raised them), and the
 * dispatcher that delivers them after the commit to
 *
 * - the bus's async subscribers,
 * - the audit log (`audit_log`, one row per event id: `GET /api/v1/audit`),
 * - with `NATS_URL` set, the relay: integration events (items, and the
 *   account events marked so) are published to the JetStream stream
 *   `EXAMPLE_EVENTS` (subjects `events.<aggregate>.<type>`), the event id as
 *   `Nats-Msg-Id`. The broker may be down at start or later: events wait in
 *   the outbox and flow when it is back.
 * - with `WEBHOOK_URL` set, the webhook relay: the same integration events
 *   are POSTed, signed with `WEBHOOK_SECRET` (Standard Webhooks), to that
 *   URL through the kit's SSRF-safe `OutboundClient`, a circuit breaker per
 *   host and a bulkhead (`Webhooks` of `@org/http`, docs/webhooks.md). A
 *   receiver that is down or refuses makes the dispatcher retry and, after
 *   its last attempt, dead-letter the event; the NATS relay and the audit
 *   log are not held up by it (each consumer settles on its own).
 *
 * On embedded PGlite there is no LISTEN: the dispatcher is woken in process
 * after each commit, and polls every second for the rest.
 *
 * @since 0.3.0
 */

import * as NodeDns from "@effect/platform-node/NodeDns"
import {
  AuditLog,
  AuditLogSql,
  EventBus,
  EventPublisher,
  type Outbox,
  OutboxDispatcher,
  UnitOfWork
} from "@org/core"
import { Webhooks } from "@org/http"
import { JetStreamAdmin, JetStreamPublisher, NatsConnection } from "@org/nats"
import { OutboxSql } from "@org/sql"
import { Config, Context, Effect, Layer, Option, Schedule } from "effect"
import { FetchHttpClient } from "effect/http"

/**
 * The stream the relay publishes to.
 *
 * @since 0.3.0
 * @category constants
 */
export const stream = { name: "EXAMPLE_EVENTS", subjects: ["events.>"] } as const

/**
 * The outbox consumers besides the bus's own subscribers.
 *
 * @since 0.3.0
 * @category services
 */
export class Destinations extends Context.Service<Destinations, ReadonlyArray<Outbox.Consumer>>()(
  "@org/example-api/Events/Destinations"
) {}

// The audit log, and the relay to JetStream (its stream made sure of in the
// background: until it exists a publish is refused and retried).
const withRelay = Layer.effect(
  Destinations,
  Effect.gen(function* () {
    yield* JetStreamAdmin.ensureStream(stream).pipe(
      Effect.tapError((error) => Effect.logWarning("JetStream stream not ready yet", error)),
      Effect.retry(Schedule.spaced("5 seconds")),
      Effect.forkScoped
    )
    return [yield* AuditLog.consumer(), yield* EventPublisher.relay()]
  })
).pipe(
  Layer.provide(JetStreamPublisher.layer()),
  Layer.provide(NatsConnection.layerConfig({ startWhileDown: true, name: "example-api" }))
)

const withoutRelay = Layer.effect(
  Destinations,
  Effect.map(AuditLog.consumer(), (audit) => [audit])
)

/**
 * `base`'s destinations plus the webhook relay: the integration events (as
 * the NATS relay takes them), POSTed signed to `options.url`. The consumer is
 * named "webhook" in the outbox, so a failing receiver is retried and
 * dead-lettered on its own, apart from the other destinations.
 *
 * @since 0.5.0
 * @category layers
 */
export const withWebhook = <E, R>(base: Layer.Layer<Destinations, E, R>, options: Webhooks.Options) =>
  Layer.effect(
    Destinations,
    Effect.gen(function* () {
      const others = yield* Destinations
      const publisher = yield* Webhooks.make(options)
      const webhook = yield* EventPublisher.relay({ name: "webhook" }).pipe(
        Effect.provideService(EventPublisher.EventPublisher, publisher)
      )
      return [...others, webhook]
    })
  ).pipe(Layer.provide(Layer.mergeAll(base, FetchHttpClient.layer, NodeDns.layer)))

/**
 * The destinations from the environment: the audit log; the NATS relay when
 * `NATS_URL` is set; the webhook relay when `WEBHOOK_URL` is set (with
 * `WEBHOOK_SECRET`, and `WEBHOOK_ALLOW_NETWORKS` for a local receiver).
 *
 * @since 0.3.0
 * @category layers
 */
export const destinationsConfig = Layer.unwrap(
  Effect.gen(function* () {
    const nats = yield* Config.option(Config.String("NATS_URL"))
    const base = Option.isSome(nats) && nats.value.trim() !== "" ? withRelay : withoutRelay
    const webhook = yield* Webhooks.loadConfig
    return Option.match(webhook, {
      onNone: () => base,
      onSome: (options) => withWebhook(base, options)
    })
  })
)

const dispatcher = Layer.unwrap(
  Effect.gen(function* () {
    const bus = yield* EventBus.EventBus
    const destinations = yield* Destinations
    return OutboxDispatcher.layer({
      consumers: Effect.map(bus.consumers, (own) => [...own, ...destinations])
    })
  })
)

// Delivered events stay a week in the outbox (for inspection), then go:
// the audit log is the lasting record. Checked hourly, a bounded batch at
// a time; a failure is logged and tried again next hour.
const purge = Layer.effectDiscard(
  OutboxSql.purgeDelivered({ olderThan: "7 days", limit: 10_000 }).pipe(
    Effect.tap((purged) =>
      purged > 0 ? Effect.logInfo(`outbox: purged ${purged} delivered events`) : Effect.void
    ),
    Effect.catchCause((cause) => Effect.logWarning("outbox purge failed", cause)),
    Effect.repeat(Schedule.spaced("1 hour")),
    Effect.forkScoped
  )
)

/**
 * Events over Postgres: `EventBus`, `UnitOfWork`, the `Outbox` and its
 * dispatcher, the `AuditLog`, delivering to `destinations`; delivered
 * events are purged after a week. Needs a `SqlClient`.
 *
 * @since 0.3.0
 * @category layers
 */
export const layerFrom = <E>(destinations: Layer.Layer<Destinations, E, AuditLog.AuditLog>) =>
  Layer.merge(dispatcher, purge).pipe(
    Layer.provide(destinations),
    Layer.provideMerge(Layer.mergeAll(EventBus.layer, UnitOfWork.layerSql, AuditLogSql.layer)),
    Layer.provideMerge(OutboxSql.layer())
  )

/**
 * Only the audit log as destination (no relay, whatever the environment).
 *
 * @since 0.3.0
 * @category layers
 */
export const auditOnly: Layer.Layer<Destinations, never, AuditLog.AuditLog> = withoutRelay

/**
 * Events with the destinations of the environment (`NATS_URL`, `WEBHOOK_URL`).
 *
 * @since 0.3.0
 * @category layers
 */
export const layer = layerFrom(destinationsConfig)
