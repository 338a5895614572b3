/**
 * Traces and metrics at the HTTP edge, with OpenTelemetry semantic-convention
 * names.
 *
 * Traces: one `server` span per request, opened by this module's middleware
 * (outermost in `HttpApp`'s pipeline) in place of Effect's server tracer,
 * which `HttpApp` turns off (`HttpMiddleware.TracerDisabledWhen`): the kit
 * knows the route template, the scheme and the client address already, so
 * the span costs no second URL parse and no pass over the headers. It
 * continues a caller's W3C `traceparent`/`tracestate`, is named
 * `<METHOD> <route template>` (`GET /api/v1/items/:id`; `GET` alone for a
 * path no route serves; `HTTP` for a method the conventions do not name),
 * and records the conventions' attributes:
 * `http.request.method` (`_OTHER` plus `http.request.method_original` for a
 * method the conventions do not name), `http.route`, `url.path` (a route's
 * `redactedParams` as `REDACTED`), `url.query` (every value `REDACTED`:
 * queries may carry secrets), `url.scheme` (the transport's, or a trusted
 * proxy's `X-Forwarded-Proto`, never another caller's header),
 * `server.address`/`server.port` (from a well-formed `Host`),
 * `client.address`, `user_agent.original` (cut to `maxUserAgentLength`),
 * `http.response.status_code`, `error.type` (the status of a 5xx) and
 * `problem.type` for a problem response. A 5xx or an interruption fails the
 * span; a 4xx does not (the caller's mistake). `RequestId` adds
 * `http.request.id`. Paths under `untracedPaths` (health, `/metrics`) get no
 * span, and with no tracer installed (Effect's native one) or
 * `References.TracerEnabled` off no span is made at all.
 *
 * Metrics (Effect `Metric`, so both the OTLP exporter and `Metrics.route`
 * see them):
 * - `http.server.request.duration`: histogram, seconds, the convention's
 *   buckets; by method, route template, status code and scheme.
 * - `http.server.request.body.size`, `http.server.response.body.size`:
 *   histograms, bytes, when the length is known (`Content-Length`).
 * - `http.server.active_requests`: up-down gauge, by method and scheme.
 * - `http.server.refusals`: counter of 401/403/429 (and fail-closed 503)
 *   answers by `status` and `reason` (plus `policy` for rate limits),
 *   counted where they are decided (`Authentication`, `RateLimit`).
 *
 * Series are keyed by the route template, never the path, and each series is
 * built once and reused, so a request does one route lookup (shared by the
 * span name and the metrics) and a few map lookups, no string building.
 *
 * @since 0.3.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FindMyWay from "effect/http/FindMyWay"
import type * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerError from "effect/http/HttpServerError"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import type * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as HttpTraceContext from "effect/http/HttpTraceContext"
import * as UrlParams from "effect/http/UrlParams"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as References from "effect/References"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Tracer from "effect/Tracer"
import { everyName, pathOf } from "./internal/url.ts"

/**
 * The bucket boundaries (seconds) the semantic conventions advise for
 * `http.server.request.duration`.
 *
 * @since 0.3.0
 * @category constants
 */
export const durationBoundaries: ReadonlyArray<number> = [
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10
]

/**
 * Bucket boundaries (bytes) of the body size histograms: powers of 4 from
 * 64 B to 16 MiB.
 *
 * @since 0.3.0
 * @category constants
 */
export const sizeBoundaries: ReadonlyArray<number> = [
  64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216
]

/**
 * The metric names of this module, and their units (`unit` is the attribute
 * Effect's OTLP exporter reads; the Prometheus text leaves it out of the
 * labels, `Metrics.route` adds it to the name instead).
 *
 * @since 0.3.0
 * @category constants
 */
export const metricNames = {
  requestDuration: "http.server.request.duration",
  requestBodySize: "http.server.request.body.size",
  responseBodySize: "http.server.response.body.size",
  activeRequests: "http.server.active_requests",
  refusals: "http.server.refusals"
} as const

