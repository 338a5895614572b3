/**
 * Turns an `HttpApi` and its handler layers into the served app, with every
 * cross-cutting concern of this package applied in one fixed order, outermost
 * first:
 *
 * 0. `HttpObservability`: the HTTP metrics of every response, and the server
 *    span (opened by the server, named after the route template) gets
 *    `problem.type`; health and `/metrics` are not traced by default.
 * 1. `RequestId`: assigns the id and annotates logs, so everything below,
 *    including the access log line, carries it; sets `X-Request-ID`.
 * 2. the access log (`HttpMiddleware.logger`), one line per response.
 * 3. `SecurityHeaders`: on every response, whatever produced it.
 * 4. `Problem.middleware`: every failure and every error response becomes
 *    `application/problem+json` (router 404/405, 413, defects as a logged 500).
 * 5. `CanonicalPath`: one spelling per resource; any other is a 404.
 * 6. `Cors`: answers preflights with the route's methods and adds the CORS
 *    headers to every response (only when origins are configured).
 * 7. `BodyLimit`: refuses oversized bodies before anything reads them.
 * 8. `ContentType`: a body must be JSON (415 otherwise) and UTF-8 (400).
 * 9. your `middlewares`, first one outermost (the seam for auth, rate limits).
 * 10. the routes: the API (with `/openapi.json`) and any extra `routes`.
 *
 * Use `toWebHandler` for in-memory tests and serverless, `serve` with a
 * server layer (e.g. `NodeHttpServer.layer`) to listen.
 *
 * @since 0.1.0
 */
import * as SecureRandomPool from "@org/core/SecureRandomPool"
import * as SecureRandom from "effect/crypto/SecureRandom"
import * as Effect from "effect/Effect"
import type * as FileSystem from "effect/FileSystem"
import { constTrue } from "effect/Function"
import type * as Etag from "effect/http/Etag"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import type * as HttpClient from "effect/http/HttpClient"
import * as HttpMiddleware from "effect/http/HttpMiddleware"
import type * as HttpPlatform from "effect/http/HttpPlatform"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServer from "effect/http/HttpServer"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import type * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as HttpApi from "effect/http-api/HttpApi"
import * as HttpApiBuilder from "effect/http-api/HttpApiBuilder"
import type * as HttpApiGroup from "effect/http-api/HttpApiGroup"
import * as Layer from "effect/Layer"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import type * as Path from "effect/Path"
import * as References from "effect/References"
import type * as Scope from "effect/Scope"
import type * as Types from "effect/Types"
import * as ApiDefinition from "./ApiDefinition.ts"
import * as BodyLimit from "./BodyLimit.ts"
import * as CanonicalPath from "./CanonicalPath.ts"
import * as ContentType from "./ContentType.ts"
import * as Cors from "./Cors.ts"
import * as Health from "./Health.ts"
import * as HttpObservability from "./HttpObservability.ts"
import * as RouteTable from "./internal/routeTable.ts"
import * as Problem from "./Problem.ts"
import * as RequestId from "./RequestId.ts"
import * as SecurityHeaders from "./SecurityHeaders.ts"

/**
 * The app as a router-level middleware sees it.
 *
 * @since 0.1.0
 * @category models
 */
export type App = Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  unknown,
  HttpServerRequest.HttpServerRequest | Scope.Scope
>

/**
 * A router-level middleware for the `middlewares` seam. It runs inside the
 * problem renderer: a failure it raises (for example a `Problem.ProblemError`)
 * is rendered as a problem, and its responses get the security headers and
 * the request id. Resolve the services it needs when you build the layer.
 *
 * @since 0.1.0
 * @category models
 */
export type Middleware = (app: App) => App

/**
 * A layer of extra routes for `Options.routes`. It may leave errors unhandled
 * (`HttpRouter.Request<"Error", E>`): the pipeline renders them.
 *
 * @since 0.1.0
 * @category models
 */
export type Route = Layer.Layer<never, never, HttpRouter.HttpRouter | HttpRouter.Request<"Error", unknown>>

/**
 * The platform services HttpApi needs to serve (provided by
 * `HttpServer.layerServices` in tests, by the server layer in production).
 *
 * @since 0.1.0
 * @category models
 */
export type PlatformServices = Etag.Generator | FileSystem.FileSystem | HttpPlatform.HttpPlatform | Path.Path

