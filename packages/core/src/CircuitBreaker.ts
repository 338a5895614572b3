/**
 * Circuit breakers: stop calling a dependency that keeps failing, let a few
 * probe calls through after a while, and close again once they succeed.
 *
 * - **closed**: calls run; outcomes feed the trip policy (consecutive
 *   failures, or a failure rate over a sliding time window with a minimum
 *   number of calls).
 * - **open**: calls fail at once with `CircuitOpen`, whose `retryAfter` says
 *   when probes will be let through. Each opening that follows a failed probe
 *   lasts longer (capped exponential backoff).
 * - **half-open**: up to `probes` calls run at the same time, the rest are
 *   rejected; every probe succeeding closes the circuit, one failing opens it
 *   again. An interrupted probe, or one whose error the classifier ignores,
 *   frees its slot and decides nothing.
 *
 * Which errors count is a typed classifier (`isFailure`); defects always
 * count, interruptions never do. The closed path is one synchronous block
 * and one exit frame per call: no forks, no refs, no clock read under the
 * consecutive policy. Metrics (`circuit_breaker_state`,
 * `circuit_breaker_calls_total`) are read from the breaker's counters when
 * the registry is snapshotted, and every transition emits a span and a log.
 *
 * State is per process unless a `StateStore` is given: then openings and
 * closes are published to it and adopted from it, so instances agree within
 * `syncEvery` (see `StateStore`). Keyed breakers (one per downstream) come
 * from the `Registry` service.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import { TracerEnabled } from "effect/References"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import * as M from "./internal/circuitBreakerMachine.ts"

// -----------------------------------------------------------------------------
// Errors
// -----------------------------------------------------------------------------

/**
 * A call rejected by an open circuit, or by a half-open one whose probe
 * slots are taken. `retryAfter` is how long to wait before a call can be
 * admitted: the rest of the open duration, zero while probes run.
 *
 * @since 0.1.0
 * @category errors
 */
export class CircuitOpen extends Schema.TaggedError<CircuitOpen>()("CircuitOpen", {
  name: Schema.String,
  state: Schema.Literals(["open", "half-open"]),
  retryAfter: Schema.Duration
}) {
  /**
   * `retryAfter` in whole seconds, rounded up and at least 1: the value of an
   * HTTP `Retry-After` header (never "come back at once", which would send
   * every rejected client back while the probes run).
   *
   * @since 0.1.0
   */
  get retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(Duration.toMillis(this.retryAfter) / 1000))
  }

  override get message(): string {
    return `circuit breaker "${this.name}" is ${this.state}; retry after ${Duration.toMillis(this.retryAfter)} ms`
  }
}

/**
 * A failure of the shared `StateStore`. The breaker never fails a call with
 * it: it logs it and keeps its local state.
 *
 * @since 0.1.0
 * @category errors
 */
