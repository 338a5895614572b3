/**
 * Sliding-window rate limiting: at most `limit` requests per key in any
 * window of `window` (a sliding log, ADR 0009). A refused request is not
 * counted, and its `retryAfter` is exact: the moment the oldest counted
 * request leaves the window, so a client that waits that long is admitted.
 *
 * The port is `RateLimitStore` (one atomic decision per call): `layerMemory`
 * here for one process and tests, `RedisRateLimitStore` in `@org/redis` for
 * a limit shared by every instance. A store that cannot decide fails with
 * `RateLimitUnavailable`; whether the request then passes (fail open) or is
 * refused (fail closed) is the caller's per-policy choice.
 *
 * Policies come from configuration as `N/unit` (`PolicyFromString`,
 * `policyConfig`): `100/minute`, `10/second`, `20/30 seconds`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RateLimiter } from "@org/core"
 *
 * const program = Effect.gen(function* () {
 *   const store = yield* RateLimiter.RateLimitStore
 *   const policy = yield* RateLimiter.policyConfig("LOGIN_RATE_LIMIT", "5/minute")
 *   const decision = yield* store.take("login:203.0.113.7", policy)
 *   return decision.allowed // true for the first five in any minute
 * }).pipe(Effect.provide(RateLimiter.layerMemory))
 * ```
 *
 * @since 0.2.0
 */
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import * as SchemaTransformation from "effect/SchemaTransformation"

/**
 * A limit: `limit` requests in any window of length `window`.
 *
 * @since 0.2.0
 * @category models
 */
export interface Policy {
  readonly limit: number
  readonly window: Duration.Duration
}

/**
 * The outcome of one request against a policy. Durations are exact (the
 * stores count in milliseconds); HTTP rounds them up to whole seconds.
 *
 * @since 0.2.0
 * @category models
 */
export interface Decision {
  readonly allowed: boolean
  readonly limit: number
  /** Requests still allowed in the current window, after this one. */
  readonly remaining: number
  /** Until the oldest counted request leaves the window (zero when none is counted). */
  readonly resetAfter: Duration.Duration
  /** Zero when allowed; otherwise until the request would be allowed. */
  readonly retryAfter: Duration.Duration
}

/**
 * The store could not decide (unreachable, timed out).
 *
 * @since 0.2.0
 * @category errors
 */
export class RateLimitUnavailable extends Schema.TaggedError<RateLimitUnavailable>()("RateLimitUnavailable", {
  cause: Schema.Defect()
}) {}

/**
 * The port: decides one request for `key` under `policy`, atomically (of
 * concurrent requests for one key, exactly as many pass as the limit
 * allows) and records it when allowed.
 *
 * @since 0.2.0
 * @category services
 */
export class RateLimitStore extends Context.Service<
  RateLimitStore,
  {
    readonly take: (key: string, policy: Policy) => Effect.Effect<Decision, RateLimitUnavailable>
  }
>()("@org/core/RateLimiter/RateLimitStore") {}

// ---------------------------------------------------------------------------
// Policies from configuration
// ---------------------------------------------------------------------------

const expectedPolicy =
  "a rate limit such as 100/minute, 10/second, 1000/hour, 5000/day or 20/30 seconds " +
  "(a whole number of requests >= 1, a slash, then second, minute, hour, day, week " +
  "or an Effect duration of whole milliseconds, at least 1 millisecond)"

const units: ReadonlyArray<readonly [string, number]> = [
  ["second", 1_000],
  ["minute", 60_000],
  ["hour", 3_600_000],
  ["day", 86_400_000],
  ["week", 604_800_000]
]

const policyPattern = /^(\d+)\s*\/\s*(.+)$/

// Stores count whole milliseconds: a window must be one (finite, >= 1 ms).
const isWholeMillis = (window: Duration.Duration): boolean => {
  const millis = Duration.toMillis(window)
  return Number.isSafeInteger(millis) && millis >= 1
}

const parseWindow = (text: string): Option.Option<Duration.Duration> => {
  const lower = text.toLowerCase()
  // A bare unit is one of it ("100/minute"); anything else is Effect's duration text ("20/30 seconds").
  const unit = units.find(([name]) => name === lower)
  const window =
    unit !== undefined
      ? Option.some(Duration.millis(unit[1]))
      : Schema.decodeUnknownOption(Schema.DurationFromString)(lower)
  return Option.filter(window, isWholeMillis)
}

const parsePolicy = (input: string): Option.Option<Policy> => {
  const match = policyPattern.exec(input.trim())
  if (match === null) return Option.none()
  const limit = Number(match[1])
  if (!Number.isSafeInteger(limit) || limit < 1) return Option.none()
  return Option.map(parseWindow(match[2]!), (window) => ({ limit, window }))
}

