/**
 * PGlite and its socket server in a worker thread: the design ADR 0013
 * measured and did not adopt (`PgEmbedded` serves PGlite on the main
 * thread). Kept, with its tests, so `bench/pglite.bench.ts` can measure it
 * again on other hardware.
 *
 * The worker opens PGlite on the data directory, listens on loopback and
 * posts the port; the caller's `PgClient` connects to it as to any server.
 * Closing the scope asks the worker to stop the server and close PGlite
 * (which checkpoints the data to disk), waits for its answer (bounded), then
 * terminates the thread. A worker that exits on its own (a crash in
 * WebAssembly, out of memory) closes its sockets with it: statements fail
 * with the client's connection errors (`SqlError`), and the exit is logged
 * as an error naming its code.
 *
 * @internal
 */
import { Worker } from "node:worker_threads"
import * as PgClient from "@effect/sql-pg/PgClient"
import type { Layer } from "effect"
import { Deferred, Effect } from "effect"
import type * as Duration from "effect/Duration"
import type * as Scope from "effect/Scope"
import type { SqlClient, SqlError } from "effect/sql"
import { connectionError, type Options, portOf, type Served } from "./embeddedServer.ts"

// Evaluated by `new Worker(..., { eval: true })`, as `argon2Pool`'s: the same
// text works from `src/*.ts` and from `dist/*.js`, with no worker file to
// locate. Only dynamic imports, so it runs whether Node treats it as
// CommonJS or as a module. PGlite and pglite-socket are imported by the URLs
// the host resolved, so the worker loads the host's copies.
const workerSource = `
import("node:worker_threads").then(async ({ parentPort, workerData }) => {
  const describe = (error) => String(error && error.message ? error.message : error)
  let db
  try {
    const [{ PGlite }, { mkdir }] = await Promise.all([import(workerData.pglite), import("node:fs/promises")])
    if (workerData.dataDir === null) {
      db = await PGlite.create()
    } else {
      await mkdir(workerData.dataDir, { recursive: true })
      db = await PGlite.create(workerData.dataDir)
    }
  } catch (error) {
    parentPort.postMessage({ type: "failed", stage: "open", message: describe(error) })
    return
  }
  let server
  try {
    const { PGLiteSocketServer, PGLiteSocketHandler } = await import(workerData.pgliteSocket)
    if (workerData.cork) {
      const handleData = PGLiteSocketHandler.prototype.handleData
      PGLiteSocketHandler.prototype.handleData = async function (data) {
        const socket = this.socket
        socket?.cork()
        try {
          return await handleData.call(this, data)
        } finally {
          socket?.uncork()
        }
      }
    }
    server = new PGLiteSocketServer({
      db,
      host: workerData.host,
      port: workerData.port,
      maxConnections: workerData.maxConnections
    })
    await server.start()
  } catch (error) {
    await db.close().catch(() => {})
    parentPort.postMessage({ type: "failed", stage: "listen", message: describe(error) })
    return
  }
  let closing = false
  parentPort.on("message", async (message) => {
    if (message.type === "crash") process.exit(70)
    if (message.type !== "close" || closing) return
    closing = true
    const warnings = []
    await server.stop().catch((error) => warnings.push("stopping the socket server failed: " + describe(error)))
    // Closing PGlite checkpoints it, which is what puts the data on disk.
    await db.close().catch((error) => warnings.push("closing PGlite failed: " + describe(error)))
    parentPort.postMessage({ type: "closed", warnings })
  })
  parentPort.postMessage({ type: "listening", serverConn: server.getServerConn() })
})
`

type Reply =
  | { readonly type: "listening"; readonly serverConn: string }
  | { readonly type: "failed"; readonly stage: "open" | "listen"; readonly message: string }
  | { readonly type: "closed"; readonly warnings: ReadonlyArray<string> }

// Resolved here, on the host, so the worker loads the host's copies.
const pgliteUrl = import.meta.resolve("@electric-sql/pglite")
const pgliteSocketUrl = import.meta.resolve("@electric-sql/pglite-socket")

/** @internal */
export interface WorkerOptions extends Options {
  /** Send the replies to one chunk of messages as one write (as `pgliteInProcess`); `true` when omitted. */
  readonly cork?: boolean | undefined
  /** How long closing waits for the worker to close PGlite; 30 seconds when omitted. */
  readonly closeTimeout?: Duration.Input | undefined
}

/** @internal */
export interface Handle extends Served {
  /** The worker's `threadId` (the caller's is another). */
  readonly threadId: number
  /** Succeeds with the exit code once the thread has ended. */
  readonly exited: Effect.Effect<number>
  /** Test hook: the worker exits at once with code 70, as on a crash. */
  readonly crash: Effect.Effect<void>
}

interface Running {
  readonly worker: Worker
  readonly port: number
  readonly exited: Deferred.Deferred<number>
  readonly closed: Deferred.Deferred<ReadonlyArray<string>>
  readonly lastError: () => string
  closing: boolean
}