export class StateStoreError extends Schema.TaggedError<StateStoreError>()("StateStoreError", {
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}

// -----------------------------------------------------------------------------
// Models
// -----------------------------------------------------------------------------

/**
 * The status of a circuit.
 *
 * @since 0.1.0
 * @category models
 */
export type Status = "closed" | "half-open" | "open"

/**
 * A snapshot of a breaker. `retryAfter` is the rest of the open duration
 * (zero unless open), `openings` the openings since the circuit last closed.
 *
 * @since 0.1.0
 * @category models
 */
export interface State {
  readonly status: Status
  readonly retryAfter: Duration.Duration
  readonly openings: number
}

/**
 * When a closed circuit opens: after `consecutiveFailures` failures in a row
 * (in order of completion; a success resets the count), or once the failures
 * among the calls of the last `window` reach `failureRate` (0 to 1) with at
 * least `minimumCalls` calls. The window slides by `window / buckets`
 * (default 10 buckets).
 *
 * @since 0.1.0
 * @category models
 */
export type Trip =
  | { readonly consecutiveFailures: number }
  | {
      readonly failureRate: number
      readonly window: Duration.Input
      readonly minimumCalls: number
      readonly buckets?: number | undefined
    }

/**
 * How long the circuit stays open: `initial` for an opening from closed,
 * multiplied by `factor` (default 2) for each re-opening after a failed
 * probe, never more than `max` (default `initial`×32, or `initial` when
 * `factor` is 1).
 *
 * @since 0.1.0
 * @category models
 */
export interface Backoff {
  readonly initial: Duration.Input
  readonly max?: Duration.Input | undefined
  readonly factor?: number | undefined
}

/**
 * The options of a breaker.
 *
 * - `trip` defaults to 5 consecutive failures.
 * - `openFor` defaults to 5 seconds doubling up to 2 minutes; a plain
 *   duration means no backoff.
 * - `halfOpen.probes` (default 1): concurrent probes, all of which must
 *   succeed to close.
 * - `isFailure`: which typed errors count against the dependency (default:
 *   all). Defects always count; interruptions never do. Must not throw.
 * - `store`: share openings and closes with other instances (default: none,
 *   state per process); `syncEvery` (default 1 second) bounds how late an
 *   instance sees another's transition.
 * - `traceCalls`: a span per call when a tracer is enabled (default false:
 *   spans only on transitions).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<E = unknown> {
  readonly name: string
  readonly trip?: Trip | undefined
  readonly openFor?: Duration.Input | Backoff | undefined
  readonly halfOpen?: { readonly probes?: number | undefined } | undefined
  readonly isFailure?: ((error: E) => boolean) | undefined
  readonly store?: StateStore["Service"] | undefined
  readonly syncEvery?: Duration.Input | undefined
  readonly traceCalls?: boolean | undefined
}

/**
 * A circuit breaker. `execute` runs an effect through it (and reads well in
 * a pipe: `effect.pipe(breaker.execute)`); it only accepts effects whose
 * errors the breaker's classifier understands.
 *
 * @since 0.1.0
 * @category models
 */
export interface CircuitBreaker<E = unknown> {
  readonly name: string
  readonly execute: <A, E1 extends E, R>(
    effect: Effect.Effect<A, E1, R>
  ) => Effect.Effect<A, E1 | CircuitOpen, R>
  readonly state: Effect.Effect<State>
}

// -----------------------------------------------------------------------------
// Shared state store
// -----------------------------------------------------------------------------

/**
 * What instances share: whether the circuit is open, until when (epoch
 * milliseconds of the writer's clock), the backoff count, and a version that
 * grows by one on every write.
 *
 * @since 0.1.0
 * @category store
 */
export interface SharedState {
  readonly status: "closed" | "open"
  readonly openUntil: number
  readonly openings: number
  readonly version: number
}

/**
 * The port to a store shared by several processes (Redis in `@org/redis`).
 * `compareAndSet` writes `next` only if the stored version is
 * `expectedVersion` (0 when nothing is stored) and says whether it did; a
 * Redis implementation is a hash plus a short Lua script, or WATCH/MULTI.
 *
 * Breakers publish their own openings and closes at once (off the call
 * path) and poll the store every `syncEvery`, so an instance adopts another's
 * transition within `syncEvery` plus one store round trip. Failure counting
 * and half-open probing stay local: each instance sends at most `probes`
 * probes. Deadlines are wall-clock times: instances need synchronised
 * clocks (a skew shifts the end of an opening by as much).
 *
 * @since 0.1.0
 * @category store
 */
export class StateStore extends Context.Service<
  StateStore,
  {
    readonly get: (name: string) => Effect.Effect<SharedState | undefined, StateStoreError>
    readonly compareAndSet: (
      name: string,
      expectedVersion: number,
      next: SharedState
    ) => Effect.Effect<boolean, StateStoreError>
  }
>()("@org/core/CircuitBreaker/StateStore") {}

/**
 * An in-memory `StateStore`: lets several breakers in one process behave like
 * instances sharing Redis (tests, or one breaker per worker).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreaker } from "@org/core"
 *
 * const store = CircuitBreaker.makeStoreMemory()
 * const program = Effect.gen(function* () {
 *   const a = yield* CircuitBreaker.make({ name: "payments", store })
 *   const b = yield* CircuitBreaker.make({ name: "payments", store })
 *   return [a, b]
 * })
 * ```
 *
 * @since 0.1.0
 * @category store
 */
export const makeStoreMemory = (): StateStore["Service"] => {
  const entries = new Map<string, SharedState>()
  return StateStore.of({
    get: (name) => Effect.sync(() => entries.get(name)),
    compareAndSet: (name, expectedVersion, next) =>
      Effect.sync(() => {
        if ((entries.get(name)?.version ?? 0) !== expectedVersion) return false
        entries.set(name, next)
        return true
      })
  })
}

/**
 * Provides an in-memory `StateStore` (breakers of a `Registry` pick it up).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerStoreMemory: Layer.Layer<StateStore> = Layer.sync(StateStore, makeStoreMemory)

// -----------------------------------------------------------------------------
// Metrics
// -----------------------------------------------------------------------------

/**
 * Gauge of each breaker's status: 0 closed, 1 half-open, 2 open; attribute
 * `name`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const stateGauge: Metric.Gauge<number> = Metric.gauge("circuit_breaker_state", {
  description: "Circuit breaker status: 0 closed, 1 half-open, 2 open"
})

/**
 * Counter of calls by breaker (`name`) and `outcome`: `success`, `failure`,
 * `ignored_error` (an error the classifier does not count), `interrupted`,
 * `rejected`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const callsTotal: Metric.Counter<number> = Metric.counter("circuit_breaker_calls_total", {
  description: "Calls through a circuit breaker by outcome",
  incremental: true
})

const outcomeLabels = ["success", "failure", "ignored_error", "interrupted", "rejected"] as const

// The series are registered with hooks that read the breaker's own counters
// at snapshot time, so a call only bumps an integer.
const registerMetrics = (machine: M.Machine, name: string, context: Context.Context<never>) => {
  const registrations = outcomeLabels.map((outcome, code) =>
    Metric.registerUnsafe(Metric.withAttributes(callsTotal, { name, outcome }), context, {
      get: () => ({ count: machine.counts[code]!, incremental: true }),
      update: () => {},
      modify: () => {}
    })
  )
  registrations.push(
    Metric.registerUnsafe(Metric.withAttributes(stateGauge, { name }), context, {
      get: () => ({ value: machine.status }),
      update: () => {},
      modify: () => {}
    })
  )
  return Effect.sync(() => {
    for (const registration of registrations) registration.remove()
  })
}

// -----------------------------------------------------------------------------
// Constructors
// -----------------------------------------------------------------------------

const statusNames: ReadonlyArray<Status> = ["closed", "half-open", "open"]

const configOf = <E>(options: Options<E>): M.Config => {
  const trip = options.trip ?? { consecutiveFailures: 5 }
  const probes = options.halfOpen?.probes ?? 1
  const openFor = options.openFor ?? { initial: "5 seconds", max: "2 minutes" }
  const backoff: Backoff =
    typeof openFor === "object" && "initial" in openFor ? openFor : { initial: openFor, factor: 1 }
  const initialMillis = Duration.toMillis(Duration.fromInputUnsafe(backoff.initial))
  const factor = backoff.factor ?? 2
  const maxMillis =
    backoff.max === undefined
      ? initialMillis * (factor === 1 ? 1 : 32)
      : Duration.toMillis(Duration.fromInputUnsafe(backoff.max))
  const check = (ok: boolean, message: string) => {
    if (!ok) throw new RangeError(`CircuitBreaker "${options.name}": ${message}`)
  }
  check(Number.isInteger(probes) && probes >= 1, "halfOpen.probes must be an integer >= 1")
  check(initialMillis > 0 && maxMillis >= initialMillis, "openFor needs 0 < initial <= max")
  check(factor >= 1, "openFor.factor must be >= 1")
  const base = { probes, initialMillis, maxMillis, factor }
  if ("consecutiveFailures" in trip) {
    check(
      Number.isInteger(trip.consecutiveFailures) && trip.consecutiveFailures >= 1,
      "trip.consecutiveFailures must be an integer >= 1"
    )
    return {
      ...base,
      consecutiveFailures: trip.consecutiveFailures,
      failureRate: 1,
      minimumCalls: 1,
      bucketMillis: 1,
      buckets: 1
    }
  }
  const buckets = trip.buckets ?? 10
  const windowMillis = Duration.toMillis(Duration.fromInputUnsafe(trip.window))
  check(trip.failureRate > 0 && trip.failureRate <= 1, "trip.failureRate must be in (0, 1]")
  check(Number.isInteger(trip.minimumCalls) && trip.minimumCalls >= 1, "trip.minimumCalls must be >= 1")
  check(Number.isInteger(buckets) && buckets >= 1, "trip.buckets must be an integer >= 1")
  check(windowMillis >= buckets, "trip.window must be at least one millisecond per bucket")
  return {
    ...base,
    consecutiveFailures: 0,
    failureRate: trip.failureRate,
    minimumCalls: trip.minimumCalls,
    bucketMillis: windowMillis / buckets,
    buckets
  }
}

/**
 * Creates a breaker. Its metrics series and (with a `store`) its sync
 * fibers live as long as the scope. Throws a `RangeError` at once on invalid
 * options.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { CircuitBreaker } from "@org/core"
 *
 * class HttpError extends Schema.TaggedError<HttpError>()("HttpError", { status: Schema.Number }) {}
 * declare const charge: Effect.Effect<string, HttpError>
 *
 * const program = Effect.gen(function* () {
 *   const breaker = yield* CircuitBreaker.make({
 *     name: "payments",
 *     trip: { failureRate: 0.5, window: "30 seconds", minimumCalls: 20 },
 *     openFor: { initial: "5 seconds", max: "2 minutes", factor: 2 },
 *     halfOpen: { probes: 3 },
 *     // a 4xx is the caller's fault, not the dependency's
 *     isFailure: (error: HttpError) => error.status >= 500
 *   })
 *   return yield* charge.pipe(breaker.execute)
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <E = unknown>(
  options: Options<E>
): Effect.Effect<CircuitBreaker<E>, never, Scope.Scope> => {
  const config = configOf(options)
  return Effect.gen(function* () {
    const machine = new M.Machine(config)
    const name = options.name
    const isFailure = options.isFailure
    const context = yield* Effect.context<never>()
    const unregister = registerMetrics(machine, name, context)
    yield* Effect.addFinalizer(() => unregister)

    const attributes = { "circuit_breaker.name": name }
    // No stack per call: it would point here, not at the caller.
    const callSpan = { attributes, kind: "internal" as const, captureStackTrace: false }
    const traceCalls = options.traceCalls === true

    const store = options.store
    const sync = store === undefined ? undefined : yield* makeSync(machine, name, store, options.syncEvery)

    const announce = (transition: M.Transition): Effect.Effect<void> => {
      if (sync !== undefined && !transition.adopted && transition.to !== M.HALF_OPEN) sync.publish(transition)
      return announceTransition(name, transition)
    }

    // Defects always count, interruptions never; a typed error counts when
    // the classifier says so.
    const outcomeOf = (exit: Exit.Exit<unknown, E>): number => {
      if (exit._tag === "Success") return M.SUCCESS
      let failed = false
      let counted = false
      for (const reason of exit.cause.reasons) {
        if (reason._tag === "Die") return M.FAILURE
        if (reason._tag === "Fail") {
          failed = true
          if (isFailure === undefined || isFailure(reason.error)) counted = true
        }
      }
      return counted ? M.FAILURE : failed ? M.IGNORED : M.INTERRUPTED
    }

    const recorder =
      (generation: number, fiber: Fiber.Fiber<unknown, unknown>) =>
      (exit: Exit.Exit<unknown, E>): Effect.Effect<void> | undefined => {
        const outcome = outcomeOf(exit)
        // The clock is only needed when the outcome can move the circuit.
        const now =
          config.consecutiveFailures > 0 && machine.status === M.CLOSED && outcome !== M.FAILURE
            ? 0
            : fiber.getRef(Clock.Clock).currentTimeMillisUnsafe()
        const transition = machine.record(generation, outcome, now)
        return transition === undefined ? undefined : announce(transition)
      }

    const rejection = (now: number) =>
      Effect.fail(
        new CircuitOpen({
          name,
          state: machine.status === M.OPEN ? "open" : "half-open",
          retryAfter: Duration.millis(machine.retryAfter(now))
        })
      )

    const traced = <A, E1, R>(effect: Effect.Effect<A, E1, R>, fiber: Fiber.Fiber<unknown, unknown>) =>
      traceCalls && fiber.getRef(TracerEnabled)
        ? Effect.withSpan(effect, "CircuitBreaker.execute", callSpan)
        : effect

    // Not closed: admission may move the circuit to half-open and hand out
    // a probe slot, so the call runs inside an exit frame installed before
    // any interruption can land, and the slot is always given back.
    const slowPath = <A, E1 extends E, R>(effect: Effect.Effect<A, E1, R>) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.withFiber<A, E1 | CircuitOpen, R>((fiber) => {
          const now = fiber.getRef(Clock.Clock).currentTimeMillisUnsafe()
          const generation = machine.admit(now)
          const transition = machine.transition
          if (generation === M.REJECT) return rejection(now)
          const call = Effect.onExitPrimitive(restore(traced(effect, fiber)), recorder(generation, fiber))
          return transition === undefined ? call : Effect.andThen(announce(transition), call)
        })
      )

    const execute = <A, E1 extends E, R>(
      effect: Effect.Effect<A, E1, R>
    ): Effect.Effect<A, E1 | CircuitOpen, R> =>
      Effect.withFiber((fiber) => {
        if (machine.status !== M.CLOSED) return slowPath(effect)
        return Effect.onExitPrimitive(traced(effect, fiber), recorder(machine.generation, fiber), true)
      })

    const state = Effect.withFiber((fiber) => {
      const now = fiber.getRef(Clock.Clock).currentTimeMillisUnsafe()
      return Effect.succeed<State>({
        status: statusNames[machine.status]!,
        retryAfter: Duration.millis(machine.retryAfter(now)),
        openings: machine.openings
      })
    })

    return { name, execute, state }
  })
}

// -----------------------------------------------------------------------------
// Transitions, shared state
// -----------------------------------------------------------------------------

const announceTransition = (name: string, transition: M.Transition): Effect.Effect<void> => {
  const from = statusNames[transition.from]!
  const to = statusNames[transition.to]!
  const attributes: Record<string, unknown> = {
    "circuit_breaker.name": name,
    "circuit_breaker.from": from,
    "circuit_breaker.to": to,
    "circuit_breaker.openings": transition.openings,
    "circuit_breaker.source": transition.adopted ? "store" : "local"
  }
  if (transition.to === M.OPEN) attributes["circuit_breaker.open_until"] = transition.openUntil
  if (transition.openForMillis > 0) attributes["circuit_breaker.open_for_ms"] = transition.openForMillis
  const message = `circuit breaker "${name}": ${from} -> ${to}`
  return (transition.to === M.OPEN ? Effect.logWarning(message) : Effect.logInfo(message)).pipe(
    Effect.annotateLogs(attributes),
    Effect.withSpan("CircuitBreaker.transition", { attributes })
  )
}

type Intent = Omit<SharedState, "version">

// A store failure (typed or a defect) never reaches a caller: the breaker
// keeps its local state and tries again at the next transition or poll.
const logStoreFailure =
  (name: string) =>
  <R>(effect: Effect.Effect<void, StateStoreError, R>): Effect.Effect<void, never, R> => {
    const log = (cause: unknown) =>
      Effect.logWarning(`circuit breaker "${name}": shared store failed, keeping local state`, cause)
    return effect.pipe(Effect.catch(log), Effect.catchDefect(log))
  }

// Publishes this instance's openings and closes, and adopts the others',
// through the store. Pushes and polls run one at a time, so a poll never
// adopts a version older than one this instance just wrote.
const makeSync = (
  machine: M.Machine,
  name: string,
  store: StateStore["Service"],
  syncEvery: Duration.Input | undefined
) =>
  Effect.gen(function* () {
    const every = Duration.fromInputUnsafe(syncEvery ?? "1 second")
    const queue = yield* Queue.unbounded<Intent>()
    const lock = Semaphore.makeUnsafe(1)
    let seen = 0
    let pending = 0

    const adopt = (shared: SharedState): Effect.Effect<void> => {
      seen = shared.version
      const transition = machine.adopt(shared.status, shared.openUntil, shared.openings)
      return transition === undefined ? Effect.void : announceTransition(name, transition)
    }

    const push = (intent: Intent) =>
      Effect.gen(function* () {
        for (let attempt = 0; attempt < 5; attempt++) {
          const current = yield* store.get(name)
          const version = current?.version ?? 0
          // Another instance wrote since this one last looked: its opening
          // wins over our close, and over our opening when it lasts longer.
          if (
            current !== undefined &&
            version !== seen &&
            (intent.status === "closed" ||
              (current.status === "open" && current.openUntil >= intent.openUntil))
          ) {
            return yield* adopt(current)
          }
          if (yield* store.compareAndSet(name, version, { ...intent, version: version + 1 })) {
            seen = version + 1
            return
          }
        }
      })

    const pull = Effect.gen(function* () {
      if (pending > 0) return
      const current = yield* store.get(name)
      if (current !== undefined && current.version !== seen && pending === 0) yield* adopt(current)
    })

    // A new instance starts from the shared state.
    yield* pull.pipe(logStoreFailure(name))
    yield* Queue.take(queue).pipe(
      Effect.flatMap((intent) =>
        lock
          .withPermits(1)(push(intent))
          .pipe(logStoreFailure(name), Effect.ensuring(Effect.sync(() => pending--)))
      ),
      Effect.forever,
      Effect.forkScoped
    )
    yield* Effect.sleep(every).pipe(
      Effect.andThen(lock.withPermits(1)(pull)),
      logStoreFailure(name),
      Effect.forever,
      Effect.forkScoped
    )
    return {
      publish: (transition: M.Transition) => {
        pending++
        Queue.offerUnsafe(
          queue,
          transition.to === M.OPEN
            ? { status: "open", openUntil: transition.openUntil, openings: transition.openings }
            : { status: "closed", openUntil: 0, openings: 0 }
        )
      }
    }
  })

// -----------------------------------------------------------------------------
// Registry
// -----------------------------------------------------------------------------

/**
 * Breaker options without the name and store, which a `Registry` supplies.
 *
 * @since 0.1.0
 * @category models
 */
export type RegistryOptions = Omit<Options, "name" | "store">

/**
 * Keyed breakers, one per downstream: `get(name)` creates the breaker on
 * first use (with the registry's defaults, the overrides for that name, and
 * the `StateStore` in context if any) and returns the same one afterwards.
 * Registry breakers take any error; for a typed classifier, `make` your own.
 *
 * @since 0.1.0
 * @category services
 */
export class Registry extends Context.Service<
  Registry,
  {
    readonly get: (name: string) => Effect.Effect<CircuitBreaker>
  }
>()("@org/core/CircuitBreaker/Registry") {}

/**
 * A `Registry` whose breakers live as long as the layer. Uses the
 * `StateStore` in context when there is one.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { CircuitBreaker } from "@org/core"
 *
 * const Breakers = CircuitBreaker.layerRegistry({
 *   defaults: { trip: { consecutiveFailures: 5 } },
 *   overrides: { search: { trip: { failureRate: 0.5, window: "10 seconds", minimumCalls: 20 } } }
 * }).pipe(Layer.provide(CircuitBreaker.layerStoreMemory))
 *
 * declare const search: Effect.Effect<ReadonlyArray<string>>
 * const guarded = search.pipe(CircuitBreaker.protect("search"), Effect.provide(Breakers))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerRegistry = (options?: {
  readonly defaults?: RegistryOptions | undefined
  readonly overrides?: Readonly<Record<string, RegistryOptions>> | undefined
}): Layer.Layer<Registry> =>
  Layer.effect(
    Registry,
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      const store = Option.getOrUndefined(yield* Effect.serviceOption(StateStore))
      const breakers = new Map<string, CircuitBreaker>()
      const lock = Semaphore.makeUnsafe(1)
      const create = (name: string) =>
        lock.withPermits(1)(
          Effect.suspend(() => {
            const existing = breakers.get(name)
            if (existing !== undefined) return Effect.succeed(existing)
            return make({ ...options?.defaults, ...options?.overrides?.[name], name, store }).pipe(
              Scope.provide(scope),
              Effect.tap((breaker) => Effect.sync(() => breakers.set(name, breaker)))
            )
          })
        )
      return Registry.of({
        get: (name) =>
          Effect.suspend(() => {
            const existing = breakers.get(name)
            return existing === undefined ? create(name) : Effect.succeed(existing)
          })
      })
    })
  )

/**
 * Runs an effect through the `Registry`'s breaker called `name`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const protect =
  (name: string) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | CircuitOpen, R | Registry> =>
    Effect.flatMap(Registry, (registry) =>
      Effect.flatMap(registry.get(name), (breaker) => breaker.execute(effect))
    )
