/**
 * Rate limits at the HTTP edge, over `@org/core`'s sliding-window
 * `RateLimitStore`: named policies (`default`, `auth`, your own), chosen per
 * group or endpoint with the `RateLimit.policy(name)` annotation; the client
 * is the authenticated subject, else the address (`request.remoteAddress`:
 * put Effect's `HttpMiddleware.xForwardedHeaders` with your proxies in
 * front, see `trustedProxies`, so `X-Forwarded-For` counts only from them).
 *
 * - `Middleware`: an HttpApi middleware; add it to the API
 *   (`HttpApi.middleware(RateLimit.Middleware)` before `ApiDefinition.prepare`)
 *   so it wraps every group's own middleware. It limits anonymous requests
 *   by address; a request with a bearer token to an endpoint behind a
 *   security middleware is left to that middleware, which limits it by
 *   subject once the token is verified (`Authentication` does, through
 *   `Limiter`).
 * - Limited responses carry `RateLimit-Policy` and `RateLimit` (IETF httpapi
 *   draft, structured fields: `"default";q=100;w=60` and
 *   `"default";r=42;t=17`); a refused request is a 429 problem with
 *   `Retry-After` in whole seconds, rounded up, so it is never earlier than
 *   the moment a request would pass.
 * - A store that cannot decide: each policy says `onUnavailable`, `"allow"`
 *   (the default for `default`: an outage of Redis does not take the API
 *   down) or `"refuse"` (503 with `Retry-After`; the default for `auth`:
 *   guessing passwords must stay throttled).
 * - Every decision is counted (`ratelimit.decisions` by `policy` and
 *   `outcome`: `allowed`, `refused`, `unavailable`) and set on the current
 *   span (`ratelimit.policy`, `ratelimit.outcome`).
 *
 * @since 0.2.0
 */
import * as Principal from "@org/core/Principal"
import * as RateLimiter from "@org/core/RateLimiter"
import type * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as HttpEffect from "effect/http/HttpEffect"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as HttpApiMiddleware from "effect/http-api/HttpApiMiddleware"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as HttpObservability from "./HttpObservability.ts"
import * as Problem from "./Problem.ts"

/**
 * The annotation naming the policy of a group or an endpoint (an endpoint's
 * wins); `default` when none names one.
 *
 * @since 0.2.0
 * @category annotations
 */
export class PolicyName extends Context.Service<PolicyName, string>()("@org/http/RateLimit/PolicyName") {}

/**
 * Annotations that put a group or an endpoint under a named policy:
 * `group.annotateMerge(RateLimit.policy("auth"))`.
 *
 * @example
 * ```ts
 * import { HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
 * import { RateLimit } from "@org/http"
 *
 * const Login = HttpApiGroup.make("login")
 *   .add(HttpApiEndpoint.post("login", "/login"))
 *   .annotateMerge(RateLimit.policy("auth"))
 * ```
 *
 * @since 0.2.0
 * @category annotations
 */
export const policy = (name: string): Context.Context<never> => Context.make(PolicyName, name)

/**
 * The annotation for a group or an endpoint that no policy limits (health
 * probes: a load balancer polls them from one address).
 *
 * @since 0.2.0
 * @category annotations
 */
export const exempt: Context.Context<never> = policy("none")

/**
 * A policy's name: 1 to 64 of `[A-Za-z0-9._-]` (it is quoted in headers).
 *
 * @since 0.3.0
 * @category schemas
 */
export const PolicyNameSchema = Schema.String.check(
  Schema.isMaxLength(64),
  Schema.isPattern(/^[A-Za-z0-9._-]{1,64}$/u)
)

/**
 * 429: a rate limit refused the request. `retryAfter` (whole seconds) is
 * also `Retry-After`; the policy's `RateLimit-Policy` and `RateLimit`
 * headers come with it.
 *
 * @since 0.2.0
 * @category problems
 */
export class Exceeded extends Problem.Class<Exceeded>()(
  "RateLimitedProblem",
  { type: Problem.types.tooManyRequests, status: 429, title: "Too Many Requests" },
  {
    retryAfter: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 2_147_483_647 })),
    policy: PolicyNameSchema,
    limit: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 2_147_483_647 })),
    windowSeconds: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 2_147_483_647 }))
  },
  {
    headers: (problem) => ({
      "retry-after": String(problem.retryAfter),
      "ratelimit-policy": policyHeader(problem.policy, problem.limit, problem.windowSeconds),
      ratelimit: `${quoted(problem.policy)};r=0;t=${problem.retryAfter}`
    })
  }
) {}

