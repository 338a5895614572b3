/**
 * The laws of a `RateLimitStore` (ADR 0009): a sliding log, exact. Of a
 * concurrent burst exactly `limit` pass; keys and policies never share a
 * log; a refused request is not counted; `retryAfter` is exact (a request
 * just before it is refused, one at it is allowed); the limit holds in
 * every window, not per fixed interval.
 *
 * Each law is an effect that fails (as a defect with a message) when the
 * implementation breaks it. `laws` hold for any store: time moves through
 * the fixture's `advance` (`TestClock.adjust`, or a real sleep for a store
 * on a server's clock), so windows are a second or two. `testClockLaws`
 * need a store on the `Clock` under `TestClock`: whole-second Retry-After
 * as HTTP sends it, and a model-based property over random arrival times.
 *
 * @since 0.2.0
 */
import type { RateLimiter } from "@org/core"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as fc from "fast-check"

/**
 * An empty store (or an unused namespace of a shared one) and a way to let
 * time pass.
 *
 * @since 0.2.0
 * @category models
 */
export interface Fixture {
  readonly store: RateLimiter.RateLimitStore["Service"]
  /** Lets `millis` pass for the store: `TestClock.adjust`, or a real sleep. */
  readonly advance: (millis: number) => Effect.Effect<void>
  /**
   * How far (ms) the store's clock may be from the `Clock` read around a
   * call: 0 for a store on the `Clock` under `TestClock`, a few for a
   * server's clock. Durations a store returns are checked within it.
   */
  readonly slackMillis: number
  /**
   * How late (ms) a call may reach the store after `advance` returns: 0
   * under `TestClock`; for real time, a bound on sleep overshoot plus a
   * round trip. A probe meant to land just before a boundary is made this
   * much before it (at least 1 ms).
   */
  readonly delayMillis: number
}

/**
 * Options of the model-based law (the other laws ignore them).
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /** Random arrival sequences to run (default 200). */
  readonly runs?: number
  readonly seed?: number
}

/**
 * A law: an effect over fresh fixtures.
 *
 * @since 0.2.0
 * @category models
 */
export type Law = <R>(
  fresh: Effect.Effect<Fixture, never, R>,
  options?: Options
) => Effect.Effect<void, unknown, R>

type Store = RateLimiter.RateLimitStore["Service"]

const fail = (message: string) => Effect.die(new Error(`RateLimitStore law broken: ${message}`))

const expect = (condition: boolean, message: string) => (condition ? Effect.void : fail(message))

const millis = (duration: Duration.Duration): number => Duration.toMillis(duration)

const policy = (limit: number, windowMillis: number): RateLimiter.Policy => ({
  limit,
  window: Duration.millis(windowMillis)
})

const show = (decision: RateLimiter.Decision): string =>
  JSON.stringify({
    allowed: decision.allowed,
    limit: decision.limit,
    remaining: decision.remaining,
    resetAfter: millis(decision.resetAfter),
    retryAfter: millis(decision.retryAfter)
  })

/** A take, with the `Clock` read just before and just after it. */
const timedTake = (store: Store, key: string, p: RateLimiter.Policy) =>
  Effect.gen(function* () {
    const before = yield* Clock.currentTimeMillis
    const decision = yield* store.take(key, p)
    const after = yield* Clock.currentTimeMillis
    return { decision, before, after }
  })

const expectAllowed = (decision: RateLimiter.Decision, remaining: number, what: string) =>
  expect(
    decision.allowed && decision.remaining === remaining && millis(decision.retryAfter) === 0,
    `${what}: expected allowed with ${remaining} remaining and no retryAfter, got ${show(decision)}`
  )

const expectRefused = (decision: RateLimiter.Decision, what: string) =>
  expect(
    !decision.allowed && decision.remaining === 0 && millis(decision.retryAfter) > 0,
    `${what}: expected refused with 0 remaining and a positive retryAfter, got ${show(decision)}`
  )

