/**
 * Embedded Postgres: PGlite (Postgres compiled to WASM, in this process)
 * served on loopback by `@electric-sql/pglite-socket`, so the ordinary
 * `@effect/sql-pg` `PgClient` talks to it over TCP exactly as it talks to a
 * real server.
 *
 * PGlite has a single backend session. pglite-socket 0.2.17 accepts one
 * connection by default and, when allowed more, interleaves the protocol
 * messages of different connections on that one session, which breaks
 * concurrent transactions. So the server accepts one connection and the
 * client pool holds one connection: statements from concurrent fibers queue
 * for it, and a transaction holds it until it ends.
 *
 * PGlite runs on the main thread, not in a worker thread: with one
 * connection every statement is a round trip between the client and the
 * database, and across threads those round trips cost more than the
 * parallelism gains (measured on two cores: ADR 0013). The replies to one
 * chunk of protocol messages go out as one write, which is what made it
 * faster.
 *
 * Its own entry point (`@org/sql/PgEmbedded`, not in the barrel) with
 * PGlite as an optional peer dependency: add `@electric-sql/pglite` and
 * `@electric-sql/pglite-socket` to use it; a service on a real Postgres
 * installs neither (`PgDatabase.layerConfig` loads this module only when
 * `DATABASE_URL` is unset).
 *
 * @since 0.1.0
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import type { Layer, Scope } from "effect"
import { Effect } from "effect"
import type * as Reactivity from "effect/reactivity/Reactivity"
import type { SqlClient, SqlError } from "effect/sql"
import * as PgliteInProcess from "./internal/pgliteInProcess.ts"

/**
 * Where the embedded database keeps its data and where it listens.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Data directory, created if missing; `undefined` keeps the database in memory. */
  readonly dataDir?: string | undefined
  /** Interface to listen on; defaults to `127.0.0.1`. */
  readonly host?: string
  /** Port to listen on; defaults to `0`, an ephemeral port chosen by the OS. */
  readonly port?: number
}

/**
 * How many connections the socket server accepts and the client pool opens.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxConnections = 1

/**
 * Starts PGlite and its socket server and returns a `PgClient` connected to
 * it. Closing the scope closes the client pool, then the server, then PGlite.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as PgEmbedded from "@org/sql/PgEmbedded"
 *
 * const program = Effect.scoped(
 *   Effect.flatMap(PgEmbedded.make({ dataDir: ".data/pg" }), (sql) => sql`SELECT 1`)
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fnUntraced(function* (
  options: Options = {}
): Effect.fn.Return<
  PgClient.PgClient & SqlClient.SqlClient,
  SqlError.SqlError,
  Scope.Scope | Reactivity.Reactivity
> {
  const host = options.host ?? "127.0.0.1"
  const { port } = yield* PgliteInProcess.serve({
    dataDir: options.dataDir,
    host,
    port: options.port ?? 0,
    maxConnections
  })
  yield* Effect.logDebug(`PgEmbedded: PGlite listening on ${host}:${port}`)
  // PGlite ignores the user and database of the startup message: there is
  // one database, `postgres`, and one user, `postgres`, with no password.
  return yield* PgClient.make({ host, port, username: "postgres", database: "postgres", maxConnections })
})

/**
 * Provides `PgClient` and `SqlClient` backed by an embedded PGlite, in memory
 * or persisted in `dataDir`.
 *
 * @example
 * ```ts
 * import * as PgEmbedded from "@org/sql/PgEmbedded"
 *
 * const Persisted = PgEmbedded.layer({ dataDir: ".data/pg" })
 * const InMemory = PgEmbedded.layer()
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options = {}
): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, SqlError.SqlError> =>
  PgClient.layerFrom(make(options))
