import { assert, describe, it } from "@effect/vitest"
import { CircuitBreaker } from "@org/core"
import { Deferred, Duration, Effect, Exit, Fiber, Layer, Metric, Schema } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"

class Boom extends Schema.TaggedError<Boom>()("Boom", { status: Schema.Number }) {}

const ok = Effect.succeed("ok")
const boom = (status = 500) => Effect.fail(new Boom({ status }))

const run = <A, E extends Boom>(breaker: CircuitBreaker.CircuitBreaker<Boom>, effect: Effect.Effect<A, E>) =>
  Effect.exit(breaker.execute(effect))

const statusOf = (breaker: CircuitBreaker.CircuitBreaker<Boom>) => Effect.map(breaker.state, (s) => s.status)

const failTimes = (breaker: CircuitBreaker.CircuitBreaker<Boom>, n: number) =>
  Effect.forEach(Array.from({ length: n }), () => run(breaker, boom()), { discard: true })

/** The `CircuitOpen` a call was rejected with (fails the test otherwise). */
const rejection = <A, E>(exit: Exit.Exit<A, E>): CircuitBreaker.CircuitOpen => {
  assert.isTrue(Exit.isFailure(exit), "expected a rejection")
  const error = Exit.isFailure(exit) ? exit.cause.reasons[0] : undefined
  assert.isTrue(error?._tag === "Fail" && error.error instanceof CircuitBreaker.CircuitOpen)
  return (error as { readonly error: CircuitBreaker.CircuitOpen }).error
}

const isRejected = <A, E>(exit: Exit.Exit<A, E>) =>
  Exit.isFailure(exit) &&
  exit.cause.reasons.some((r) => r._tag === "Fail" && r.error instanceof CircuitBreaker.CircuitOpen)

const consecutive = (n: number, extra: Partial<CircuitBreaker.Options<Boom>> = {}) =>
  CircuitBreaker.make<Boom>({
    name: "test",
    trip: { consecutiveFailures: n },
    openFor: { initial: "10 seconds", max: "35 seconds", factor: 2 },
    ...extra
  })

/** Trips `breaker` and waits out the open duration: the next call is a probe. */
const toHalfOpenDue = (breaker: CircuitBreaker.CircuitBreaker<Boom>, n: number) =>
  Effect.gen(function* () {
    yield* failTimes(breaker, n)
    const state = yield* breaker.state
    yield* TestClock.adjust(state.retryAfter)
  })