/**
 * `ApiDefinition.prepare`, kept here for existing callers. Definitions
 * should import `@org/http/ApiDefinition`, which carries no server code.
 *
 * @since 0.1.0
 * @category constructors
 */
export const api = ApiDefinition.prepare

/**
 * Options of `layer`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<Id extends string, Groups extends HttpApiGroup.Constraint, ROut, E, R> {
  /** The API, prepared with `api`. */
  readonly api: HttpApi.HttpApi<Id, Groups>
  /** The handler layers of every group (`Problem.Middleware` is provided to them). */
  readonly handlers: Layer.Layer<ROut, E, R>
  /** Where the OpenAPI document is served; `/openapi.json` by default, `false` for none. */
  readonly openapiPath?: `/${string}` | false | undefined
  /**
   * More routes outside the API (a docs page, metrics); they get the whole
   * pipeline too, so their failures are rendered as problems.
   */
  readonly routes?: ReadonlyArray<Route> | undefined
  /** Router-level middlewares, first outermost, run inside the problem renderer. */
  readonly middlewares?: ReadonlyArray<Middleware> | undefined
  /**
   * The proxies (networks, or a predicate on the peer's address) whose
   * `X-Forwarded-For`, `-Host` and `-Proto` count, applied before anything
   * else in the pipeline (Effect's `HttpMiddleware.xForwardedHeaders`), so
   * the metrics' and spans' `url.scheme`, the access log and the rate limits
   * all see the client and scheme behind them. Nobody else's headers count;
   * none by default.
   */
  readonly trustedProxies?: HttpMiddleware.TrustedProxyOptions["trustedProxies"] | undefined
  /**
   * Security header options (for example a relaxed CSP under `/docs`); the
   * endpoint annotations (`SecurityHeaders.NoStore`, `ClearSiteData`) are
   * read from `api`.
   */
  readonly securityHeaders?: Omit<SecurityHeaders.Options, "endpoints"> | undefined
  /** The body limit in bytes; `BodyLimit.MaxBytes` (1 MiB unless set) when omitted. */
  readonly bodyLimit?: number | undefined
  /**
   * CORS (allowed origins and more); `Cors.CurrentPolicy` when omitted, which
   * allows no origin unless `Cors.layer`/`Cors.layerConfig` set it.
   */
  readonly cors?: Cors.Options | undefined
  /** Media types accepted besides JSON (bodies of any other type are 415). */
  readonly contentType?: ContentType.Options | undefined
  /** Whether to write one access log line per response; `true` by default. */
  readonly accessLog?: boolean | undefined
  /**
   * Whether a path not in canonical form (`;`, `//`, `.` segments, a
   * trailing `/`, needless escapes) is a 404 before routing
   * (`CanonicalPath`); `true` by default.
   */
  readonly canonicalPaths?: boolean | undefined
  /**
   * Server spans named after the route template, HTTP metrics, untraced
   * paths (`HttpObservability.Options`); on by default, `false` leaves
   * Effect's plain tracing (spans named by method) and records no metrics.
   */
  readonly observability?: HttpObservability.Options | false | undefined
}

const missingProblemMiddleware = <Id extends string, Groups extends HttpApiGroup.Constraint>(
  api: HttpApi.HttpApi<Id, Groups>
): ReadonlyArray<string> => {
  const missing: Array<string> = []
  HttpApi.reflect(api, {
    onGroup: () => {},
    onEndpoint: ({ group, endpoint, middleware }) => {
      if (!Array.from(middleware).some((m) => m.key === Problem.Middleware.key))
        missing.push(`${group.identifier}.${endpoint.identifier}`)
    }
  })
  return missing
}

