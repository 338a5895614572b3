import { assert, describe, it } from "@effect/vitest"
import { DomainEvent, Outbox, OutboxDispatcher, UnitOfWork } from "@org/core"
import { Deferred, Effect, Fiber, Layer, Metric, Schedule, Schema } from "effect"
import { TestClock } from "effect/testing"

const Pinged = DomainEvent.define("Pinged", {
  aggregateType: "Ping",
  payload: Schema.Struct({ n: Schema.Number })
})
const Other = DomainEvent.define("Other", { aggregateType: "Ping", payload: Schema.Struct({}) })

const ping = (n: number) => Effect.flatMap(Pinged.make(`p-${n}`, { n }), Pinged.toEnvelope)

const Env = Layer.mergeAll(Outbox.layerMemory, UnitOfWork.layerMemory)

const recorder = (name: string, accepts: (event: DomainEvent.Envelope) => boolean = () => true) => {
  const seen: Array<string> = []
  const consumer: Outbox.Consumer = {
    name,
    accepts,
    handle: (event) => Effect.sync(() => void seen.push(event.id))
  }
  return { consumer, seen }
}

const commit = (events: ReadonlyArray<DomainEvent.Envelope>) =>
  Effect.flatMap(Outbox.Outbox, (outbox) => UnitOfWork.transaction(outbox.append(events)))

