import { assert, describe, it } from "@effect/vitest"
import { Timeout } from "@org/core"
import { Duration, Effect, Exit, Fiber, Schema } from "effect"
import { TestClock } from "effect/testing"

class Nope extends Schema.TaggedError<Nope>()("Nope", {}) {}

describe("Timeout", () => {
  it.effect("fails with TimeoutError exactly at the duration and interrupts the work", () =>
    Effect.gen(function* () {
      let interrupted = false
      const work = Effect.never.pipe(
        Effect.onInterrupt(() =>
          Effect.sync(() => {
            interrupted = true
          })
        )
      )
      const fiber = yield* Effect.forkChild(Timeout.timeout(work, "1 second"))
      yield* TestClock.adjust(999)
      assert.strictEqual(fiber.pollUnsafe(), undefined)
      assert.isFalse(interrupted)
      yield* TestClock.adjust(1)
      const error = yield* Effect.flip(Fiber.join(fiber))
      assert.instanceOf(error, Timeout.TimeoutError)
      assert.strictEqual(error._tag, "TimeoutError")
      assert.isTrue(Duration.equals(error.duration, Duration.seconds(1)))
      assert.strictEqual(error.message, "Timed out after 1s")
      assert.isTrue(interrupted)
    })
  )

  it.effect("returns the value of work that finishes in time", () =>
    Effect.gen(function* () {
      const fiber = yield* Effect.forkChild(
        Effect.as(Effect.sleep("999 millis"), "done").pipe(Timeout.timeout("1 second"))
      )
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(fiber), "done")
    })
  )

  it.effect("passes the work's own failure through", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(Timeout.timeout(Effect.fail(new Nope()), "1 second"))
      assert.deepStrictEqual(exit, Exit.fail(new Nope()))
    })
  )

  it.effect("waits for interrupted work to stop: uninterruptible work runs to its end", () =>
    Effect.gen(function* () {
      let finished = false
      const work = Effect.sleep("5 seconds").pipe(
        Effect.andThen(
          Effect.sync(() => {
            finished = true
          })
        ),
        Effect.uninterruptible
      )
      const fiber = yield* Effect.forkChild(Timeout.timeout(work, "1 second"))
      yield* TestClock.adjust("1 second")
      assert.strictEqual(fiber.pollUnsafe(), undefined)
      yield* TestClock.adjust("4 seconds")
      // The work completed, but the timeout had already won the race.
      const error = yield* Effect.flip(Fiber.join(fiber))
      assert.isTrue(finished)
      assert.instanceOf(error, Timeout.TimeoutError)
    })
  )
})
