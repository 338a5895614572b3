/**
 * Runs an `@org/http` app as a Node process: reads `ServerConfig`, sets up
 * the logger, builds the app (database, migrations, ...), only then listens
 * on `HOST:PORT`, and logs one ready line with the URLs.
 *
 * On SIGTERM or SIGINT it stops accepting connections, lets in-flight
 * requests finish for at most `SHUTDOWN_TIMEOUT`, closes every scope the app
 * opened (pools, clients) and exits 0. A configuration error or a failed
 * start prints one line on stderr and exits 1, never a stack trace.
 *
 * The Node server enforces the limits of `ServerConfig` (header size, URL
 * length, timeouts) and answers what it refuses before the app sees a
 * request as a problem with the security headers, as the app would.
 *
 * @example
 * ```ts
 * import { Health, HttpApp } from "@org/http"
 * import { Runner } from "@org/server"
 * import { Layer } from "effect"
 * import { HttpApi } from "effect/http-api"
 *
 * class Api extends HttpApp.api(HttpApi.make("example").add(Health.Group)) {}
 *
 * Runner.run({
 *   name: "Example API",
 *   app: () => HttpApp.layer({ api: Api, handlers: Health.layer(Api).pipe(Layer.provide(Health.Checks.layer)) })
 * })
 * ```
 *
 * @since 0.2.0
 */
import type * as Http from "node:http"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { AppConfig, SecureRandomPool } from "@org/core"
import { BodyLimit, HttpApp, RequestId } from "@org/http"
import { Redaction, RuntimeMetrics, Telemetry, TelemetryConfig, TelemetryLogger } from "@org/telemetry"
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as Console from "effect/Console"
import * as SecureRandom from "effect/crypto/SecureRandom"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Formatter from "effect/Formatter"
import * as Headers from "effect/http/Headers"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServer from "effect/http/HttpServer"
import type * as HttpServerError from "effect/http/HttpServerError"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as References from "effect/References"
import type * as Runtime from "effect/Runtime"
import * as NodeEdge from "./internal/nodeEdge.ts"
import * as ServerConfig from "./ServerConfig.ts"

/**
 * What the app layer may require: the router it adds its routes to, and the
 * Node platform services (file system, path, HTTP platform, ETags, ...).
 *
 * @since 0.2.0
 * @category models
 */
export type Requirements = HttpRouter.HttpRouter | HttpApp.PlatformServices | NodeServices.NodeServices

/**
 * The app to serve: usually `HttpApp.layer(...)` with the team's services
 * provided, failing with `E` when it cannot start.
 *
 * @since 0.2.0
 * @category models
 */
export type App<E> = Layer.Layer<never, E, Requirements>

/**
 * The options of `run` and `launch`.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options<E, EA = never> {
  /** Names the service in the ready line and in start errors. */
  readonly name: string
  /**
   * Builds the app from the settings: a layer, or an effect that first reads
   * more configuration (keys, secrets; it may fail with
   * `AppConfig.InvalidConfig`) and may use the Node file system and path.
   */
  readonly app: (
    config: ServerConfig.ServerConfig
  ) => App<E> | Effect.Effect<App<E>, EA, NodeServices.NodeServices>
  /**
   * Extra URLs of the ready line, label to path; default
   * `{ OpenAPI: "/openapi.json", health: "/health/ready" }`.
   */
  readonly links?: Readonly<Record<string, string>> | undefined
  /** Defaults for unset variables (`PORT`, `SHUTDOWN_TIMEOUT`, ...); the environment wins. */
  readonly defaults?: ServerConfig.Defaults | undefined
  /** Replaces the logger chosen by `LOG_FORMAT`. */
  readonly logger?: Logger.Logger<unknown, unknown> | undefined
  /**
   * Replaces the exporters (`Telemetry.layer`, Effect's own OTLP exporters)
   * with another layer built from the parsed `OTEL_*` settings, e.g. the OTel
   * SDK through `@effect/opentelemetry`'s `NodeSdk.layer`: its tracer then
   * makes every span, the request spans included. The runtime gauges
   * (`RuntimeMetrics.layer`) and the logger stay; the layer is closed, and
   * flushes, after the app has stopped.
   *
   * @example
   * ```ts
   * import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
   * import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto"
   * import { BatchSpanProcessor } from "@opentelemetry/sdk-trace-base"
   * import { Health, HttpApp } from "@org/http"
   * import { Runner } from "@org/server"
   * import { Layer } from "effect"
   * import { HttpApi } from "effect/http-api"
   *
   * class Api extends HttpApp.api(HttpApi.make("example").add(Health.Group)) {}
   *
   * Runner.run({
   *   name: "Example API",
   *   app: () => HttpApp.layer({ api: Api, handlers: Health.layer(Api).pipe(Layer.provide(Health.Checks.layer)) }),
   *   // The SDK's exporter reads OTEL_EXPORTER_OTLP_ENDPOINT itself; `config` has the parsed variables.
   *   telemetry: (config) =>
   *     NodeSdk.layer(() => ({
   *       resource: { serviceName: config.serviceName ?? "example-api" },
   *       spanProcessor: new BatchSpanProcessor(new OTLPTraceExporter()),
   *       shutdownTimeout: "5 seconds"
   *     }))
   * })
   * ```
   */
  readonly telemetry?: ((config: TelemetryConfig.TelemetryConfig) => Layer.Layer<never>) | undefined
}

