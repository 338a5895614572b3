import { assert, describe, it } from "@effect/vitest"
import { DomainEvent, EventBus, UnitOfWork } from "@org/core"
import { DateTime, Effect, Exit, Fiber, Layer, Schedule, Schema } from "effect"
import * as SecureRandom from "effect/crypto/SecureRandom"
import { TestClock } from "effect/testing"

const ItemCreated = DomainEvent.define("ItemCreated", {
  aggregateType: "Item",
  payload: Schema.Struct({ name: Schema.String })
})
const ItemArchived = DomainEvent.define("ItemArchived", {
  aggregateType: "Item",
  payload: Schema.Struct({ at: Schema.DateTimeUtcFromString })
})

const bus = (options?: EventBus.MemoryOptions) =>
  EventBus.layerMemoryWith(options).pipe(Layer.provideMerge(UnitOfWork.layerMemory))

const run = <A, E>(
  subscribers: Layer.Layer<never, never, EventBus.EventBus>,
  program: Effect.Effect<A, E, EventBus.EventBus | EventBus.Idle | UnitOfWork.UnitOfWork>,
  options?: EventBus.MemoryOptions
) =>
  program.pipe(
    Effect.provide(Layer.provideMerge(subscribers, bus(options))),
    Effect.provide(SecureRandom.layerWebCrypto)
  )

