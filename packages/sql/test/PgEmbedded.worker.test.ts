/**
 * PGlite in a worker thread (`internal/pgliteWorker.ts`): the design ADR
 * 0013 measured and did not adopt for `PgEmbedded`, kept working for
 * `bench/pglite.bench.ts`. The database work runs off this thread, closing
 * flushes the data and ends the thread, and a dead worker fails statements
 * instead of hanging them.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { performance } from "node:perf_hooks"
import { threadId } from "node:worker_threads"
import { PgClient } from "@effect/sql-pg"
import { assert, it } from "@effect/vitest"
import { Effect, Exit, Layer, Scope } from "effect"
import * as Reactivity from "effect/reactivity/Reactivity"
import { SqlClient } from "effect/sql"
import * as PgliteInProcess from "../src/internal/pgliteInProcess.ts"
import * as PgliteWorker from "../src/internal/pgliteWorker.ts"

const tempDir = Effect.acquireRelease(
  Effect.promise(() => mkdtemp(join(tmpdir(), "org-sql-worker-"))),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
)

const served = (dataDir?: string) =>
  Effect.gen(function* () {
    const handle = yield* PgliteWorker.serve({ dataDir, host: "127.0.0.1", port: 0, maxConnections: 1 })
    const sql = yield* PgClient.make({
      host: handle.host,
      port: handle.port,
      username: "postgres",
      database: "postgres",
      maxConnections: 1
    })
    return { handle, sql }
  }).pipe(Effect.provide(Reactivity.layer))

// A query that keeps PGlite busy for a good fraction of a second.
const heavy = Effect.flatMap(
  SqlClient.SqlClient,
  (sql) => sql`SELECT count(*) AS n FROM generate_series(1, 3000000) AS g WHERE g % 7 = 0`
)

/** Runs `effect` while a timer of this thread ticks every 5 ms: the longest gap between ticks. */
const timerGapDuring = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    let last = performance.now()
    let gap = 0
    const timer = setInterval(() => {
      const now = performance.now()
      gap = Math.max(gap, now - last)
      last = now
    }, 5)
    const started = performance.now()
    yield* Effect.ensuring(
      effect,
      Effect.sync(() => clearInterval(timer))
    )
    return { gap, took: performance.now() - started }
  })

it.live("runs the database work off this thread: a long query does not stall this thread's timers", () =>
  Effect.gen(function* () {
    const { handle } = yield* served()
    assert.notStrictEqual(handle.threadId, threadId)
    yield* Effect.scoped(heavy.pipe(Effect.provide(PgliteWorker.layer()))) // warms PGlite up

    const inWorker = yield* timerGapDuring(heavy).pipe(Effect.provide(PgliteWorker.layer()))
    const onThisThread = yield* timerGapDuring(heavy).pipe(Effect.provide(PgliteInProcess.layer()))
    // On this thread the timer waits for the whole query; the check below
    // would fail there. With the worker it keeps ticking.
    assert.isAbove(onThisThread.gap, onThisThread.took / 2, JSON.stringify({ onThisThread }))
    assert.isBelow(inWorker.gap, inWorker.took / 2, JSON.stringify({ inWorker }))
  }).pipe(Effect.scoped)
)

it.live("closing flushes the data and ends the worker thread", () =>
  Effect.gen(function* () {
    const dataDir = join(yield* tempDir, "pg")
    const scope = yield* Scope.make()
    const { handle, sql } = yield* Scope.provide(served(dataDir), scope)
    yield* sql`CREATE TABLE notes (body text NOT NULL)`
    yield* sql`INSERT INTO notes ${sql.insert({ body: "kept" })}`
    yield* Scope.close(scope, Exit.void)
    // Already over: `terminate` has resolved before the scope closed.
    const code = yield* handle.exited.pipe(Effect.timeout("1 second"))
    assert.isNumber(code)

    const rows = yield* Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      return yield* sql<{ body: string }>`SELECT body FROM notes`
    }).pipe(Effect.provide(PgliteWorker.layer({ dataDir })))
    assert.deepStrictEqual(rows, [{ body: "kept" }])
  }).pipe(Effect.scoped)
)

it.live("a worker that dies fails the next statements with a SqlError, without hanging", () =>
  Effect.gen(function* () {
    const { handle, sql } = yield* served()
    yield* sql`SELECT 1`
    yield* handle.crash
    assert.strictEqual(yield* handle.exited.pipe(Effect.timeout("10 seconds")), 70)
    const after = yield* Effect.exit(sql`SELECT 1`.pipe(Effect.timeout("15 seconds")))
    assert.isTrue(Exit.isFailure(after))
    if (Exit.isFailure(after)) assert.include(String(after.cause), "SqlError")
  }).pipe(Effect.scoped)
)

it.live("a data directory that cannot be created fails the start with a SqlError", () =>
  Effect.gen(function* () {
    // A directory inside a regular file: mkdir fails with ENOTDIR.
    const file = join(yield* tempDir, "file")
    yield* Effect.promise(() => writeFile(file, ""))
    const exit = yield* Effect.exit(Layer.build(PgliteWorker.layer({ dataDir: join(file, "pg") })))
    assert.isTrue(Exit.isFailure(exit))
    if (Exit.isFailure(exit)) assert.include(String(exit.cause), "could not open PGlite")
  }).pipe(Effect.scoped)
)
