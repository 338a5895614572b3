/**
 * The consumer helper on the real server: acks on success, naks with a
 * delay on failure (redelivered), terminates what is not an envelope and
 * what failed its last delivery, and stays idempotent through an inbox.
 */
import { randomUUID } from "node:crypto"
import { assert, describe, layer } from "@effect/vitest"
import { type DomainEvent, Outbox } from "@org/core"
import { JetStreamConsumer, JetStreamPublisher, NatsConnection } from "@org/nats"
import { Duration, Effect, Option, Queue, Ref } from "effect"
import { skipNats, url } from "./env.ts"
import { consumerInfo, encodeJson, eventually, placed, withStream } from "./fixtures.ts"

const NatsLive = NatsConnection.layer({ servers: url, name: "nats-consumer-test" })

const subjectOf = (prefix: string) => `${prefix}.Order.OrderPlaced`

/** A plain publish, no msg id: the stream stores every copy. */
const publishRaw = (subject: string, body: string) =>
  Effect.flatMap(NatsConnection.NatsConnection, (connection) =>
    Effect.flatMap(connection.client, (client) =>
      Effect.promise(() => {
        client.publish(subject, body)
        return client.flush()
      })
    )
  )

const settled = (stream: string, durable: string) =>
  eventually(consumerInfo(stream, durable), (info) => info.num_ack_pending === 0 && info.num_pending === 0)

