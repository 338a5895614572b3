/**
 * The application's Postgres, chosen by configuration: a real server when
 * `DATABASE_URL` is set, otherwise embedded PGlite persisted under
 * `${DATA_DIR}/pg`. Both give the same `PgClient`, so repository code does not
 * know which one it runs on.
 *
 * @since 0.1.0
 */
import { join } from "node:path"
import * as PgClient from "@effect/sql-pg/PgClient"
import { AppConfig } from "@org/core"
import { Config, Duration, Effect, Layer, Metric, Option, Redacted, Schedule, Schema } from "effect"
import type { SqlError } from "effect/sql"
import { SqlClient } from "effect/sql"
import type * as PgEmbedded from "./PgEmbedded.ts"

/**
 * A database setting is missing or malformed; `variable` names it.
 *
 * @since 0.1.0
 * @category errors
 */
export class DatabaseConfigError extends Schema.TaggedError<DatabaseConfigError>(
  "@org/sql/DatabaseConfigError"
)("DatabaseConfigError", { variable: Schema.String, message: Schema.String }) {}

/**
 * The database did not answer a readiness query in time, or answered with an error.
 *
 * @since 0.1.0
 * @category errors
 */
export class DatabaseUnavailable extends Schema.TaggedError<DatabaseUnavailable>(
  "@org/sql/DatabaseUnavailable"
)("DatabaseUnavailable", { message: Schema.String, cause: Schema.Defect() }) {}

/**
 * Which database the configuration selects.
 *
 * @since 0.1.0
 * @category models
 */
export type Backend =
  | { readonly _tag: "Postgres"; readonly url: Redacted.Redacted<string> }
  | { readonly _tag: "Embedded"; readonly dataDir: string }

/**
 * Checks that a secret connection string is a `postgres://` or
 * `postgresql://` URL; the error names `variable` and never the value.
 *
 * @example
 * ```ts
 * import { Redacted } from "effect"
 * import { PgDatabase } from "@org/sql"
 *
 * const url = PgDatabase.validateUrl("DATABASE_URL", Redacted.make("postgresql://localhost/app"))
 * ```
 *
 * @since 0.1.0
 * @category validation
 */
export const validateUrl = (
  variable: string,
  url: Redacted.Redacted<string>
): Effect.Effect<Redacted.Redacted<string>, DatabaseConfigError> => {
  const parsed = URL.parse(Redacted.value(url))
  if (parsed === null) {
    return Effect.fail(
      new DatabaseConfigError({
        variable,
        message: `${variable} is not a URL (expected postgres://user:password@host:port/database)`
      })
    )
  }
  // Echo no part of the value: one missing its scheme can start with a secret.
  if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") {
    return Effect.fail(
      new DatabaseConfigError({
        variable,
        message: `${variable} must be a postgres:// or postgresql:// URL`
      })
    )
  }
  return Effect.succeed(url)
}

const configError = (variable: string) => (error: Config.ConfigError) =>
  new DatabaseConfigError({ variable, message: `${variable}: ${error.message}` })

/**
 * Reads `DATABASE_URL` (secret; validated when set) and `DATA_DIR` (default
 * `.data`) and tells which backend they select. Empty variables count as
 * unset. In production (`APP_ENV=production`) `DATABASE_URL` is required:
 * the embedded database is for development and tests, and a production
 * service silently writing to a local PGlite would lose data.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { PgDatabase } from "@org/sql"
 *
 * const program = Effect.map(PgDatabase.backend, (backend) => backend._tag)
 * ```
 *
 * @since 0.1.0
 * @category config
 */
