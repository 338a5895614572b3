/**
 * Delivers the events of an `Outbox` to its consumers: a scoped fiber that
 * waits for a wakeup (or the poll interval), claims due events, hands every
 * event to each consumer that accepts it and has not handled it yet, and
 * settles the event.
 *
 * - Consumers of one event run concurrently, each under `handlerTimeout`:
 *   one failing or hanging consumer never blocks or fails another.
 * - Each event is delivered in its own fiber, up to `batchSize` at once; a
 *   freed slot is filled by the next claim, so a hanging consumer delays
 *   only the event it hangs on, never the events claimed after it.
 * - All succeeded: `complete`. Some failed: `retry` after a jittered
 *   exponential backoff, keeping the ones that succeeded (they are not called
 *   again), or `deadLetter` once `maxAttempts` attempts failed. Every failure
 *   is logged at warning level with the event id, type, consumer and attempt.
 * - A failing outbox (database down) is logged and the loop pauses, then
 *   goes on.
 * - Delivery is at-least-once and not ordered: a consumer must be idempotent
 *   (`Outbox.Inbox`) and must not rely on the order of events.
 * - When the scope closes the loop stops claiming; deliveries in flight get
 *   `shutdownTimeout` to finish and settle, then are interrupted (their
 *   leases run out and another dispatcher takes the events).
 *
 * `drain` delivers everything due now, without the loop: for tests, tools
 * and scripts.
 *
 * Metrics: `outbox.deliveries`, `outbox.consumer.failures` and `outbox.lag`
 * as events are settled; and, read from `Outbox.stats` every
 * `gaugeInterval` (and at start), the gauges `outbox.pending`,
 * `outbox.dead_letters` and `outbox.oldest_pending.age`. The gauges
 * describe the shared outbox, so every dispatcher on it reports the same
 * values: aggregate them across processes with max, not sum.
 *
 * @since 0.3.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberSet from "effect/FiberSet"
import * as Latch from "effect/Latch"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import type * as DomainEvent from "./DomainEvent.ts"
import * as Outbox from "./Outbox.ts"

/**
 * How a dispatcher claims, waits, retries and gives up.
 *
 * @since 0.3.0
 * @category models
 */
export interface Options {
  /** The consumers, read once per batch (so a registry may grow). */
  readonly consumers: Effect.Effect<ReadonlyArray<Outbox.Consumer>>
  /** Events claimed at once (default 100). */
  readonly batchSize?: number | undefined
  /** How long a claim holds (default 60 s); must exceed `handlerTimeout`. */
  readonly lease?: Duration.Input | undefined
  /** The longest wait between two claims without a wakeup (default 1 s). */
  readonly pollInterval?: Duration.Input | undefined
  /** Attempts before an event is dead-lettered (default 10). */
  readonly maxAttempts?: number | undefined
  /**
   * Delay before attempt n + 1 after n failed: `base * 2^(n-1)` capped at
   * `max`, jittered by ±20% (default base 1 s, max 5 min); or a function of
   * the failed attempts.
   */
  readonly backoff?:
    | { readonly base?: Duration.Input | undefined; readonly max?: Duration.Input | undefined }
    | ((attempts: number) => Duration.Input)
    | undefined
  /** The longest one consumer may take with one event (default 30 s). */
  readonly handlerTimeout?: Duration.Input | undefined
  /** How long deliveries in flight may finish when the scope closes (default 10 s). */
  readonly shutdownTimeout?: Duration.Input | undefined
  /** The pause after the outbox itself failed (default 1 s). */
  readonly errorPause?: Duration.Input | undefined
  /** How often the outbox gauges are read from `Outbox.stats` (default 10 s). */
  readonly gaugeInterval?: Duration.Input | undefined
}

/**
 * What one `drain` did.
 *
 * @since 0.3.0
 * @category models
 */