const start = (options: WorkerOptions): Effect.Effect<Running, SqlError.SqlError> =>
  Effect.callback<Running, SqlError.SqlError>((resume) => {
    const { host, port } = options
    const worker = new Worker(workerSource, {
      eval: true,
      name: "PgEmbedded",
      workerData: {
        pglite: pgliteUrl,
        pgliteSocket: pgliteSocketUrl,
        dataDir: options.dataDir ?? null,
        host,
        port,
        maxConnections: options.maxConnections,
        cork: options.cork !== false
      }
    })
    const exited = Deferred.makeUnsafe<number>()
    const closed = Deferred.makeUnsafe<ReadonlyArray<string>>()
    let lastError = ""
    let started = false
    // An uncaught error in the worker is followed by "exit"; listening here
    // keeps it from becoming an uncaught exception of the host.
    worker.on("error", (error) => {
      lastError = String(error)
    })
    worker.on("message", (reply: Reply) => {
      switch (reply.type) {
        case "listening": {
          started = true
          resume(
            Effect.succeed({
              worker,
              port: portOf(reply.serverConn),
              exited,
              closed,
              lastError: () => lastError,
              closing: false
            })
          )
          return
        }
        case "failed": {
          started = true
          void worker.terminate()
          const where =
            reply.stage === "open"
              ? `open PGlite in ${options.dataDir ?? "memory"}`
              : `listen on ${host}:${port}`
          resume(
            Effect.fail(
              connectionError(
                `PgEmbedded.${reply.stage}`,
                `PgEmbedded: could not ${where}: ${reply.message}`,
                reply.message
              )
            )
          )
          return
        }
        case "closed": {
          Deferred.doneUnsafe(closed, Effect.succeed(reply.warnings))
          return
        }
      }
    })
    worker.once("exit", (code) => {
      Deferred.doneUnsafe(exited, Effect.succeed(code))
      Deferred.doneUnsafe(closed, Effect.succeed([`the worker exited (code ${code}) before closing PGlite`]))
      if (started) return
      started = true
      resume(
        Effect.fail(
          connectionError(
            "PgEmbedded.open",
            `PgEmbedded: the PGlite worker exited (code ${code}) before listening${lastError === "" ? "" : `: ${lastError}`}`,
            lastError
          )
        )
      )
    })
  })

const stop = (running: Running, closeTimeout: Duration.Input) =>
  Effect.gen(function* () {
    running.closing = true
    if (!Deferred.isDoneUnsafe(running.exited)) {
      running.worker.postMessage({ type: "close" })
      const warnings = yield* Deferred.await(running.closed).pipe(Effect.timeoutOption(closeTimeout))
      if (warnings._tag === "None") {
        yield* Effect.logWarning(
          `PgEmbedded: PGlite did not close within ${String(closeTimeout)}; terminating its worker`
        )
      } else {
        for (const warning of warnings.value) yield* Effect.logWarning(`PgEmbedded: ${warning}`)
      }
    }
    // Terminating is bounded even if the worker is stuck in WebAssembly.
    yield* Effect.promise(() => running.worker.terminate())
    yield* Deferred.await(running.exited)
  })

/**
 * Starts the worker and waits until it listens. Fails with a `SqlError`
 * (`ConnectionError`) if PGlite cannot open or listen, or the worker dies
 * first.
 *
 * @internal
 */
export const serve = (options: WorkerOptions): Effect.Effect<Handle, SqlError.SqlError, Scope.Scope> =>
  Effect.gen(function* () {
    const closeTimeout = options.closeTimeout ?? "30 seconds"
    const running = yield* Effect.acquireRelease(start(options), (running) => stop(running, closeTimeout))
    // Forked after the release above is registered, so it is interrupted
    // before the release runs: only an exit nobody asked for is reported.
    yield* Effect.forkScoped(
      Effect.flatMap(Deferred.await(running.exited), (code) =>
        running.closing
          ? Effect.void
          : Effect.logError(
              `PgEmbedded: the PGlite worker exited unexpectedly (code ${code})${running.lastError() === "" ? "" : `: ${running.lastError()}`}; ` +
                "statements fail with connection errors until the database layer is built again"
            )
      )
    )
    return {
      host: options.host,
      port: running.port,
      threadId: running.worker.threadId,
      exited: Deferred.await(running.exited),
      crash: Effect.sync(() => running.worker.postMessage({ type: "crash" }))
    }
  })

/**
 * A `PgClient` on PGlite in a worker, as `PgEmbedded.layer` would build it.
 *
 * @internal
 */
export const layer = (
  options: { readonly dataDir?: string | undefined; readonly cork?: boolean | undefined } = {}
): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, SqlError.SqlError> =>
  PgClient.layerFrom(
    Effect.flatMap(
      serve({ dataDir: options.dataDir, host: "127.0.0.1", port: 0, maxConnections: 1, cork: options.cork }),
      ({ host, port }) =>
        PgClient.make({ host, port, username: "postgres", database: "postgres", maxConnections: 1 })
    )
  )
