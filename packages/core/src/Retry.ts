/**
 * Retry policies built on `Schedule`: exponential backoff from a `base` delay,
 * capped at `maxDelay`, jittered (on by default), bounded by `maxAttempts`
 * and `maxElapsed`, for the errors a `while` predicate accepts. A failure
 * that carries a `retryAfter` hint (see `RetryAfter`: an open circuit, an
 * HTTP 429 mapped by an adapter) is not retried before that hint.
 *
 * After giving up, the effect fails with the last error, unwrapped.
 * Interruption stops a retry at once, also during a wait.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"

/**
 * The structural contract of an error that knows when a retry can succeed:
 * `retryAfter` is a `Duration` or a number of milliseconds. Modules opt in by
 * carrying the field; they need not import `Retry`.
 *
 * @since 0.1.0
 * @category models
 */
export interface RetryAfter {
  readonly retryAfter: Duration.Duration | number
}

/**
 * Whether a value carries a usable `retryAfter` hint.
 *
 * @since 0.1.0
 * @category guards
 */
export const isRetryAfter = (u: unknown): u is RetryAfter => Option.isSome(retryAfter(u))

/**
 * The `retryAfter` hint of a value, if it carries one: a `Duration`, or a
 * number of milliseconds. Negative hints count as zero; `NaN` and other
 * shapes are no hint.
 *
 * @since 0.1.0
 * @category getters
 */
export const retryAfter = (u: unknown): Option.Option<Duration.Duration> => {
  if (!Predicate.hasProperty(u, "retryAfter")) return Option.none()
  const hint = u.retryAfter
  if (Duration.isDuration(hint)) return Option.some(Duration.max(hint, Duration.zero))
  if (typeof hint === "number" && !Number.isNaN(hint)) return Option.some(Duration.millis(Math.max(hint, 0)))
  return Option.none()
}

/**
 * The options of a retry policy.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<E = unknown> {
  /** The delay before the first retry. */
  readonly base: Duration.Input
  /** The growth of the delay per retry; default 2. */
  readonly factor?: number | undefined
  /** The longest delay between two attempts, jitter included; default none. */
  readonly maxDelay?: Duration.Input | undefined
  /** Random spread of each delay: `true` is `[0.8, 1.2]` (the default), `false` none. */
  readonly jitter?: boolean | readonly [min: number, max: number] | undefined
  /** Attempts in all, the first included; default 3. `Infinity` for no bound. */
  readonly maxAttempts?: number | undefined
  /** No attempt starts later than this after the first one started; default none. */
  readonly maxElapsed?: Duration.Input | undefined
  /** Retries only the errors this accepts; default all. */
  readonly while?: ((error: E) => boolean) | undefined
}

/**
 * A retry policy: its resolved settings, and the `Schedule` that drives it
 * (usable with `Effect.retry` directly; its output is the delay it chose).
 *
 * @since 0.1.0
 * @category models
 */
export interface Policy<in E = unknown> {
  readonly base: Duration.Duration
  readonly factor: number
  readonly maxDelay: Duration.Duration
  readonly jitter: readonly [min: number, max: number] | undefined
  readonly maxAttempts: number
  readonly maxElapsed: Duration.Duration
  readonly schedule: Schedule.Schedule<Duration.Duration, E>
}

const defaultJitter = [0.8, 1.2] as const

const check = (ok: boolean, message: string): void => {
  if (!ok) throw new RangeError(`Retry.policy: ${message}`)
}