export interface Summary {
  /** Events claimed. */
  readonly claimed: number
  /** Events completed. */
  readonly completed: number
  /** Events returned for another attempt. */
  readonly retried: number
  /** Events dead-lettered. */
  readonly dead: number
  /** Events whose lease was lost before settling. */
  readonly lost: number
}

/**
 * The dispatcher service: a running loop plus entries for tools.
 *
 * @since 0.3.0
 * @category services
 */
export class OutboxDispatcher extends Context.Service<
  OutboxDispatcher,
  {
    /** Delivers everything due now, batch after batch, and says what happened. */
    readonly drain: Effect.Effect<Summary>
    /** Wakes the loop now. */
    readonly wake: Effect.Effect<void>
    /** Parked events, oldest first. */
    readonly deadLetters: (options?: {
      readonly limit?: number | undefined
    }) => Effect.Effect<ReadonlyArray<Outbox.DeadLetter>>
    /** Makes parked events pending again (and wakes the loop); returns how many were. */
    readonly replay: (ids: ReadonlyArray<string>) => Effect.Effect<number>
  }
>()("@org/core/OutboxDispatcher") {}

interface Settings {
  readonly consumers: Effect.Effect<ReadonlyArray<Outbox.Consumer>>
  readonly batchSize: number
  readonly lease: number
  readonly pollInterval: Duration.Duration
  readonly maxAttempts: number
  readonly backoff: (attempts: number) => Effect.Effect<number>
  readonly handlerTimeout: Duration.Duration
  readonly shutdownTimeout: Duration.Duration
  readonly errorPause: Duration.Duration
  readonly gaugeInterval: Duration.Duration
}

const jittered = (millis: number): Effect.Effect<number> =>
  Effect.map(Random.nextBetween(0.8, 1.2), (factor) => Math.round(millis * factor))

const settings = (options: Options): Settings => {
  const handlerTimeout = Outbox.millis(options.handlerTimeout ?? "30 seconds", 1)
  const backoff = options.backoff
  const base = typeof backoff === "object" ? Outbox.millis(backoff.base ?? "1 second", 1) : 1_000
  const max = typeof backoff === "object" ? Outbox.millis(backoff.max ?? "5 minutes", 1) : 300_000
  return {
    consumers: options.consumers,
    batchSize: Math.max(1, Math.floor(options.batchSize ?? 100)),
    // A lease shorter than a handler may run would hand the event to a second dispatcher mid-delivery.
    lease: Math.max(Outbox.millis(options.lease ?? "60 seconds", 1), handlerTimeout + 1_000),
    pollInterval: Duration.millis(Outbox.millis(options.pollInterval ?? "1 second", 1)),
    maxAttempts: Math.max(1, Math.floor(options.maxAttempts ?? 10)),
    backoff:
      typeof backoff === "function"
        ? (attempts) => Effect.succeed(Outbox.millis(backoff(attempts)))
        : (attempts) => jittered(Math.min(max, base * 2 ** Math.min(30, Math.max(0, attempts - 1)))),
    handlerTimeout: Duration.millis(handlerTimeout),
    shutdownTimeout: Duration.millis(Outbox.millis(options.shutdownTimeout ?? "10 seconds")),
    errorPause: Duration.millis(Outbox.millis(options.errorPause ?? "1 second", 1)),
    gaugeInterval: Duration.millis(Outbox.millis(options.gaugeInterval ?? "10 seconds", 1))
  }
}

const describe = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
  return text.length > 2_000 ? `${text.slice(0, 2_000)}...` : text
}

type Outcome = "completed" | "retried" | "dead" | "lost"

/**
 * Events settled by the dispatcher, by `outcome` (`completed`, `retried`,
 * `dead`, `lost`: the lease ran out first) and event `type`.
 *
 * @since 0.3.0
 * @category metrics
 */
export const deliveries = Metric.counter("outbox.deliveries", {
  description: "Outbox events settled by the dispatcher, by outcome and event type"
})

/**
 * Failed deliveries to one consumer (a retry or a dead letter follows).
 *
 * @since 0.3.0
 * @category metrics
 */