/** Lets time pass until the `Clock` reads at least `target`. */
const advanceTo = (advance: Fixture["advance"], target: number) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => (target > now ? advance(target - now) : Effect.void))

// ---------------------------------------------------------------------------
// The model (for the property)
// ---------------------------------------------------------------------------

interface Expected {
  readonly allowed: boolean
  readonly remaining: number
  readonly resetAfter: number
  readonly retryAfter: number
}

/** The contract, written as plainly as possible: the allowed times of one log, oldest first. */
const modelTake = (allowedTimes: Array<number>, limit: number, window: number, now: number): Expected => {
  const inWindow = allowedTimes.filter((t) => t > now - window)
  if (inWindow.length < limit) {
    allowedTimes.push(now)
    const oldest = inWindow.length === 0 ? now : inWindow[0]!
    return {
      allowed: true,
      remaining: limit - inWindow.length - 1,
      resetAfter: oldest + window - now,
      retryAfter: 0
    }
  }
  const mustLeave = inWindow[inWindow.length - limit]!
  return {
    allowed: false,
    remaining: 0,
    resetAfter: inWindow[0]! + window - now,
    retryAfter: mustLeave + window - now
  }
}

type Arrival =
  | { readonly _tag: "Take"; readonly gap: number; readonly key: number; readonly policy: number }
  | {
      readonly _tag: "Burst"
      readonly gap: number
      readonly key: number
      readonly policy: number
      readonly size: number
    }

interface Scenario {
  readonly policies: ReadonlyArray<{ readonly limit: number; readonly window: number }>
  readonly arrivals: ReadonlyArray<Arrival>
}

const keys = ["a", "b"] as const

const scenario: fc.Arbitrary<Scenario> = fc
  .array(fc.record({ limit: fc.integer({ min: 1, max: 5 }), window: fc.integer({ min: 1, max: 2_000 }) }), {
    minLength: 2,
    maxLength: 2
  })
  .chain((policies) => {
    const longest = Math.max(...policies.map((p) => p.window))
    // Gaps cluster at 0 (same millisecond) and around the windows (boundaries).
    const gap = fc.oneof(
      { weight: 3, arbitrary: fc.constant(0) },
      { weight: 4, arbitrary: fc.integer({ min: 1, max: Math.ceil(longest / 4) }) },
      {
        weight: 2,
        arbitrary: fc
          .tuple(fc.constantFrom(...policies.map((p) => p.window)), fc.integer({ min: -2, max: 2 }))
          .map(([window, delta]) => Math.max(0, window + delta))
      },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 2 * longest }) }
    )
    const target = { key: fc.nat(keys.length - 1), policy: fc.nat(policies.length - 1) }
    const arrival: fc.Arbitrary<Arrival> = fc.oneof(
      { weight: 5, arbitrary: fc.record({ gap, ...target }).map((a) => ({ _tag: "Take" as const, ...a })) },
      {
        weight: 1,
        arbitrary: fc
          .record({ gap, ...target, size: fc.integer({ min: 2, max: 8 }) })
          .map((a) => ({ _tag: "Burst" as const, ...a }))
      }
    )
    return fc.record({
      policies: fc.constant(policies),
      arrivals: fc.array(arrival, { minLength: 1, maxLength: 60 })
    })
  })

/** The windows of every log: at most `limit` allowed in any window, and every refusal had `limit` in its window. */
const checkWindows = (
  history: ReadonlyArray<{
    readonly id: string
    readonly at: number
    readonly allowed: boolean
    readonly limit: number
    readonly window: number
  }>
) =>
  Effect.gen(function* () {
    for (const event of history) {
      const inWindow = history.filter(
        (other) =>
          other.id === event.id && other.allowed && other.at > event.at - event.window && other.at <= event.at
      ).length
      if (event.allowed && inWindow > event.limit) {
        return yield* fail(
          `${inWindow} requests allowed in the window ending at ${event.at} of ${event.id} (limit ${event.limit})`
        )
      }
      if (!event.allowed && inWindow !== event.limit) {
        return yield* fail(
          `a request of ${event.id} was refused at ${event.at} with only ${inWindow} allowed in its window (limit ${event.limit})`
        )
      }
    }
  })