/**
 * The options of `layer`.
 *
 * @since 0.2.0
 * @category models
 */
export interface LayerOptions {
  /** Names the service in the ready line. */
  readonly name: string
  /**
   * Where to listen, the body limit given to the app, how long a drain may
   * take, and the limits Node enforces (`ServerConfig.defaultLimits` for
   * those left out).
   */
  readonly config: Pick<ServerConfig.ServerConfig, "host" | "port" | "bodyLimit" | "shutdownTimeout"> & {
    readonly [K in keyof ServerConfig.Limits]?: ServerConfig.Limits[K] | undefined
  }
  /** Extra URLs of the ready line, label to path; default `defaultLinks`. */
  readonly links?: Readonly<Record<string, string>> | undefined
}

/**
 * The default extra URLs of the ready line.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultLinks: Readonly<Record<string, string>> = {
  OpenAPI: "/openapi.json",
  health: "/health/ready"
}

/**
 * The ready line: `<name> ready on <url> (OpenAPI: <url>/openapi.json, health: <url>/health/ready)`.
 *
 * @since 0.2.0
 * @category formatting
 */
export const readyLine = (
  name: string,
  url: string,
  links: Readonly<Record<string, string>> = defaultLinks
): string => {
  const extra = Object.entries(links).map(([label, path]) => `${label}: ${url}${path}`)
  return extra.length === 0 ? `${name} ready on ${url}` : `${name} ready on ${url} (${extra.join(", ")})`
}