export const backend: Effect.Effect<Backend, DatabaseConfigError> = Effect.gen(function* () {
  const url = yield* Config.option(Config.Redacted("DATABASE_URL")).pipe(
    Effect.mapError(configError("DATABASE_URL"))
  )
  if (Option.isSome(url)) {
    return { _tag: "Postgres", url: yield* validateUrl("DATABASE_URL", url.value) } as const
  }
  const env = yield* AppConfig.appEnv.pipe(Effect.mapError(configError("APP_ENV")))
  if (env === "production") {
    return yield* new DatabaseConfigError({
      variable: "DATABASE_URL",
      message: "DATABASE_URL is required in production (the embedded PGlite is for development and tests)"
    })
  }
  const dataDir = yield* Config.String("DATA_DIR").pipe(
    Config.withDefault(".data"),
    Effect.mapError(configError("DATA_DIR"))
  )
  return { _tag: "Embedded", dataDir: join(dataDir, "pg") } as const
})

/**
 * Options of `layerPoolMetrics`.
 *
 * @since 0.4.0
 * @category models
 */
export interface PoolMetricsOptions {
  /** How often the pool is read; 5 seconds when omitted. */
  readonly interval?: Duration.Input | undefined
  /** `db.client.connection.pool.name`; `default` when omitted. */
  readonly poolName?: string | undefined
}

/**
 * The names of the pool gauges (OpenTelemetry's database client
 * conventions).
 *
 * @since 0.4.0
 * @category metrics
 */
export const poolMetricNames = {
  count: "db.client.connection.count",
  pendingRequests: "db.client.connection.pending_requests",
  max: "db.client.connection.max"
} as const

/**
 * Gauges of the `PgClient` pool, read from its snapshot (`poolStats`) when
 * the layer starts and then every `interval`, by a fiber of the layer's
 * scope: `db.client.connection.count` by `db.client.connection.state`
 * (`used`, `idle`), `db.client.connection.pending_requests` (borrowers
 * waiting for a connection) and `db.client.connection.max`. A read is a
 * few field loads; nothing runs per query. `layerConfig` includes it.
 *
 * @example
 * ```ts
 * import * as PgClient from "@effect/sql-pg/PgClient"
 * import { Layer, Redacted } from "effect"
 * import { PgDatabase } from "@org/sql"
 *
 * const Database = Layer.provideMerge(
 *   PgDatabase.layerPoolMetrics({ interval: "10 seconds" }),
 *   PgClient.layer({ url: Redacted.make("postgresql://postgres@127.0.0.1:5432/app") })
 * )
 * ```
 *
 * @since 0.4.0
 * @category metrics
 */
export const layerPoolMetrics = (
  options: PoolMetricsOptions = {}
): Layer.Layer<never, never, PgClient.PgClient> =>
  Layer.effectDiscard(
    Effect.gen(function* () {
      const client = yield* PgClient.PgClient
      const pool = { "db.client.connection.pool.name": options.poolName ?? "default" }
      const unit = { unit: "{connection}" }
      const used = Metric.gauge(poolMetricNames.count, {
        description: "Connections of the pool by state.",
        attributes: { ...pool, ...unit, "db.client.connection.state": "used" }
      })
      const idle = Metric.gauge(poolMetricNames.count, {
        description: "Connections of the pool by state.",
        attributes: { ...pool, ...unit, "db.client.connection.state": "idle" }
      })
      const pending = Metric.gauge(poolMetricNames.pendingRequests, {
        description: "Requests waiting for a connection of the pool.",
        attributes: { ...pool, unit: "{request}" }
      })
      const max = Metric.gauge(poolMetricNames.max, {
        description: "The most connections the pool opens.",
        attributes: { ...pool, ...unit }
      })
      const sample = Effect.flatMap(client.poolStats, (stats) =>
        Effect.all(
          [
            Metric.update(used, stats.used),
            Metric.update(idle, stats.idle),
            Metric.update(pending, stats.pending),
            Metric.update(max, stats.max)
          ],
          { discard: true }
        )
      )
      const interval = Duration.fromInputUnsafe(options.interval ?? Duration.seconds(5))
      yield* Effect.forkScoped(Effect.repeat(sample, Schedule.spaced(interval)))
    })
  )