/**
 * The app as a layer of routes plus the global middleware pipeline. It needs
 * an `HttpRouter` and the platform services: `serve` or `toWebHandler`
 * provide them. Groups without a handler layer show up as unmet requirements.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { HttpApi } from "effect/http-api"
 * import { Health, HttpApp } from "@org/http"
 *
 * class Api extends HttpApp.api(HttpApi.make("example").add(Health.Group)) {}
 *
 * const App = HttpApp.layer({
 *   api: Api,
 *   handlers: Health.layer(Api).pipe(Layer.provide(Health.Checks.layer))
 * })
 * const { handler, dispose } = HttpApp.toWebHandler(App)
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <Id extends string, Groups extends HttpApiGroup.Constraint, ROut, E, R>(
  options: Options<Id, Groups, ROut, E, R>
): Layer.Layer<
  never,
  E,
  | HttpRouter.HttpRouter
  | PlatformServices
  | Exclude<R, Problem.Middleware>
  | Exclude<HttpApiGroup.ToService<Id, Groups>, ROut>
> =>
  Layer.unwrap(
    Effect.gen(function* () {
      const missing = missingProblemMiddleware(options.api)
      if (missing.length > 0) {
        return yield* Effect.die(
          new Error(
            `HttpApp.layer: endpoints without Problem.Middleware: ${missing.join(", ")}. ` +
              "Wrap the API in HttpApp.api(...) after adding every group."
          )
        )
      }
      const table = RouteTable.make()
      const observability = options.observability === false ? undefined : (options.observability ?? {})
      const templates =
        observability === undefined
          ? undefined
          : HttpObservability.makeRouteTemplates(RouteTable.routerConfig)
      const recorded: RouteTable.RouteTable =
        templates === undefined
          ? table
          : {
              add: (method, path, redactedParams) => {
                table.add(method, path)
                templates.add(method, path, redactedParams)
              },
              allowedMethods: table.allowedMethods
            }
      const recordRoutes = Layer.effect(
        HttpRouter.HttpRouter,
        Effect.map(HttpRouter.HttpRouter, (router) => RouteTable.recording(router, recorded))
      )
      const openapiPath = options.openapiPath === undefined ? "/openapi.json" : options.openapiPath
      const apiRoutes = HttpApiBuilder.layer(
        options.api,
        openapiPath === false ? undefined : { openapiPath }
      ).pipe(Layer.provide(Layer.provide(options.handlers, Problem.layer)))
      const routes = Layer.mergeAll(apiRoutes, ...(options.routes ?? [])).pipe(Layer.provide(recordRoutes))
      // Declared as handling every error, which discharges the error markers of `routes`.
      const pipeline = HttpRouter.middleware<{ handles: unknown }>()(
        Effect.gen(function* () {
          const maxBytes = options.bodyLimit ?? (yield* BodyLimit.MaxBytes)
          const cors =
            options.cors === undefined
              ? yield* Cors.CurrentPolicy
              : yield* Cors.make(options.cors).pipe(
                  Effect.mapError(
                    (error) => new Error(`HttpApp.layer: invalid cors options: ${error.message}`)
                  ),
                  Effect.orDie
                )
          // A request id per request: from a pool of random bytes unless the app provides its own source.
          const random = Option.getOrElse(yield* Effect.serviceOption(SecureRandom.SecureRandom), () =>
            SecureRandomPool.make()
          )
          const fresh = Effect.provideService(RequestId.generate, SecureRandom.SecureRandom, random)
          const extra = options.middlewares ?? []
          const forwarded =
            options.trustedProxies === undefined
              ? undefined
              : HttpMiddleware.xForwardedHeaders({ trustedProxies: options.trustedProxies })
          const problems = Problem.middleware({
            allowedMethods: table.allowedMethods,
            passthroughContentTypes: [Health.contentType]
          })
          const crossOrigin = Cors.middleware(cors, { allowedMethods: table.allowedMethods })
          const strictBodies = ContentType.middleware({
            ...options.contentType,
            served: (method, url) => table.allowedMethods(url).includes(method)
          })
          const securityHeaders: SecurityHeaders.Options = {
            ...options.securityHeaders,
            endpoints: SecurityHeaders.fromApi(options.api)
          }
          return (
            app: Effect.Effect<HttpServerResponse.HttpServerResponse, unknown>
          ): Effect.Effect<
            HttpServerResponse.HttpServerResponse,
            Types.unhandled,
            HttpServerRequest.HttpServerRequest | Scope.Scope
          > => {
            const inner = extra.reduceRight<App>((acc, middleware) => middleware(acc), app)
            const limited = BodyLimit.middleware(maxBytes)(strictBodies(inner))
            const crossed = crossOrigin(limited)
            const rendered = problems(
              options.canonicalPaths === false ? crossed : CanonicalPath.middleware(crossed)
            )
            const secured = SecurityHeaders.middleware(securityHeaders)(rendered)
            const logged = options.accessLog === false ? secured : accessLog(secured)
            const identified = RequestId.middleware(fresh)(logged)
            const observed =
              templates === undefined
                ? identified
                : HttpObservability.middleware({
                    templates,
                    metrics: observability?.metrics,
                    untracedPaths: observability?.untracedPaths
                  })(identified)
            return forwarded === undefined ? observed : forwarded(observed)
          }
        }),
        { global: true }
      )
      const served = Layer.provide(routes, pipeline)
      if (templates === undefined) return served
      // The pipeline opens the server span (HttpObservability): Effect's
      // server, which reads this from the app's context, opens none.
      return Layer.merge(served, Layer.succeed(HttpMiddleware.TracerDisabledWhen)(constTrue))
    })
  )

/**
 * An in-memory `Request` -> `Response` handler of the app, for tests and
 * serverless hosts. Effect's own access log is disabled (the pipeline writes
 * its own, annotated with the request id). Call `dispose` when done.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { HttpApi } from "effect/http-api"
 * import { Health, HttpApp } from "@org/http"
 *
 * class Api extends HttpApp.api(HttpApi.make("example").add(Health.Group)) {}
 * const App = HttpApp.layer({ api: Api, handlers: Health.layer(Api).pipe(Layer.provide(Health.Checks.layer)) })
 *
 * const { handler, dispose } = HttpApp.toWebHandler(App)
 * const response = await handler(new Request("http://localhost/health/live"))
 * await dispose()
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const toWebHandler = <E>(
  app: Layer.Layer<never, E, HttpRouter.HttpRouter | PlatformServices>,
  options?: { readonly memoMap?: Layer.MemoMap | undefined }
): {
  readonly handler: (request: Request) => Promise<Response>
  readonly dispose: () => Promise<void>
} => {
  const { handler, dispose } = HttpRouter.toWebHandler(app.pipe(Layer.provide(HttpServer.layerServices)), {
    disableLogger: true,
    routerConfig: RouteTable.routerConfig,
    memoMap: options?.memoMap
  })
  return { handler: (request) => handler(request), dispose }
}

/**
 * An `HttpClient` whose requests go to an in-memory `handler` (from
 * `toWebHandler`), no socket: what a typed client (`HttpApiClient.make`)
 * needs to call the app in tests.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { HttpApi, HttpApiClient } from "effect/http-api"
 * import { Health, HttpApp } from "@org/http"
 *
 * class Api extends HttpApp.api(HttpApi.make("example").add(Health.Group)) {}
 * const App = HttpApp.layer({ api: Api, handlers: Health.layer(Api).pipe(Layer.provide(Health.Checks.layer)) })
 *
 * const { handler } = HttpApp.toWebHandler(App)
 * export const live = Effect.flatMap(HttpApiClient.make(Api, { baseUrl: "http://localhost" }), (client) =>
 *   client.health.live()
 * ).pipe(Effect.provide(HttpApp.clientLayer(handler)))
 * ```
 *
 * @since 0.2.0
 * @category testing
 */
