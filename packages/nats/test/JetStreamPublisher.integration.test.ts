/**
 * The JetStream publisher on the real server: message id = event id, the
 * duplicate window drops a republished event, a lost ack is retried without
 * a duplicate, an unknown subject and an absent broker are `PublishError`s.
 */
import { assert, describe, it, layer } from "@effect/vitest"
import { headers } from "@nats-io/transport-node"
import { EventPublisher } from "@org/core"
import { JetStreamAdmin, JetStreamPublisher, NatsConnection } from "@org/nats"
import { Duration, Effect, Exit, Layer, Result } from "effect"
import { skipNats, url } from "./env.ts"
import { encodeJson, placed, streamInfo, withStream } from "./fixtures.ts"

const NatsLive = NatsConnection.layer({ servers: url, name: "nats-publisher-test" })

const publisherFor = (prefix: string, timeout: Duration.Input = Duration.seconds(5)) =>
  JetStreamPublisher.make({ prefix, timeout })

describe.skipIf(skipNats)("JetStreamPublisher on a real NATS server", () => {
  layer(NatsLive, { timeout: 30_000, excludeTestServices: true })((it) => {
    it.effect("publishing one event twice stores one message (Nats-Msg-Id, duplicate window)", () =>
      Effect.gen(function* () {
        const stream = yield* withStream()
        const publisher = yield* publisherFor(stream.prefix)
        const event = yield* placed(1)
        yield* publisher.publish(event)
        yield* publisher.publish(event)
        const info = yield* streamInfo(stream.name)
        assert.strictEqual(info.state.messages, 1)
        const jsm = yield* JetStreamAdmin.manager
        const stored = yield* Effect.promise(() => jsm.streams.getMessage(stream.name, { seq: 1 }))
        assert.strictEqual(stored!.subject, `${stream.prefix}.Order.OrderPlaced`)
        assert.strictEqual(stored!.header.get("Nats-Msg-Id"), event.id)
        assert.strictEqual(stored!.json<{ id: string }>().id, event.id)
      }).pipe(Effect.scoped)
    )

    it.effect("a publish whose ack was lost is retried without a duplicate", () =>
      Effect.gen(function* () {
        const stream = yield* withStream()
        const subject = `${stream.prefix}.Order.OrderPlaced`
        const event = yield* placed(2)
        // The message reaches the stream but its ack never reaches the relay:
        // a plain publish carrying the msg id and no reply subject.
        const client = yield* Effect.flatMap(NatsConnection.NatsConnection, (c) => c.client)
        const h = headers()
        h.set("Nats-Msg-Id", event.id)
        const body = yield* encodeJson(event)
        client.publish(subject, body, { headers: h })
        yield* Effect.promise(() => client.flush())
        // The relay saw no ack, so the outbox retries: a success, no second message.
        const publisher = yield* publisherFor(stream.prefix)
        yield* publisher.publish(event)
        assert.strictEqual((yield* streamInfo(stream.name)).state.messages, 1)

        // The same with a real timeout: an ack deadline too short to be met,
        // then the retry.
        const other = yield* placed(3)
        const impatient = yield* publisherFor(stream.prefix, Duration.millis(1))
        const first = yield* Effect.result(impatient.publish(other))
        // On loopback the ack may beat even 1 ms; when it does not, the failure is a Timeout.
        if (Result.isFailure(first)) assert.strictEqual(first.failure.reason, "Timeout")
        yield* publisher.publish(other)
        yield* publisher.publish(other)
        assert.strictEqual((yield* streamInfo(stream.name)).state.messages, 2)
      }).pipe(Effect.scoped)
    )

    it.effect("a subject no stream takes fails with a retryable PublishError", () =>
      Effect.gen(function* () {
        const publisher = yield* publisherFor("nostream.nowhere", Duration.seconds(2))
        const event = yield* placed(4)
        const error = yield* Effect.flip(publisher.publish(event))
        assert.strictEqual(error._tag, "PublishError")
        assert.strictEqual(error.reason, "Rejected", error.message)
        assert.strictEqual(error.eventId, event.id)
        assert.isTrue(error.retryable)
      })
    )

    it.effect("ensureStream is idempotent and updates the duplicate window", () =>
      Effect.gen(function* () {
        const stream = yield* withStream({ duplicateWindow: Duration.seconds(30) })
        const again = yield* JetStreamAdmin.ensureStream({
          name: stream.name,
          subjects: [`${stream.prefix}.>`],
          duplicateWindow: Duration.minutes(5)
        })
        assert.strictEqual(again.config.duplicate_window, 5 * 60 * 1e9)
        const info = yield* streamInfo(stream.name)
        assert.strictEqual(info.config.duplicate_window, 5 * 60 * 1e9)
        assert.isFalse(yield* JetStreamAdmin.deleteStream(`${stream.name}_absent`))
      }).pipe(Effect.scoped)
    )

    it.effect("the relay consumer publishes integration events to the stream", () =>
      Effect.gen(function* () {
        const stream = yield* withStream()
        const relay = yield* EventPublisher.relay({ prefix: stream.prefix })
        const event = yield* placed(5)
        assert.isTrue(relay.accepts(event))
        yield* relay.handle(event)
        yield* relay.handle(event)
        assert.strictEqual((yield* streamInfo(stream.name)).state.messages, 1)
      }).pipe(Effect.scoped, Effect.provide(JetStreamPublisher.layer()))
    )
  })
})

describe("JetStreamPublisher with the broker down", () => {
  const down = "nats://127.0.0.1:4999"

  it.live("publishing fails at once with PublishError (Unavailable); the connection started anyway", () =>
    Effect.gen(function* () {
      const publisher = yield* JetStreamPublisher.make({ timeout: Duration.millis(500) })
      const connection = yield* NatsConnection.NatsConnection
      assert.isFalse(yield* connection.connected)
      const event = yield* placed(6)
      const started = Date.now()
      const error = yield* Effect.flip(publisher.publish(event))
      assert.strictEqual(error._tag, "PublishError")
      assert.strictEqual(error.reason, "Unavailable")
      assert.isBelow(Date.now() - started, 1_000)
    }).pipe(
      Effect.provide(
        NatsConnection.layer({ servers: down, startWhileDown: true, connectTimeout: Duration.millis(200) })
      ),
      Effect.timeout("10 seconds")
    )
  )

  it.live("without startWhileDown the connection layer fails with NatsError", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(
        Layer.build(NatsConnection.layer({ servers: down, connectTimeout: Duration.millis(200) })).pipe(
          Effect.scoped
        )
      )
      assert.isTrue(Exit.isFailure(exit))
      const error = yield* Effect.flip(
        Layer.build(NatsConnection.layer({ servers: down, connectTimeout: Duration.millis(200) })).pipe(
          Effect.scoped
        )
      )
      assert.strictEqual(error._tag, "NatsError")
      assert.strictEqual(error.operation, "connect")
    }).pipe(Effect.timeout("10 seconds"))
  )
})
