/**
 * Time limits with a typed failure. `timeout` interrupts the work when the
 * limit passes and fails with a `TimeoutError` that says which limit it was.
 *
 * The work must respect interruption for the limit to hold: the timeout
 * returns once the interrupted work has stopped, so work inside an
 * uninterruptible region runs to its end first, and a promise that ignores
 * its `AbortSignal` keeps its socket busy. Wrap promises with
 * `Effect.tryPromise((signal) => fetch(url, { signal }))` so that
 * interruption aborts them.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Schema from "effect/Schema"

/**
 * The work did not finish within `duration`, and was interrupted. Shares its
 * tag with `Cause.TimeoutError`, so `Effect.catchTag("TimeoutError", ...)`
 * handles both.
 *
 * @since 0.1.0
 * @category errors
 */
export class TimeoutError extends Schema.TaggedError<TimeoutError>()("TimeoutError", {
  duration: Schema.Duration
}) {
  override get message(): string {
    return `Timed out after ${Duration.format(this.duration)}`
  }
}

/**
 * Runs an effect with a time limit: when `duration` passes first, the work is
 * interrupted and the effect fails with `TimeoutError`. Data-first or
 * pipeable.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Timeout } from "@org/core"
 *
 * const call = Effect.tryPromise((signal) => fetch("https://example.com", { signal }))
 * const limited = call.pipe(Timeout.timeout("2 seconds"))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const timeout: {
  (duration: Duration.Input): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | TimeoutError, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, duration: Duration.Input): Effect.Effect<A, E | TimeoutError, R>
} = dual(2, <A, E, R>(self: Effect.Effect<A, E, R>, duration: Duration.Input) => {
  const limit = Duration.fromInputUnsafe(duration)
  return Effect.timeoutOrElse(self, {
    duration: limit,
    orElse: () => Effect.fail(new TimeoutError({ duration: limit }))
  })
})
