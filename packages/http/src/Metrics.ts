/**
 * `GET /metrics`: every Effect `Metric` of the process (the HTTP metrics of
 * `HttpObservability`, caches, breakers, your own) in the Prometheus text
 * format (`text/plain; version=0.0.4`), rendered by Effect's
 * `PrometheusMetrics`.
 *
 * Names: dots become underscores and the unit becomes a suffix, as the
 * OpenTelemetry Collector's Prometheus exporter writes them
 * (`http.server.request.duration` -> `http_server_request_duration_seconds`,
 * `http.server.refusals` -> `http_server_refusals_total`); attribute names
 * likewise (`http.route` -> `http_route`).
 *
 * Access: with a token (`METRICS_TOKEN`, or `layer({ token })`) only
 * `Authorization: Bearer <token>` is answered, anything else is a 401
 * problem; without one the route is open. The other way to keep it private
 * is not to route `/metrics` from the internet at all: serve the app on a
 * second, internal port (or have the load balancer drop the path) and let
 * only Prometheus reach it. The route is outside the `HttpApi`, so it is
 * neither rate-limited nor in the OpenAPI document.
 *
 * @since 0.3.0
 */
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as PrometheusMetrics from "effect/observability/PrometheusMetrics"
import * as Redacted from "effect/Redacted"
import { metricNames } from "./HttpObservability.ts"
import * as Problem from "./Problem.ts"

/**
 * The media type of the Prometheus text exposition format.
 *
 * @since 0.3.0
 * @category constants
 */
export const contentType = "text/plain; version=0.0.4; charset=utf-8"

/**
 * Who may read `/metrics`: the bearer token it requires, or none (open).
 *
 * @since 0.3.0
 * @category services
 */
export class Access extends Context.Service<
  Access,
  { readonly token: Option.Option<Redacted.Redacted<string>> }
>()("@org/http/Metrics/Access") {}

/**
 * `Access` with the given token; no token (or an empty one) leaves
 * `/metrics` open.
 *
 * @example
 * ```ts
 * import { Layer, Redacted } from "effect"
 * import { Metrics } from "@org/http"
 *
 * const route = Metrics.route().pipe(Layer.provide(Metrics.layer({ token: Redacted.make("scrape-secret") })))
 * ```
 *
 * @since 0.3.0
 * @category layers
 */
export const layer = (options: {
  readonly token?: Redacted.Redacted<string> | undefined
}): Layer.Layer<Access> =>
  Layer.succeed(Access, {
    token:
      options.token === undefined || Redacted.value(options.token) === ""
        ? Option.none()
        : Option.some(options.token)
  })

/**
 * `Access` from `METRICS_TOKEN` (optional: unset or empty leaves `/metrics`
 * open).
 *
 * @since 0.3.0
 * @category layers
 */
export const layerConfig: Layer.Layer<Access, Config.ConfigError> = Layer.unwrap(
  Effect.map(Config.option(Config.Redacted("METRICS_TOKEN")), (token) =>
    layer({ token: Option.getOrUndefined(token) })
  )
)

// The units of the kit's metrics (OTel names), as Prometheus name suffixes:
// counters end in `_total`, durations and delays in `_seconds`, sizes and
// memory in `_bytes`. Names already written the Prometheus way
// (`cache_hits`, `circuit_breaker_calls_total`) are left alone.
const counters = new Set([
  metricNames.refusals,
  "ratelimit.decisions",
  "outbox.deliveries",
  "outbox.consumer.failures"
])
const suffixOf = (name: string): string =>
  counters.has(name)
    ? "_total"
    : /\.(duration|lag)$|\.delay\./.test(name)
      ? "_seconds"
      : /\.size$|\.memory\./.test(name)
        ? "_bytes"
        : ""

/**
 * The name mapper of the route: adds the unit suffix of the kit's metrics
 * (`http.server.request.duration` -> `..._seconds`, counters -> `..._total`),
 * leaves other names as they are.
 *
 * @since 0.3.0
 * @category rendering
 */
export const metricNameMapper: PrometheusMetrics.MetricNameMapper = (name) =>
  name.includes(".") ? name + suffixOf(name) : name

// Compares every character whatever the first difference, so the time
// taken does not tell how much of a guess was right.
const sameSecret = (given: string, expected: string): boolean => {
  let difference = given.length ^ expected.length
  for (let i = 0; i < expected.length; i++) {
    difference |= (given.charCodeAt(i) || 0) ^ expected.charCodeAt(i)
  }
  return difference === 0
}

const bearer = /^bearer\s+(\S{1,1024})\s*$/i

/**
 * Options of `route`.
 *
 * @since 0.3.0
 * @category models
 */
export interface RouteOptions {
  /** Where to serve; `/metrics` by default. */
  readonly path?: HttpRouter.PathInput | undefined
  /** A prefix for every metric name (`myapp` -> `myapp_http_...`). */
  readonly prefix?: string | undefined
}

/**
 * The `GET /metrics` route, for `HttpApp.Options.routes`; needs `Access`
 * (`layerConfig` or `layer`).
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { HttpApi } from "effect/http-api"
 * import { Health, HttpApp, Metrics } from "@org/http"
 *
 * class Api extends HttpApp.api(HttpApi.make("example").add(Health.Group)) {}
 *
 * const App = HttpApp.layer({
 *   api: Api,
 *   handlers: Health.layer(Api).pipe(Layer.provide(Health.Checks.layer)),
 *   routes: [Metrics.route().pipe(Layer.provide(Metrics.layerConfig), Layer.orDie)]
 * })
 * ```
 *
 * @since 0.3.0
 * @category routes
 */
export const route = (
  options?: RouteOptions
): Layer.Layer<never, never, HttpRouter.HttpRouter | HttpRouter.Request<"Error", unknown> | Access> =>
  Layer.unwrap(
    Effect.map(Access, (access) => {
      const formatOptions = { prefix: options?.prefix, metricNameMapper }
      const render = Effect.map(PrometheusMetrics.format(formatOptions), (body) =>
        HttpServerResponse.text(body, {
          contentType,
          headers: { "cache-control": "no-store" }
        })
      )
      const handler = Option.match(access.token, {
        onNone: () => render,
        onSome: (token) =>
          Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
            const given = bearer.exec(request.headers.authorization ?? "")?.[1]
            return given !== undefined && sameSecret(given, Redacted.value(token))
              ? render
              : Effect.fail(
                  new Problem.Unauthorized({ detail: "Reading the metrics needs the metrics bearer token." })
                )
          })
      })
      return HttpRouter.add("GET", options?.path ?? "/metrics", handler)
    })
  )