describe("OutboxDispatcher", () => {
  it.live("drain delivers committed events to the consumers that accept them, once", () =>
    Effect.gen(function* () {
      const all = recorder("all")
      const pings = recorder("pings", Pinged.is)
      const events = yield* Effect.forEach([1, 2, 3], ping)
      const other = yield* Effect.flatMap(Other.make("o", {}), Other.toEnvelope)
      yield* commit([...events, other])
      yield* Effect.flatMap(Outbox.Outbox, (outbox) =>
        UnitOfWork.transaction(Effect.andThen(outbox.append([other]), Effect.fail("rollback")))
      ).pipe(Effect.ignore)
      const options = { consumers: Effect.succeed([all.consumer, pings.consumer]) }
      const summary = yield* OutboxDispatcher.drain(options)
      assert.deepStrictEqual(summary, { claimed: 4, completed: 4, retried: 0, dead: 0, lost: 0 })
      assert.deepStrictEqual([...all.seen].sort(), [...events.map((e) => e.id), other.id].sort())
      assert.deepStrictEqual([...pings.seen].sort(), events.map((e) => e.id).sort())
      assert.strictEqual((yield* OutboxDispatcher.drain(options)).claimed, 0)
    }).pipe(Effect.provide(Env))
  )

  it.live("a failing and a hanging consumer neither block nor repeat a good one", () =>
    Effect.gen(function* () {
      const good = recorder("good")
      let failures = 0
      const failing: Outbox.Consumer = {
        name: "failing",
        accepts: () => true,
        handle: () => Effect.suspend(() => (failures++ < 1 ? Effect.fail("boom") : Effect.void))
      }
      const hanging: Outbox.Consumer = { name: "hanging", accepts: () => true, handle: () => Effect.never }
      const event = yield* ping(1)
      yield* commit([event])
      const options: OutboxDispatcher.Options = {
        consumers: Effect.succeed([good.consumer, failing, hanging]),
        handlerTimeout: "100 millis",
        backoff: () => 0,
        maxAttempts: 3
      }
      const first = yield* OutboxDispatcher.drain(options)
      assert.deepStrictEqual(first, { claimed: 1, completed: 0, retried: 1, dead: 0, lost: 0 })
      assert.deepStrictEqual(good.seen, [event.id])
      const outbox = yield* Outbox.Outbox
      const stored = yield* outbox.get(event.id)
      assert.deepStrictEqual(stored._tag === "Some" ? [...stored.value.completed] : [], ["good"])
      yield* OutboxDispatcher.drain(options)
      yield* OutboxDispatcher.drain(options)
      // good ran once, failing recovered on attempt 2, hanging timed out every time: dead after 3.
      assert.deepStrictEqual(good.seen, [event.id])
      assert.strictEqual(failures, 2)
      const dead = yield* outbox.deadLetters()
      assert.strictEqual(dead.length, 1)
      assert.deepStrictEqual([...(dead[0]?.completed ?? [])].sort(), ["failing", "good"])
      assert.include(dead[0]?.error ?? "", "hanging")
    }).pipe(Effect.provide(Env))
  )

  it.live("a consumer whose accepts throws fails alone and the event still settles", () =>
    Effect.gen(function* () {
      const good = recorder("good")
      const throwing: Outbox.Consumer = {
        name: "throwing",
        accepts: () => {
          throw new Error("bad filter")
        },
        handle: () => Effect.void
      }
      const event = yield* ping(1)
      yield* commit([event])
      const options: OutboxDispatcher.Options = {
        consumers: Effect.succeed([throwing, good.consumer]),
        maxAttempts: 1
      }
      assert.deepStrictEqual(yield* OutboxDispatcher.drain(options), {
        claimed: 1,
        completed: 0,
        retried: 0,
        dead: 1,
        lost: 0
      })
      assert.deepStrictEqual(good.seen, [event.id])
      const [dead] = yield* Effect.flatMap(Outbox.Outbox, (outbox) => outbox.deadLetters())
      assert.include(dead?.error ?? "", "bad filter")
    }).pipe(Effect.provide(Env))
  )

  it.live("dead letter after N failures, listed, replayed, then delivered", () =>
    Effect.gen(function* () {
      let broken = true
      const delivered: Array<string> = []
      const flaky: Outbox.Consumer = {
        name: "flaky",
        accepts: () => true,
        handle: (event) => (broken ? Effect.fail("down") : Effect.sync(() => void delivered.push(event.id)))
      }
      const event = yield* ping(1)
      yield* commit([event])
      const dispatcher = yield* OutboxDispatcher.make({
        consumers: Effect.succeed([flaky]),
        maxAttempts: 2,
        backoff: () => 0,
        pollInterval: "1 hour"
      })
      yield* dispatcher.drain
      yield* dispatcher.drain
      const dead = yield* dispatcher.deadLetters()
      assert.deepStrictEqual(
        dead.map((d) => [d.event.id, d.attempts]),
        [[event.id, 2]]
      )
      broken = false
      assert.strictEqual(yield* dispatcher.replay([event.id]), 1)
      // The replay wakes the loop, whose poll interval is an hour.
      yield* Effect.repeat(
        Effect.sync(() => delivered.length),
        { until: (n) => n > 0, schedule: Schedule.spaced("10 millis") }
      ).pipe(Effect.timeout("2 seconds"))
      assert.deepStrictEqual(delivered, [event.id])
    }).pipe(Effect.provide(Env))
  )

  it.live("the loop delivers a commit at once, not after the poll interval", () =>
    Effect.gen(function* () {
      const got = yield* Deferred.make<string>()
      const consumer: Outbox.Consumer = {
        name: "c",
        accepts: () => true,
        handle: (event) => Deferred.succeed(got, event.id)
      }
      yield* OutboxDispatcher.make({ consumers: Effect.succeed([consumer]), pollInterval: "1 hour" })
      yield* Effect.sleep("50 millis")
      const event = yield* ping(1)
      yield* commit([event])
      assert.strictEqual(yield* Deferred.await(got).pipe(Effect.timeout("1 second")), event.id)
    }).pipe(Effect.provide(Env))
  )

  it.live("a consumer hanging on one event does not hold up the events committed after it", () =>
    Effect.gen(function* () {
      const second = yield* Deferred.make<string>()
      const first = yield* ping(1)
      const consumer: Outbox.Consumer = {
        name: "c",
        accepts: () => true,
        // hangs on the first event until the handler timeout (10 s)
        handle: (event) => (event.id === first.id ? Effect.never : Deferred.succeed(second, event.id))
      }
      yield* OutboxDispatcher.make({
        consumers: Effect.succeed([consumer]),
        pollInterval: "1 hour",
        handlerTimeout: "10 seconds",
        shutdownTimeout: "50 millis"
      })
      yield* commit([first])
      yield* Effect.sleep("50 millis")
      const next = yield* ping(2)
      yield* commit([next])
      assert.strictEqual(yield* Deferred.await(second).pipe(Effect.timeout("1 second")), next.id)
    }).pipe(Effect.provide(Env))
  )

  it.live("shutdown stops claiming and lets a delivery in flight finish", () =>
    Effect.gen(function* () {
      const started = yield* Deferred.make<void>()
      let finished = 0
      const slow: Outbox.Consumer = {
        name: "slow",
        accepts: () => true,
        handle: () =>
          Deferred.succeed(started, undefined).pipe(
            Effect.andThen(Effect.sleep("200 millis")),
            Effect.andThen(Effect.sync(() => void finished++))
          )
      }
      const event = yield* ping(1)
      yield* commit([event])
      const fiber = yield* Effect.forkChild(
        Effect.scoped(
          Effect.andThen(
            OutboxDispatcher.make({ consumers: Effect.succeed([slow]), pollInterval: "10 millis" }),
            Deferred.await(started)
          )
        )
      )
      yield* Fiber.join(fiber)
      assert.strictEqual(finished, 1)
      const outbox = yield* Outbox.Outbox
      const stored = yield* outbox.get(event.id)
      assert.strictEqual(stored._tag === "Some" ? stored.value.state : "missing", "delivered")
      // Nothing is claimed after the scope closed.
      const later = yield* ping(2)
      yield* commit([later])
      yield* Effect.sleep("100 millis")
      const pending = yield* outbox.get(later.id)
      assert.strictEqual(pending._tag === "Some" ? pending.value.attempts : -1, 0)
    }).pipe(Effect.provide(Env))
  )

  it.live("the loop goes on after the outbox fails", () =>
    Effect.gen(function* () {
      const outbox = yield* Outbox.Outbox
      let calls = 0
      const flaky = Outbox.Outbox.of({
        ...outbox,
        claim: (options) =>
          Effect.suspend(() => (calls++ < 2 ? Effect.die(new Error("db down")) : outbox.claim(options)))
      })
      const got = yield* Deferred.make<void>()
      const consumer: Outbox.Consumer = {
        name: "c",
        accepts: () => true,
        handle: () => Deferred.succeed(got, undefined)
      }
      yield* commit([yield* ping(1)])
      yield* OutboxDispatcher.make({
        consumers: Effect.succeed([consumer]),
        pollInterval: "20 millis",
        errorPause: "20 millis"
      }).pipe(Effect.provideService(Outbox.Outbox, flaky))
      yield* Deferred.await(got).pipe(Effect.timeout("2 seconds"))
      assert.isAtLeast(calls, 3)
    }).pipe(Effect.provide(Env))
  )

  it.effect("the gauges: parked dead letters, pending events and the oldest pending event's age", () =>
    Effect.gen(function* () {
      const gauges = Effect.all({
        dead: Effect.map(Metric.value(OutboxDispatcher.deadLetters), (state) => state.value),
        pending: Effect.map(Metric.value(OutboxDispatcher.pending), (state) => state.value),
        age: Effect.map(Metric.value(OutboxDispatcher.oldestPendingAge), (state) => state.value)
      })
      const failing: Outbox.Consumer = {
        name: "down",
        accepts: () => true,
        handle: () => Effect.fail("down")
      }
      const consumers = Effect.succeed([failing])
      // An event that occurred at the start, parked after its one attempt.
      yield* TestClock.setTime(1_700_000_000_000)
      yield* commit([yield* ping(1)])
      assert.strictEqual((yield* OutboxDispatcher.drain({ consumers, maxAttempts: 1 })).dead, 1)
      // One that occurred 30 s later and keeps failing: pending, waiting an hour for its retry.
      yield* TestClock.adjust("30 seconds")
      yield* commit([yield* ping(2)])
      yield* Effect.scoped(
        Effect.gen(function* () {
          yield* OutboxDispatcher.make({ consumers, backoff: () => "1 hour", gaugeInterval: "10 seconds" })
          // Read at start (the pending event has just occurred), then every `gaugeInterval`.
          yield* TestClock.adjust("1 second")
          assert.deepStrictEqual(yield* gauges, { dead: 1, pending: 1, age: 0 })
          yield* TestClock.adjust("90 seconds")
          assert.deepStrictEqual(yield* gauges, { dead: 1, pending: 1, age: 90 })
        })
      )
      // Without a dispatcher, `updateGauges` reads them once.
      const outbox = yield* Outbox.Outbox
      const [retried] = yield* outbox
        .claim({ limit: 1, lease: "1 minute" })
        .pipe(
          Effect.andThen(TestClock.adjust("1 hour")),
          Effect.andThen(outbox.claim({ limit: 1, lease: "1 minute" }))
        )
      assert.isTrue(yield* outbox.complete(retried?.event.id ?? "", retried?.lease ?? ""))
      yield* OutboxDispatcher.updateGauges
      assert.deepStrictEqual(yield* gauges, { dead: 1, pending: 0, age: 0 })
    }).pipe(Effect.provide(Env))
  )
})