export const consumerFailures = Metric.counter("outbox.consumer.failures", {
  description: "Failed deliveries of an outbox event to one consumer, by consumer"
})

/**
 * Seconds from an event's `occurredAt` to the end of its successful
 * delivery: the outbox's lag as consumers see it.
 *
 * @since 0.3.0
 * @category metrics
 */
export const lag = Metric.histogram("outbox.lag", {
  description: "Seconds from an event's occurrence to its delivery to every consumer",
  boundaries: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800]
})

/**
 * Events stored and not yet settled: due, leased, or waiting for a retry.
 *
 * @since 0.4.0
 * @category metrics
 */
export const pending = Metric.gauge("outbox.pending", {
  description: "Outbox events not yet delivered to every consumer (due, in delivery or waiting for a retry)",
  attributes: { unit: "{event}" }
})

/**
 * Events parked after their last attempt, waiting for a `replay`.
 *
 * @since 0.4.0
 * @category metrics
 */
export const deadLetters = Metric.gauge("outbox.dead_letters", {
  description: "Outbox events parked as dead letters",
  attributes: { unit: "{event}" }
})

/**
 * Seconds since the `occurredAt` of the oldest pending event (0 when none is
 * pending): how far behind delivery is, before the events are delivered.
 *
 * @since 0.4.0
 * @category metrics
 */
export const oldestPendingAge = Metric.gauge("outbox.oldest_pending.age", {
  description: "Seconds since the occurrence of the oldest outbox event not yet delivered",
  attributes: { unit: "seconds" }
})

/**
 * Reads `Outbox.stats` once and sets the gauges `outbox.pending`,
 * `outbox.dead_letters` and `outbox.oldest_pending.age` (the age on the
 * `Clock`). A running dispatcher does it every `gaugeInterval`; call it
 * yourself where no dispatcher runs.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Outbox, OutboxDispatcher } from "@org/core"
 *
 * const program = OutboxDispatcher.updateGauges.pipe(Effect.provide(Outbox.layerMemory))
 * ```
 *
 * @since 0.4.0
 * @category metrics
 */
export const updateGauges: Effect.Effect<void, never, Outbox.Outbox> = Effect.flatMap(
  Outbox.Outbox,
  (outbox) => gaugesOf(outbox)
)

const gaugesOf = (outbox: Outbox.Outbox["Service"]): Effect.Effect<void> =>
  Effect.gen(function* () {
    const stats = yield* outbox.stats
    const now = yield* Clock.currentTimeMillis
    const age = Option.match(stats.oldestPending, {
      onNone: () => 0,
      onSome: (at) => Math.max(0, now - DateTime.toEpochMillis(at)) / 1000
    })
    yield* Metric.update(pending, stats.pending)
    yield* Metric.update(deadLetters, stats.dead)
    yield* Metric.update(oldestPendingAge, age)
  })

const parseTraceparent = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

// The delivery continues the trace of the request that raised the event.
const inTraceOf = <A, E, R>(event: DomainEvent.Envelope, effect: Effect.Effect<A, E, R>) => {
  const match = parseTraceparent.exec(event.metadata.traceparent ?? "")
  return match === null
    ? effect
    : Effect.withParentSpan(
        effect,
        Tracer.externalSpan({
          traceId: match[1]!,
          spanId: match[2]!,
          sampled: (Number.parseInt(match[3]!, 16) & 1) === 1
        })
      )
}

const record = (event: DomainEvent.Envelope, outcome: Outcome) =>
  Effect.gen(function* () {
    yield* Metric.update(Metric.withAttributes(deliveries, { outcome, type: event.type }), 1)
    if (outcome === "completed") {
      const now = yield* Clock.currentTimeMillis
      yield* Metric.update(lag, Math.max(0, now - DateTime.toEpochMillis(event.occurredAt)) / 1000)
    }
  })