/**
 * The longest `user_agent.original` a server span records: a longer
 * `User-Agent` is cut to its first 256 characters.
 *
 * @since 0.4.0
 * @category constants
 */
export const maxUserAgentLength = 256

/**
 * The paths that get no server span unless `untracedPaths` says otherwise:
 * health probes and metric scrapes, which would drown the traces that matter.
 *
 * @since 0.3.0
 * @category constants
 */
export const defaultUntracedPaths: ReadonlyArray<string> = ["/health", "/metrics"]

/**
 * Options of the edge observability (`HttpApp.Options.observability`).
 *
 * @since 0.3.0
 * @category models
 */
export interface Options {
  /**
   * Paths that get no server span: a request path equal to one of them or
   * below it (`/health` covers `/health/live`). `["/health", "/metrics"]` by
   * default; `[]` traces everything.
   */
  readonly untracedPaths?: ReadonlyArray<string> | undefined
  /** Whether to record the HTTP metrics; `true` by default. */
  readonly metrics?: boolean | undefined
}

// -----------------------------------------------------------------------------
// Route templates
// -----------------------------------------------------------------------------

/**
 * The route templates an app serves, to name spans and label metrics by
 * template (`/api/v1/items/:id`) instead of by path. `HttpApp.layer` fills it
 * from every route it registers.
 *
 * @since 0.3.0
 * @category models
 */
export interface RouteTemplates {
  /**
   * Records a route. `redactedParams` are the path params whose values are
   * secret, as `HttpRouter.add`'s option of that name: `url.path` shows them
   * as `REDACTED`.
   */
  readonly add: (method: string, path: string, redactedParams?: ReadonlyArray<string> | undefined) => void
  /** The template serving `method` at `url` (a path, maybe with a query). */
  readonly find: (method: string, url: string) => string | undefined
  /**
   * The path of `url` for a span's `url.path`: as sent, or, when `template`
   * (the one `find` gave) has redacted params, with their values replaced by
   * `REDACTED`.
   */
  readonly path: (method: string, url: string, template: string | undefined) => string
}

const allMethods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "QUERY"] as const

