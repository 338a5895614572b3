import { PGlite } from "@electric-sql/pglite"
import { PGLiteSocketServer } from "@electric-sql/pglite-socket"
import * as PgClient from "@effect/sql-pg/PgClient"
import { Effect, Duration } from "effect"
import { SqlClient } from "effect/sql"

const serverMax = Number(process.argv[2])
const poolMax = Number(process.argv[3])
const multiplex = process.argv[4] === "mx"

const work = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  // correctness: each query gets back its own parameter
  const results = yield* Effect.forEach(Array.from({ length: 200 }, (_, i) => i), (i) =>
    sql<{ v: number; s: string }>`SELECT ${i}::int AS v, repeat('x', ${i % 7}::int) AS s`.pipe(
      Effect.map((rows) => rows[0]!.v === i && rows[0]!.s.length === i % 7),
      Effect.result
    ), { concurrency: 50 })
  const ok = results.filter((r) => r._tag === "Success" && r.success).length
  const wrong = results.filter((r) => r._tag === "Success" && !r.success).length
  const failed = results.filter((r) => r._tag === "Failure")
  console.log({ ok, wrong, failed: failed.length, firstFail: failed[0] && String((failed[0] as any).failure?.message ?? (failed[0] as any).failure) })
  // concurrent transactions
  yield* sql`CREATE TABLE IF NOT EXISTS t (id int)`.pipe(Effect.orDie)
  const tx = yield* Effect.forEach(Array.from({ length: 20 }, (_, i) => i), (i) =>
    sql.withTransaction(Effect.gen(function*() {
      yield* sql`INSERT INTO t VALUES (${i})`
      yield* Effect.sleep(Duration.millis(5))
      const [r] = yield* sql<{ c: bigint }>`SELECT count(*) AS c FROM t WHERE id = ${i}`
      return r!.c
    })).pipe(Effect.result), { concurrency: 20 })
  console.log("tx", tx.map((r) => r._tag === "Success" ? String(r.success) : "F:" + String((r as any).failure?.message)).join(","))
  const t0 = performance.now()
  yield* Effect.forEach(Array.from({ length: 2000 }, (_, i) => i), (i) => sql`SELECT ${i}::int AS v`, { concurrency: 20, discard: true }).pipe(Effect.result)
  console.log("2000 queries ms", Math.round(performance.now() - t0))
})

const main = Effect.gen(function*() {
  const db = yield* Effect.promise(() => PGlite.create())
  const server = new PGLiteSocketServer({ db, port: 0, host: "127.0.0.1", maxConnections: serverMax })
  yield* Effect.promise(() => server.start())
  const conn = server.getServerConn()
  const port = Number(conn.slice(conn.lastIndexOf(":") + 1))
  yield* work.pipe(Effect.timeout("60 seconds"), Effect.provide(PgClient.layer({ host: "127.0.0.1", port, username: "postgres", database: "postgres", maxConnections: poolMax, multiplex, connectTimeout: "5 seconds" })), Effect.catchCause((c) => Effect.sync(() => console.log("cause", String(c).slice(0, 500)))))
  console.log(server.getStats())
  yield* Effect.promise(() => server.stop())
  yield* Effect.promise(() => db.close())
})
Effect.runPromise(main).then(() => console.log("done"), (e) => { console.error("ERR", e); process.exit(1) })
