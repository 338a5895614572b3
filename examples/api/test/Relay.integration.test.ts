/**
 * The example with a broker (NATS_URL): an item created through the API
 * reaches JetStream through the outbox and the relay, once, with its event
 * id as `Nats-Msg-Id` (the same id the audit log records) and the item in
 * the payload.
 *
 * - The example's own destinations (`Events.destinationsConfig`, as
 *   `main.ts` wires them): stream `EXAMPLE_EVENTS`, subjects `events.>`. The
 *   stream is shared, so the test looks for its own item's message; it
 *   deletes the stream after only when it created it.
 * - The same pieces (audit log + `EventPublisher.relay` over
 *   `JetStreamPublisher`) on a stream and subject prefix of the test's own,
 *   deleted after: the only item messages there are this test's, so it can
 *   count them.
 *
 * Skipped without NATS_URL (failed under REQUIRE_SERVICES=1).
 */
import { randomUUID } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import { AuditLog, EventPublisher } from "@org/core"
import { JetStreamAdmin, JetStreamPublisher, NatsConnection } from "@org/nats"
import { Effect, Layer, References, Schedule } from "effect"
import * as Events from "../src/server/Events.ts"
import { type Api, admin, serve } from "./client.ts"

const natsUrl = process.env.NATS_URL || undefined
const requireServices = ["1", "true", "yes"].includes(process.env.REQUIRE_SERVICES ?? "")
const skip = natsUrl === undefined && !requireServices
if (skip) console.warn("Example relay tests skipped: NATS_URL is not set (REQUIRE_SERVICES=1 fails instead)")
const url = natsUrl ?? "nats://127.0.0.1:1"

const Nats = NatsConnection.layer({ servers: url, name: "example-relay-test" })

interface Found {
  readonly subject: string
  readonly msgId: string
  // biome-ignore lint/suspicious/noExplicitAny: the test reads the envelope field by field.
  readonly body: any
}

/** The messages of `stream` on `subject` whose envelope's aggregate is `aggregateId`, newest first (the last 500 looked at). */
const messagesOf = (stream: string, subject: string, aggregateId: string) =>
  Effect.gen(function* () {
    const jsm = yield* JetStreamAdmin.manager
    const info = yield* Effect.promise(() => jsm.streams.info(stream))
    const found: Array<Found> = []
    const first = Math.max(info.state.first_seq, info.state.last_seq - 500)
    for (let seq = info.state.last_seq; seq >= first && info.state.messages > 0; seq--) {
      const stored = yield* Effect.promise(() => jsm.streams.getMessage(stream, { seq }))
      if (stored === null || stored.subject !== subject) continue
      // biome-ignore lint/suspicious/noExplicitAny: see Found.
      const body = stored.json<any>()
      if (body.aggregateId === aggregateId)
        found.push({ subject: stored.subject, msgId: stored.header.get("Nats-Msg-Id"), body })
    }
    return found
  }).pipe(Effect.orDie)

const eventually = <A>(
  check: Effect.Effect<A, never, NatsConnection.NatsConnection>,
  done: (a: A) => boolean
) =>
  Effect.repeat(check, { until: done, schedule: Schedule.spaced("50 millis") }).pipe(
    Effect.timeoutOrElse({
      duration: "10 seconds",
      orElse: () => Effect.die(new Error("not within 10 seconds"))
    })
  )

/** The audit log's id of the item's ItemCreated: the event id. */
const auditedEventId = (api: Api, itemId: string) =>
  Effect.gen(function* () {
    const boss = yield* api.login(admin.email, admin.password)
    const reply = yield* api
      .call("GET", `/api/v1/audit?aggregateId=${itemId}&type=ItemCreated`, undefined, boss.auth)
      .pipe(
        Effect.filterOrFail(
          (r) => r.body?.total === 1,
          () => new Error("not audited yet")
        ),
        Effect.retry({ schedule: Schedule.spaced("50 millis"), times: 100 }),
        Effect.orDie
      )
    const eventId: string = reply.body.items[0].id
    return eventId
  })

const saw = { name: "Relay Saw", price: 12.5, quantity: 3 }

// The dispatcher logs failed attempts (the stream made in the background may come late): expected.
const quiet = Effect.provideService(References.MinimumLogLevel, "Error")