const runScenario = (fixture: Fixture, { policies, arrivals }: Scenario) =>
  Effect.gen(function* () {
    const { store, advance } = fixture
    // Logs are per key and per (limit, window): two equal policies share one.
    const logs = new Map<string, Array<number>>()
    const history: Array<{ id: string; at: number; allowed: boolean; limit: number; window: number }> = []
    const start = yield* Clock.currentTimeMillis
    for (const [step, arrival] of arrivals.entries()) {
      if (arrival.gap > 0) yield* advance(arrival.gap)
      const now = yield* Clock.currentTimeMillis
      const { limit, window } = policies[arrival.policy]!
      const key = keys[arrival.key]!
      const id = `${key} ${limit}/${window}ms`
      const log = logs.get(id) ?? []
      logs.set(id, log)
      const where = `step ${step} (${id} at +${now - start} ms)`
      if (arrival._tag === "Take") {
        const actual = yield* store.take(key, policy(limit, window))
        const expected = modelTake(log, limit, window, now)
        history.push({ id, at: now, allowed: actual.allowed, limit, window })
        const same =
          actual.allowed === expected.allowed &&
          actual.limit === limit &&
          actual.remaining === expected.remaining &&
          millis(actual.resetAfter) === expected.resetAfter &&
          millis(actual.retryAfter) === expected.retryAfter
        if (!same) {
          return yield* fail(`${where}: got ${show(actual)}, the model says ${JSON.stringify(expected)}`)
        }
      } else {
        const decisions = yield* Effect.all(
          Array.from({ length: arrival.size }, () => store.take(key, policy(limit, window))),
          { concurrency: "unbounded" }
        )
        const expected = Array.from({ length: arrival.size }, () => modelTake(log, limit, window, now))
        for (const d of decisions) history.push({ id, at: now, allowed: d.allowed, limit, window })
        const passed = decisions.filter((d) => d.allowed).length
        const shouldPass = expected.filter((e) => e.allowed).length
        const remaining = decisions.map((d) => d.remaining).sort()
        const expectedRemaining = expected.map((e) => e.remaining).sort()
        if (passed !== shouldPass || remaining.join() !== expectedRemaining.join()) {
          return yield* fail(
            `${where}: a burst of ${arrival.size} let ${passed} pass (remaining ${remaining.join()}), ` +
              `the model says ${shouldPass} (remaining ${expectedRemaining.join()})`
          )
        }
      }
    }
    yield* checkWindows(history)
  })

// ---------------------------------------------------------------------------
// The laws
// ---------------------------------------------------------------------------

/**
 * The model-based law alone: `runs` random scenarios (two keys, two random
 * policies, arrivals at random gaps clustered at 0 ms and at the windows'
 * edges, some as concurrent bursts), each on a store from `fresh`, every
 * decision compared exactly with a plain sliding-log model; then every
 * window is checked: at most `limit` allowed in it, and a refused request
 * had exactly `limit` allowed in its window (exact, not merely safe). Needs
 * a store on the `Clock` under `TestClock`; it is also in `testClockLaws`.
 *
 * @example
 * ```ts
 * import { it } from "@effect/vitest"
 * import { RateLimiter } from "@org/core"
 * import { RateLimitStoreLaws } from "@org/testing"
 * import { Effect } from "effect"
 * import { TestClock } from "effect/testing"
 *
 * const fresh = Effect.map(RateLimiter.makeMemory, (store) => ({
 *   store,
 *   advance: TestClock.adjust,
 *   slackMillis: 0,
 *   delayMillis: 0
 * }))
 * it.effect("agrees with the model", () => RateLimitStoreLaws.modelBased(fresh, { runs: 500 }))
 * ```
 *
 * @since 0.2.0
 * @category laws
 */
