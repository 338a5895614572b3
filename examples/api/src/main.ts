/**
 * Entry point of the example API: validates configuration, opens the database
 * (embedded PGlite under `DATA_DIR`, or `DATABASE_URL`), migrates, serves on
 * `HOST:PORT`, and on SIGTERM/SIGINT stops accepting, lets in-flight requests
 * finish (at most 10 s), closes the pool and exits 0.
 *
 * @since 0.1.0
 */
import { createServer } from "node:http"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { BodyLimit, HttpApp } from "@org/http"
import { Migrations, PgDatabase } from "@org/sql"
import { Cause, Console, Effect, Exit, Layer, Logger, Option, References, Runtime } from "effect"
import { HttpServer } from "effect/http"
import type { LogLevel } from "effect/LogLevel"
import * as AppConfig from "./AppConfig.ts"
import * as Caching from "./Caching.ts"
import { Items } from "./Item.ts"
import { migrations } from "./Migrations.ts"
import * as Security from "./Security.ts"
import { makeApp } from "./Server.ts"

const logLevels: Record<(typeof AppConfig.logLevels)[number], LogLevel> = {
  trace: "Trace",
  debug: "Debug",
  info: "Info",
  warn: "Warn",
  error: "Error",
  fatal: "Fatal",
  none: "None"
}

// Logged once the app is served, so the URLs printed are ready to use.
const announce = Layer.effectDiscard(
  HttpServer.addressFormattedWith((url) =>
    Effect.logInfo(`Example API ready on ${url} (OpenAPI: ${url}/openapi.json, health: ${url}/health/ready)`)
  )
)

const program = Effect.gen(function* () {
  const config = yield* AppConfig.load
  const bodyLimit = yield* Option.match(BodyLimit.parse(config.bodyLimit), {
    onNone: () =>
      Effect.fail(
        new AppConfig.InvalidConfig({
          variable: "BODY_LIMIT",
          problem: "must be a size such as 1mb or 512kb"
        })
      ),
    onSome: Effect.succeed
  })
  const Database = Layer.provideMerge(Migrations.layer(migrations), PgDatabase.layerConfig)
  const Stores = Caching.layerConfig
  // Keys first: a bad or missing key stops the start before the database opens.
  const secrets = yield* Security.loadSecrets(config).pipe(
    Effect.provide(Layer.merge(NodeFileSystem.layer, NodePath.layer))
  )
  const SecurityLive = Security.layer({ config, ...secrets })
  const services = Layer.mergeAll(Items.layer, Security.seedAdmin(config)).pipe(
    Layer.provideMerge(SecurityLive),
    Layer.provide(Stores)
  )
  const App = makeApp({ bodyLimit, services }).pipe(Layer.provideMerge(Database))
  // Listen only once the database is open and migrated: Node accepts
  // connections as soon as it listens, and a request that arrives before the
  // app is attached would wait forever. (`Layer.provide` builds its argument
  // first; the database layer is memoized, so it is built once.)
  const Listen = NodeHttpServer.layer(createServer, {
    host: config.host,
    port: config.port,
    gracefulShutdownTimeout: "10 seconds"
  }).pipe(Layer.provide(Database))
  const Server = announce.pipe(Layer.provide(HttpApp.serve(App)), Layer.provide(Listen))
  const logger = config.logFormat === "json" ? Logger.consoleJson : Logger.consolePretty()
  return yield* Layer.launch(Server).pipe(
    Effect.provide(Logger.layer([logger])),
    Effect.provideService(References.MinimumLogLevel, logLevels[config.logLevel])
  )
})

// One clear line for anything that stops the start, never a bare stack trace.
const describe = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  if (error instanceof AppConfig.InvalidConfig) return error.message
  if (error instanceof PgDatabase.DatabaseConfigError) return `Invalid configuration: ${error.message}`
  const tag = typeof error === "object" && error !== null && "_tag" in error ? String(error._tag) : "Error"
  const message = error instanceof Error ? error.message : String(error)
  return `Example API failed: ${tag}: ${message}`
}

NodeRuntime.runMain(
  program.pipe(
    Effect.tapCause((cause) =>
      Cause.hasInterruptsOnly(cause) ? Effect.void : Console.error(describe(cause))
    )
  ),
  {
    disableErrorReporting: true,
    // A signal interrupts the main fiber: that is a clean shutdown, exit 0.
    teardown: (exit, onExit) =>
      Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)
        ? onExit(0)
        : Runtime.defaultTeardown(exit, onExit)
  }
)