const deliverAttempt = (
  outbox: Outbox.Outbox["Service"],
  config: Settings,
  consumers: ReadonlyArray<Outbox.Consumer>,
  claimed: Outbox.Claimed
): Effect.Effect<Outcome> => {
  const event: DomainEvent.Envelope = claimed.event
  const done = new Set(claimed.completed)
  const log = (consumer: string, cause: Cause.Cause<unknown>) =>
    Effect.andThen(
      Metric.update(Metric.withAttributes(consumerFailures, { consumer }), 1),
      Effect.logWarning(`OutboxDispatcher: consumer ${consumer} failed on event ${event.id}`)
    ).pipe(
      Effect.annotateLogs({
        eventId: event.id,
        eventType: event.type,
        consumer,
        attempt: claimed.attempts,
        error: describe(cause)
      })
    )
  return Effect.forEach(
    consumers.filter((consumer) => !done.has(consumer.name)),
    (consumer) =>
      // `accepts` runs inside the effect: one that throws fails this consumer, not the batch.
      Effect.flatMap(Effect.exit(Effect.sync(() => consumer.accepts(event))), (accepted) =>
        Exit.isSuccess(accepted) && !accepted.value
          ? Effect.succeed(undefined)
          : (Exit.isFailure(accepted)
              ? Effect.failCause(accepted.cause)
              : Effect.suspend(() => consumer.handle(event)).pipe(
                  Effect.timeout(config.handlerTimeout),
                  Effect.withSpan("OutboxDispatcher.consumer", {
                    attributes: { "outbox.consumer": consumer.name }
                  })
                )
            ).pipe(
              Effect.exit,
              Effect.tap((exit) => (Exit.isFailure(exit) ? log(consumer.name, exit.cause) : Effect.void)),
              Effect.map((exit) => ({ consumer: consumer.name, exit }))
            )
      ),
    { concurrency: "unbounded" }
  ).pipe(
    Effect.map((all) => all.filter((result) => result !== undefined)),
    Effect.flatMap((results) => {
      const failed = results.filter((result) => Exit.isFailure(result.exit))
      const completed = [
        ...claimed.completed,
        ...results.filter((result) => Exit.isSuccess(result.exit)).map((result) => result.consumer)
      ]
      if (failed.length === 0) {
        return Effect.flatMap(outbox.complete(event.id, claimed.lease), (ok) =>
          ok
            ? Effect.succeed<Outcome>("completed")
            : Effect.as(
                // Delivered, but the lease ran out first: another claimer will deliver it again.
                Effect.logWarning(`OutboxDispatcher: lease of event ${event.id} lost before completing`).pipe(
                  Effect.annotateLogs({ eventId: event.id, eventType: event.type })
                ),
                "lost" as const
              )
        )
      }
      const error = failed
        .map(
          (result) => `${result.consumer}: ${Exit.isFailure(result.exit) ? describe(result.exit.cause) : ""}`
        )
        .join("; ")
      if (claimed.attempts >= config.maxAttempts) {
        return outbox.deadLetter(event.id, claimed.lease, { completed, error }).pipe(
          Effect.tap((ok) =>
            ok
              ? Effect.logError(
                  `OutboxDispatcher: event ${event.id} dead-lettered after ${claimed.attempts} attempts`
                ).pipe(Effect.annotateLogs({ eventId: event.id, eventType: event.type, error }))
              : Effect.void
          ),
          Effect.map((ok): Outcome => (ok ? "dead" : "lost"))
        )
      }
      return Effect.flatMap(config.backoff(claimed.attempts), (after) =>
        Effect.map(
          outbox.retry(event.id, claimed.lease, { after, completed, error }),
          (ok): Outcome => (ok ? "retried" : "lost")
        )
      )
    })
  )
}

