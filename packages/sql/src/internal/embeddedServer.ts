/**
 * What both ways of serving PGlite on loopback (in a worker thread, or on
 * the calling thread) hand to `PgEmbedded`: where to connect.
 *
 * @internal
 */
import { SqlError } from "effect/sql"

/** @internal */
export interface Options {
  /** Data directory, created if missing; `undefined` keeps the database in memory. */
  readonly dataDir: string | undefined
  readonly host: string
  /** `0`: an ephemeral port chosen by the OS. */
  readonly port: number
  readonly maxConnections: number
}

/** @internal */
export interface Served {
  readonly host: string
  /** The port actually listened on. */
  readonly port: number
}

/** @internal */
export const connectionError = (operation: string, message: string, cause: unknown): SqlError.SqlError =>
  new SqlError.SqlError({ reason: new SqlError.ConnectionError({ cause, message, operation }) })

// `getServerConn` is pglite-socket's only public way to learn the port the
// OS picked ("host:port").
/** @internal */
export const portOf = (serverConn: string): number =>
  Number(serverConn.slice(serverConn.lastIndexOf(":") + 1))