/**
 * The app served on `HOST:PORT` as a layer, without logger or process
 * handling: the app is built first (it gets `BODY_LIMIT` as
 * `BodyLimit.MaxBytes`), then the server listens and logs the ready line.
 * Closing the layer stops accepting connections and waits for in-flight
 * requests for at most `shutdownTimeout` before the app's scopes close.
 *
 * The Node server enforces the limits (header size, URL length, timeouts),
 * and what it refuses before the app sees a request (a parser error, a slow
 * client, a target over the URL limit, a missing `Host`) is answered as a
 * problem with the security headers and `Connection: close`, and logged as
 * one `Sent HTTP response` line.
 *
 * @example
 * ```ts
 * import { Health, HttpApp } from "@org/http"
 * import { Runner } from "@org/server"
 * import { Duration, Layer } from "effect"
 * import { HttpApi } from "effect/http-api"
 *
 * class Api extends HttpApp.api(HttpApi.make("example").add(Health.Group)) {}
 * const App = HttpApp.layer({ api: Api, handlers: Health.layer(Api).pipe(Layer.provide(Health.Checks.layer)) })
 *
 * const Server = Runner.layer(App, {
 *   name: "Example API",
 *   config: { host: "127.0.0.1", port: 0, bodyLimit: 1_048_576, shutdownTimeout: Duration.seconds(5) }
 * })
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = <E>(
  app: App<E>,
  options: LayerOptions
): Layer.Layer<never, E | HttpServerError.ServeError> =>
  Layer.unwrap(
    Effect.gen(function* () {
      const { config, name } = options
      const App = Layer.provide(app, Layer.succeed(BodyLimit.MaxBytes, config.bodyLimit))
      // Node accepts connections as soon as it listens, and a request that comes
      // before the routes are attached waits forever, so the app (database,
      // migrations, ...) is built before the server listens. `HttpApp.serve`
      // builds `App` again with `HttpRouter.layer`; both are memoized, so the
      // routes registered here are the ones served and nothing is built twice.
      const Built = Layer.provide(App, Layer.mergeAll(HttpRouter.layer, NodeHttpServer.layerHttpServices))
      const server = NodeEdge.make(
        {
          maxHeaderSize: config.maxHeaderSize ?? ServerConfig.defaultLimits.maxHeaderSize,
          maxUrlLength: config.maxUrlLength ?? ServerConfig.defaultLimits.maxUrlLength,
          headersTimeout: config.headersTimeout ?? ServerConfig.defaultLimits.headersTimeout,
          requestTimeout: config.requestTimeout ?? ServerConfig.defaultLimits.requestTimeout,
          keepAliveTimeout: config.keepAliveTimeout ?? ServerConfig.defaultLimits.keepAliveTimeout
        },
        yield* edgeHooks
      )
      const drain = closeConnectionsOnDrain(server)
      const Listen = NodeHttpServer.layer(() => server, {
        host: config.host,
        port: config.port,
        // Bounds the drain: the server stops accepting, then in-flight requests
        // have this long before they are interrupted and the app's scopes close.
        gracefulShutdownTimeout: config.shutdownTimeout
      }).pipe(Layer.provide(Built))
      // Built last, so closed first: its finalizer runs before the server's.
      const Announce = Layer.effectDiscard(
        Effect.gen(function* () {
          yield* HttpServer.addressFormattedWith((url) => Effect.logInfo(readyLine(name, url, options.links)))
          yield* Effect.addFinalizer(() =>
            Effect.andThen(
              Effect.logInfo(
                `${name} stopping: no new connections, in-flight requests have ${Duration.format(config.shutdownTimeout)}`
              ),
              drain
            )
          )
        })
      )
      return Announce.pipe(Layer.provide(HttpApp.serve(App)), Layer.provide(Listen))
    })
  )

// What the edge of the server uses from the layer's services (clock, random,
// logger), run synchronously from Node's callbacks.
const edgeHooks: Effect.Effect<NodeEdge.Hooks> = Effect.gen(function* () {
  const services = yield* Effect.context<never>()
  const random = Option.getOrElse(yield* Effect.serviceOption(SecureRandom.SecureRandom), () =>
    SecureRandomPool.make()
  )
  const run = Effect.runSyncWith(services)
  const fork = Effect.runForkWith(services)
  return {
    date: () => run(Effect.map(DateTime.now, Headers.formatHttpDate)),
    requestId: () => run(Effect.provideService(RequestId.generate, SecureRandom.SecureRandom, random)),
    answered: ({ method, reason, requestId, status }) => {
      // The same line as the app's access log, for a response the app never saw.
      fork(
        Effect.log("Sent HTTP response").pipe(
          Effect.annotateLogs({
            ...(method === undefined ? {} : { "http.method": method }),
            "http.status": status,
            "http.refused": reason,
            requestId
          })
        )
      )
    }
  }
})

// `server.close` stops accepting and closes idle connections, then waits for
// the busy ones; a keep-alive connection stays open after its response and
// would hold the shutdown until the client lets go. Once draining starts,
// every response not yet started closes its connection.
const closeConnectionsOnDrain = (server: Http.Server): Effect.Effect<void> => {
  let draining = false
  const pending = new Set<Http.ServerResponse>()
  const closeAfter = (response: Http.ServerResponse) => {
    if (!response.headersSent) response.setHeader("connection", "close")
  }
  const track = (_request: Http.IncomingMessage, response: Http.ServerResponse) => {
    if (draining) return closeAfter(response)
    pending.add(response)
    response.once("close", () => pending.delete(response))
  }
  // Registered before Effect's own listeners, so a request is tracked before it is handled.
  server.on("request", track)
  server.on("checkContinue", track)
  return Effect.sync(() => {
    draining = true
    for (const response of pending) closeAfter(response)
    pending.clear()
  })
}

/**
 * The whole start as an effect (what `run` runs, without the process
 * handling): reads `ServerConfig`, sets the logger (`LOG_FORMAT`,
 * `LOG_LEVEL`), builds the app and serves it until interrupted.
 *
 * @example
 * ```ts
 * import { Health, HttpApp } from "@org/http"
 * import { Runner } from "@org/server"
 * import { Effect, Fiber, Layer } from "effect"
 * import { HttpApi } from "effect/http-api"
 *
 * class Api extends HttpApp.api(HttpApi.make("example").add(Health.Group)) {}
 *
 * const program = Effect.gen(function* () {
 *   const server = yield* Effect.forkChild(
 *     Runner.launch({
 *       name: "Example API",
 *       app: () => HttpApp.layer({ api: Api, handlers: Health.layer(Api).pipe(Layer.provide(Health.Checks.layer)) })
 *     })
 *   )
 *   yield* Effect.sleep("1 second")
 *   yield* Fiber.interrupt(server)
 * })
 * ```
 *
 * @since 0.2.0
 * @category running
 */