export const modelBased = <R>(
  fresh: Effect.Effect<Fixture, never, R>,
  options?: Options
): Effect.Effect<void, never, R> =>
  Effect.gen(function* () {
    const context = yield* Effect.context<R>()
    const run = (s: Scenario) =>
      Effect.runPromiseWith(context)(Effect.flatMap(fresh, (fixture) => runScenario(fixture, s)))
    yield* Effect.promise(() =>
      fc.assert(fc.asyncProperty(scenario, run), {
        numRuns: options?.runs ?? 200,
        ...(options?.seed === undefined ? {} : { seed: options.seed })
      })
    )
  })

/**
 * The laws every store obeys, whatever its clock, by name.
 *
 * @example
 * ```ts
 * import { it } from "@effect/vitest"
 * import { RateLimiter } from "@org/core"
 * import { RateLimitStoreLaws } from "@org/testing"
 * import { Effect } from "effect"
 * import { TestClock } from "effect/testing"
 *
 * const fresh = Effect.map(RateLimiter.makeMemory, (store) => ({
 *   store,
 *   advance: TestClock.adjust,
 *   slackMillis: 0,
 *   delayMillis: 0
 * }))
 * for (const [name, law] of Object.entries(RateLimitStoreLaws.laws)) it.effect(name, () => law(fresh))
 * ```
 *
 * @since 0.2.0
 * @category laws
 */
