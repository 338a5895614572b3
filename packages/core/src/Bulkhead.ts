/**
 * A bulkhead caps the calls running at once through one dependency, so a
 * slow dependency cannot take every fiber and connection with it. At most
 * `maxConcurrent` calls run; at most `maxQueue` more wait, first come first
 * served; any further call fails at once with `BulkheadFull` (shed load early
 * rather than queue without bound).
 *
 * A waiting caller that is interrupted leaves the queue; a running one that
 * is interrupted frees its slot. A freed slot passes straight to the oldest
 * waiter, so a newcomer never overtakes the queue.
 *
 * Metrics, with the attribute `bulkhead` = name: gauges `bulkhead_running`
 * and `bulkhead_queued`, counter `bulkhead_rejected_total`. Give each
 * bulkhead its own name: bulkheads with one name share their metrics.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import { dual } from "effect/Function"
import * as Metric from "effect/Metric"
import * as Schema from "effect/Schema"

/**
 * A call was rejected: `maxConcurrent` calls were running and `maxQueue`
 * waiting.
 *
 * @since 0.1.0
 * @category errors
 */
export class BulkheadFull extends Schema.TaggedError<BulkheadFull>()("BulkheadFull", {
  name: Schema.String,
  maxConcurrent: Schema.Int,
  maxQueue: Schema.Int
}) {
  override get message(): string {
    return `Bulkhead ${this.name} is full (${this.maxConcurrent} running, ${this.maxQueue} queued)`
  }
}

/**
 * A bulkhead.
 *
 * @since 0.1.0
 * @category models
 */
export interface Bulkhead {
  readonly name: string
  readonly maxConcurrent: number
  readonly maxQueue: number
  /** Runs `effect` when a slot is free; fails with `BulkheadFull` when the queue is full too. */
  readonly run: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | BulkheadFull, R>
  /** The calls running now. */
  readonly running: Effect.Effect<number>
  /** The calls waiting for a slot now. */
  readonly queued: Effect.Effect<number>
}

/**
 * The options of a bulkhead.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Names the bulkhead in errors and metrics. */
  readonly name: string
  /** Calls running at once, at least 1. */
  readonly maxConcurrent: number
  /** Calls waiting for a slot; default 0 (reject when all slots are taken). */
  readonly maxQueue?: number | undefined
}

/**
 * The metrics of the bulkhead named `name` (a series is keyed by name,
 * description and attributes, so read them through these definitions).
 *
 * @since 0.1.0
 * @category metrics
 */
export const metrics = (
  name: string
): {
  readonly running: Metric.Gauge<number>
  readonly queued: Metric.Gauge<number>
  readonly rejected: Metric.Counter<number>
} => {
  const attributes = { bulkhead: name }
  return {
    running: Metric.gauge("bulkhead_running", { description: "Calls running in the bulkhead", attributes }),
    queued: Metric.gauge("bulkhead_queued", { description: "Calls waiting in the bulkhead", attributes }),
    rejected: Metric.counter("bulkhead_rejected_total", {
      description: "Calls the bulkhead rejected because it was full",
      attributes
    })
  }
}

interface Waiter {
  granted: boolean
  resume: (() => void) | undefined
}

/**
 * Makes a bulkhead. Throws a `RangeError` when `maxConcurrent` is not a
 * positive integer or `maxQueue` not a non-negative integer.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Bulkhead } from "@org/core"
 *
 * declare const charge: Effect.Effect<string, Error>
 *
 * const program = Effect.gen(function*() {
 *   const payments = yield* Bulkhead.make({ name: "payments", maxConcurrent: 10, maxQueue: 50 })
 *   return yield* payments.run(charge)
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Bulkhead> => Effect.sync(() => makeUnsafe(options))

/**
 * Makes a bulkhead outside of an effect (at module level, say). Throws like
 * `make`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Bulkhead } from "@org/core"
 *
 * const search = Bulkhead.makeUnsafe({ name: "search", maxConcurrent: 4, maxQueue: 20 })
 * declare const query: Effect.Effect<ReadonlyArray<string>>
 * const limited = query.pipe(Bulkhead.with(search))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeUnsafe = (options: Options): Bulkhead => {
  const { name, maxConcurrent } = options
  const maxQueue = options.maxQueue ?? 0
  if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) {
    throw new RangeError(`Bulkhead ${name}: maxConcurrent must be an integer >= 1`)
  }
  if (!Number.isInteger(maxQueue) || maxQueue < 0) {
    throw new RangeError(`Bulkhead ${name}: maxQueue must be an integer >= 0`)
  }
  const { running: runningGauge, queued: queuedGauge, rejected: rejectedCounter } = metrics(name)

  // Invariant: waiters only exist while all slots are taken, because a freed
  // slot is handed to the oldest waiter instead of being returned.
  let running = 0
  // A Set keeps insertion order (FIFO) and removes an interrupted waiter in O(1).
  const waiters = new Set<Waiter>()

  const report = Effect.suspend(() =>
    Effect.andThen(Metric.update(runningGauge, running), Metric.update(queuedGauge, waiters.size))
  )
  const reject = Effect.andThen(
    Metric.update(rejectedCounter, 1),
    Effect.fail(new BulkheadFull({ name, maxConcurrent, maxQueue }))
  )

  const release = Effect.withFiber((fiber) => {
    const next = waiters.values().next()
    if (next.done) {
      running--
    } else {
      const waiter = next.value
      waiters.delete(waiter)
      waiter.granted = true
      // Resumed in a task of its own, not on this fiber's stack: a long queue
      // of quick calls would otherwise nest one call per waiter.
      fiber.currentDispatcher.scheduleTask(() => waiter.resume?.(), 0)
    }
    return report
  })

  // Leaving the queue: an interrupted waiter that was already handed a slot
  // passes it on; one that was not just leaves.
  const leave = (waiter: Waiter) => (exit: Exit.Exit<void>) => {
    if (exit._tag === "Success") return Effect.void
    if (waiter.granted) return release
    waiters.delete(waiter)
    return report
  }

  const run = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | BulkheadFull, R> =>
    Effect.uninterruptibleMask((restore): Effect.Effect<A, E | BulkheadFull, R> => {
      const holding = Effect.onExit(restore(effect), () => release)
      if (running < maxConcurrent) {
        running++
        return Effect.andThen(report, holding)
      }
      if (waiters.size >= maxQueue) return reject
      const waiter: Waiter = { granted: false, resume: undefined }
      waiters.add(waiter)
      const wait = Effect.callback<void>((resume) => {
        if (waiter.granted) return resume(Effect.void)
        waiter.resume = () => resume(Effect.void)
      })
      return report.pipe(Effect.andThen(Effect.onExit(restore(wait), leave(waiter))), Effect.andThen(holding))
    })

  return {
    name,
    maxConcurrent,
    maxQueue,
    run,
    running: Effect.sync(() => running),
    queued: Effect.sync(() => waiters.size)
  }
}

const with_: {
  (bulkhead: Bulkhead): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | BulkheadFull, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, bulkhead: Bulkhead): Effect.Effect<A, E | BulkheadFull, R>
} = dual(
  2,
  <A, E, R>(self: Effect.Effect<A, E, R>, bulkhead: Bulkhead): Effect.Effect<A, E | BulkheadFull, R> =>
    bulkhead.run(self)
)

export {
  /**
   * Runs an effect through a bulkhead, in a pipe:
   * `call.pipe(Bulkhead.with(bulkhead))`.
   *
   * @since 0.1.0
   * @category combinators
   */
  with_ as with
}
