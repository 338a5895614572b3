/**
 * Test support: a `PgClient` on an isolated, empty database. With
 * `DATABASE_URL` set it creates a uniquely named database on that server and
 * drops it when the scope closes; otherwise it starts an in-memory PGlite.
 * `REQUIRE_SERVICES=1` turns a missing or unreachable server into a failure
 * instead of a fallback, so CI cannot pass on PGlite by accident.
 *
 * @since 0.1.0
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import type { Layer, Redacted, Scope } from "effect"
import { Clock, Config, Duration, Effect, Random } from "effect"
import type * as Reactivity from "effect/reactivity/Reactivity"
import type { SqlError } from "effect/sql"
import { SqlClient } from "effect/sql"
import * as PgDatabase from "./PgDatabase.ts"

/**
 * The database a client actually talks to.
 *
 * @since 0.1.0
 * @category models
 */
export type Backend = "postgres" | "pglite"

/**
 * Asks the server behind `SqlClient` what it is, so a test can print or
 * check the backend it really ran on (after any fallback).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SqlTest } from "@org/sql"
 *
 * const program = Effect.flatMap(SqlTest.backend, (backend) => Effect.log(`database: ${backend}`))
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export const backend: Effect.Effect<Backend, SqlError.SqlError, SqlClient.SqlClient> = Effect.gen(
  function* () {
    const sql = yield* SqlClient.SqlClient
    const [row] = yield* sql<{ readonly version: string }>`SELECT version() AS version`
    return row?.version.includes("PGlite") ? "pglite" : "postgres"
  }
)

const probeTimeout = Duration.seconds(5)

const probe = (url: Redacted.Redacted<string>) =>
  Effect.scoped(
    Effect.flatMap(PgClient.make({ url, maxConnections: 1 }), (client) =>
      PgDatabase.ready(probeTimeout).pipe(Effect.provideService(SqlClient.SqlClient, client))
    )
  ).pipe(
    Effect.catchTag("SqlError", (error) =>
      Effect.fail(new PgDatabase.DatabaseUnavailable({ message: error.message, cause: error }))
    )
  )

const databaseName = Effect.map(
  Random.nextIntBetween(0, Number.MAX_SAFE_INTEGER),
  (n) => `test_${n.toString(36)}`
)

const freshDatabase = Effect.fnUntraced(function* (url: Redacted.Redacted<string>) {
  const admin = yield* PgClient.make({ url, maxConnections: 1 })
  const database = yield* databaseName
  yield* Effect.acquireRelease(admin`CREATE DATABASE ${admin(database)}`, () =>
    admin`DROP DATABASE IF EXISTS ${admin(database)} WITH (FORCE)`.pipe(
      Effect.ignore({ log: "Warn", message: `SqlTest: could not drop ${database}` })
    )
  )
  // Acquired after the database, so its pool closes before the DROP runs.
  return yield* PgClient.make({ url, database })
})

/**
 * Acquires a client on a fresh database: a new `test_<random>` database on
 * the `DATABASE_URL` server, or an in-memory PGlite.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SqlTest } from "@org/sql"
 *
 * const program = Effect.scoped(Effect.flatMap(SqlTest.make, (sql) => sql`SELECT 1`))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<
  PgClient.PgClient & SqlClient.SqlClient,
  PgDatabase.DatabaseConfigError | PgDatabase.DatabaseUnavailable | SqlError.SqlError,
  Scope.Scope | Reactivity.Reactivity
> = Effect.gen(function* () {
  const selected = yield* PgDatabase.backend
  const required = yield* Config.Boolean("REQUIRE_SERVICES").pipe(
    Config.withDefault(false),
    Effect.mapError(
      (error) => new PgDatabase.DatabaseConfigError({ variable: "REQUIRE_SERVICES", message: error.message })
    )
  )
  if (selected._tag === "Embedded") {
    if (required) {
      return yield* new PgDatabase.DatabaseConfigError({
        variable: "DATABASE_URL",
        message: "REQUIRE_SERVICES=1 but DATABASE_URL is not set: refusing to fall back to PGlite"
      })
    }
    return yield* Effect.flatMap(PgDatabase.loadEmbedded, (embedded) => embedded.make())
  }
  const reachable = yield* probe(selected.url).pipe(
    Effect.as(true),
    Effect.catchTag("DatabaseUnavailable", (error) =>
      required
        ? Effect.fail(
            new PgDatabase.DatabaseUnavailable({
              message: `REQUIRE_SERVICES=1 but Postgres at DATABASE_URL is unreachable: ${error.message}`,
              cause: error
            })
          )
        : Effect.as(
            Effect.logWarning(`SqlTest: Postgres unreachable (${error.message}), using PGlite`),
            false
          )
    )
  )
  return yield* reachable
    ? freshDatabase(selected.url)
    : Effect.flatMap(PgDatabase.loadEmbedded, (embedded) => embedded.make())
}).pipe(
  // @effect/vitest builds layers with a TestClock, whose time never moves by
  // itself: the probe's timeout and the pools' connect timeouts need real time.
  Effect.provideService(Clock.Clock, Clock.Clock.defaultValue())
)

/**
 * Provides `PgClient` and `SqlClient` on a fresh, empty database that is
 * dropped when the layer's scope closes. Each build is a new database; within
 * one composition use `Layer.fresh(SqlTest.layer)` to get a second one.
 *
 * @example
 * ```ts
 * import { layer } from "@effect/vitest"
 * import { SqlTest } from "@org/sql"
 *
 * layer(SqlTest.layer)((it) => {
 *   // it.effect(...) tests see an empty database
 * })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<
  PgClient.PgClient | SqlClient.SqlClient,
  PgDatabase.DatabaseConfigError | PgDatabase.DatabaseUnavailable | SqlError.SqlError
> = PgClient.layerFrom(make)
