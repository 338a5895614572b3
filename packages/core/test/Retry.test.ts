import { assert, describe, it } from "@effect/vitest"
import { Retry } from "@org/core"
import { Clock, Duration, Effect, Exit, Fiber, Option, Random, Schema } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"

class Boom extends Schema.TaggedError<Boom>()("Boom", {
  attempt: Schema.Int,
  retryable: Schema.Boolean,
  retryAfter: Schema.optionalKey(Schema.Union([Schema.Duration, Schema.Number]))
}) {}

const boom = (attempt: number) => new Boom({ attempt, retryable: true })

/**
 * Runs an always-failing call under a policy to the end (the TestClock jumps
 * a day ahead) and returns the start time of every attempt (relative to the
 * first) and the final error.
 */
const run = <E>(policy: Retry.Policy<E>, fail: (attempt: number) => E, work: Duration.Input = 0) =>
  Effect.gen(function* () {
    const start = yield* Clock.currentTimeMillis
    const times: Array<number> = []
    const call = Effect.flatMap(Clock.currentTimeMillis, (now) => {
      times.push(now - start)
      return Effect.andThen(Effect.sleep(work), Effect.fail(fail(times.length)))
    })
    const fiber = yield* Effect.forkChild(Retry.retry(call, policy))
    yield* TestClock.adjust("1 day")
    const error = yield* Effect.flip(Fiber.join(fiber))
    return { times, error }
  })

const gaps = (times: ReadonlyArray<number>) => times.slice(1).map((t, i) => t - times[i]!)