/**
 * The HttpApi middleware (see the module doc).
 *
 * @since 0.2.0
 * @category middleware
 */
export class Middleware extends HttpApiMiddleware.Service<Middleware>()("@org/http/RateLimit/Middleware", {
  error: [Exceeded, Problem.ServiceUnavailable]
}) {}

/**
 * One policy: a sliding window of `limit` requests per `window`, and what
 * to do when the store cannot decide.
 *
 * @since 0.2.0
 * @category models
 */
export interface PolicyOptions extends RateLimiter.Policy {
  readonly onUnavailable?: "allow" | "refuse" | undefined
}

/**
 * The policies by name; `default` applies where no annotation names one.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  readonly policies: { readonly default: PolicyOptions } & { readonly [name: string]: PolicyOptions }
}

/**
 * The decision of one request, with the policy it was made under.
 *
 * @since 0.2.0
 * @category models
 */
export interface Outcome {
  readonly policy: string
  readonly options: PolicyOptions
  readonly decision: RateLimiter.Decision
}

/**
 * Takes one request of `client` under the policy `name` (unknown names use
 * `default`): the outcome when it may pass, `Exceeded` when refused, a 503
 * when the store cannot decide and the policy refuses then. `headers` adds
 * the `RateLimit-Policy` and `RateLimit` headers of an outcome to a
 * response. Security middlewares call `take` with the verified subject.
 *
 * @since 0.2.0
 * @category services
 */
export class Limiter extends Context.Service<
  Limiter,
  {
    readonly take: (
      name: string,
      client: string
    ) => Effect.Effect<Option.Option<Outcome>, Exceeded | Problem.ServiceUnavailable>
  }
>()("@org/http/RateLimit/Limiter") {}

const quoted = (name: string): string => `"${name.replaceAll(/["\\]/g, "")}"`

const seconds = (duration: Duration.Duration): number => Math.ceil(Duration.toMillis(duration) / 1000)

const policyHeader = (name: string, limit: number, windowSeconds: number): string =>
  `${quoted(name)};q=${limit};w=${windowSeconds}`

/**
 * Adds the `RateLimit-Policy` and `RateLimit` headers of an outcome.
 *
 * @since 0.2.0
 * @category rendering
 */
export const withHeaders =
  (outcome: Option.Option<Outcome>) =>
  (response: HttpServerResponse.HttpServerResponse): HttpServerResponse.HttpServerResponse =>
    Option.isNone(outcome)
      ? response
      : HttpServerResponse.setHeaders(response, {
          "ratelimit-policy": policyHeader(
            outcome.value.policy,
            outcome.value.options.limit,
            seconds(outcome.value.options.window)
          ),
          ratelimit: `${quoted(outcome.value.policy)};r=${outcome.value.decision.remaining};t=${seconds(outcome.value.decision.resetAfter)}`
        })

/**
 * Sends the headers of an outcome with whatever response the request ends
 * in: the handler's success, a problem it fails with, a 403 after the
 * decision (a pre-response handler, so failures carry them too). A response
 * that already has them (a 429) keeps its own.
 *
 * @since 0.3.0
 * @category rendering
 */
export const announce = (
  outcome: Option.Option<Outcome>
): Effect.Effect<void, never, HttpServerRequest.HttpServerRequest> =>
  Option.isNone(outcome)
    ? Effect.void
    : HttpEffect.appendPreResponseHandler((_request, response) =>
        Effect.succeed("ratelimit" in response.headers ? response : withHeaders(outcome)(response))
      )

/**
 * The policy of an endpoint: its own annotation, else its group's, else
 * `default`.
 *
 * @since 0.2.0
 * @category annotations
 */
export const policyOf = (options: {
  readonly endpoint: { readonly annotations: Context.Context<never> }
  readonly group: { readonly annotations: Context.Context<never> }
}): string => {
  // Read per request (here and in `Authentication`): worked out once per endpoint.
  const known = policies.get(options.endpoint)
  if (known !== undefined) return known
  const name = Option.getOrElse(
    Option.orElse(Context.getOption(options.endpoint.annotations, PolicyName), () =>
      Context.getOption(options.group.annotations, PolicyName)
    ),
    () => "default"
  )
  policies.set(options.endpoint, name)
  return name
}

const policies = new WeakMap<object, string>()

