import { assert, describe, it } from "@effect/vitest"
import { DomainEvent, EventPublisher } from "@org/core"
import { Duration, Effect, Schema } from "effect"
import { TestClock } from "effect/testing"

const OrderPlaced = DomainEvent.define("OrderPlaced", {
  aggregateType: "Order",
  payload: Schema.Struct({ total: Schema.Number }),
  integration: true
})
const OrderViewed = DomainEvent.define("OrderViewed", {
  aggregateType: "Order",
  payload: Schema.Struct({})
})

const placed = Effect.flatMap(OrderPlaced.make("order-1", { total: 12 }), OrderPlaced.toEnvelope)

describe("EventPublisher", () => {
  it("derives subjects from the aggregate and the type, escaping what NATS reserves", () => {
    assert.strictEqual(
      EventPublisher.subjectOf()({ aggregateType: "Order", type: "OrderPlaced" }),
      "events.Order.OrderPlaced"
    )
    assert.strictEqual(
      EventPublisher.subjectOf("shop")({ aggregateType: "a.b", type: "x *>y" }),
      "shop.a_b.x___y"
    )
  })

  it.effect("the memory broker drops a second publish of one id inside the window", () =>
    Effect.gen(function* () {
      const publisher = yield* EventPublisher.EventPublisher
      const memory = yield* EventPublisher.Memory
      const event = yield* placed
      yield* publisher.publish(event)
      yield* publisher.publish(event)
      assert.strictEqual((yield* memory.published).length, 1)
      assert.strictEqual(yield* memory.attempts, 2)
      assert.strictEqual((yield* memory.published)[0]!.subject, "events.Order.OrderPlaced")
      yield* TestClock.adjust(Duration.minutes(3))
      yield* publisher.publish(event)
      assert.strictEqual((yield* memory.published).length, 2, "outside the window it is a new message")
    }).pipe(Effect.provide(EventPublisher.layerMemory()))
  )

  it.effect("a down broker fails with a retryable PublishError", () =>
    Effect.gen(function* () {
      const publisher = yield* EventPublisher.EventPublisher
      const memory = yield* EventPublisher.Memory
      const event = yield* placed
      yield* memory.setDown(true)
      const error = yield* Effect.flip(publisher.publish(event))
      assert.strictEqual(error._tag, "PublishError")
      assert.strictEqual(error.reason, "Unavailable")
      assert.strictEqual(error.eventId, event.id)
      assert.isTrue(error.retryable)
      yield* memory.setDown(false)
      yield* publisher.publish(event)
      assert.strictEqual((yield* memory.published).length, 1)
    }).pipe(Effect.provide(EventPublisher.layerMemory()))
  )

  it.effect("relay accepts integration events only and publishes them on its subject", () =>
    Effect.gen(function* () {
      const relay = yield* EventPublisher.relay({ prefix: "shop" })
      const memory = yield* EventPublisher.Memory
      const event = yield* placed
      const viewed = yield* Effect.flatMap(OrderViewed.make("order-1", {}), OrderViewed.toEnvelope)
      assert.strictEqual(relay.name, "relay")
      assert.isTrue(relay.accepts(event))
      assert.isFalse(relay.accepts(viewed))
      yield* relay.handle(event)
      const published = yield* memory.published
      assert.deepStrictEqual(
        published.map((p) => [p.subject, p.envelope.id]),
        [["shop.Order.OrderPlaced", event.id]]
      )
    }).pipe(Effect.provide(EventPublisher.layerMemory()))
  )

  it.effect("relay takes a custom name, subject and filter", () =>
    Effect.gen(function* () {
      const relay = yield* EventPublisher.relay({
        name: "audit-relay",
        subject: (event) => `audit.${event.type}`,
        accepts: () => true
      })
      const memory = yield* EventPublisher.Memory
      const viewed = yield* Effect.flatMap(OrderViewed.make("order-1", {}), OrderViewed.toEnvelope)
      assert.strictEqual(relay.name, "audit-relay")
      assert.isTrue(relay.accepts(viewed))
      yield* relay.handle(viewed)
      assert.strictEqual((yield* memory.published)[0]!.subject, "audit.OrderViewed")
    }).pipe(Effect.provide(EventPublisher.layerMemory()))
  )
})