/**
 * Makes a retry policy. The delay before retry `n` (1-based) is
 * `base * factor^(n-1)`, capped at `maxDelay`, then multiplied by a random
 * factor in the jitter range and capped again: `maxDelay` is a hard ceiling,
 * so at the cap jitter only spreads delays downwards. A `retryAfter` hint on
 * the error raises the delay to at least the hint, even above `maxDelay`
 * (retrying earlier is known to fail). The policy gives up, failing with the
 * last error, when `maxAttempts` are used, when `while` rejects the error, or
 * when waiting would start the next attempt later than `maxElapsed` after the
 * first one started (an infinite hint gives up too).
 *
 * Throws a `RangeError` for settings that make no sense (negative delays, a
 * factor below 1, fewer than 1 attempt, an empty or negative jitter range).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Retry } from "@org/core"
 *
 * declare const call: Effect.Effect<string, { readonly status: number }>
 *
 * const policy = Retry.policy({
 *   base: "100 millis",
 *   maxDelay: "5 seconds",
 *   maxAttempts: 5,
 *   maxElapsed: "20 seconds",
 *   while: (error: { readonly status: number }) => error.status >= 500
 * })
 * const resilient = call.pipe(Retry.with(policy))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const policy = <E = unknown>(options: Options<E>): Policy<E> => {
  const base = Duration.fromInputUnsafe(options.base)
  const factor = options.factor ?? 2
  const maxDelay =
    options.maxDelay === undefined ? Duration.infinity : Duration.fromInputUnsafe(options.maxDelay)
  const jitter =
    options.jitter === undefined || options.jitter === true
      ? defaultJitter
      : options.jitter === false
        ? undefined
        : options.jitter
  const maxAttempts = options.maxAttempts ?? 3
  const maxElapsed =
    options.maxElapsed === undefined ? Duration.infinity : Duration.fromInputUnsafe(options.maxElapsed)
  check(
    Duration.isFinite(base) && Duration.toMillis(base) >= 0,
    "base must be a finite, non-negative duration"
  )
  check(Number.isFinite(factor) && factor >= 1, "factor must be a finite number >= 1")
  check(Duration.toMillis(maxDelay) >= 0, "maxDelay must be non-negative")
  check(
    jitter === undefined || (jitter[0] >= 0 && jitter[0] <= jitter[1] && Number.isFinite(jitter[1])),
    "jitter must be [min, max] with 0 <= min <= max"
  )
  check(
    maxAttempts === Infinity || (Number.isInteger(maxAttempts) && maxAttempts >= 1),
    "maxAttempts must be an integer >= 1 or Infinity"
  )
  check(Duration.toMillis(maxElapsed) >= 0, "maxElapsed must be non-negative")
  return {
    base,
    factor,
    maxDelay,
    jitter,
    maxAttempts,
    maxElapsed,
    schedule: makeSchedule({ base, factor, maxDelay, jitter, maxAttempts, maxElapsed }, options.while)
  }
}

const makeSchedule = <E>(
  settings: Omit<Policy<E>, "schedule">,
  accepts: ((error: E) => boolean) | undefined
): Schedule.Schedule<Duration.Duration, E> => {
  const maxDelayMillis = Duration.toMillis(settings.maxDelay)
  const maxElapsedMillis = Duration.toMillis(settings.maxElapsed)
  const capped = Schedule.exponential(settings.base, settings.factor).pipe(
    Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, settings.maxDelay)))
  )
  const jitter = settings.jitter
  const jittered =
    jitter === undefined
      ? capped
      : Schedule.modifyDelay(capped, ({ duration }) =>
          Effect.map(Random.nextBetween(jitter[0], jitter[1]), (r) =>
            Duration.millis(Math.min(Duration.toMillis(duration) * r, maxDelayMillis))
          )
        )
  const hinted = jittered.pipe(
    Schedule.setInputType<E>(),
    Schedule.modifyDelay(({ duration, input }) =>
      Effect.succeed(
        Option.match(retryAfter(input), {
          onNone: () => duration,
          onSome: (hint) => Duration.max(duration, hint)
        })
      )
    ),
    // `attempt` counts failures so far: retry while fewer than maxAttempts ran.
    Schedule.while(
      ({ attempt, input }) => attempt < settings.maxAttempts && (accepts === undefined || accepts(input))
    )
  )
  return withinElapsed(hinted, maxElapsedMillis)
}

// Gives up when the next attempt would start after the deadline. Unlike
// `Schedule.upTo({ duration })`, which counts from the first failure and lets
// one more wait overshoot, this counts from the start of the first attempt
// (the step is built when `Effect.retry` starts) and includes the delay.
const withinElapsed = <E>(
  self: Schedule.Schedule<Duration.Duration, E>,
  maxElapsedMillis: number
): Schedule.Schedule<Duration.Duration, E> =>
  Schedule.fromStep(
    Effect.flatMap(Clock.currentTimeMillis, (start) =>
      Effect.map(
        Schedule.toStep(self),
        (step) => (now: number, input: E) =>
          Effect.flatMap(step(now, input), (result) => {
            const delay = Duration.toMillis(result[1])
            return !Number.isFinite(delay) || now - start + delay > maxElapsedMillis
              ? Cause.done(result[0])
              : Effect.succeed(result)
          })
      )
    )
  )

/**
 * Runs an effect, retrying its failures by a policy; fails with the last
 * error once the policy gives up. Data-first or pipeable.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Retry } from "@org/core"
 *
 * declare const call: Effect.Effect<string, Error>
 * const resilient = Retry.retry(call, Retry.policy({ base: "200 millis", maxAttempts: 4 }))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const retry: {
  <PE>(policy: Policy<PE>): <A, E extends PE, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E extends PE, R, PE>(self: Effect.Effect<A, E, R>, policy: Policy<PE>): Effect.Effect<A, E, R>
} = dual(
  2,
  <A, E extends PE, R, PE>(self: Effect.Effect<A, E, R>, policy: Policy<PE>): Effect.Effect<A, E, R> =>
    Effect.retry(self, policy.schedule)
)

const with_: {
  <PE>(policy: Policy<PE>): <A, E extends PE, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E extends PE, R, PE>(self: Effect.Effect<A, E, R>, policy: Policy<PE>): Effect.Effect<A, E, R>
} = retry

export {
  /**
   * `retry` under the name that reads well in a pipe:
   * `call.pipe(Retry.with(policy))`.
   *
   * @since 0.1.0
   * @category combinators
   */
  with_ as with
}