export const launch = <E, EA = never>(
  options: Options<E, EA>
): Effect.Effect<never, E | EA | AppConfig.InvalidConfig | HttpServerError.ServeError> =>
  Effect.gen(function* () {
    const config = yield* ServerConfig.loadWith(options.defaults ?? {})
    // JSON lines (with trace_id, span_id, request_id) or pretty, secrets redacted.
    const logger = options.logger ?? TelemetryLogger.make({ format: config.logFormat })
    const telemetry = yield* Effect.mapError(TelemetryConfig.config, AppConfig.fromConfigError)
    return yield* Effect.gen(function* () {
      const made = options.app(config)
      const app = Effect.isEffect(made) ? yield* Effect.provide(made, NodeServices.layer) : made
      return yield* Layer.launch(layer(app, { name: options.name, config, links: options.links })).pipe(
        // After the server and every scope of the app (pools, clients) are closed.
        Effect.onInterrupt(() => Effect.logInfo(`${options.name} stopped`))
      )
    }).pipe(
      // The one-line description goes to stderr; the whole cause is there for whoever asks for debug logs.
      Effect.tapCause((cause) =>
        Cause.hasInterruptsOnly(cause)
          ? Effect.void
          : Effect.logDebug(`${options.name} failed to start`, cause)
      ),
      // OTEL_*: traces, metrics and logs over OTLP when an endpoint is set, nothing
      // otherwise (or the team's own layer); its finalizer flushes them (bounded)
      // after the app has stopped. Inside the logger layer, so an OTLP logger
      // joins the console one. And the process's own gauges: event-loop delay
      // and utilisation, heap, RSS.
      Effect.provide(
        Layer.merge(
          options.telemetry === undefined
            ? Telemetry.layer(telemetry, {
                serviceName: options.name,
                httpClient: NodeHttpClient.layerUndici
              })
            : options.telemetry(telemetry),
          RuntimeMetrics.layer()
        )
      ),
      Effect.provide(Logger.layer([logger, Redaction.tracerLogger])),
      Effect.provideService(References.MinimumLogLevel, config.logLevel)
    )
  })

const maxLength = 500

// A line of a stack trace (`    at fn (file.js:1:2)`), sometimes found inside a message.
const stackFrame = /^\s*at\s.*:\d+(:\d+)?\)?\s*$/

const oneLine = (text: string): string => {
  const kept = text.split(/\r?\n/).filter((line) => !stackFrame.test(line))
  const line = kept.join(" ").replace(/\s+/g, " ").trim()
  return line.length > maxLength ? `${line.slice(0, maxLength - 1)}…` : line
}

// The message of an error; a wrapper with no message of its own (`ServeError`) speaks through its cause.
const messageOf = (error: unknown, depth = 0): string => {
  if (
    Predicate.hasProperty(error, "message") &&
    Predicate.isString(error.message) &&
    error.message.trim() !== ""
  ) {
    return error.message
  }
  if (depth < 3 && Predicate.hasProperty(error, "cause") && error.cause !== undefined) {
    return messageOf(error.cause, depth + 1)
  }
  return Predicate.isObject(error) ? Formatter.format(error) : String(error)
}