export const laws: Record<string, Law> = {
  "the first requests are allowed, counting down, with the window ahead; then refused": (fresh) =>
    Effect.gen(function* () {
      const { store } = yield* fresh
      const p = policy(3, 60_000)
      for (let i = 0; i < 3; i++) {
        const decision = yield* store.take("client", p)
        yield* expectAllowed(decision, 2 - i, `request ${i + 1} of 3`)
        yield* expect(decision.limit === 3, `limit is ${decision.limit}, expected 3`)
        const reset = millis(decision.resetAfter)
        // The oldest request was made a moment ago, on the store's clock.
        yield* expect(
          reset <= 60_000 && reset > 60_000 - 1_000,
          `request ${i + 1}: resetAfter is ${reset} ms, expected the window (60000 ms) less the time since the first`
        )
      }
      const refused = yield* store.take("client", p)
      yield* expectRefused(refused, "request 4 of 3")
      yield* expect(
        millis(refused.resetAfter) === millis(refused.retryAfter) && millis(refused.retryAfter) <= 60_000,
        `a refusal's resetAfter and retryAfter differ, or exceed the window: ${show(refused)}`
      )
      const again = yield* store.take("client", p)
      yield* expectRefused(again, "request 5 of 3")
      yield* expect(
        millis(again.retryAfter) <= millis(refused.retryAfter),
        `retryAfter grew from ${millis(refused.retryAfter)} to ${millis(again.retryAfter)} ms between refusals`
      )
    }),

  "exactly limit requests of a concurrent burst of 3 x limit pass": (fresh) =>
    Effect.gen(function* () {
      const { store } = yield* fresh
      const limit = 10
      const p = policy(limit, 60_000)
      const decisions = yield* Effect.all(
        Array.from({ length: 3 * limit }, () => store.take("burst", p)),
        { concurrency: "unbounded" }
      )
      const passed = decisions.filter((d) => d.allowed)
      yield* expect(passed.length === limit, `${passed.length} of ${3 * limit} passed, limit ${limit}`)
      const remaining = passed.map((d) => d.remaining).sort((a, b) => a - b)
      yield* expect(
        remaining.every((r, i) => r === i),
        `the allowed requests' remaining are ${remaining.join()}, expected each of 0..${limit - 1} once`
      )
      for (const d of decisions.filter((d) => !d.allowed)) {
        yield* expectRefused(d, "a request over the limit")
        yield* expect(millis(d.retryAfter) <= 60_000, `retryAfter longer than the window: ${show(d)}`)
      }
      yield* expectRefused(yield* store.take("burst", p), "a request after the burst")
    }),

  "keys and policies never share a log": (fresh) =>
    Effect.gen(function* () {
      const { store } = yield* fresh
      const p = policy(2, 60_000)
      // Keys that could collide with a naive "<limit>:<window>:<key>" encoding, and odd strings.
      const others = ["k2", "", "K", "k ", "2:60000:k", "2/60000:k", "k:2", "é ✓ 😀", "*", "x".repeat(1_000)]
      yield* store.take("k", p)
      yield* store.take("k", p)
      yield* expectRefused(yield* store.take("k", p), "key k after its limit")
      for (const key of others) {
        yield* expectAllowed(yield* store.take(key, p), 1, `key ${JSON.stringify(key)} after k was used up`)
      }
      const policies: ReadonlyArray<readonly [RateLimiter.Policy, string]> = [
        [policy(2, 30_000), "the same limit in another window"],
        [policy(3, 60_000), "another limit in the same window"],
        [policy(1, 60_000), "a smaller limit in the same window"]
      ]
      for (const [other, what] of policies) {
        yield* expectAllowed(
          yield* store.take("k", other),
          other.limit - 1,
          `key k under ${what} after k was used up under 2 per minute`
        )
      }
      yield* expectRefused(yield* store.take("k", p), "key k under its own policy, after the others")
      yield* expectAllowed(yield* store.take("k2", p), 0, "key k2, once used before")
    }),

  "a refused request is not counted": (fresh) =>
    Effect.gen(function* () {
      const fixture = yield* fresh
      const { store, slackMillis } = fixture
      const p = policy(2, 1_000)
      const first = yield* timedTake(store, "k", p)
      yield* expectAllowed(first.decision, 1, "the first request")
      yield* fixture.advance(300)
      yield* expectAllowed(yield* store.take("k", p), 0, "the second request")
      for (let i = 0; i < 5; i++) yield* expectRefused(yield* store.take("k", p), `refused request ${i + 1}`)
      // The first leaves; the second and the refused ones (if they counted) are still in the window.
      yield* advanceTo(fixture.advance, first.after + 1_000 + slackMillis)
      yield* expectAllowed(
        yield* store.take("k", p),
        0,
        "a request after the first left the window (refused requests were counted?)"
      )
      yield* expectRefused(yield* store.take("k", p), "the next one")
    }),

  "retryAfter is exact: refused just before it, allowed at it": (fresh) =>
    Effect.gen(function* () {
      const fixture = yield* fresh
      const { store, slackMillis, delayMillis } = fixture
      const window = 1_500
      const p = policy(2, window)
      const first = yield* timedTake(store, "k", p)
      yield* expectAllowed(first.decision, 1, "the first request")
      yield* fixture.advance(400)
      yield* expectAllowed(yield* store.take("k", p), 0, "the second request")
      const refused = yield* timedTake(store, "k", p)
      yield* expectRefused(refused.decision, "the third request")
      // The first request leaves at (its time + window); retryAfter counts from the refusal.
      const retryAfter = millis(refused.decision.retryAfter)
      const lowest = first.before + window - refused.after - slackMillis
      const highest = first.after + window - refused.before + slackMillis
      yield* expect(
        retryAfter >= lowest && retryAfter <= highest,
        `retryAfter is ${retryAfter} ms, expected ${lowest}..${highest} ms (first request + window - now)`
      )
      yield* expect(
        millis(refused.decision.resetAfter) === retryAfter,
        `resetAfter differs from retryAfter while full: ${show(refused.decision)}`
      )
      yield* advanceTo(fixture.advance, refused.before + retryAfter - Math.max(1, delayMillis))
      const early = yield* store.take("k", p)
      yield* expectRefused(early, `a request ${Math.max(1, delayMillis)} ms before retryAfter`)
      yield* advanceTo(fixture.advance, refused.after + retryAfter + slackMillis)
      yield* expectAllowed(yield* store.take("k", p), 0, "a request at retryAfter")
    }),

  "the window slides: the limit holds in every window, not per fixed interval": (fresh) =>
    Effect.gen(function* () {
      const fixture = yield* fresh
      const { store, slackMillis } = fixture
      const p = policy(3, 1_000)
      const a = yield* timedTake(store, "k", p)
      yield* expectAllowed(a.decision, 2, "A at 0 ms")
      yield* fixture.advance(600)
      const b = yield* timedTake(store, "k", p)
      yield* expectAllowed(b.decision, 1, "B at 600 ms")
      yield* expectAllowed(yield* store.take("k", p), 0, "C at 600 ms")
      // A fixed window starting at A would reset here and admit three more.
      yield* advanceTo(fixture.advance, a.after + 1_000 + slackMillis)
      yield* expectAllowed(yield* store.take("k", p), 0, "D once A left")
      yield* expectRefused(yield* store.take("k", p), "E with B, C, D in the window")
      yield* advanceTo(fixture.advance, b.after + 1_000 + slackMillis)
      yield* expectAllowed(yield* store.take("k", p), 1, "F once B and C left")
      yield* expectAllowed(yield* store.take("k", p), 0, "G once B and C left")
      yield* expectRefused(yield* store.take("k", p), "H with D, F, G in the window")
    })
}

