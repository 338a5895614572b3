import { assert, describe, it } from "@effect/vitest"
import { AppConfig, RateLimiter } from "@org/core"
import { ConfigProvider, Duration, Effect, Exit, Schema } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"

const decode = Schema.decodeUnknownEffect(RateLimiter.PolicyFromString)
const encode = Schema.encodeSync(RateLimiter.PolicyFromString)

const policy = (limit: number, window: Duration.Input): RateLimiter.Policy => ({
  limit,
  window: Duration.fromInputUnsafe(window)
})

const same = (actual: RateLimiter.Policy, expected: RateLimiter.Policy) => {
  assert.strictEqual(actual.limit, expected.limit)
  assert.strictEqual(Duration.toMillis(actual.window), Duration.toMillis(expected.window))
}

describe("PolicyFromString", () => {
  it.effect("reads N/unit and N/<duration>, case and blanks aside", () =>
    Effect.gen(function* () {
      const cases: ReadonlyArray<readonly [string, RateLimiter.Policy]> = [
        ["100/minute", policy(100, "1 minute")],
        ["10/second", policy(10, "1 second")],
        ["1000/hour", policy(1000, "1 hour")],
        ["5000/day", policy(5000, "1 day")],
        ["3/week", policy(3, "7 days")],
        ["20/30 seconds", policy(20, "30 seconds")],
        ["50/1500 millis", policy(50, "1500 millis")],
        ["2/1.5 seconds", policy(2, "1500 millis")],
        [" 7 / Minute ", policy(7, "1 minute")],
        ["1/1 millis", policy(1, "1 millis")]
      ]
      for (const [text, expected] of cases) same(yield* decode(text), expected)
    })
  )

  it.effect("refuses anything else with a message naming the expected form", () =>
    Effect.gen(function* () {
      const bad = [
        "",
        "100",
        "minute",
        "100/",
        "/minute",
        "0/minute",
        "-1/minute",
        "1.5/minute",
        "1e3/minute",
        "100/fortnight",
        "100/minutes",
        "100/0 seconds",
        "100/-1 seconds",
        "100/0.5 millis",
        "100/Infinity",
        "100/minute/2",
        "99999999999999999999/minute"
      ]
      for (const text of bad) {
        const exit = yield* Effect.exit(decode(text))
        assert.isTrue(Exit.isFailure(exit), `${JSON.stringify(text)} was accepted`)
        const error = yield* Effect.flip(decode(text))
        assert.include(error.message, "such as 100/minute, 10/second", `message for ${JSON.stringify(text)}`)
        assert.include(error.message, JSON.stringify(text), `message for ${JSON.stringify(text)}`)
      }
    })
  )

  it.effect("encodes in the largest unit that divides the window, and round-trips", () =>
    Effect.gen(function* () {
      assert.strictEqual(encode(policy(100, "1 minute")), "100/minute")
      assert.strictEqual(encode(policy(20, "30 seconds")), "20/30 seconds")
      assert.strictEqual(encode(policy(5, "2 days")), "5/2 days")
      assert.strictEqual(encode(policy(3, "1500 millis")), "3/1500 millis")
      const arbitrary = fc.record({
        limit: fc.integer({ min: 1, max: 1_000_000 }),
        millis: fc.oneof(
          fc.integer({ min: 1, max: 10_000 }),
          fc.integer({ min: 1, max: 30 }).map((n) => n * 60_000)
        )
      })
      for (const { limit, millis } of fc.sample(arbitrary, { numRuns: 500, seed: 11 })) {
        const original = policy(limit, Duration.millis(millis))
        same(yield* decode(encode(original)), original)
      }
    })
  )

  it.effect("refuses to encode a policy no store can enforce", () =>
    Effect.gen(function* () {
      for (const invalid of [policy(0, "1 minute"), policy(1.5, "1 minute"), policy(1, "0.5 millis")]) {
        const exit = yield* Effect.exit(Schema.encodeEffect(RateLimiter.PolicyFromString)(invalid))
        assert.isTrue(Exit.isFailure(exit), `${JSON.stringify(invalid)} was encoded`)
      }
    })
  )
})

