import { mkdtemp, readdir, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { PgClient } from "@effect/sql-pg"
import { assert, it, layer } from "@effect/vitest"
import { PgDatabase } from "@org/sql"
import * as PgEmbedded from "@org/sql/PgEmbedded"
import { Effect, Exit } from "effect"
import { SqlClient } from "effect/sql"

const tempDir = Effect.acquireRelease(
  Effect.promise(() => mkdtemp(join(tmpdir(), "org-sql-"))),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
)

layer(PgEmbedded.layer())("PgEmbedded in memory", (it) => {
  it.effect("answers queries as PGlite", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const [row] = yield* sql<{
        answer: number
        version: string
      }>`SELECT 41 + 1 AS answer, version() AS version`
      assert.strictEqual(row?.answer, 42)
      assert.include(row?.version, "PGlite")
    })
  )

  it.effect("listens on an ephemeral loopback port", () =>
    Effect.gen(function* () {
      const client = yield* PgClient.PgClient
      assert.strictEqual(client.config.host, "127.0.0.1")
      assert.isAbove(client.config.port ?? 0, 0)
      assert.notStrictEqual(client.config.port, 5432)
    })
  )

  // Regression test for the single-connection setup: with a larger pool (or a
  // server accepting several connections) these transactions fail.
  it.effect("runs concurrent transactions on its single connection", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      yield* sql`CREATE TABLE tx_probe (n int NOT NULL)`
      const counts = yield* Effect.forEach(
        Array.from({ length: 20 }, (_, n) => n),
        (n) =>
          sql.withTransaction(
            Effect.gen(function* () {
              yield* sql`INSERT INTO tx_probe VALUES (${n})`
              yield* Effect.yieldNow
              const [row] = yield* sql<{
                count: bigint
              }>`SELECT count(*) AS count FROM tx_probe WHERE n = ${n}`
              return row?.count
            })
          ),
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(
        counts,
        Array.from({ length: 20 }, () => 1n)
      )
    })
  )

  // Lost updates would show as a total below N: each transaction reads the
  // counter, yields to the other fibers, then writes it back plus one.
  it.effect("serializes concurrent read-modify-write transactions", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      yield* sql`CREATE TABLE counter (n int NOT NULL)`
      yield* sql`INSERT INTO counter VALUES (0)`
      const fibers = 40
      yield* Effect.forEach(
        Array.from({ length: fibers }),
        () =>
          sql.withTransaction(
            Effect.gen(function* () {
              const [row] = yield* sql<{ n: number }>`SELECT n FROM counter`
              yield* Effect.yieldNow
              yield* sql`UPDATE counter SET n = ${(row?.n ?? 0) + 1}`
            })
          ),
        { concurrency: "unbounded", discard: true }
      )
      const [row] = yield* sql<{ n: number }>`SELECT n FROM counter`
      assert.strictEqual(row?.n, fibers)
    })
  )

  // The replies to one chunk of messages go out as one write (corking): a
  // reply larger than a socket buffer and a failing statement in a pipeline
  // still arrive whole and in order.
  it.effect("answers large results and errors through the corked socket", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const [big] = yield* sql<{ body: string }>`SELECT repeat('x', 4 * 1024 * 1024) AS body`
      assert.strictEqual(big?.body.length, 4 * 1024 * 1024)
      const failed = yield* Effect.exit(sql`SELECT * FROM no_such_table`)
      assert.isTrue(Exit.isFailure(failed))
      const [row] = yield* sql<{ ok: number }>`SELECT 1 AS ok`
      assert.strictEqual(row?.ok, 1)
    })
  )

  it.effect("refuses a second connection", () =>
    Effect.gen(function* () {
      const sql = yield* PgClient.PgClient
      yield* sql`SELECT 1` // makes sure the pool holds the one connection
      const second = yield* PgDatabase.ready("5 seconds").pipe(
        Effect.provide(PgClient.layer({ host: "127.0.0.1", port: sql.config.port, username: "postgres" })),
        Effect.exit
      )
      assert.isTrue(Exit.isFailure(second))
    })
  )
})

it.effect("PgEmbedded persists data in dataDir across two lifetimes", () =>
  Effect.gen(function* () {
    const dataDir = join(yield* tempDir, "nested", "pg")
    const port = yield* Effect.gen(function* () {
      const sql = yield* PgClient.PgClient
      yield* sql`CREATE TABLE notes (body text NOT NULL)`
      yield* sql`INSERT INTO notes ${sql.insert({ body: "kept" })}`
      return sql.config.port
    }).pipe(Effect.provide(PgEmbedded.layer({ dataDir })))

    assert.include(yield* Effect.promise(() => readdir(dataDir)), "PG_VERSION")
    // The first lifetime stopped its server: nothing answers on its port.
    const stopped = yield* PgDatabase.ready("5 seconds").pipe(
      Effect.provide(PgClient.layer({ host: "127.0.0.1", port, username: "postgres" })),
      Effect.exit
    )
    assert.isTrue(Exit.isFailure(stopped))

    const rows = yield* Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      return yield* sql<{ body: string }>`SELECT body FROM notes`
    }).pipe(Effect.provide(PgEmbedded.layer({ dataDir })))
    assert.deepStrictEqual(rows, [{ body: "kept" }])
  })
)
