/**
 * PGlite and its socket server on the calling thread: how `PgEmbedded`
 * serves the database. A worker-thread variant was measured slower on two
 * shared cores and removed (ADR 0013).
 *
 * @internal
 */
import { access, mkdir } from "node:fs/promises"
import type { Socket } from "node:net"
import { join } from "node:path"
import * as PgClient from "@effect/sql-pg/PgClient"
import { PGlite } from "@electric-sql/pglite"
import { PGLiteSocketHandler, PGLiteSocketServer } from "@electric-sql/pglite-socket"
import type { Layer } from "effect"
import { Effect } from "effect"
import type * as Scope from "effect/Scope"
import type { SqlClient, SqlError } from "effect/sql"
import { connectionError, type Options, portOf, type Served } from "./embeddedServer.ts"

// pglite-socket handles each protocol message of a chunk on its own and
// writes each reply with its own `socket.write` (no delay): an extended
// query (Parse, Bind, Describe, Execute, Sync) goes back as five TCP
// segments, and the client wakes up and parses five times. Corking the socket
// while the chunk is handled sends them as one. A private method of
// pglite-socket 0.2.17 (the exact version this package peers on) is wrapped,
// for the servers of `PgEmbedded` only (`corked`); if a later version
// renames it, the wrapper is not installed and nothing else changes.
interface HandlerInternals {
  readonly socket: Socket | null
  readonly queryQueue: { readonly db: PGlite }
  handleData(data: Buffer): Promise<number>
}

const corked = new WeakSet<PGlite>()
let corkInstalled = false

const corkReplies = (db: PGlite) => {
  const prototype = PGLiteSocketHandler.prototype as unknown as Partial<HandlerInternals>
  const handleData = prototype.handleData
  if (!corkInstalled && typeof handleData === "function") {
    corkInstalled = true
    prototype.handleData = function (this: HandlerInternals, data: Buffer) {
      const socket = corked.has(this.queryQueue.db) ? this.socket : null
      socket?.cork()
      // An async method: it never throws, it rejects.
      return handleData.call(this, data).finally(() => socket?.uncork())
    }
  }
  corked.add(db)
}

// A new data directory needs initdb. Run by PGlite on its Node file system
// it writes one small file at a time (about 10 s on two busy cores); run in
// memory and copied into the directory as one archive, about 4 s.
const initialized = (dataDir: string, fail: (cause: unknown) => SqlError.SqlError) =>
  Effect.gen(function* () {
    const template = yield* Effect.acquireUseRelease(
      Effect.tryPromise({ try: () => PGlite.create(), catch: fail }),
      (scratch) => Effect.tryPromise({ try: () => scratch.dumpDataDir("none"), catch: fail }),
      (scratch) => Effect.promise(() => scratch.close().catch(() => undefined))
    )
    return yield* Effect.tryPromise({
      try: () => PGlite.create(dataDir, { loadDataDir: template }),
      catch: fail
    })
  })

const openDatabase = (dataDir: string | undefined) =>
  Effect.acquireRelease(
    Effect.gen(function* () {
      const fail = (cause: unknown) =>
        connectionError(
          "PgEmbedded.open",
          `PgEmbedded: could not open PGlite in ${dataDir ?? "memory"}`,
          cause
        )
      if (dataDir === undefined) return yield* Effect.tryPromise({ try: () => PGlite.create(), catch: fail })
      yield* Effect.tryPromise({ try: () => mkdir(dataDir, { recursive: true }), catch: fail })
      const exists = yield* Effect.promise(() =>
        access(join(dataDir, "PG_VERSION")).then(
          () => true,
          () => false
        )
      )
      if (!exists) return yield* initialized(dataDir, fail)
      return yield* Effect.tryPromise({ try: () => PGlite.create(dataDir), catch: fail })
    }),
    // Closing PGlite checkpoints it, which is what puts the data on disk.
    (db) =>
      Effect.tryPromise(() => db.close()).pipe(
        Effect.ignore({ log: "Warn", message: "PgEmbedded: closing PGlite failed" })
      )
  )

const listen = (db: PGlite, options: Options) =>
  Effect.acquireRelease(
    Effect.suspend(() => {
      const { host, port, maxConnections } = options
      const server = new PGLiteSocketServer({ db, host, port, maxConnections })
      return Effect.as(
        Effect.tryPromise({
          try: () => server.start(),
          catch: (cause) =>
            connectionError("PgEmbedded.listen", `PgEmbedded: could not listen on ${host}:${port}`, cause)
        }),
        server
      )
    }),
    (server) =>
      Effect.tryPromise(() => server.stop()).pipe(
        Effect.ignore({ log: "Warn", message: "PgEmbedded: stopping the socket server failed" })
      )
  )

/** @internal */
export interface InProcessOptions extends Options {
  /** Send the replies to one chunk of messages as one write; `true` when omitted. */
  readonly cork?: boolean | undefined
}

/**
 * Opens PGlite and serves it; closing the scope stops the server, then
 * closes PGlite.
 *
 * @internal
 */
export const serve = (options: InProcessOptions): Effect.Effect<Served, SqlError.SqlError, Scope.Scope> =>
  Effect.gen(function* () {
    const db = yield* openDatabase(options.dataDir)
    if (options.cork !== false) corkReplies(db)
    const server = yield* listen(db, options)
    return { host: options.host, port: portOf(server.getServerConn()) }
  })

/**
 * `PgEmbedded.layer(options)`, with the corking as an option: for the
 * benchmark.
 *
 * @internal
 */
export const layer = (
  options: { readonly dataDir?: string | undefined; readonly cork?: boolean | undefined } = {}
): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, SqlError.SqlError> =>
  PgClient.layerFrom(
    Effect.flatMap(
      serve({
        dataDir: options.dataDir,
        host: "127.0.0.1",
        port: 0,
        maxConnections: 1,
        cork: options.cork
      }),
      ({ host, port }) =>
        PgClient.make({ host, port, username: "postgres", database: "postgres", maxConnections: 1 })
    )
  )