// One event: a span `OutboxDispatcher.deliver` in the trace of the request
// that raised it, and the metrics of its outcome.
const deliverOne = (
  outbox: Outbox.Outbox["Service"],
  config: Settings,
  consumers: ReadonlyArray<Outbox.Consumer>,
  claimed: Outbox.Claimed
): Effect.Effect<Outcome> =>
  inTraceOf(
    claimed.event,
    deliverAttempt(outbox, config, consumers, claimed).pipe(
      Effect.tap((outcome) => record(claimed.event, outcome)),
      Effect.withSpan("OutboxDispatcher.deliver", {
        kind: "consumer",
        attributes: {
          "event.id": claimed.event.id,
          "event.type": claimed.event.type,
          "outbox.attempt": claimed.attempts
        }
      })
    )
  )

const empty: Summary = { claimed: 0, completed: 0, retried: 0, dead: 0, lost: 0 }

const add = (summary: Summary, outcomes: ReadonlyArray<Outcome>): Summary => ({
  claimed: summary.claimed + outcomes.length,
  completed: summary.completed + outcomes.filter((o) => o === "completed").length,
  retried: summary.retried + outcomes.filter((o) => o === "retried").length,
  dead: summary.dead + outcomes.filter((o) => o === "dead").length,
  lost: summary.lost + outcomes.filter((o) => o === "lost").length
})

// One batch: claim, deliver every event concurrently, settle. Returns the outcomes.
const batch = (outbox: Outbox.Outbox["Service"], config: Settings): Effect.Effect<ReadonlyArray<Outcome>> =>
  Effect.flatMap(config.consumers, (consumers) =>
    Effect.flatMap(outbox.claim({ limit: config.batchSize, lease: config.lease }), (claimed) =>
      Effect.forEach(claimed, (one) => deliverOne(outbox, config, consumers, one), {
        concurrency: "unbounded"
      })
    )
  )

const drainWith = (
  outbox: Outbox.Outbox["Service"],
  config: Settings,
  stopping: () => boolean
): Effect.Effect<Summary> =>
  Effect.suspend(() => {
    const loop = (summary: Summary): Effect.Effect<Summary> =>
      stopping()
        ? Effect.succeed(summary)
        : Effect.flatMap(batch(outbox, config), (outcomes) =>
            // A short batch means nothing more is due now (retries come back later).
            outcomes.length < config.batchSize
              ? Effect.succeed(add(summary, outcomes))
              : loop(add(summary, outcomes))
          )
    return loop(empty)
  })