describe.skipIf(skip)("the example relays its item events to JetStream", () => {
  it.live(
    "with the example's destinations (NATS_URL): ItemCreated lands in EXAMPLE_EVENTS with the event id",
    () =>
      Effect.gen(function* () {
        assert.isDefined(natsUrl, "REQUIRE_SERVICES=1 needs NATS_URL for the relay tests")
        const jsm = yield* JetStreamAdmin.manager
        const existed = yield* Effect.promise(() =>
          jsm.streams.info(Events.stream.name).then(
            () => true,
            () => false
          )
        )
        yield* Effect.addFinalizer(() =>
          existed ? Effect.void : Effect.ignore(JetStreamAdmin.deleteStream(Events.stream.name))
        )
        // `destinationsConfig` reads NATS_URL: the relay to EXAMPLE_EVENTS, as in `main.ts`.
        const api = yield* serve({ destinations: Layer.orDie(Events.destinationsConfig) })
        const created = yield* api.call("POST", "/api/v1/items", saw)
        assert.strictEqual(created.status, 201, created.text)
        const itemId: string = created.body.id
        const eventId = yield* auditedEventId(api, itemId)

        const [message] = yield* eventually(
          messagesOf(Events.stream.name, "events.Item.ItemCreated", itemId),
          (found) => found.length > 0
        )
        assert.isDefined(message)
        assert.strictEqual(message!.msgId, eventId, "Nats-Msg-Id is the event id")
        assert.strictEqual(message!.body.id, eventId)
        assert.strictEqual(message!.body.type, "ItemCreated")
        assert.strictEqual(message!.body.payload.name, saw.name)
        assert.strictEqual(message!.body.metadata.actorId, api.user.id)
      }).pipe(Effect.scoped, Effect.provide(Nats), quiet),
    20_000
  )

  it.live(
    "on a stream of its own: create, update, delete each arrive once, with the event ids the audit log holds",
    () =>
      Effect.gen(function* () {
        const id = randomUUID().replaceAll("-", "")
        const stream = { name: `TEST_EXAMPLE_${id}`, prefix: `test.${id}` }
        yield* Effect.acquireRelease(
          JetStreamAdmin.ensureStream({ name: stream.name, subjects: [`${stream.prefix}.>`] }),
          () => Effect.ignore(JetStreamAdmin.deleteStream(stream.name))
        )
        // The example's relay destinations, with the test's subject prefix.
        const destinations = Layer.effect(
          Events.Destinations,
          Effect.gen(function* () {
            return [yield* AuditLog.consumer(), yield* EventPublisher.relay({ prefix: stream.prefix })]
          })
        ).pipe(
          Layer.provide(JetStreamPublisher.layer({ prefix: stream.prefix })),
          Layer.provide(Layer.orDie(NatsConnection.layer({ servers: url, startWhileDown: true }))),
          Layer.orDie
        )
        const api = yield* serve({ destinations })
        const created = yield* api.call("POST", "/api/v1/items", saw)
        assert.strictEqual(created.status, 201, created.text)
        const itemId: string = created.body.id
        const updated = yield* api.call("PATCH", `/api/v1/items/${itemId}`, { quantity: 4 })
        assert.strictEqual(updated.status, 200, updated.text)
        assert.strictEqual((yield* api.call("DELETE", `/api/v1/items/${itemId}`)).status, 204)
        const eventId = yield* auditedEventId(api, itemId)

        const subjects = ["ItemCreated", "ItemUpdated", "ItemDeleted"].map(
          (t) => `${stream.prefix}.Item.${t}`
        )
        const all = Effect.map(
          Effect.forEach(subjects, (subject) => messagesOf(stream.name, subject, itemId)),
          (lists) => lists.flat()
        )
        yield* eventually(all, (found) => found.length >= 3)
        // Later looks find no more copies: each event is in the stream once.
        yield* Effect.sleep("500 millis")
        const found = yield* all
        assert.deepStrictEqual(
          found.map((m) => m.body.type),
          ["ItemCreated", "ItemUpdated", "ItemDeleted"]
        )
        for (const m of found) assert.strictEqual(m.msgId, m.body.id)
        assert.strictEqual(found[0]!.msgId, eventId)
        assert.strictEqual(found[0]!.body.payload.name, saw.name)
        assert.deepStrictEqual(found[1]!.body.payload.changed, ["quantity"])
        assert.strictEqual(new Set(found.map((m) => m.msgId)).size, 3)
      }).pipe(Effect.scoped, Effect.provide(Nats), quiet),
    20_000
  )
})