// In the largest unit that divides the window: 100/minute, 20/30 seconds, 3/1500 millis.
const formatPolicy = (policy: Policy): string => {
  const millis = Duration.toMillis(policy.window)
  for (let i = units.length - 1; i >= 0; i--) {
    const [name, unitMillis] = units[i]!
    if (millis % unitMillis !== 0) continue
    const count = millis / unitMillis
    return `${policy.limit}/${count === 1 ? name : `${count} ${name}s`}`
  }
  return `${policy.limit}/${millis} millis`
}

const PolicyType = Schema.Struct({
  limit: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)),
  window: Schema.Duration.check(
    Schema.makeFilter((window: Duration.Duration) =>
      isWholeMillis(window) ? undefined : "the window must be a whole number of milliseconds, at least 1"
    )
  )
})

/**
 * A `Policy` from its configuration text `N/unit`: `100/minute`,
 * `10/second`, `1000/hour`, `5000/day`, or `N/<duration>` in Effect's
 * duration text (`20/30 seconds`, `50/1500 millis`). Encodes back to the
 * same form, in the largest unit that divides the window (`20/30 seconds`).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { RateLimiter } from "@org/core"
 *
 * const policy = Schema.decodeUnknownSync(RateLimiter.PolicyFromString)("20/30 seconds")
 * // { limit: 20, window: Duration.seconds(30) }
 * ```
 *
 * @since 0.2.0
 * @category schemas
 */
export const PolicyFromString = Schema.String.pipe(
  Schema.decodeTo(
    PolicyType,
    SchemaTransformation.transformEffect<Policy, string>({
      decode: (input, options) =>
        Option.match(parsePolicy(input), {
          onNone: () =>
            Effect.fail(
              new SchemaIssue.InvalidValue(
                { message: `Expected ${expectedPolicy}, got ${JSON.stringify(input.slice(0, 80))}` },
                input,
                options
              )
            ),
          onSome: Effect.succeed
        }),
      encode: (policy) => Effect.succeed(formatPolicy(policy))
    })
  )
)

/**
 * A policy read from the variable `name` (see `PolicyFromString`), or from
 * `defaultValue` when it is unset. A malformed value, or a malformed
 * default, is a `ConfigError` naming the variable and the expected form.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AppConfig, RateLimiter } from "@org/core"
 *
 * // RATE_LIMIT_LOGIN=10/minute, or 5/minute when unset
 * const login = RateLimiter.policyConfig("RATE_LIMIT_LOGIN", "5/minute")
 * const program = Effect.gen(function* () {
 *   const policy = yield* login
 *   return policy.limit // 10 with RATE_LIMIT_LOGIN=10/minute, else 5
 * }).pipe(Effect.mapError(AppConfig.fromConfigError))
 * ```
 *
 * @since 0.2.0
 * @category config
 */
export const policyConfig = (name: string, defaultValue: string): Config.Config<Policy> =>
  Config.schema(PolicyFromString.pipe(Schema.withDecodingDefault(Effect.succeed(defaultValue))), name)

// ---------------------------------------------------------------------------
// In memory
// ---------------------------------------------------------------------------

/**
 * The in-memory store, with a look at its size (for tests and metrics).
 *
 * @since 0.2.0
 * @category models
 */
export interface MemoryStore extends Context.Service.Shape<typeof RateLimitStore> {
  /** Keys tracked and timestamps held, over every key and policy. */
  readonly size: Effect.Effect<{ readonly keys: number; readonly timestamps: number }>
}

/** The recorded times of allowed requests for one key under one policy, oldest first. */
interface Log {
  readonly limit: number
  readonly windowMillis: number
  readonly times: Array<number>
}

/** A key's logs, one per policy it is taken under (a few at most). */
interface Entry {
  readonly key: string
  readonly logs: Array<Log>
}

/** Idle keys examined (and dropped when stale) per `take`. */
const sweepPerTake = 2

const invalidPolicy = (policy: Policy) =>
  Effect.die(
    new Error(
      `RateLimitStore: invalid policy (limit ${policy.limit}, window ${Duration.format(policy.window)}): ` +
        "the limit must be a whole number >= 1 and the window a whole number of milliseconds >= 1"
    )
  )

/**
 * Whether a policy can be enforced: a whole `limit` >= 1 and a finite
 * window of whole milliseconds, at least 1 (what `PolicyFromString` admits).
 * Stores die on any other policy: it is a programming error, not an outage.
 *
 * @since 0.2.0
 * @category predicates
 */
export const isValidPolicy = (policy: Policy): boolean =>
  Number.isSafeInteger(policy.limit) && policy.limit >= 1 && isWholeMillis(policy.window)