/**
 * The limiter over a `RateLimitStore`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeLimiter = (
  options: Options
): Effect.Effect<Limiter["Service"], never, RateLimiter.RateLimitStore> =>
  Effect.flatMap(RateLimiter.RateLimitStore, (store) => {
    const invalid = Object.keys(options.policies).filter((name) => !isPolicyName(name))
    // A programming error: the names are the code's (or config keys it chose).
    if (invalid.length > 0) {
      return Effect.die(
        new Error(`RateLimit: policy names must be 1 to 64 of [A-Za-z0-9._-], not ${invalid.join(", ")}`)
      )
    }
    // Worked out once per policy: the request path only looks them up.
    const recorders = new Map<string, Recorders>()
    for (const policyName of Object.keys(options.policies)) {
      recorders.set(policyName, {
        allowed: recorder(policyName, "allowed"),
        refused: recorder(policyName, "refused"),
        unavailable: recorder(policyName, "unavailable")
      })
    }
    return Effect.succeed(
      Limiter.of({
        take: (name, client) => {
          if (name === "none") return Effect.succeed(Option.none())
          const policyName = name in options.policies ? name : "default"
          const chosen = options.policies[policyName] ?? options.policies.default
          const record = recorders.get(policyName)!
          return store.take(`${policyName}:${client}`, chosen).pipe(
            Effect.flatMap((decision) =>
              Effect.withFiber((fiber): Effect.Effect<Option.Option<Outcome>, Exceeded> => {
                if (decision.allowed) {
                  record.allowed(fiber)
                  return Effect.succeed(Option.some({ policy: policyName, options: chosen, decision }))
                }
                record.refused(fiber)
                return Effect.andThen(
                  HttpObservability.countRefusal(429, "rate-limit", policyName),
                  Effect.fail(
                    new Exceeded({
                      detail: "Too many requests. Wait before trying again.",
                      retryAfter: seconds(decision.retryAfter),
                      policy: policyName,
                      limit: chosen.limit,
                      windowSeconds: seconds(chosen.window)
                    })
                  )
                )
              })
            ),
            Effect.catchTag("RateLimitUnavailable", (error) =>
              Effect.withFiber((fiber) => {
                record.unavailable(fiber)
                return Effect.andThen(
                  Effect.logWarning("rate limit store unavailable").pipe(
                    Effect.annotateLogs({
                      policy: policyName,
                      onUnavailable: chosen.onUnavailable ?? "allow"
                    }),
                    Effect.annotateLogs("cause", String(error.cause))
                  ),
                  chosen.onUnavailable === "refuse"
                    ? Effect.andThen(
                        HttpObservability.countRefusal(503, "rate-limit-unavailable", policyName),
                        Effect.fail(
                          new Problem.ServiceUnavailable({
                            detail: "This request cannot be admitted right now. Try again shortly.",
                            retryAfter: 5
                          })
                        )
                      )
                    : Effect.succeed(Option.none())
                )
              })
            )
          )
        }
      })
    )
  })

const isPolicyName = Schema.is(PolicyNameSchema)

/**
 * What a limiter decided for one request: `allowed`, `refused` (a 429), or
 * `unavailable` (the store could not decide; the policy's `onUnavailable`
 * then lets it pass or refuses it with a 503).
 *
 * @since 0.4.0
 * @category models
 */
export type DecisionOutcome = "allowed" | "refused" | "unavailable"

/**
 * The name of the decision counter, `ratelimit.decisions`, with `policy`
 * and `outcome` attributes.
 *
 * @since 0.4.0
 * @category metrics
 */
export const decisionsMetricName = "ratelimit.decisions"

const decisionSeries = new Map<string, Metric.Counter<number>>()

/**
 * The counter of one policy's decisions of one outcome
 * (`ratelimit.decisions`).
 *
 * @example
 * ```ts
 * import { Metric } from "effect"
 * import { RateLimit } from "@org/http"
 *
 * const refusedLogins = Metric.value(RateLimit.decisionCounter("auth", "refused"))
 * ```
 *
 * @since 0.4.0
 * @category metrics
 */
export const decisionCounter = (policy: string, outcome: DecisionOutcome): Metric.Counter<number> => {
  const key = `${outcome}:${policy}`
  let counter = decisionSeries.get(key)
  if (counter === undefined) {
    counter = Metric.counter(decisionsMetricName, {
      description: "Rate-limit decisions by policy and outcome.",
      incremental: true,
      attributes: { policy, outcome }
    })
    decisionSeries.set(key, counter)
  }
  return counter
}