describe("Retry", () => {
  it.effect("without jitter, delays grow exponentially up to the cap", () =>
    Effect.gen(function* () {
      const policy = Retry.policy({ base: "100 millis", maxDelay: "1 second", jitter: false, maxAttempts: 7 })
      const { times, error } = yield* run(policy, boom)
      assert.deepStrictEqual(times, [0, 100, 300, 700, 1500, 2500, 3500])
      assert.deepStrictEqual(gaps(times), [100, 200, 400, 800, 1000, 1000])
      // The last error, not wrapped.
      assert.instanceOf(error, Boom)
      assert.strictEqual(error.attempt, 7)
    })
  )

  it.effect("a custom factor", () =>
    Effect.gen(function* () {
      const policy = Retry.policy({ base: 10, factor: 3, jitter: false, maxAttempts: 4 })
      const { times } = yield* run(policy, boom)
      assert.deepStrictEqual(gaps(times), [10, 30, 90])
    })
  )

  it.effect("jittered delays stay within [min, max] x nominal and never above the cap", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.integer(),
          fc.constantFrom<true | readonly [number, number]>(true, [0.5, 1], [0, 1.5], [1, 1.2]),
          (seed, jitter) =>
            Effect.runPromise(
              Effect.gen(function* () {
                const policy = Retry.policy({ base: 100, maxDelay: 1000, jitter, maxAttempts: 10 })
                const [lo, hi] = jitter === true ? [0.8, 1.2] : jitter
                const { times } = yield* run(policy, boom)
                const delays = gaps(times)
                assert.strictEqual(delays.length, 9)
                delays.forEach((delay, i) => {
                  const nominal = Math.min(100 * 2 ** i, 1000)
                  assert.isAtLeast(delay, lo * nominal - 1e-9)
                  assert.isAtMost(delay, Math.min(hi * nominal, 1000) + 1e-9)
                })
                // Jitter is applied, not just allowed.
                if (lo < hi) assert.isTrue(delays.some((delay, i) => delay !== Math.min(100 * 2 ** i, 1000)))
              }).pipe(Random.withSeed(seed), Effect.provide(TestClock.layer()))
            )
        ),
        { numRuns: 100 }
      )
    )
  )

  it.effect("the default jitter is [0.8, 1.2]", () =>
    Effect.sync(() => {
      assert.deepStrictEqual(Retry.policy({ base: 1 }).jitter, [0.8, 1.2])
      assert.strictEqual(Retry.policy({ base: 1, jitter: false }).jitter, undefined)
    })
  )

  it.effect("maxAttempts counts every attempt, the first included", () =>
    Effect.gen(function* () {
      for (const maxAttempts of [1, 2, 3, 6]) {
        const { times, error } = yield* run(Retry.policy({ base: 50, maxAttempts }), boom)
        assert.strictEqual(times.length, maxAttempts)
        assert.strictEqual(error.attempt, maxAttempts)
      }
      // The default is 3.
      const { times } = yield* run(Retry.policy({ base: 50 }), boom)
      assert.strictEqual(times.length, 3)
    })
  )

  it.effect("a success ends the retries with its value", () =>
    Effect.gen(function* () {
      let attempts = 0
      const call = Effect.suspend(() => (++attempts < 3 ? Effect.fail(boom(attempts)) : Effect.succeed("ok")))
      const fiber = yield* Effect.forkChild(call.pipe(Retry.with(Retry.policy({ base: 10, maxAttempts: 5 }))))
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(yield* Fiber.join(fiber), "ok")
      assert.strictEqual(attempts, 3)
    })
  )

  it.effect("maxElapsed gives up when the next attempt would start after it", () =>
    Effect.gen(function* () {
      // Attempts at 0, 100, 300, 700; the next would be at 1500.
      const at = (maxElapsed: Duration.Input) =>
        run(Retry.policy({ base: 100, jitter: false, maxAttempts: Infinity, maxElapsed }), boom)
      assert.deepStrictEqual((yield* at(1499)).times, [0, 100, 300, 700])
      assert.deepStrictEqual((yield* at(1500)).times, [0, 100, 300, 700, 1500])
      assert.deepStrictEqual((yield* at(700)).times, [0, 100, 300, 700])
      assert.deepStrictEqual((yield* at(699)).times, [0, 100, 300])
      assert.deepStrictEqual((yield* at(0)).times, [0])
    })
  )

  it.effect("maxElapsed counts from the start of the first attempt, time spent working included", () =>
    Effect.gen(function* () {
      // Each attempt works 50 ms: attempts start at 0, 150, 400, 850.
      const policy = Retry.policy({ base: 100, jitter: false, maxAttempts: Infinity, maxElapsed: 1000 })
      const { times, error } = yield* run(policy, boom, 50)
      assert.deepStrictEqual(times, [0, 150, 400, 850])
      assert.strictEqual(error.attempt, 4)
    })
  )

  it.effect("errors the predicate rejects fail at once, after one attempt", () =>
    Effect.gen(function* () {
      const policy = Retry.policy({ base: 100, maxAttempts: 5, while: (error: Boom) => error.retryable })
      const fatal = yield* run(policy, (attempt) => new Boom({ attempt, retryable: false }))
      assert.deepStrictEqual(fatal.times, [0])
      assert.strictEqual(fatal.error.attempt, 1)
      // Retryable twice, then not: three attempts, failing with the third error.
      const mixed = yield* run(policy, (attempt) => new Boom({ attempt, retryable: attempt < 3 }))
      assert.strictEqual(mixed.times.length, 3)
      assert.strictEqual(mixed.error.attempt, 3)
      assert.isFalse(mixed.error.retryable)
    })
  )

  it.effect("a retryAfter hint is honoured, even above maxDelay", () =>
    Effect.gen(function* () {
      const policy = Retry.policy({ base: 100, maxDelay: 1000, maxAttempts: 3 })
      const duration = yield* run(
        policy,
        (attempt) => new Boom({ attempt, retryable: true, retryAfter: Duration.seconds(5) })
      )
      assert.deepStrictEqual(duration.times, [0, 5000, 10000])
      // Millis work too; a hint below the backoff does not shorten it.
      const millis = yield* run(
        Retry.policy({ base: 100, jitter: false, maxAttempts: 3 }),
        (attempt) => new Boom({ attempt, retryable: true, retryAfter: attempt === 1 ? 2500 : 10 })
      )
      assert.deepStrictEqual(millis.times, [0, 2500, 2700])
    })
  )

  it.effect("a hint that would pass maxElapsed gives up at once", () =>
    Effect.gen(function* () {
      const policy = Retry.policy({ base: 100, maxAttempts: 5, maxElapsed: "10 seconds" })
      const { times } = yield* run(
        policy,
        (attempt) => new Boom({ attempt, retryable: true, retryAfter: Duration.seconds(30) })
      )
      assert.deepStrictEqual(times, [0])
      const infinite = yield* run(
        Retry.policy({ base: 100, maxAttempts: 5 }),
        (attempt) => new Boom({ attempt, retryable: true, retryAfter: Duration.infinity })
      )
      assert.deepStrictEqual(infinite.times, [0])
    })
  )

  it.effect("retryAfter reads Durations and millis, and ignores anything else", () =>
    Effect.sync(() => {
      assert.deepStrictEqual(
        Retry.retryAfter({ retryAfter: Duration.seconds(2) }),
        Option.some(Duration.seconds(2))
      )
      assert.deepStrictEqual(Retry.retryAfter({ retryAfter: 1500 }), Option.some(Duration.millis(1500)))
      assert.deepStrictEqual(Retry.retryAfter({ retryAfter: -5 }), Option.some(Duration.zero))
      assert.isTrue(Option.isNone(Retry.retryAfter({ retryAfter: "120" })))
      assert.isTrue(Option.isNone(Retry.retryAfter({ retryAfter: Number.NaN })))
      assert.isTrue(Option.isNone(Retry.retryAfter({ retryAfter: undefined })))
      assert.isTrue(Option.isNone(Retry.retryAfter(new Error("no hint"))))
      assert.isTrue(Retry.isRetryAfter({ retryAfter: 1 }))
      assert.isFalse(Retry.isRetryAfter(null))
    })
  )

  it.effect("interruption during a wait stops the retries", () =>
    Effect.gen(function* () {
      let attempts = 0
      const call = Effect.suspend(() => Effect.fail(boom(++attempts)))
      const fiber = yield* Effect.forkChild(
        Retry.retry(call, Retry.policy({ base: "1 second", maxAttempts: 5 }))
      )
      yield* TestClock.adjust("10 millis")
      assert.strictEqual(attempts, 1)
      yield* Fiber.interrupt(fiber)
      yield* TestClock.adjust("1 hour")
      assert.strictEqual(attempts, 1)
      const exit = fiber.pollUnsafe()
      assert.isTrue(exit !== undefined && Exit.hasInterrupts(exit))
    })
  )

  it.effect("the schedule is exposed and works with Effect.retry", () =>
    Effect.gen(function* () {
      let attempts = 0
      const call = Effect.suspend(() => Effect.fail(boom(++attempts)))
      const policy = Retry.policy({ base: 10, jitter: false, maxAttempts: 4 })
      const fiber = yield* Effect.forkChild(Effect.retry(call, policy.schedule))
      yield* TestClock.adjust("1 minute")
      const error = yield* Effect.flip(Fiber.join(fiber))
      assert.strictEqual(error.attempt, 4)
      assert.strictEqual(attempts, 4)
    })
  )

  it.effect("rejects settings that make no sense", () =>
    Effect.sync(() => {
      assert.throws(() => Retry.policy({ base: -1 }), RangeError)
      assert.throws(() => Retry.policy({ base: 1, factor: 0.5 }), RangeError)
      assert.throws(() => Retry.policy({ base: 1, maxAttempts: 0 }), RangeError)
      assert.throws(() => Retry.policy({ base: 1, maxAttempts: 1.5 }), RangeError)
      assert.throws(() => Retry.policy({ base: 1, jitter: [1.2, 0.8] }), RangeError)
      assert.throws(() => Retry.policy({ base: 1, jitter: [-0.1, 1] }), RangeError)
      assert.throws(() => Retry.policy({ base: 1, maxElapsed: -1 }), RangeError)
    })
  )
})