export const clientLayer = (
  handler: (request: Request) => Promise<Response>
): Layer.Layer<HttpClient.HttpClient> =>
  FetchHttpClient.layer.pipe(
    Layer.provide(Layer.succeed(FetchHttpClient.Fetch, (input, init) => handler(new Request(input, init))))
  )

// The access line is an `Info` line: below that level the request skips the
// logger's work (a log span, the path, annotations) instead of paying for a
// line nobody sees.
const accessLog = <E, R>(
  app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R | HttpServerRequest.HttpServerRequest> => {
  const logged = HttpMiddleware.logger(app)
  return Effect.withFiber((fiber) =>
    LogLevel.isGreaterThan(fiber.getRef(References.MinimumLogLevel), "Info") ? app : logged
  )
}

/**
 * Serves the app on the `HttpServer` the caller provides (for example
 * `NodeHttpServer.layer(createServer, { port })` from
 * `@effect/platform-node/NodeHttpServer`, which also provides the platform
 * services). Effect's own access log is disabled in favour of the pipeline's.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { HttpApi } from "effect/http-api"
 * import { Health, HttpApp } from "@org/http"
 *
 * class Api extends HttpApp.api(HttpApi.make("example").add(Health.Group)) {}
 * const App = HttpApp.layer({ api: Api, handlers: Health.layer(Api).pipe(Layer.provide(Health.Checks.layer)) })
 *
 * // Layer.launch(HttpApp.serve(App).pipe(Layer.provide(NodeHttpServer.layer(createServer, { port: 3000 }))))
 * export const Server = HttpApp.serve(App)
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const serve = <E, R>(app: Layer.Layer<never, E, R>) =>
  HttpRouter.serve(app, {
    disableLogger: true,
    disableListenLog: true,
    routerConfig: RouteTable.routerConfig
  })
