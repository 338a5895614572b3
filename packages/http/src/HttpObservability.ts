/**
 * Traces and metrics at the HTTP edge, with OpenTelemetry semantic-convention
 * names.
 *
 * Traces: Effect's server (`HttpMiddleware.tracer`, applied by the server
 * itself) already opens one `server` span per request, continues a caller's
 * W3C `traceparent`/`tracestate`, records `http.request.method`, `url.*`,
 * `server.address`/`server.port`, `user_agent.original`,
 * `http.response.status_code` and `http.route`, and fails the span on a 5xx.
 * This module configures it rather than adding a second tracer: the span is
 * named `<METHOD> <route template>` (`GET /api/v1/items/:id`; `GET` alone for
 * a path no route serves), paths under `untracedPaths` (health, `/metrics`)
 * get no span, and a problem response records its `type` URI as
 * `problem.type`. `RequestId` adds `http.request.id`. `user_agent.original`
 * is cut to `maxUserAgentLength` characters, and `url.scheme` is the
 * request's `protocol`: the transport's, or the `X-Forwarded-Proto` of a
 * trusted proxy (`HttpApp.Options.trustedProxies`), never a header of any
 * other caller.
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
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FindMyWay from "effect/http/FindMyWay"
import type * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import type * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Tracer from "effect/Tracer"

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
  readonly add: (method: string, path: string) => void
  /** The template serving `method` at `url` (a path, maybe with a query). */
  readonly find: (method: string, url: string) => string | undefined
}

// The template of each request in flight, by the request's source (kept by
// `request.modify`): the span name is found when the server opens the span,
// the metrics reuse it at the end. `null` when no route serves the request.
const matched = new WeakMap<object, string | null>()

/**
 * The template serving a request, looked up once per request: the span name
 * and the metrics of one request share the lookup.
 *
 * @since 0.4.0
 * @category models
 */
export const routeOf = (
  templates: RouteTemplates,
  request: HttpServerRequest.HttpServerRequest
): string | undefined => {
  const known = matched.get(request.source)
  if (known !== undefined) return known ?? undefined
  const found = templates.find(request.method, request.url)
  matched.set(request.source, found ?? null)
  return found
}

const allMethods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "QUERY"] as const

/**
 * An empty `RouteTemplates`, matching paths as the served router does.
 *
 * @since 0.3.0
 * @category constructors
 */
export const makeRouteTemplates = (config: Partial<FindMyWay.RouterConfig>): RouteTemplates => {
  const router = FindMyWay.make<string>(config)
  const seen = new Set<string>()
  const on = (method: string, path: string, template: string) => {
    const key = `${method} ${path}`
    if (seen.has(key)) return
    seen.add(key)
    router.on(method, path as HttpRouter.PathInput, template)
  }
  return {
    add: (method, path) => {
      for (const target of method === "*" ? allMethods : [method]) {
        on(target, path, path)
        // As the router: `/x/*` also serves `/x`.
        if (path.endsWith("/*")) on(target, path.slice(0, -2), path)
      }
    },
    find: (method, url) => {
      const found = router.find(method, url)
      if (found !== undefined) return found.handler
      // The router answers HEAD with the GET route.
      return method === "HEAD" ? router.find("GET", url)?.handler : undefined
    }
  }
}

// -----------------------------------------------------------------------------
// Tracing configuration
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

const pathOf = (url: string): string => {
  const end = url.search(/[?#]/)
  return end === -1 ? url : url.slice(0, end)
}

/**
 * The server span name of a request: `<METHOD> <template>`, or the method
 * alone when no route serves the path (names stay few whatever the paths).
 *
 * @since 0.3.0
 * @category tracing
 */
export const spanNameGenerator = (
  templates: RouteTemplates
): ((request: HttpServerRequest.HttpServerRequest) => string) => {
  // Built once per method and template.
  const names = new Map<string, Map<string, string>>()
  return (request) => {
    const method = methodOf(request.method)
    const template = routeOf(templates, request)
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

// Effect's tracer records `user_agent.original` and the `url.*` attributes
// once this middleware has returned, from the request as the server got it
// (before any proxy headers were applied). The span's own `attribute` is
// wrapped, for this request only, so those values are bounded and carry the
// scheme the app saw.
const guardAttributes = (span: Tracer.Span, scheme: string): void => {
  const attribute = span.attribute
  span.attribute = (key, value) => {
    if (key === "user_agent.original" && typeof value === "string" && value.length > maxUserAgentLength) {
      return attribute.call(span, key, value.slice(0, maxUserAgentLength))
    }
    if (key === "url.scheme") return attribute.call(span, key, scheme)
    if (key === "url.full" && typeof value === "string" && !value.startsWith(`${scheme}:`)) {
      return attribute.call(span, key, `${scheme}${value.slice(value.indexOf(":"))}`)
    }
    return attribute.call(span, key, value)
  }
}

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

/**
 * The edge middleware, outermost in `HttpApp`'s pipeline: records the
 * metrics of every request and puts `problem.type` on the server span of a
 * problem response. The span itself is Effect's (see the module doc).
 *
 * @since 0.3.0
 * @category middleware
 */
export const middleware =
  (options: { readonly templates: RouteTemplates; readonly metrics?: boolean | undefined }) =>
  <E, R>(
    app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
  ): Effect.Effect<
    HttpServerResponse.HttpServerResponse,
    E,
    R | HttpServerRequest.HttpServerRequest | Scope.Scope
  > => {
    const recordMetrics = options.metrics !== false
    return Effect.withFiber((fiber) => {
      const request = Context.getUnsafe(fiber.context, HttpServerRequest.HttpServerRequest)
      const parent = Context.getOrUndefined(fiber.context, Tracer.ParentSpan)
      const span =
        parent !== undefined && parent._tag === "Span" && parent.kind === "server" && parent.sampled
          ? parent
          : undefined
      if (!recordMetrics && span === undefined) return app
      const clock = fiber.getRef(Clock.Clock)
      const start = clock.currentTimeNanosUnsafe()
      const method = methodOf(request.method)
      const scheme = schemeOf(request)
      if (span !== undefined) guardAttributes(span, scheme)
      const active = recordMetrics ? activeOf(scheme, method) : undefined
      active?.modifyUnsafe(1, fiber.context)
      return Effect.onExit(app, (exit) =>
        Effect.sync(() => {
          active?.modifyUnsafe(-1, fiber.context)
          // An interrupted request (client gone) sent nothing to measure.
          if (!Exit.isSuccess(exit)) return
          const response = exit.value
          if (span !== undefined) {
            const type = problemTypeOf(response)
            if (Option.isSome(type)) span.attribute("problem.type", type.value)
          }
          if (!recordMetrics) return
          const route = routeOf(options.templates, request) ?? ""
          const series = seriesOf(scheme, method, route, response.status)
          const context = fiber.context
          series.duration.updateUnsafe(Number(clock.currentTimeNanosUnsafe() - start) / 1e9, context)
          const requestSize = contentLengthOf(request.headers["content-length"])
          if (requestSize !== undefined) series.requestSize.updateUnsafe(requestSize, context)
          const responseSize = responseBodySize(response)
          if (responseSize !== undefined) series.responseSize.updateUnsafe(responseSize, context)
        })
      )
    })
  }