describe("CircuitBreaker", () => {
  describe("closed", () => {
    it.effect("opens after N consecutive failures, and a success resets the count", () =>
      Effect.gen(function* () {
        const breaker = yield* consecutive(3)
        yield* failTimes(breaker, 2)
        yield* run(breaker, ok)
        yield* failTimes(breaker, 2)
        assert.strictEqual(yield* statusOf(breaker), "closed")
        yield* failTimes(breaker, 1)
        assert.strictEqual(yield* statusOf(breaker), "open")
      })
    )

    it.effect("trips on the failure rate over the window, only with the minimum volume", () =>
      Effect.gen(function* () {
        const breaker = yield* CircuitBreaker.make({
          name: "rate",
          trip: { failureRate: 0.5, window: "10 seconds", minimumCalls: 6 }
        })
        // 5 failures out of 5: a 100% rate, but below the volume.
        yield* failTimes(breaker, 5)
        assert.strictEqual(yield* statusOf(breaker), "closed")
        // The sixth call (a success) reaches the volume with 5/6 failing.
        yield* run(breaker, ok)
        assert.strictEqual(yield* statusOf(breaker), "open")
      })
    )

    it.effect("does not trip below the failure rate", () =>
      Effect.gen(function* () {
        const breaker = yield* CircuitBreaker.make({
          name: "rate",
          trip: { failureRate: 0.6, window: "10 seconds", minimumCalls: 5 }
        })
        for (let i = 0; i < 10; i++) {
          yield* run(breaker, boom())
          yield* run(breaker, ok)
          yield* run(breaker, ok)
        }
        assert.strictEqual(yield* statusOf(breaker), "closed")
        yield* run(breaker, boom())
        yield* run(breaker, boom())
        // 12 failures out of 32: still below the rate.
        assert.strictEqual(yield* statusOf(breaker), "closed")
      })
    )

    it.effect("old failures slide out of the window", () =>
      Effect.gen(function* () {
        const breaker = yield* CircuitBreaker.make({
          name: "rate",
          trip: { failureRate: 0.5, window: "10 seconds", minimumCalls: 4, buckets: 10 }
        })
        yield* failTimes(breaker, 3)
        // One bucket past the window: the three failures are gone.
        yield* TestClock.adjust("11 seconds")
        yield* run(breaker, boom())
        yield* run(breaker, ok)
        yield* run(breaker, ok)
        yield* run(breaker, ok)
        assert.strictEqual(yield* statusOf(breaker), "closed")
        // Inside the window they would have tripped it.
        const fresh = yield* CircuitBreaker.make({
          name: "rate-2",
          trip: { failureRate: 0.5, window: "10 seconds", minimumCalls: 4, buckets: 10 }
        })
        yield* failTimes(fresh, 3)
        yield* TestClock.adjust("8 seconds")
        yield* run(fresh, ok)
        assert.strictEqual(yield* statusOf(fresh), "open")
      })
    )

    it.effect("a window slot reused a window later starts empty", () =>
      Effect.gen(function* () {
        const breaker = yield* CircuitBreaker.make({
          name: "rate",
          trip: { failureRate: 0.5, window: "10 seconds", minimumCalls: 4, buckets: 10 }
        })
        yield* failTimes(breaker, 3)
        yield* TestClock.adjust("11 seconds")
        yield* run(breaker, ok)
        // Back in the slot of the first failures, ten buckets later.
        yield* TestClock.adjust("9 seconds")
        yield* failTimes(breaker, 2)
        assert.strictEqual(yield* statusOf(breaker), "closed")
        yield* failTimes(breaker, 1)
        // 3 failures out of 4 in the window.
        assert.strictEqual(yield* statusOf(breaker), "open")
      })
    )

    it.effect("errors the classifier ignores do not count; defects do; interruptions do not", () =>
      Effect.gen(function* () {
        const breaker = yield* consecutive(2, { isFailure: (error) => error.status >= 500 })
        for (let i = 0; i < 5; i++) yield* run(breaker, boom(404))
        yield* run(breaker, Effect.interrupt)
        yield* run(breaker, Effect.interrupt)
        assert.strictEqual(yield* statusOf(breaker), "closed")
        // An ignored error does not reset the streak either.
        yield* run(breaker, boom(503))
        yield* run(breaker, boom(404))
        yield* run(breaker, Effect.die("bug"))
        assert.strictEqual(yield* statusOf(breaker), "open")
      })
    )

    it.effect("passes the call's own result and error through", () =>
      Effect.gen(function* () {
        const breaker = yield* consecutive(3)
        assert.strictEqual(yield* breaker.execute(ok), "ok")
        const exit = yield* run(breaker, boom(418))
        assert.deepStrictEqual(exit, Exit.fail(new Boom({ status: 418 })))
      })
    )
  })

  describe("open", () => {
    it.effect("rejects with the rest of the open duration as retryAfter, without running the call", () =>
      Effect.gen(function* () {
        const breaker = yield* consecutive(1)
        yield* failTimes(breaker, 1)
        yield* TestClock.adjust("2500 millis")
        let ran = false
        const error = rejection(
          yield* run(
            breaker,
            Effect.sync(() => (ran = true))
          )
        )
        assert.isFalse(ran)
        assert.strictEqual(error.name, "test")
        assert.strictEqual(error.state, "open")
        assert.strictEqual(Duration.toMillis(error.retryAfter), 7500)
        assert.strictEqual(error.retryAfterSeconds, 8)
        const state = yield* breaker.state
        assert.deepStrictEqual(
          [state.status, Duration.toMillis(state.retryAfter), state.openings],
          ["open", 7500, 1]
        )
      })
    )

    it.effect("moves to half-open once the open duration has passed, not before", () =>
      Effect.gen(function* () {
        const breaker = yield* consecutive(1)
        yield* failTimes(breaker, 1)
        yield* TestClock.adjust("9999 millis")
        assert.isTrue(isRejected(yield* run(breaker, ok)))
        yield* TestClock.adjust("1 millis")
        assert.strictEqual(yield* breaker.execute(ok), "ok")
        assert.strictEqual(yield* statusOf(breaker), "closed")
      })
    )
  })

  describe("half-open", () => {
    it.effect("admits exactly `probes` concurrent probes and rejects the rest", () =>
      Effect.gen(function* () {
        const breaker = yield* consecutive(1, { halfOpen: { probes: 2 } })
        yield* toHalfOpenDue(breaker, 1)
        const gate = yield* Deferred.make<void>()
        const probe = Effect.andThen(Deferred.await(gate), ok)
        const probes = yield* Effect.forEach([1, 2], () => Effect.forkChild(run(breaker, probe)))
        yield* Effect.yieldNow
        assert.strictEqual(yield* statusOf(breaker), "half-open")
        const third = rejection(yield* run(breaker, ok))
        assert.strictEqual(third.state, "half-open")
        assert.strictEqual(Duration.toMillis(third.retryAfter), 0)
        assert.strictEqual(third.retryAfterSeconds, 1)
        yield* Deferred.succeed(gate, undefined)
        const exits = yield* Fiber.joinAll(probes)
        assert.isTrue(exits.every(Exit.isSuccess))
        assert.strictEqual(yield* statusOf(breaker), "closed")
      })
    )

    it.effect("closes only when every probe has succeeded", () =>
      Effect.gen(function* () {
        const breaker = yield* consecutive(1, { halfOpen: { probes: 3 } })
        yield* toHalfOpenDue(breaker, 1)
        yield* run(breaker, ok)
        yield* run(breaker, ok)
        assert.strictEqual(yield* statusOf(breaker), "half-open")
        yield* run(breaker, ok)
        assert.strictEqual(yield* statusOf(breaker), "closed")
        // Closing resets the backoff: the next opening lasts `initial` again.
        yield* failTimes(breaker, 1)
        assert.strictEqual(Duration.toMillis((yield* breaker.state).retryAfter), 10_000)
      })
    )

    it.effect("a failed probe opens again for longer, up to the cap", () =>
      Effect.gen(function* () {
        const breaker = yield* consecutive(1)
        yield* failTimes(breaker, 1)
        const durations: Array<number> = []
        for (let i = 0; i < 4; i++) {
          const state = yield* breaker.state
          durations.push(Duration.toMillis(state.retryAfter))
          yield* TestClock.adjust(state.retryAfter)
          yield* run(breaker, boom())
        }
        assert.deepStrictEqual(durations, [10_000, 20_000, 35_000, 35_000])
        assert.strictEqual((yield* breaker.state).openings, 5)
      })
    )

    it.effect("a failed probe reopens even while other probes run; their late outcomes change nothing", () =>
      Effect.gen(function* () {
        const breaker = yield* consecutive(1, { halfOpen: { probes: 2 } })
        yield* toHalfOpenDue(breaker, 1)
        const gate = yield* Deferred.make<void>()
        const slow = yield* Effect.forkChild(run(breaker, Effect.andThen(Deferred.await(gate), ok)))
        yield* Effect.yieldNow
        yield* run(breaker, boom())
        assert.strictEqual(yield* statusOf(breaker), "open")
        yield* Deferred.succeed(gate, undefined)
        yield* Fiber.join(slow)
        assert.strictEqual(yield* statusOf(breaker), "open")
        assert.strictEqual(Duration.toMillis((yield* breaker.state).retryAfter), 20_000)
      })
    )

    it.effect("an interrupted probe is no success and frees its slot", () =>
      Effect.gen(function* () {
        const breaker = yield* consecutive(1)
        yield* toHalfOpenDue(breaker, 1)
        const probe = yield* Effect.forkChild(run(breaker, Effect.never))
        yield* Effect.yieldNow
        assert.isTrue(isRejected(yield* run(breaker, ok)))
        yield* Fiber.interrupt(probe)
        assert.strictEqual(yield* statusOf(breaker), "half-open")
        // The slot is free again: the next call is the probe, and closes.
        assert.strictEqual(yield* breaker.execute(ok), "ok")
        assert.strictEqual(yield* statusOf(breaker), "closed")
      })
    )

    it.effect("a probe failing with an ignored error frees its slot; a defect reopens", () =>
      Effect.gen(function* () {
        const breaker = yield* consecutive(1, { isFailure: (error) => error.status >= 500 })
        yield* toHalfOpenDue(breaker, 1)
        yield* run(breaker, boom(404))
        assert.strictEqual(yield* statusOf(breaker), "half-open")
        yield* run(breaker, Effect.die("bug"))
        assert.strictEqual(yield* statusOf(breaker), "open")
      })
    )

    it.effect("a call admitted while closed that ends during half-open is no probe", () =>
      Effect.gen(function* () {
        const breaker = yield* consecutive(1)
        const gate = yield* Deferred.make<void>()
        const straggler = yield* Effect.forkChild(run(breaker, Effect.andThen(Deferred.await(gate), ok)))
        yield* Effect.yieldNow
        yield* toHalfOpenDue(breaker, 1)
        const probe = yield* Effect.forkChild(run(breaker, Effect.never))
        yield* Effect.yieldNow
        yield* Deferred.succeed(gate, undefined)
        yield* Fiber.join(straggler)
        assert.strictEqual(yield* statusOf(breaker), "half-open")
        yield* Fiber.interrupt(probe)
      })
    )
  })

  it.effect("metrics: state gauge and calls by outcome", () =>
    Effect.gen(function* () {
      const breaker = yield* consecutive(2, { name: "metered", isFailure: (error) => error.status >= 500 })
      const gauge = Metric.withAttributes(CircuitBreaker.stateGauge, { name: "metered" })
      const calls = (outcome: string) =>
        Effect.map(
          Metric.value(Metric.withAttributes(CircuitBreaker.callsTotal, { name: "metered", outcome })),
          (state) => state.count
        )
      assert.strictEqual((yield* Metric.value(gauge)).value, 0)
      yield* run(breaker, ok)
      yield* run(breaker, boom(404))
      yield* failTimes(breaker, 2)
      yield* run(breaker, ok)
      yield* run(breaker, ok)
      assert.strictEqual((yield* Metric.value(gauge)).value, 2)
      assert.deepStrictEqual(
        yield* Effect.forEach(["success", "failure", "ignored_error", "rejected"], calls),
        [1, 2, 1, 2]
      )
      yield* TestClock.adjust("10 seconds")
      const probe = yield* Effect.forkChild(run(breaker, Effect.never))
      yield* Effect.yieldNow
      assert.strictEqual((yield* Metric.value(gauge)).value, 1)
      yield* Fiber.interrupt(probe)
      assert.strictEqual(yield* calls("interrupted"), 1)
      const snapshot = yield* Metric.snapshot
      assert.isTrue(snapshot.some((m) => m.id === "circuit_breaker_calls_total"))
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map()))
  )

  it.effect("metrics series are removed when the breaker's scope closes", () =>
    Effect.gen(function* () {
      const series = Effect.map(
        Metric.snapshot,
        (all) => all.filter((m) => m.attributes?.name === "scoped").length
      )
      // Five outcomes and the state gauge.
      assert.strictEqual(yield* Effect.scoped(Effect.andThen(consecutive(2, { name: "scoped" }), series)), 6)
      assert.strictEqual(yield* series, 0)
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map()))
  )

  it("rejects invalid options when called, before running", () => {
    const invalid: ReadonlyArray<Partial<CircuitBreaker.Options>> = [
      { trip: { consecutiveFailures: 0 } },
      { trip: { failureRate: 0, window: "1 second", minimumCalls: 1 } },
      { trip: { failureRate: 1.5, window: "1 second", minimumCalls: 1 } },
      { trip: { failureRate: 0.5, window: "1 second", minimumCalls: 0 } },
      { halfOpen: { probes: 0 } },
      { openFor: { initial: "10 seconds", max: "1 second" } },
      { openFor: { initial: "1 second", factor: 0.5 } }
    ]
    for (const options of invalid) {
      assert.throws(() => CircuitBreaker.make({ name: "bad", ...options }), RangeError)
    }
  })

  describe("shared store", () => {
    const pair = (store: CircuitBreaker.StateStore["Service"]) =>
      Effect.all([
        consecutive(2, { name: "shared", store, syncEvery: "1 second" }),
        consecutive(2, { name: "shared", store, syncEvery: "1 second" })
      ])

    it.effect("an opening on one instance reaches the other within syncEvery", () =>
      Effect.gen(function* () {
        const [a, b] = yield* pair(CircuitBreaker.makeStoreMemory())
        yield* failTimes(a, 2)
        yield* Effect.yieldNow
        assert.strictEqual(yield* statusOf(b), "closed")
        yield* TestClock.adjust("1 second")
        const error = rejection(yield* run(b, ok))
        assert.strictEqual(Duration.toMillis(error.retryAfter), 9000)
        // B did not see a single failure of its own.
        assert.strictEqual((yield* b.state).openings, 1)
      })
    )

    it.effect("a close after successful probes reaches the other instance", () =>
      Effect.gen(function* () {
        const [a, b] = yield* pair(CircuitBreaker.makeStoreMemory())
        yield* failTimes(a, 2)
        yield* TestClock.adjust("1 second")
        assert.strictEqual(yield* statusOf(b), "open")
        yield* TestClock.adjust("9 seconds")
        yield* run(a, ok)
        assert.strictEqual(yield* statusOf(a), "closed")
        yield* TestClock.adjust("1 second")
        assert.strictEqual(yield* statusOf(b), "closed")
      })
    )

    it.effect("a new instance starts from the shared state", () =>
      Effect.gen(function* () {
        const store = CircuitBreaker.makeStoreMemory()
        const a = yield* consecutive(1, { name: "late", store })
        yield* failTimes(a, 1)
        yield* Effect.yieldNow
        const b = yield* consecutive(1, { name: "late", store })
        assert.strictEqual(yield* statusOf(b), "open")
      })
    )

    it.effect("a failed probe's longer opening reaches the other instance", () =>
      Effect.gen(function* () {
        const [a, b] = yield* pair(CircuitBreaker.makeStoreMemory())
        yield* failTimes(a, 2)
        yield* TestClock.adjust("10 seconds")
        yield* run(a, boom())
        yield* TestClock.adjust("1 second")
        const error = rejection(yield* run(b, ok))
        assert.strictEqual(Duration.toMillis(error.retryAfter), 19_000)
        assert.strictEqual((yield* b.state).openings, 2)
      })
    )

    it.effect("store failures never reach callers", () =>
      Effect.gen(function* () {
        const broken: CircuitBreaker.StateStore["Service"] = {
          get: () => Effect.fail(new CircuitBreaker.StateStoreError({ message: "down" })),
          compareAndSet: () => Effect.die("bug")
        }
        const breaker = yield* consecutive(2, { store: broken })
        yield* failTimes(breaker, 2)
        yield* TestClock.adjust("3 seconds")
        assert.strictEqual(yield* statusOf(breaker), "open")
        yield* TestClock.adjust("10 seconds")
        assert.strictEqual(yield* breaker.execute(ok), "ok")
      })
    )
  })

  describe("Registry", () => {
    it.effect("hands out one breaker per name, with per-name overrides", () =>
      Effect.gen(function* () {
        const registry = yield* CircuitBreaker.Registry
        const a = yield* registry.get("a")
        assert.strictEqual(yield* registry.get("a"), a)
        yield* Effect.forEach([1, 2], () => Effect.exit(boom().pipe(CircuitBreaker.protect("a"))))
        yield* Effect.exit(boom().pipe(CircuitBreaker.protect("b")))
        assert.strictEqual(yield* statusOf(a), "open")
        assert.strictEqual(yield* statusOf(yield* registry.get("b")), "open")
        assert.strictEqual(yield* statusOf(yield* registry.get("c")), "closed")
      }).pipe(
        Effect.provide(
          CircuitBreaker.layerRegistry({
            defaults: { trip: { consecutiveFailures: 2 } },
            overrides: { b: { trip: { consecutiveFailures: 1 } } }
          }).pipe(Layer.provide(CircuitBreaker.layerStoreMemory))
        )
      )
    )
  })

  describe("against a reference model", () => {
    // A deliberately naive model of the state machine: arrays instead of
    // buckets, no fencing (calls here are sequential).
    type Step =
      | { readonly _tag: "call"; readonly outcome: "ok" | "fail" | "ignored" | "defect" }
      | { readonly _tag: "wait"; readonly millis: number }

    const step: fc.Arbitrary<Step> = fc.oneof(
      fc.record({
        _tag: fc.constant("call" as const),
        outcome: fc.constantFrom("ok" as const, "fail" as const, "ignored" as const, "defect" as const)
      }),
      fc.record({ _tag: fc.constant("wait" as const), millis: fc.integer({ min: 1, max: 15_000 }) })
    )

    const model = (trip: CircuitBreaker.Trip, probes: number) => {
      let status: CircuitBreaker.Status = "closed"
      let openUntil = 0
      let openings = 0
      let streak = 0
      let succeeded = 0
      let calls: Array<{ readonly at: number; readonly failed: boolean }> = []
      const openFor = () => Math.min(35_000, 10_000 * 2 ** (openings - 1))
      const open = (now: number) => {
        openings++
        status = "open"
        openUntil = now + openFor()
        streak = 0
        calls = []
      }
      return (now: number, outcome: "ok" | "fail" | "ignored" | "defect"): "admitted" | "rejected" => {
        if (status === "open") {
          if (now < openUntil) return "rejected"
          status = "half-open"
          succeeded = 0
        }
        const failed = outcome === "fail" || outcome === "defect"
        if (status === "half-open") {
          if (failed) open(now)
          else if (outcome === "ok" && ++succeeded >= probes) {
            status = "closed"
            openings = 0
            calls = []
          }
          return "admitted"
        }
        if (outcome === "ignored") return "admitted"
        if ("consecutiveFailures" in trip) {
          streak = failed ? streak + 1 : 0
          if (streak >= trip.consecutiveFailures) open(now)
        } else {
          // Buckets of one second over a ten-second window.
          const bucket = Math.floor(now / 1000)
          calls = calls.filter((c) => Math.floor(c.at / 1000) > bucket - 10)
          calls.push({ at: now, failed })
          const failures = calls.filter((c) => c.failed).length
          if (
            calls.length >= trip.minimumCalls &&
            failures > 0 &&
            failures >= trip.failureRate * calls.length
          ) {
            open(now)
          }
        }
        return "admitted"
      }
    }

    const trips: fc.Arbitrary<CircuitBreaker.Trip> = fc.oneof(
      fc.record({ consecutiveFailures: fc.integer({ min: 1, max: 4 }) }),
      fc.record({
        failureRate: fc.constantFrom(0.25, 0.5, 1),
        window: fc.constant("10 seconds"),
        minimumCalls: fc.integer({ min: 1, max: 6 }),
        buckets: fc.constant(10)
      })
    )

    it.effect("agrees with the model on every admission and state", () =>
      Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(
            trips,
            fc.integer({ min: 1, max: 3 }),
            fc.array(step, { maxLength: 60 }),
            (trip, probes, steps) =>
              Effect.runPromise(
                Effect.gen(function* () {
                  const breaker = yield* CircuitBreaker.make<Boom>({
                    name: "model",
                    trip,
                    halfOpen: { probes },
                    openFor: { initial: "10 seconds", max: "35 seconds", factor: 2 },
                    isFailure: (error) => error.status >= 500
                  })
                  const reference = model(trip, probes)
                  let now = 0
                  for (const s of steps) {
                    if (s._tag === "wait") {
                      now += s.millis
                      yield* TestClock.adjust(s.millis)
                      continue
                    }
                    const effect =
                      s.outcome === "ok"
                        ? ok
                        : s.outcome === "fail"
                          ? boom(500)
                          : s.outcome === "ignored"
                            ? boom(404)
                            : Effect.die("defect")
                    const exit = yield* run(breaker, effect)
                    assert.strictEqual(isRejected(exit) ? "rejected" : "admitted", reference(now, s.outcome))
                  }
                }).pipe(Effect.scoped, Effect.provide(TestClock.layer()))
              )
          ),
          { numRuns: 300 }
        )
      )
    )
  })
})