/**
 * Delivers everything due now through the `Outbox` in context, without a
 * loop: claims batches until one comes back short.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Outbox, OutboxDispatcher } from "@org/core"
 *
 * const audit: Outbox.Consumer = {
 *   name: "audit",
 *   accepts: (event) => event.type.startsWith("Item"),
 *   handle: (event) => Effect.log(`audit ${event.type} ${event.id}`)
 * }
 * const summary = OutboxDispatcher.drain({ consumers: Effect.succeed([audit]) })
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const drain = (options: Options): Effect.Effect<Summary, never, Outbox.Outbox> =>
  Effect.flatMap(Outbox.Outbox, (outbox) => drainWith(outbox, settings(options), () => false))

/**
 * Starts a dispatcher on the `Outbox` in context; it runs until the scope
 * closes (see the module doc for what happens then).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Outbox, OutboxDispatcher } from "@org/core"
 *
 * declare const consumers: Effect.Effect<ReadonlyArray<Outbox.Consumer>>
 * const program = Effect.scoped(
 *   Effect.gen(function* () {
 *     const dispatcher = yield* OutboxDispatcher.make({ consumers, pollInterval: "500 millis", maxAttempts: 5 })
 *     yield* dispatcher.drain
 *   })
 * )
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<OutboxDispatcher["Service"], never, Outbox.Outbox | Scope.Scope> =>
  Effect.gen(function* () {
    const outbox = yield* Outbox.Outbox
    const config = settings(options)
    const wakeup = yield* Latch.make(true)
    let stopping = false
    const stop = yield* Latch.make(false)

    yield* Stream.runForEach(outbox.wakeups, () => wakeup.open).pipe(
      Effect.catchCause((cause) =>
        Cause.hasInterruptsOnly(cause)
          ? Effect.failCause(cause)
          : Effect.logWarning("OutboxDispatcher: the wakeup stream failed; polling only", cause)
      ),
      Effect.forkScoped
    )

    // Up to `batchSize` events in delivery at once, each in its own fiber: a
    // slow or hanging consumer holds one slot (until `handlerTimeout`), never
    // the events claimed after it.
    const inFlight = yield* FiberSet.make<void>()
    let busy = 0
    // The last claim took every free slot: more may be due once one frees.
    let saturated = false
    const deliver = (consumers: ReadonlyArray<Outbox.Consumer>, claimed: Outbox.Claimed) =>
      deliverOne(outbox, config, consumers, claimed).pipe(
        Effect.ensuring(
          Effect.suspend(() => {
            busy--
            return saturated ? wakeup.open : Effect.void
          })
        ),
        Effect.asVoid
      )

    const round = Effect.gen(function* () {
      // Closed before claiming: a wakeup while claiming makes the next wait return at once.
      yield* wakeup.close
      const free = config.batchSize - busy
      if (free > 0) {
        yield* Effect.gen(function* () {
          const consumers = yield* config.consumers
          const claimed = yield* outbox.claim({ limit: free, lease: config.lease })
          saturated = claimed.length === free
          busy += claimed.length
          for (const one of claimed) yield* FiberSet.run(inFlight, deliver(consumers, one))
        }).pipe(
          Effect.catchCause((cause) =>
            Cause.hasInterruptsOnly(cause)
              ? Effect.failCause(cause)
              : Effect.logError("OutboxDispatcher: claiming failed; pausing", cause).pipe(
                  Effect.andThen(Effect.race(Effect.sleep(config.errorPause), stop.await))
                )
          )
        )
        // A full claim: more may be due now, if a slot is free.
        if (saturated && busy < config.batchSize) return
      }
      if (stopping) return
      yield* Effect.raceFirst(Effect.sleep(config.pollInterval), Effect.raceFirst(wakeup.await, stop.await))
    })
    const loop: Effect.Effect<void> = Effect.suspend(() =>
      stopping ? Effect.void : Effect.andThen(round, loop)
    )

    const fiber = yield* Effect.forkDetach(loop)
    // The gauges, at start and every `gaugeInterval`; a failing outbox skips a reading, never the loop.
    yield* gaugesOf(outbox).pipe(
      Effect.catchCause((cause) =>
        Cause.hasInterruptsOnly(cause)
          ? Effect.failCause(cause)
          : Effect.logWarning("OutboxDispatcher: reading the outbox gauges failed", cause)
      ),
      Effect.andThen(Effect.sleep(config.gaugeInterval)),
      Effect.forever,
      Effect.forkScoped
    )
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        stopping = true
        yield* stop.open
        yield* Fiber.interrupt(fiber)
        // Deliveries in flight may finish and settle; then they are cut off.
        yield* FiberSet.awaitEmpty(inFlight).pipe(Effect.timeoutOption(config.shutdownTimeout))
      })
    )

    return OutboxDispatcher.of({
      drain: drainWith(outbox, config, () => false),
      wake: Effect.asVoid(wakeup.open),
      deadLetters: (options) => outbox.deadLetters(options),
      replay: (ids) => Effect.tap(outbox.replay(ids), () => wakeup.open)
    })
  })

/**
 * Provides a running `OutboxDispatcher` on the `Outbox` in context.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Outbox, OutboxDispatcher, UnitOfWork } from "@org/core"
 *
 * declare const consumers: Effect.Effect<ReadonlyArray<Outbox.Consumer>>
 * const Dispatcher = OutboxDispatcher.layer({ consumers }).pipe(
 *   Layer.provideMerge(Layer.merge(Outbox.layerMemory, UnitOfWork.layerMemory))
 * )
 * ```
 *
 * @since 0.3.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<OutboxDispatcher, never, Outbox.Outbox> =>
  Layer.effect(OutboxDispatcher, make(options))