// A segment that is one plain named param (`:id`); anything else holding a
// param (several in one segment, a regex constraint, an optional param, a
// wildcard) is redacted whole when its route redacts anything.
const plainParam = /^:([^:(*?.-]+)$/

const redactPath = (
  template: string,
  params: Readonly<Record<string, string | undefined>>,
  secret: ReadonlySet<string>
): string =>
  template
    .split("/")
    .map((segment) => {
      if (!segment.includes(":") && !segment.includes("*")) return segment
      const name = plainParam.exec(segment)?.[1]
      const value = name === undefined || secret.has(name) ? undefined : params[name]
      return value === undefined || !value.isWellFormed() ? "REDACTED" : encodeURIComponent(value)
    })
    .join("/")

/**
 * An empty `RouteTemplates`, matching paths as the served router does.
 *
 * @example
 * ```ts
 * import { HttpObservability } from "@org/http"
 *
 * const templates = HttpObservability.makeRouteTemplates({ caseSensitive: true })
 * templates.add("GET", "/hooks/:id/:secret", ["secret"])
 * templates.find("GET", "/hooks/7/abc") // "/hooks/:id/:secret"
 * templates.path("GET", "/hooks/7/abc", "/hooks/:id/:secret") // "/hooks/7/REDACTED"
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const makeRouteTemplates = (config: Partial<FindMyWay.RouterConfig>): RouteTemplates => {
  const router = FindMyWay.make<string>(config)
  const seen = new Set<string>()
  // template -> the names of its secret params
  const redacted = new Map<string, Set<string>>()
  const on = (method: string, path: string, template: string) => {
    const key = `${method} ${path}`
    if (seen.has(key)) return
    seen.add(key)
    router.on(method, path as HttpRouter.PathInput, template)
  }
  const lookup = (method: string, url: string) =>
    // The router answers HEAD with the GET route.
    router.find(method, url) ?? (method === "HEAD" ? router.find("GET", url) : undefined)
  return {
    add: (method, path, redactedParams) => {
      if (redactedParams !== undefined && redactedParams.length > 0) {
        const names = redacted.get(path) ?? new Set()
        for (const name of redactedParams) names.add(name)
        redacted.set(path, names)
      }
      for (const target of method === "*" ? allMethods : [method]) {
        on(target, path, path)
        // As the router: `/x/*` also serves `/x`.
        if (path.endsWith("/*")) on(target, path.slice(0, -2), path)
      }
    },
    find: (method, url) => lookup(method, url)?.handler,
    path: (method, url, template) => {
      const secret = template === undefined ? undefined : redacted.get(template)
      if (secret === undefined) return pathOf(url)
      const found = lookup(method, url)
      return found === undefined ? pathOf(url) : redactPath(template!, found.params, secret)
    }
  }
}

// -----------------------------------------------------------------------------
// Tracing
// -----------------------------------------------------------------------------

// The methods the conventions name; any other is `_OTHER` (bounded cardinality).
const knownMethods: ReadonlySet<string> = new Set([
  "CONNECT",
  "DELETE",
  "GET",
  "HEAD",
  "OPTIONS",
  "PATCH",
  "POST",
  "PUT",
  "TRACE",
  "QUERY"
])

const methodOf = (method: string): string => (knownMethods.has(method) ? method : "_OTHER")

/**
 * The server span names of one app, `<METHOD> <template>` or the method
 * alone when no route serves the path (names stay few whatever the paths),
 * each built once. A method the conventions do not name is `HTTP`.
 */
const spanNames = (): ((method: string, template: string | undefined) => string) => {
  const names = new Map<string, Map<string, string>>()
  return (known, template) => {
    const method = known === "_OTHER" ? "HTTP" : known
    if (template === undefined) return method
    let byTemplate = names.get(method)
    if (byTemplate === undefined) {
      byTemplate = new Map()
      names.set(method, byTemplate)
    }
    let name = byTemplate.get(template)
    if (name === undefined) {
      name = `${method} ${template}`
      byTemplate.set(template, name)
    }
    return name
  }
}

/**
 * Whether a request goes untraced: its path is one of `paths` or below one.
 *
 * @since 0.3.0
 * @category tracing
 */
export const untraced =
  (paths: ReadonlyArray<string>) =>
  (request: HttpServerRequest.HttpServerRequest): boolean => {
    if (paths.length === 0) return false
    const path = pathOf(request.url)
    return paths.some((p) => path === p || (path.startsWith(p) && path.charCodeAt(p.length) === 47))
  }

// The query of a request target, every value redacted; "" for none.
const queryOf = (url: string): string => {
  const start = url.indexOf("?")
  if (start === -1) return ""
  const end = url.indexOf("#", start)
  return UrlParams.redactUrl(end === -1 ? url.slice(start) : url.slice(start, end), everyName).slice(1)
}

// A `Host` of a registered name, IPv4 or bracketed IPv6 address, with an
// optional port: anything else records no `server.*` attributes.
const hostPattern = /^(?:\[([0-9A-Fa-f:.]{2,45})\]|([A-Za-z0-9.-]{1,253}))(?::(\d{1,5}))?$/
const defaultPorts: Readonly<Record<string, number>> = { http: 80, https: 443 }

const addServerAttributes = (span: Tracer.Span, host: string | undefined, scheme: string): void => {
  if (host === undefined) return
  const parts = hostPattern.exec(host)
  if (parts === null) return
  const port = parts[3] === undefined ? defaultPorts[scheme] : Number(parts[3])
  span.attribute("server.address", (parts[1] ?? parts[2]!).toLowerCase())
  if (port !== undefined && port <= 65535) span.attribute("server.port", port)
}

// -----------------------------------------------------------------------------
// Metrics
// -----------------------------------------------------------------------------

const secondsUnit = { unit: "seconds" } as const
const bytesUnit = { unit: "bytes" } as const

// One series object per attribute set, built on first use and reused: Effect
// caches a metric's registry key on the metric object.
const cached = <K, V>(map: Map<K, V>, key: K, make: () => V): V => {
  let value = map.get(key)
  if (value === undefined) {
    value = make()
    map.set(key, value)
  }
  return value
}

interface RouteSeries {
  readonly duration: Metric.Histogram<number>
  readonly requestSize: Metric.Histogram<number>
  readonly responseSize: Metric.Histogram<number>
}

// scheme -> method -> route ("" when unmatched) -> status -> series
const routeSeries = new Map<string, Map<string, Map<string, Map<number, RouteSeries>>>>()
const activeSeries = new Map<string, Map<string, Metric.Gauge<number>>>()

const seriesOf = (scheme: string, method: string, route: string, status: number): RouteSeries =>
  cached(
    cached(
      cached(
        cached(routeSeries, scheme, () => new Map()),
        method,
        () => new Map()
      ),
      route,
      () => new Map()
    ),
    status,
    () => {
      const attributes: Record<string, string> = {
        "http.request.method": method,
        "http.response.status_code": String(status),
        "url.scheme": scheme
      }
      // The conventions leave `http.route` out when no route matched.
      if (route !== "") attributes["http.route"] = route
      return {
        duration: Metric.histogram(metricNames.requestDuration, {
          description: "Duration of HTTP server requests.",
          boundaries: durationBoundaries,
          attributes: { ...attributes, ...secondsUnit }
        }),
        requestSize: Metric.histogram(metricNames.requestBodySize, {
          description: "Size of HTTP server request bodies.",
          boundaries: sizeBoundaries,
          attributes: { ...attributes, ...bytesUnit }
        }),
        responseSize: Metric.histogram(metricNames.responseBodySize, {
          description: "Size of HTTP server response bodies.",
          boundaries: sizeBoundaries,
          attributes: { ...attributes, ...bytesUnit }
        })
      }
    }
  )

const activeOf = (scheme: string, method: string): Metric.Gauge<number> =>
  cached(
    cached(activeSeries, scheme, () => new Map()),
    method,
    () =>
      Metric.gauge(metricNames.activeRequests, {
        description: "Number of HTTP server requests in flight.",
        attributes: { "http.request.method": method, "url.scheme": scheme, unit: "{request}" }
      })
  )

/**
 * Why a request was refused, for `http.server.refusals`.
 *
 * @since 0.3.0
 * @category models
 */
export type RefusalReason =
  | "missing-token"
  | "invalid-token"
  | "revoked"
  | "permission"
  | "rate-limit"
  | "rate-limit-unavailable"
  | "revocation-unavailable"

// status -> reason -> policy ("" for none) -> counter
const refusalSeries = new Map<number, Map<string, Map<string, Metric.Counter<number>>>>()

/**
 * The counter of one kind of refusal (`http.server.refusals` with `status`,
 * `reason` and, for rate limits, `policy`).
 *
 * @since 0.3.0
 * @category metrics
 */
export const refusalCounter = (
  status: number,
  reason: RefusalReason,
  policy?: string
): Metric.Counter<number> =>
  cached(
    cached(
      cached(refusalSeries, status, () => new Map()),
      reason,
      () => new Map()
    ),
    policy ?? "",
    () =>
      Metric.counter(metricNames.refusals, {
        description: "HTTP requests refused by authentication, authorization or rate limits.",
        incremental: true,
        attributes: {
          status: String(status),
          reason,
          ...(policy === undefined ? {} : { policy })
        }
      })
  )

/**
 * Counts one refusal; call it where the refusal is decided.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { HttpObservability } from "@org/http"
 *
 * const refuse = Effect.andThen(HttpObservability.countRefusal(403, "permission"), Effect.fail("forbidden"))
 * ```
 *
 * @since 0.3.0
 * @category metrics
 */
export const countRefusal = (status: number, reason: RefusalReason, policy?: string): Effect.Effect<void> =>
  Metric.update(refusalCounter(status, reason, policy), 1)

// -----------------------------------------------------------------------------
// Middleware
// -----------------------------------------------------------------------------

// `protocol` is set by the server (TLS) or by `HttpMiddleware.xForwardedHeaders`
// for a trusted proxy's `X-Forwarded-Proto`; no header is read here.
const schemeOf = (request: HttpServerRequest.HttpServerRequest): string =>
  request.protocol ?? (request.originalUrl.startsWith("https:") ? "https" : "http")

const contentLengthOf = (value: string | undefined): number | undefined => {
  if (value === undefined) return undefined
  const n = Number(value)
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined
}

const responseBodySize = (response: HttpServerResponse.HttpServerResponse): number | undefined => {
  const body = response.body
  if (body._tag === "Empty") return 0
  return body.contentLength ?? contentLengthOf(response.headers["content-length"])
}

const problemMediaType = "application/problem+json"
const decodeProblemType = Schema.decodeUnknownOption(
  Schema.fromJsonString(Schema.Struct({ type: Schema.String.check(Schema.isMaxLength(1024)) }))
)

const problemTypeOf = (response: HttpServerResponse.HttpServerResponse): Option.Option<string> => {
  if (response.status < 400 || !(response.headers["content-type"] ?? "").startsWith(problemMediaType)) {
    return Option.none()
  }
  const body = response.body
  if (body._tag !== "Uint8Array") return Option.none()
  return Option.map(decodeProblemType(body.text ?? new TextDecoder().decode(body.body)), (p) => p.type)
}

// The failure a server span ends with for a 5xx answer, which the
// conventions count as a server error: no stack, the span's name and the
// status as the message.
const serverError = (name: string, status: number) => ({
  name: "HttpServerErrorStatus",
  message: `${name} answered ${status}`
})

const endSpan = (
  span: Tracer.Span,
  name: string,
  endTime: bigint,
  exit: Exit.Exit<HttpServerResponse.HttpServerResponse, unknown>,
  request: HttpServerRequest.HttpServerRequest,
  facts: {
    readonly method: string
    readonly scheme: string
    readonly template: string | undefined
    readonly templates: RouteTemplates
  }
): void => {
  // An interrupted request (the client went away) sent no response.
  const interrupted = Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)
  const response = Exit.isSuccess(exit)
    ? exit.value
    : interrupted
      ? undefined
      : HttpServerError.causeResponseStripped(exit.cause)[0]
  if (span.sampled) {
    span.attribute("http.request.method", facts.method)
    if (facts.method !== request.method) span.attribute("http.request.method_original", request.method)
    if (facts.template !== undefined) span.attribute("http.route", facts.template)
    span.attribute("url.path", facts.templates.path(request.method, request.url, facts.template))
    const query = queryOf(request.url)
    if (query !== "") span.attribute("url.query", query)
    span.attribute("url.scheme", facts.scheme)
    addServerAttributes(span, request.headers.host, facts.scheme)
    if (Option.isSome(request.remoteAddress)) span.attribute("client.address", request.remoteAddress.value)
    const agent = request.headers["user-agent"]
    if (agent !== undefined) {
      span.attribute(
        "user_agent.original",
        agent.length > maxUserAgentLength ? agent.slice(0, maxUserAgentLength) : agent
      )
    }
    if (response !== undefined) {
      span.attribute("http.response.status_code", response.status)
      // The conventions' error class of a server error: its status code.
      if (response.status >= 500) span.attribute("error.type", String(response.status))
      const type = problemTypeOf(response)
      if (Option.isSome(type)) span.attribute("problem.type", type.value)
    }
  }
  if (Exit.isSuccess(exit)) {
    span.end(endTime, exit.value.status >= 500 ? Exit.fail(serverError(name, exit.value.status)) : exit)
  } else {
    span.end(endTime, exit)
  }
}

