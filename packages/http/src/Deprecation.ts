/**
 * Deprecated endpoints: an annotation (`annotation`) for an endpoint or a
 * group, and a router-level middleware (`middleware`, for `HttpApp.layer`'s
 * `middlewares`) that gives every response of an annotated endpoint,
 * errors included:
 * - `Deprecation` (RFC 9745): a Structured Field Date, `@<epoch seconds>`,
 *   the moment the endpoint was (or will be) deprecated;
 * - `Sunset` (RFC 8594): the HTTP-date after which it may stop answering;
 * - `Link: <successor>; rel="successor-version"` (RFC 5829) when a
 *   successor is named.
 *
 * The annotation also marks the OpenAPI operation `deprecated: true` and
 * adds `x-sunset` (and `x-successor-version`) to it. OpenAPI reads those
 * from endpoints only: on a group use `annotateEndpointsMerge` (after the
 * last `add`), not `annotateMerge`.
 *
 * @since 0.2.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as FindMyWay from "effect/http/FindMyWay"
import * as HttpEffect from "effect/http/HttpEffect"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as HttpApi from "effect/http-api/HttpApi"
import type * as HttpApiGroup from "effect/http-api/HttpApiGroup"
import * as OpenApi from "effect/http-api/OpenApi"
import type * as HttpApp from "./HttpApp.ts"

/**
 * What `annotation` takes: when the endpoint was deprecated (`since`; the
 * time of each response when omitted, i.e. "deprecated now"), when it goes
 * away (`sunset`), and the URI of what replaces it (`successor`).
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  readonly since?: DateTime.DateTime.Input | undefined
  readonly sunset: DateTime.DateTime.Input
  readonly successor?: string | undefined
}

/**
 * A deprecation as the headers need it.
 *
 * @since 0.2.0
 * @category models
 */
export interface Info {
  /** Epoch seconds of `since`, if given. */
  readonly since: number | undefined
  /** The `Sunset` value (an IMF-fixdate). */
  readonly sunset: string
  /** The sunset as ISO 8601, for OpenAPI. */
  readonly sunsetIso: string
  readonly successor: string | undefined
}

/**
 * The annotation key holding an endpoint's (or group's) deprecation.
 *
 * @since 0.2.0
 * @category annotations
 */
export class Deprecated extends Context.Service<Deprecated, Info>()("@org/http/Deprecation/Deprecated") {}

const epochSeconds = (date: DateTime.DateTime): number => Math.floor(DateTime.toEpochMillis(date) / 1000)

/**
 * Resolves `Options` (throws on a date it cannot read: a definition error).
 *
 * @since 0.2.0
 * @category constructors
 */
export const info = (options: Options): Info => {
  const sunset = DateTime.makeUnsafe(options.sunset)
  return {
    since: options.since === undefined ? undefined : epochSeconds(DateTime.makeUnsafe(options.since)),
    sunset: DateTime.toDateUtc(sunset).toUTCString(),
    sunsetIso: DateTime.formatIso(sunset),
    successor: options.successor
  }
}

/**
 * The annotations of a deprecated endpoint or group: the headers'
 * `Deprecated`, and OpenAPI's `Deprecated` plus `x-sunset` (and
 * `x-successor-version`) on the operation.
 *
 * @example
 * ```ts
 * import { HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
 * import { Deprecation } from "@org/http"
 *
 * const Old = HttpApiEndpoint.get("list", "/old").annotateMerge(
 *   Deprecation.annotation({ since: "2026-01-01", sunset: "2026-12-31", successor: "/api/v2/items" })
 * )
 * const V1 = HttpApiGroup.make("itemsV1")
 *   .add(HttpApiEndpoint.get("list", "/items"))
 *   .annotateEndpointsMerge(Deprecation.annotation({ sunset: "2027-06-30" }))
 * ```
 *
 * @since 0.2.0
 * @category annotations
 */
export const annotation = (options: Options): Context.Context<never> => {
  const resolved = info(options)
  const extensions: Record<string, string> = { "x-sunset": resolved.sunsetIso }
  if (resolved.successor !== undefined) extensions["x-successor-version"] = resolved.successor
  return Context.make(Deprecated, resolved).pipe(
    Context.add(OpenApi.Deprecated, true),
    Context.add(OpenApi.Override, extensions)
  )
}

/**
 * The response headers of a deprecation, at `now` (epoch milliseconds, used
 * when `since` is unknown).
 *
 * @since 0.2.0
 * @category rendering
 */
export const headers = (deprecation: Info, now: number): Readonly<Record<string, string>> => ({
  deprecation: `@${deprecation.since ?? Math.floor(now / 1000)}`,
  sunset: deprecation.sunset,
  ...(deprecation.successor === undefined
    ? {}
    : { link: `<${deprecation.successor}>; rel="successor-version"` })
})

const isPathInput = (path: string): path is FindMyWay.PathInput => path === "*" || path.startsWith("/")

/**
 * Finds the deprecation of the endpoint serving a method and URL
 * (`undefined` when it has none, or no endpoint serves it); a `HEAD` finds
 * its `GET` endpoint.
 *
 * @since 0.2.0
 * @category constructors
 */
export const fromApi = <Id extends string, Groups extends HttpApiGroup.Constraint>(
  api: HttpApi.HttpApi<Id, Groups>
): ((method: string, url: string) => Info | undefined) => {
  const router = FindMyWay.make<Info>()
  let annotated = 0
  HttpApi.reflect(api, {
    onGroup: () => {},
    onEndpoint: ({ endpoint, mergedAnnotations }) => {
      const found = Context.getOption(mergedAnnotations, Deprecated)
      if (found._tag === "Some" && isPathInput(endpoint.path)) {
        router.on(endpoint.method, endpoint.path, found.value)
        annotated++
      }
    }
  })
  if (annotated === 0) return () => undefined
  return (method, url) =>
    (router.find(method, url) ?? (method === "HEAD" ? router.find("GET", url) : undefined))?.handler
}

/**
 * The router-level middleware that adds the deprecation headers to every
 * response (success or problem) of a deprecated endpoint of `api`.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { HttpApi } from "effect/http-api"
 * import { Deprecation, Health, HttpApp } from "@org/http"
 *
 * class Api extends HttpApp.api(HttpApi.make("example").add(Health.Group)) {}
 *
 * const App = HttpApp.layer({
 *   api: Api,
 *   handlers: Health.layer(Api).pipe(Layer.provide(Health.Checks.layer)),
 *   middlewares: [Deprecation.middleware(Api)]
 * })
 * ```
 *
 * @since 0.2.0
 * @category middleware
 */
export const middleware = <Id extends string, Groups extends HttpApiGroup.Constraint>(
  api: HttpApi.HttpApi<Id, Groups>
): HttpApp.Middleware => {
  const find = fromApi(api)
  return (app) =>
    Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
      const deprecation = find(request.method, request.url)
      return deprecation === undefined
        ? app
        : HttpEffect.withPreResponseHandler(app, (_, response) =>
            Effect.map(Clock.currentTimeMillis, (now) =>
              HttpServerResponse.setHeaders(response, headers(deprecation, now))
            )
          )
    })
}