describe("policyConfig", () => {
  const read = (env: Record<string, string>, defaultValue = "5/minute") =>
    RateLimiter.policyConfig("RATE_LIMIT_LOGIN", defaultValue)
      .parse(ConfigProvider.fromEnv({ env }))
      .pipe(Effect.mapError(AppConfig.fromConfigError))

  it.effect("reads the variable, and the default when it is unset", () =>
    Effect.gen(function* () {
      same(yield* read({ RATE_LIMIT_LOGIN: "10/30 seconds" }), policy(10, "30 seconds"))
      same(yield* read({}), policy(5, "1 minute"))
    })
  )

  it.effect("a malformed value, or default, is one line naming the variable and the form", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(read({ RATE_LIMIT_LOGIN: "ten per minute" }))
      assert.strictEqual(error.variable, "RATE_LIMIT_LOGIN")
      assert.include(error.message, "such as 100/minute")
      assert.include(error.message, '"ten per minute"')
      const badDefault = yield* Effect.flip(read({}, "5 per minute"))
      assert.strictEqual(badDefault.variable, "RATE_LIMIT_LOGIN")
      assert.include(badDefault.message, '"5 per minute"')
    })
  )
})

describe("RateLimiter.makeMemory", () => {
  it.effect("keeps at most limit timestamps per key, however many requests", () =>
    Effect.gen(function* () {
      const store = yield* RateLimiter.makeMemory
      const p = policy(100, "1 minute")
      for (let i = 0; i < 1_000; i++) {
        yield* store.take("hot", p)
        if (i % 10 === 0) yield* TestClock.adjust("1 second")
      }
      const { keys, timestamps } = yield* store.size
      assert.strictEqual(keys, 1)
      assert.isAtMost(timestamps, 100)
    })
  )

  it.effect("drops idle keys while traffic flows, and keeps live ones", () =>
    Effect.gen(function* () {
      const store = yield* RateLimiter.makeMemory
      const p = policy(5, "1 minute")
      for (let i = 0; i < 10_000; i++) yield* store.take(`client-${i}`, p)
      assert.strictEqual((yield* store.size).keys, 10_000)
      yield* TestClock.adjust("1 minute")
      // One client keeps coming; every take also sweeps two other keys.
      for (let i = 0; i < 5_000; i++) yield* store.take("client-0", p)
      const { keys, timestamps } = yield* store.size
      assert.strictEqual(keys, 1, "stale keys should all be gone after 5000 takes")
      assert.strictEqual(timestamps, 5)
      const decision = yield* store.take("client-0", p)
      assert.isFalse(decision.allowed, "the live key's log was swept")
    })
  )

  it.effect("a key whose requests all left the window starts afresh", () =>
    Effect.gen(function* () {
      const store = yield* RateLimiter.makeMemory
      const p = policy(2, "10 seconds")
      yield* store.take("k", p)
      yield* store.take("k", p)
      assert.isFalse((yield* store.take("k", p)).allowed)
      yield* TestClock.adjust("10 seconds")
      const decision = yield* store.take("k", p)
      assert.isTrue(decision.allowed)
      assert.strictEqual(decision.remaining, 1)
      assert.strictEqual(Duration.toMillis(decision.resetAfter), 10_000)
    })
  )

  it.effect("a clock that steps back does not unsort the log or admit more than the limit", () =>
    Effect.gen(function* () {
      const store = yield* RateLimiter.makeMemory
      const p = policy(3, "10 seconds")
      yield* TestClock.setTime(1_000_000)
      yield* store.take("k", p)
      yield* TestClock.setTime(995_000)
      yield* store.take("k", p)
      yield* store.take("k", p)
      const refused = yield* store.take("k", p)
      assert.isFalse(refused.allowed)
      // Recorded at the newest time seen (1_000_000), so the first leaves at 1_010_000.
      assert.strictEqual(Duration.toMillis(refused.retryAfter), 15_000)
      yield* TestClock.setTime(1_010_000)
      const later = yield* store.take("k", p)
      assert.isTrue(later.allowed)
      assert.strictEqual(later.remaining, 2)
    })
  )

  it.effect("a policy no store can enforce is a defect, not a decision", () =>
    Effect.gen(function* () {
      const store = yield* RateLimiter.makeMemory
      for (const invalid of [
        policy(0, "1 minute"),
        policy(2, "0 millis"),
        policy(2, "Infinity"),
        policy(Number.NaN, "1 second")
      ]) {
        const exit = yield* Effect.exit(store.take("k", invalid))
        assert.isTrue(
          Exit.hasDies(exit),
          `${invalid.limit} per ${Duration.format(invalid.window)} gave ${JSON.stringify(exit)}`
        )
      }
    })
  )

  it.effect("layerMemory provides a fresh store", () =>
    Effect.gen(function* () {
      const store = yield* RateLimiter.RateLimitStore
      const decision = yield* store.take("k", policy(1, "1 second"))
      assert.isTrue(decision.allowed)
      assert.strictEqual(decision.remaining, 0)
      assert.isFalse((yield* store.take("k", policy(1, "1 second"))).allowed)
    }).pipe(Effect.provide(RateLimiter.layerMemory))
  )
})