describe.skipIf(skipNats)("JetStreamConsumer on a real NATS server", () => {
  layer(NatsLive, { timeout: 30_000, excludeTestServices: true })((it) => {
    it.effect("hands each event to the handler and acks it", () =>
      Effect.gen(function* () {
        const stream = yield* withStream()
        const publisher = yield* JetStreamPublisher.make({ prefix: stream.prefix })
        const events = [yield* placed(1), yield* placed(2), yield* placed(3)]
        for (const event of events) yield* publisher.publish(event)
        const received = yield* Queue.unbounded<DomainEvent.Envelope>()
        yield* JetStreamConsumer.consume({
          stream: stream.name,
          durable: "acks",
          handler: (event) => Queue.offer(received, event)
        })
        const got = [yield* Queue.take(received), yield* Queue.take(received), yield* Queue.take(received)]
        assert.deepStrictEqual(
          got.map((e) => e.id),
          events.map((e) => e.id)
        )
        assert.deepStrictEqual(got[0]!.payload, { total: 1 })
        const info = yield* settled(stream.name, "acks")
        assert.strictEqual(info.num_redelivered, 0)
        assert.strictEqual(info.ack_floor.stream_seq, 3)
      }).pipe(Effect.scoped)
    )

    it.effect("a failing handler naks: the event comes back after the delay", () =>
      Effect.gen(function* () {
        const stream = yield* withStream()
        const publisher = yield* JetStreamPublisher.make({ prefix: stream.prefix })
        const event = yield* placed(1)
        yield* publisher.publish(event)
        const deliveries = yield* Queue.unbounded<number>()
        yield* JetStreamConsumer.consume({
          stream: stream.name,
          durable: "naks",
          nakDelay: () => Duration.millis(200),
          handler: (_, delivery) =>
            Effect.andThen(
              Queue.offer(deliveries, delivery.deliveryCount),
              delivery.deliveryCount === 1 ? Effect.fail("not yet") : Effect.void
            )
        })
        assert.strictEqual(yield* Queue.take(deliveries), 1)
        const started = Date.now()
        assert.strictEqual(yield* Queue.take(deliveries), 2)
        assert.isAtLeast(Date.now() - started, 150, "redelivered after the nak delay")
        yield* settled(stream.name, "naks")
      }).pipe(Effect.scoped)
    )

    it.effect("a message that is not an envelope is terminated, not redelivered", () =>
      Effect.gen(function* () {
        const stream = yield* withStream()
        const subject = subjectOf(stream.prefix)
        yield* publishRaw(subject, "not json")
        yield* publishRaw(subject, JSON.stringify({ id: "not-a-uuid", type: "OrderPlaced" }))
        const good = yield* placed(1)
        yield* publishRaw(subject, yield* encodeJson(good))
        const received = yield* Queue.unbounded<string>()
        yield* JetStreamConsumer.consume({
          stream: stream.name,
          durable: "bad",
          ackWait: Duration.seconds(1),
          handler: (event) => Queue.offer(received, event.id)
        })
        assert.strictEqual(yield* Queue.take(received), good.id)
        yield* settled(stream.name, "bad")
        // Past the ack wait nothing comes back.
        yield* Effect.sleep(Duration.millis(1_300))
        assert.strictEqual(yield* Queue.size(received), 0)
        const info = yield* consumerInfo(stream.name, "bad")
        assert.strictEqual(info.num_redelivered, 0)
        assert.strictEqual(info.delivered.stream_seq, 3)
      }).pipe(Effect.scoped)
    )

    it.effect("after maxDeliver failed deliveries the event is given up (terminated)", () =>
      Effect.gen(function* () {
        const stream = yield* withStream()
        const publisher = yield* JetStreamPublisher.make({ prefix: stream.prefix })
        yield* publisher.publish(yield* placed(1))
        const calls = yield* Ref.make(0)
        yield* JetStreamConsumer.consume({
          stream: stream.name,
          durable: "gives-up",
          maxDeliver: 3,
          nakDelay: () => Duration.millis(50),
          handler: () =>
            Effect.andThen(
              Ref.update(calls, (n) => n + 1),
              Effect.fail("always")
            )
        })
        yield* eventually(Ref.get(calls), (n) => n === 3)
        yield* settled(stream.name, "gives-up")
        yield* Effect.sleep(Duration.millis(500))
        assert.strictEqual(yield* Ref.get(calls), 3)
      }).pipe(Effect.scoped)
    )

    it.effect("a handler behind an inbox takes effect once per event id", () =>
      Effect.gen(function* () {
        const stream = yield* withStream()
        const subject = subjectOf(stream.prefix)
        const event = yield* placed(1)
        const body = yield* encodeJson(event)
        // Two copies of one event (no msg id: as if the window had passed).
        yield* publishRaw(subject, body)
        yield* publishRaw(subject, body)
        const inbox = yield* memoryInbox
        const deliveries = yield* Ref.make(0)
        const effects = yield* Ref.make(0)
        yield* JetStreamConsumer.consume({
          stream: stream.name,
          durable: "once",
          handler: (event) =>
            Effect.andThen(
              Ref.update(deliveries, (n) => n + 1),
              inbox.once(
                "once",
                event.id,
                Ref.update(effects, (n) => n + 1)
              )
            )
        })
        yield* eventually(Ref.get(deliveries), (n) => n === 2)
        yield* settled(stream.name, "once")
        assert.strictEqual(yield* Ref.get(effects), 1)
      }).pipe(Effect.scoped)
    )

    it.effect("durable names are shared: a second consume call resumes where the first stopped", () =>
      Effect.gen(function* () {
        const stream = yield* withStream()
        const publisher = yield* JetStreamPublisher.make({ prefix: stream.prefix })
        const durable = `d-${randomUUID().slice(0, 8)}`
        const first = yield* Queue.unbounded<string>()
        yield* Effect.scoped(
          Effect.gen(function* () {
            yield* JetStreamConsumer.consume({
              stream: stream.name,
              durable,
              handler: (e) => Queue.offer(first, e.id)
            })
            const a = yield* placed(1)
            yield* publisher.publish(a)
            assert.strictEqual(yield* Queue.take(first), a.id)
            yield* settled(stream.name, durable)
          })
        )
        const b = yield* placed(2)
        yield* publisher.publish(b)
        const second = yield* Queue.unbounded<string>()
        yield* JetStreamConsumer.consume({
          stream: stream.name,
          durable,
          handler: (e) => Queue.offer(second, e.id)
        })
        assert.strictEqual(yield* Queue.take(second), b.id)
      }).pipe(Effect.scoped)
    )
  })
})

/** A process-local inbox (the SQL one records ids in the handler's transaction). */
const memoryInbox = Effect.map(Ref.make(new Set<string>()), (seen) =>
  Outbox.Inbox.of({
    once: (consumer, eventId, effect) =>
      Effect.flatMap(Ref.get(seen), (ids) =>
        ids.has(`${consumer}:${eventId}`)
          ? Effect.succeed(Option.none())
          : Effect.tap(Effect.map(effect, Option.some), () =>
              Ref.update(seen, (current) => new Set([...current, `${consumer}:${eventId}`]))
            )
      )
  })
)