/**
 * The laws that need a store on the `Clock` under `TestClock` (every
 * millisecond controlled), by name: Retry-After in whole seconds as HTTP
 * sends it, and the model-based property.
 *
 * @example
 * ```ts
 * import { it } from "@effect/vitest"
 * import { RateLimiter } from "@org/core"
 * import { RateLimitStoreLaws } from "@org/testing"
 * import { Effect } from "effect"
 * import { TestClock } from "effect/testing"
 *
 * const fresh = Effect.map(RateLimiter.makeMemory, (store) => ({
 *   store,
 *   advance: TestClock.adjust,
 *   slackMillis: 0,
 *   delayMillis: 0
 * }))
 * for (const [name, law] of Object.entries(RateLimitStoreLaws.testClockLaws)) it.effect(name, () => law(fresh))
 * ```
 *
 * @since 0.2.0
 * @category laws
 */
export const testClockLaws: Record<string, Law> = {
  "Retry-After in whole seconds: refused a second before ceil(retryAfter), allowed at it": (fresh) =>
    Effect.gen(function* () {
      // Offsets (ms after the first request) of the second, third and refused requests,
      // chosen so retryAfter falls just after, just before and exactly on a second.
      const cases: ReadonlyArray<readonly [number, number, number]> = [
        [12_345, 40_001, 41_234],
        [1, 2, 59_999],
        [500, 30_000, 42_000],
        [0, 0, 1]
      ]
      const p = policy(3, 60_000)
      for (const [index, [second, third, probe]] of cases.entries()) {
        const { store, advance } = yield* fresh
        const key = `case-${index}`
        const start = yield* Clock.currentTimeMillis
        yield* store.take(key, p)
        yield* advanceTo(advance, start + second)
        yield* store.take(key, p)
        yield* advanceTo(advance, start + third)
        yield* store.take(key, p)
        yield* advanceTo(advance, start + probe)
        const refused = yield* store.take(key, p)
        yield* expectRefused(refused, `case ${index}: the fourth request`)
        const retryAfter = millis(refused.retryAfter)
        yield* expect(
          retryAfter === 60_000 - probe,
          `case ${index}: retryAfter is ${retryAfter} ms, expected ${60_000 - probe}`
        )
        const seconds = Math.ceil(retryAfter / 1_000)
        yield* advance((seconds - 1) * 1_000)
        yield* expectRefused(
          yield* store.take(key, p),
          `case ${index}: ${seconds - 1} s after a Retry-After of ${seconds} s`
        )
        yield* advance(1_000)
        const at = probe + seconds * 1_000
        const expected = modelTake([0, second, third], 3, 60_000, at)
        yield* expectAllowed(
          yield* store.take(key, p),
          expected.remaining,
          `case ${index}: ${seconds} s after a Retry-After of ${seconds} s`
        )
      }
    }),

  "agrees with a sliding-log model over random arrival times": (fresh, options) => modelBased(fresh, options)
}