/**
 * The edge middleware, outermost in `HttpApp`'s pipeline: opens the server
 * span of a request (see the module doc) and records the metrics of every
 * request. One route lookup serves the span name, `http.route` and the
 * metrics' labels.
 *
 * @example
 * ```ts
 * import { HttpObservability } from "@org/http"
 * import { Effect } from "effect"
 * import { HttpServerResponse } from "effect/http"
 *
 * const templates = HttpObservability.makeRouteTemplates({ caseSensitive: true })
 * templates.add("GET", "/hello")
 * const observed = HttpObservability.middleware({ templates })(Effect.succeed(HttpServerResponse.text("hi")))
 * ```
 *
 * @since 0.3.0
 * @category middleware
 */
export const middleware =
  (options: {
    readonly templates: RouteTemplates
    readonly metrics?: boolean | undefined
    /** As `Options.untracedPaths`. */
    readonly untracedPaths?: ReadonlyArray<string> | undefined
  }) =>
  <E, R>(
    app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
  ): Effect.Effect<
    HttpServerResponse.HttpServerResponse,
    E,
    R | HttpServerRequest.HttpServerRequest | Scope.Scope
  > => {
    const { templates } = options
    const recordMetrics = options.metrics !== false
    const isUntraced = untraced(options.untracedPaths ?? defaultUntracedPaths)
    const nameOf = spanNames()
    return Effect.withFiber((fiber) => {
      const request = Context.getUnsafe(fiber.context, HttpServerRequest.HttpServerRequest)
      // Effect's native tracer has no backend: its spans could not be seen.
      const traced =
        fiber.getRef(References.TracerEnabled) &&
        fiber.getRef(Tracer.Tracer) !== Tracer.nativeTracer &&
        !isUntraced(request)
      if (!recordMetrics && !traced) return app
      const clock = fiber.getRef(Clock.Clock)
      const start = clock.currentTimeNanosUnsafe()
      const method = methodOf(request.method)
      const scheme = schemeOf(request)
      const template = templates.find(request.method, request.url)
      const active = recordMetrics ? activeOf(scheme, method) : undefined
      active?.modifyUnsafe(1, fiber.context)
      const observe = (span: Tracer.Span | undefined, name: string) =>
        // Not `Effect.withParentSpan`: it captures a stack trace per call (about 8 us).
        Effect.onExit(
          span === undefined ? app : Effect.provideService(app, Tracer.ParentSpan, span),
          (exit) =>
            Effect.sync(() => {
              const end = clock.currentTimeNanosUnsafe()
              active?.modifyUnsafe(-1, fiber.context)
              if (span !== undefined)
                endSpan(span, name, end, exit, request, { method, scheme, template, templates })
              // An interrupted request (client gone) sent nothing to measure.
              if (!recordMetrics || !Exit.isSuccess(exit)) return
              const response = exit.value
              const series = seriesOf(scheme, method, template ?? "", response.status)
              const context = fiber.context
              series.duration.updateUnsafe(Number(end - start) / 1e9, context)
              const requestSize = contentLengthOf(request.headers["content-length"])
              if (requestSize !== undefined) series.requestSize.updateUnsafe(requestSize, context)
              const responseSize = responseBodySize(response)
              if (responseSize !== undefined) series.responseSize.updateUnsafe(responseSize, context)
            })
        )
      if (!traced) return observe(undefined, "")
      const name = nameOf(method, template)
      const parent = Option.getOrUndefined(HttpTraceContext.fromHeaders(request.headers))
      return Effect.flatMap(Effect.makeSpan(name, { kind: "server", parent }), (span) => observe(span, name))
    })
  }
