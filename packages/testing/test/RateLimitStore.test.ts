import { assert, describe, it } from "@effect/vitest"
import { RateLimiter } from "@org/core"
import { RateLimitStoreLaws } from "@org/testing"
import { Clock, Duration, Effect, Exit } from "effect"
import { TestClock } from "effect/testing"

const fixture = (store: RateLimiter.RateLimitStore["Service"]): RateLimitStoreLaws.Fixture => ({
  store,
  advance: TestClock.adjust,
  slackMillis: 0,
  delayMillis: 0
})

const fresh = Effect.map(RateLimiter.makeMemory, fixture)

describe("RateLimiter.layerMemory obeys the RateLimitStore laws", () => {
  for (const [name, law] of Object.entries({
    ...RateLimitStoreLaws.laws,
    ...RateLimitStoreLaws.testClockLaws
  })) {
    it.effect(name, () => law(fresh, { runs: 300 }))
  }
})

// ---------------------------------------------------------------------------
// Broken stores, each wrong in one way a real implementation could be
// ---------------------------------------------------------------------------

interface Flaws {
  /** A counter per fixed interval (floor(now / window)) instead of a log. */
  readonly fixedWindow?: boolean
  /** Refused requests are recorded too. */
  readonly countRefused?: boolean
  /** retryAfter one millisecond short. */
  readonly retryEarly?: boolean
  /** The window is closed at its far end: a request exactly `window` ago still counts. */
  readonly closedWindow?: boolean
  /** One log per key, whatever the policy. */
  readonly ignorePolicy?: boolean
  /** Reads the count, yields, then records: concurrent takes overshoot. */
  readonly notAtomic?: boolean
}

const broken = (flaws: Flaws): Effect.Effect<RateLimiter.RateLimitStore["Service"]> =>
  Effect.sync(() => {
    const logs = new Map<string, Array<number>>()
    const idOf = (key: string, limit: number, window: number) =>
      flaws.ignorePolicy === true ? key : `${limit}/${window}:${key}`
    const decide = (key: string, limit: number, window: number, now: number, record: boolean) => {
      const id = idOf(key, limit, window)
      const bucket = flaws.fixedWindow === true ? Math.floor(now / window) * window : now - window
      const log = (logs.get(id) ?? []).filter((t) =>
        flaws.closedWindow === true ? t >= bucket : flaws.fixedWindow === true ? t >= bucket : t > bucket
      )
      logs.set(id, log)
      const count = log.length
      const allowed = count < limit
      if (record && (allowed || flaws.countRefused === true)) log.push(now)
      const oldest = log[0] ?? now
      const retry =
        flaws.fixedWindow === true ? bucket + window - now : (log[count - limit] ?? now) + window - now
      return {
        allowed,
        limit,
        remaining: allowed ? limit - count - 1 : 0,
        resetAfter: Duration.millis(
          flaws.fixedWindow === true ? bucket + window - now : oldest + window - now
        ),
        retryAfter: Duration.millis(allowed ? 0 : retry - (flaws.retryEarly === true ? 1 : 0))
      }
    }
    return RateLimiter.RateLimitStore.of({
      take: (key, policy) =>
        Effect.gen(function* () {
          const window = Duration.toMillis(policy.window)
          const now = yield* Clock.currentTimeMillis
          if (flaws.notAtomic !== true) return decide(key, policy.limit, window, now, true)
          const peek = decide(key, policy.limit, window, now, false)
          yield* Effect.yieldNow
          // Records on the strength of a count that may be stale by now.
          if (peek.allowed) logs.get(idOf(key, policy.limit, window))?.push(now)
          return peek
        })
    })
  })

const mutants: Record<string, Flaws> = {
  "it counts per fixed interval, not per sliding window": { fixedWindow: true },
  "it counts refused requests": { countRefused: true },
  "its retryAfter is 1 ms early": { retryEarly: true },
  "a request exactly one window old still counts": { closedWindow: true },
  "two policies on one key share a log": { ignorePolicy: true },
  "a decision is not atomic": { notAtomic: true }
}

describe("the RateLimitStore laws catch broken stores", () => {
  it.effect("the mutant without flaws passes every law (so the mutants test the laws, not the harness)", () =>
    Effect.gen(function* () {
      const sound = Effect.map(broken({}), fixture)
      for (const law of Object.values({ ...RateLimitStoreLaws.laws, ...RateLimitStoreLaws.testClockLaws })) {
        yield* law(sound, { runs: 100 })
      }
    })
  )
  for (const [name, flaws] of Object.entries(mutants)) {
    const store = Effect.map(broken(flaws), fixture)
    it.effect(`the model-based law rejects a store where ${name}`, () =>
      Effect.gen(function* () {
        const exit = yield* Effect.exit(RateLimitStoreLaws.modelBased(store, { runs: 300 }))
        assert.isTrue(Exit.isFailure(exit), "the model-based law passed a broken store")
      })
    )
    it.effect(`some example law rejects a store where ${name}`, () =>
      Effect.gen(function* () {
        const exits = yield* Effect.forEach(
          [
            ...Object.values(RateLimitStoreLaws.laws),
            RateLimitStoreLaws.testClockLaws[
              "Retry-After in whole seconds: refused a second before ceil(retryAfter), allowed at it"
            ]!
          ],
          (law) => Effect.exit(law(store))
        )
        assert.isTrue(exits.some(Exit.isFailure), "every example law passed a broken store")
      })
    )
  }
})