const nameOf = (error: unknown): string =>
  Predicate.hasProperty(error, "_tag") && Predicate.isString(error._tag)
    ? error._tag
    : Predicate.hasProperty(error, "name") && Predicate.isString(error.name)
      ? error.name
      : "Error"

/**
 * The one line printed when a start fails: the message of an
 * `AppConfig.InvalidConfig` (an Effect `ConfigError` is first turned into
 * one, and any error with a `variable` field reads the same way),
 * otherwise `<name> failed to start: <tag>: <message>`, with line breaks
 * collapsed and stack frames dropped. Never a stack trace.
 *
 * @example
 * ```ts
 * import { Runner } from "@org/server"
 * import { Cause } from "effect"
 *
 * Runner.describe(Cause.die(new Error("connect ECONNREFUSED 127.0.0.1:5432")), "Example API")
 * // "Example API failed to start: Error: connect ECONNREFUSED 127.0.0.1:5432"
 * ```
 *
 * @since 0.2.0
 * @category formatting
 */
export const describe = (cause: Cause.Cause<unknown>, name = "The server"): string => {
  if (Cause.hasInterruptsOnly(cause)) return `${name} was interrupted`
  const error = Cause.squash(cause)
  if (error instanceof Config.ConfigError) return oneLine(AppConfig.fromConfigError(error).message)
  if (Predicate.isTagged(error, "InvalidConfig")) return oneLine(messageOf(error))
  // Another package's configuration error that names its variable (`PgDatabase.DatabaseConfigError`).
  if (Predicate.hasProperty(error, "variable") && Predicate.isString(error.variable)) {
    const message = messageOf(error)
    return oneLine(
      message.startsWith("Invalid configuration")
        ? message
        : `Invalid configuration: ${message.includes(error.variable) ? message : `${error.variable} ${message}`}`
    )
  }
  return oneLine(`${name} failed to start: ${nameOf(error)}: ${messageOf(error)}`)
}

/**
 * Exit codes for `NodeRuntime.runMain`: an interruption (SIGTERM, SIGINT) is
 * a clean stop and exits 0, a failure exits 1.
 *
 * @since 0.2.0
 * @category running
 */
export const teardown: Runtime.Teardown = (exit, onExit) =>
  onExit(Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause) ? 0 : 1)

/**
 * The entry point of a service: `launch` as the process's main fiber, with
 * `teardown` and the one-line error on stderr. Call it once, from `main.ts`.
 *
 * @example
 * ```ts
 * import { AppConfig } from "@org/core"
 * import { Health, HttpApp } from "@org/http"
 * import { Runner } from "@org/server"
 * import { Config, Effect, Layer } from "effect"
 * import { HttpApi } from "effect/http-api"
 *
 * class Api extends HttpApp.api(HttpApi.make("example").add(Health.Group)) {}
 *
 * Runner.run({
 *   name: "Example API",
 *   app: (config) =>
 *     Effect.gen(function* () {
 *       // More configuration first: a bad value stops the start with one line naming it.
 *       const region = yield* Config.String("REGION").pipe(Config.withDefault("local"))
 *       yield* Effect.logDebug(`region ${region}, env ${config.env}`)
 *       return HttpApp.layer({ api: Api, handlers: Health.layer(Api).pipe(Layer.provide(Health.Checks.layer)) })
 *     }).pipe(Effect.mapError(AppConfig.fromConfigError))
 * })
 * ```
 *
 * @since 0.2.0
 * @category running
 */
export const run = <E, EA = never>(options: Options<E, EA>): void =>
  NodeRuntime.runMain(
    launch(options).pipe(
      // Console, not the logger: this line must reach stderr even when the
      // logger is off (LOG_LEVEL=none), writes JSON to stdout, or was never
      // set up because the configuration itself is bad.
      Effect.tapCause((cause) =>
        Cause.hasInterruptsOnly(cause) ? Effect.void : Console.error(describe(cause, options.name))
      )
    ),
    { disableErrorReporting: true, teardown }
  )