/**
 * Counts one decision and puts it on the current span (`ratelimit.policy`,
 * `ratelimit.outcome`) in the step that already holds the decision: no
 * Effect of its own, as every request passes here.
 */
const recorder = (policy: string, outcome: DecisionOutcome) => {
  const counter = decisionCounter(policy, outcome)
  return (fiber: Fiber.Fiber<unknown, unknown>): void => {
    counter.updateUnsafe(1, fiber.context)
    const span = fiber.cache.span
    if (span !== undefined && span._tag === "Span" && span.status._tag === "Started") {
      span.attribute("ratelimit.policy", policy)
      span.attribute("ratelimit.outcome", outcome)
    }
  }
}

type Recorders = Record<DecisionOutcome, (fiber: Fiber.Fiber<unknown, unknown>) => void>

const hasBearer = (request: HttpServerRequest.HttpServerRequest): boolean =>
  /^bearer\s/i.test(request.headers.authorization ?? "")

/**
 * The limiter and the middleware, over a `RateLimitStore` (memory:
 * `RateLimiter.layerMemory`; shared: `RedisRateLimitStore` of `@org/redis`).
 *
 * @example
 * ```ts
 * import { Duration, Layer } from "effect"
 * import { RateLimiter } from "@org/core"
 * import { RateLimit } from "@org/http"
 *
 * const RateLimits = RateLimit.layer({
 *   policies: {
 *     default: { limit: 100, window: Duration.minutes(1) },
 *     auth: { limit: 10, window: Duration.minutes(1), onUnavailable: "refuse" }
 *   }
 * }).pipe(Layer.provide(RateLimiter.layerMemory))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<Middleware | Limiter, never, RateLimiter.RateLimitStore> =>
  Layer.effectContext(
    Effect.map(makeLimiter(options), (limiter) =>
      Context.make(Limiter, limiter).pipe(
        Context.add(Middleware, (httpEffect, endpointOptions) => {
          const { name, secured } = routeOf(endpointOptions)
          if (name === "none") return httpEffect
          return Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
            // The security middleware limits this one by subject, once the token is verified.
            secured && hasBearer(request)
              ? httpEffect
              : Effect.flatMap(Effect.serviceOption(Principal.CurrentPrincipal), (principal) =>
                  Effect.flatMap(
                    limiter.take(
                      name,
                      Option.isSome(principal)
                        ? `sub:${principal.value.subject}`
                        : `ip:${Option.getOrElse(request.remoteAddress, () => "unknown")}`
                    ),
                    (outcome) => Effect.andThen(announce(outcome), httpEffect)
                  )
                )
          )
        })
      )
    )
  )

// What the middleware needs of an endpoint, worked out once per endpoint.
const routes = new WeakMap<object, { readonly name: string; readonly secured: boolean }>()

const routeOf = (options: {
  readonly endpoint: {
    readonly annotations: Context.Context<never>
    readonly middlewares: ReadonlySet<unknown>
  }
  readonly group: { readonly annotations: Context.Context<never> }
}) => {
  const known = routes.get(options.endpoint)
  if (known !== undefined) return known
  const route = {
    name: policyOf(options),
    // Effect keeps an endpoint's middlewares as plain keys (its own builder casts the same way).
    secured: [...options.endpoint.middlewares].some((key) =>
      HttpApiMiddleware.isSecurity(key as HttpApiMiddleware.AnyService)
    )
  }
  routes.set(options.endpoint, route)
  return route
}

/**
 * `layer` from the environment: `RATE_LIMIT` (the `default` policy,
 * `100/minute` unless set; fails open) and `AUTH_RATE_LIMIT` (the `auth`
 * policy, `10/minute`; fails closed). The form is `N/unit` (see
 * `RateLimiter.PolicyFromString`).
 *
 * @since 0.2.0
 * @category layers
 */
export const layerConfig = (): Layer.Layer<
  Middleware | Limiter,
  Config.ConfigError,
  RateLimiter.RateLimitStore
> =>
  Layer.unwrap(
    Effect.gen(function* () {
      const general = yield* RateLimiter.policyConfig("RATE_LIMIT", "100/minute")
      const auth = yield* RateLimiter.policyConfig("AUTH_RATE_LIMIT", "10/minute")
      return layer({
        policies: {
          default: { ...general, onUnavailable: "allow" },
          auth: { ...auth, onUnavailable: "refuse" }
        }
      })
    })
  )