describe("EventBus.layerMemory", () => {
  it.effect("retries a failing async handler by the policy, on the clock", () => {
    let attempts = 0
    const flaky = EventBus.subscriber(ItemCreated, { name: "flaky", mode: "async" }, () =>
      Effect.suspend(() => (++attempts < 3 ? Effect.fail("not yet") : Effect.void))
    )
    return run(
      flaky,
      Effect.gen(function* () {
        yield* EventBus.emit(ItemCreated, "item-1", { name: "pen" })
        const idle = yield* Effect.forkChild(EventBus.awaitIdle)
        yield* TestClock.adjust("999 millis")
        assert.strictEqual(attempts, 1)
        yield* TestClock.adjust("1 millis")
        assert.strictEqual(attempts, 2)
        assert.isUndefined(idle.pollUnsafe())
        yield* TestClock.adjust("1 second")
        assert.strictEqual(attempts, 3)
        yield* Fiber.join(idle)
      }),
      { retry: Schedule.spaced("1 second") }
    )
  })

  it.effect("gives up after the policy, drops the event for that handler only, and keeps handling", () => {
    const seen: Array<string> = []
    let attempts = 0
    const subscribers = Layer.mergeAll(
      EventBus.subscriber(ItemCreated, { name: "picky", mode: "async" }, (event) =>
        Effect.suspend(() => {
          attempts++
          return event.payload.name === "bad"
            ? Effect.fail("refused")
            : Effect.sync(() => seen.push(event.payload.name))
        })
      ),
      EventBus.subscriber(ItemCreated, { name: "all", mode: "async" }, (event) =>
        Effect.sync(() => seen.push(`all:${event.payload.name}`))
      )
    )
    return run(
      subscribers,
      Effect.gen(function* () {
        yield* EventBus.emit(ItemCreated, "item-1", { name: "bad" })
        yield* EventBus.emit(ItemCreated, "item-2", { name: "good" })
        yield* EventBus.awaitIdle
        assert.strictEqual(attempts, 4) // 3 for "bad" (1 + 2 retries), 1 for "good"
        assert.deepStrictEqual([...seen].sort(), ["all:bad", "all:good", "good"])
      }),
      { retry: Schedule.recurs(2) }
    )
  })

  it.effect("times out a hanging handler per attempt and retries it", () => {
    let attempts = 0
    const hangs = EventBus.subscriber(ItemCreated, { name: "hangs", mode: "async" }, () =>
      Effect.suspend(() => {
        attempts++
        return Effect.never
      })
    )
    return run(
      hangs,
      Effect.gen(function* () {
        yield* EventBus.emit(ItemCreated, "item-1", { name: "pen" })
        const idle = yield* Effect.forkChild(EventBus.awaitIdle)
        yield* TestClock.adjust("5 seconds")
        assert.strictEqual(attempts, 2)
        assert.isUndefined(idle.pollUnsafe())
        yield* TestClock.adjust("5 seconds")
        yield* Fiber.join(idle)
        assert.strictEqual(attempts, 2)
      }),
      { timeout: "5 seconds", retry: Schedule.recurs(1) }
    )
  })

  it.effect("an async handler runs with the event's metadata and gets a decoded DateTime", () => {
    const seen: Array<[DomainEvent.Metadata, boolean]> = []
    const subscriber = EventBus.subscriber(ItemArchived, { name: "meta", mode: "async" }, (event) =>
      Effect.map(DomainEvent.CurrentMetadata, (metadata) => {
        seen.push([metadata, DateTime.toEpochMillis(event.payload.at) === 1_000])
      })
    )
    return run(
      subscriber,
      Effect.gen(function* () {
        yield* TestClock.setTime(1_000)
        yield* DomainEvent.withMetadata(
          UnitOfWork.transaction(
            Effect.flatMap(DateTime.now, (at) => EventBus.emit(ItemArchived, "item-1", { at }))
          ),
          { requestId: "req-1", actorId: "user-7" }
        )
        yield* EventBus.awaitIdle
        assert.strictEqual(seen.length, 1)
        assert.strictEqual(seen[0]![0].requestId, "req-1")
        assert.strictEqual(seen[0]![0].actorId, "user-7")
        assert.isTrue(seen[0]![1])
      })
    )
  })

  it.effect("consumers: one per async subscription, accepting its type, decoding the envelope", () => {
    const handled: Array<string> = []
    const subscribers = Layer.mergeAll(
      EventBus.subscriber(ItemCreated, { name: "async-a", mode: "async" }, (event) =>
        Effect.sync(() => handled.push(event.payload.name))
      ),
      EventBus.subscriber(ItemCreated, { name: "sync-b", mode: "sync" }, () => Effect.void),
      EventBus.subscriber(ItemArchived, { name: "async-c", mode: "async" }, () => Effect.void)
    )
    return run(
      subscribers,
      Effect.gen(function* () {
        const consumers = yield* Effect.flatMap(EventBus.EventBus, (bus) => bus.consumers)
        assert.deepStrictEqual(
          consumers.map((c) => c.name),
          ["async-a", "async-c"]
        )
        const envelope = yield* Effect.flatMap(
          ItemCreated.make("item-1", { name: "pen" }),
          ItemCreated.toEnvelope
        )
        assert.isTrue(consumers[0]!.accepts(envelope))
        assert.isFalse(consumers[1]!.accepts(envelope))
        yield* consumers[0]!.handle(envelope)
        assert.deepStrictEqual(handled, ["pen"])
        const bad = yield* Effect.exit(consumers[0]!.handle({ ...envelope, payload: { name: 42 } }))
        assert.isTrue(Exit.isFailure(bad))
        assert.deepStrictEqual(handled, ["pen"])
      })
    )
  })

  it.effect(
    "publishing an event of a type the bus does not know is a defect; emit and register make it known",
    () =>
      run(
        Layer.empty,
        Effect.gen(function* () {
          const event = yield* ItemCreated.make("item-1", { name: "pen" })
          const unknown = yield* Effect.exit(EventBus.publish([event]))
          assert.isTrue(Exit.hasDies(unknown))
          yield* Effect.flatMap(EventBus.EventBus, (bus) => bus.register([ItemCreated]))
          yield* EventBus.publish([event])
        })
      )
  )

  it.effect("two subscriptions with one name are a defect", () =>
    Effect.gen(function* () {
      const twice = Layer.mergeAll(
        EventBus.subscriber(ItemCreated, { name: "same", mode: "async" }, () => Effect.void),
        EventBus.subscriber(ItemArchived, { name: "same", mode: "sync" }, () => Effect.void)
      )
      const exit = yield* Effect.exit(run(twice, Effect.void))
      assert.isTrue(Exit.hasDies(exit))
    })
  )

  it.effect("the publisher does not wait for async handlers", () => {
    const slow = EventBus.subscriber(ItemCreated, { name: "slow", mode: "async" }, () =>
      Effect.sleep("1 hour")
    )
    return run(
      slow,
      Effect.gen(function* () {
        yield* UnitOfWork.transaction(EventBus.emit(ItemCreated, "item-1", { name: "pen" }))
        const idle = yield* Effect.forkChild(EventBus.awaitIdle)
        yield* TestClock.adjust("59 minutes")
        assert.isUndefined(idle.pollUnsafe())
        yield* TestClock.adjust("1 minute")
        yield* Fiber.join(idle)
      }),
      { timeout: "2 hours" }
    )
  })
})