/**
 * Makes an in-memory store: a sliding log per key and policy, on the
 * `Clock` of each call (so `TestClock` drives it). A decision is one
 * synchronous step (read the clock, drop entries older than the window,
 * count, record), so concurrent takes of one key never overshoot. Memory
 * stays bounded: a log holds at most `limit` timestamps, and every take
 * also examines two other keys and drops their logs whose requests have all
 * left the window (and the key when none is left), so idle keys go while
 * traffic flows.
 *
 * @example
 * ```ts
 * import { Duration, Effect } from "effect"
 * import { RateLimiter } from "@org/core"
 *
 * const program = Effect.gen(function* () {
 *   const store = yield* RateLimiter.makeMemory
 *   const policy = { limit: 2, window: Duration.seconds(1) }
 *   yield* store.take("client-1", policy)
 *   yield* store.take("client-1", policy)
 *   const third = yield* store.take("client-1", policy)
 *   return third.retryAfter // 1 second: when the first leaves the window
 * })
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeMemory: Effect.Effect<MemoryStore> = Effect.sync(() => {
  // Keyed by the caller's key alone: a composite "<policy>:<key>" string
  // would cost a concatenation and a fresh hash per take (measured: about
  // 100 ns of a 400 ns take). The policy picks a log within the entry.
  const entries = new Map<string, Entry>()
  let cursor: Iterator<Entry> = entries.values()

  // Incremental sweep: a few keys per take, resuming where the last one stopped.
  const sweep = (now: number) => {
    for (let i = 0; i < sweepPerTake; i++) {
      let next = cursor.next()
      if (next.done === true) {
        cursor = entries.values()
        next = cursor.next()
        if (next.done === true) return
      }
      const entry = next.value
      const logs = entry.logs
      for (let j = logs.length - 1; j >= 0; j--) {
        const log = logs[j]!
        if (log.times[log.times.length - 1]! <= now - log.windowMillis) logs.splice(j, 1)
      }
      if (logs.length === 0) entries.delete(entry.key)
    }
  }

  const decide = (key: string, limit: number, windowMillis: number, now: number): Decision => {
    sweep(now)
    const entry = entries.get(key)
    if (entry === undefined) {
      entries.set(key, { key, logs: [{ limit, windowMillis, times: [now] }] })
      return allowed(limit, limit - 1, windowMillis)
    }
    // Limit and window both pick the log: two policies never share one.
    let log: Log | undefined
    for (const candidate of entry.logs) {
      if (candidate.limit === limit && candidate.windowMillis === windowMillis) {
        log = candidate
        break
      }
    }
    if (log === undefined) {
      entry.logs.push({ limit, windowMillis, times: [now] })
      return allowed(limit, limit - 1, windowMillis)
    }
    const times = log.times
    const edge = now - windowMillis
    // A request at time t counts while t is in (now - window, now].
    while (times.length > 0 && times[0]! <= edge) times.shift()
    const count = times.length
    if (count < limit) {
      // A clock that stepped back records at the newest time, so the log stays sorted.
      times.push(count === 0 ? now : Math.max(now, times[count - 1]!))
      return allowed(limit, limit - count - 1, times[0]! + windowMillis - now)
    }
    // The request that must leave for this one to fit (the oldest, as a log never exceeds the limit).
    return {
      allowed: false,
      limit,
      remaining: 0,
      resetAfter: Duration.millis(times[0]! + windowMillis - now),
      retryAfter: Duration.millis(times[count - limit]! + windowMillis - now)
    }
  }

  const take = (key: string, policy: Policy): Effect.Effect<Decision> => {
    if (!isValidPolicy(policy)) return invalidPolicy(policy)
    const limit = policy.limit
    const windowMillis = Duration.toMillis(policy.window)
    // The clock is read and the decision made in one synchronous callback:
    // no other take can run in between. (Hot path: no span, one Effect step.)
    return Effect.clockWith((clock) =>
      Effect.succeed(decide(key, limit, windowMillis, clock.currentTimeMillisUnsafe()))
    )
  }

  return {
    ...RateLimitStore.of({ take }),
    size: Effect.sync(() => {
      let timestamps = 0
      for (const entry of entries.values()) for (const log of entry.logs) timestamps += log.times.length
      return { keys: entries.size, timestamps }
    })
  }
})

const allowed = (limit: number, remaining: number, resetAfterMillis: number): Decision => ({
  allowed: true,
  limit,
  remaining,
  resetAfter: Duration.millis(resetAfterMillis),
  retryAfter: Duration.zero
})

/**
 * A fresh in-memory store per layer build: one process's limits (each
 * instance counts alone), and tests under `TestClock`.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerMemory: Layer.Layer<RateLimitStore> = Layer.effect(RateLimitStore, makeMemory)