/**
 * Provides `PgClient` and `SqlClient` from configuration: Postgres at
 * `DATABASE_URL` when it is set, else embedded PGlite in `${DATA_DIR}/pg`
 * (loaded on demand: see `loadEmbedded`). Its pool is measured
 * (`layerPoolMetrics`, every 5 seconds).
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { SqlClient } from "effect/sql"
 * import { PgDatabase } from "@org/sql"
 *
 * const program = Effect.gen(function*() {
 *   const sql = yield* SqlClient.SqlClient
 *   return yield* sql`SELECT 1`
 * }).pipe(Effect.provide(PgDatabase.layerConfig))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: Layer.Layer<
  PgClient.PgClient | SqlClient.SqlClient,
  DatabaseConfigError | SqlError.SqlError
> = Layer.unwrap(
  Effect.gen(function* () {
    const selected = yield* backend
    if (selected._tag === "Postgres") {
      yield* Effect.logInfo("PgDatabase: Postgres from DATABASE_URL")
      return PgClient.layer({ url: selected.url })
    }
    const embedded = yield* loadEmbedded
    yield* Effect.logInfo(`PgDatabase: embedded PGlite in ${selected.dataDir}`)
    return embedded.layer({ dataDir: selected.dataDir })
  })
).pipe((database) => Layer.provideMerge(layerPoolMetrics(), database))

const isModuleNotFound = (error: unknown): boolean =>
  typeof error === "object" && error !== null && "code" in error && error.code === "ERR_MODULE_NOT_FOUND"

/**
 * The embedded database module, loaded only when it is used: PGlite
 * (`@electric-sql/pglite`, `@electric-sql/pglite-socket`) is an optional
 * peer dependency, so a service on a real Postgres installs none of it. When
 * it is missing, fails with a `DatabaseConfigError` on `DATABASE_URL`
 * saying what to install.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { PgDatabase } from "@org/sql"
 *
 * const InMemory = Effect.map(PgDatabase.loadEmbedded, (PgEmbedded) => PgEmbedded.layer())
 * ```
 *
 * @since 0.2.0
 * @category embedded
 */
export const loadEmbedded: Effect.Effect<typeof PgEmbedded, DatabaseConfigError> = Effect.tryPromise({
  try: () => import("./PgEmbedded.ts"),
  catch: (error) =>
    new DatabaseConfigError({
      variable: "DATABASE_URL",
      message: isModuleNotFound(error)
        ? "DATABASE_URL is not set and the embedded database is not installed: set DATABASE_URL, or add @electric-sql/pglite and @electric-sql/pglite-socket"
        : `the embedded database could not be loaded: ${error instanceof Error ? error.message : String(error)}`
    })
})

/**
 * Runs `SELECT 1` within `timeout` (default 5 seconds). `@effect/sql-pg`
 * connects lazily, so this is the first moment a bad host or password shows.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { PgDatabase } from "@org/sql"
 *
 * const health = PgDatabase.ready("2 seconds").pipe(
 *   Effect.as("ok" as const),
 *   Effect.catchTag("DatabaseUnavailable", () => Effect.succeed("unavailable" as const))
 * )
 * ```
 *
 * @since 0.1.0
 * @category readiness
 */
export const ready = Effect.fn("PgDatabase.ready")(function* (
  timeout: Duration.Input = Duration.seconds(5)
): Effect.fn.Return<void, DatabaseUnavailable, SqlClient.SqlClient> {
  const sql = yield* SqlClient.SqlClient
  yield* sql`SELECT 1`.pipe(
    Effect.timeout(timeout),
    Effect.mapError(
      (error) =>
        new DatabaseUnavailable({
          message:
            error._tag === "TimeoutError"
              ? `Database did not answer SELECT 1 within ${Duration.format(Duration.fromInputUnsafe(timeout))}`
              : `Database readiness query failed: ${error.message}`,
          cause: error
        })
    )
  )
})
