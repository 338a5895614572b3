import { PGlite } from "@electric-sql/pglite"
import { PGLiteSocketServer } from "@electric-sql/pglite-socket"
import * as PgClient from "@effect/sql-pg/PgClient"
import { Effect } from "effect"
import { SqlClient } from "effect/sql"

const main = Effect.gen(function*() {
  const db = yield* Effect.promise(() => PGlite.create())
  const server = new PGLiteSocketServer({ db, port: 0, host: "127.0.0.1", maxConnections: Number(process.argv[2] ?? 1) })
  yield* Effect.promise(() => server.start())
  const conn = server.getServerConn()
  const port = Number(conn.slice(conn.lastIndexOf(":") + 1))
  yield* Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const t0 = performance.now()
    const a = yield* sql`SELECT pg_sleep(1)`.pipe(Effect.timeout("100 millis"), Effect.result)
    console.log("a", a._tag, String((a as any).failure ?? ""), Math.round(performance.now() - t0), server.getStats())
    for (let i = 0; i < 3; i++) {
      const b = yield* sql`SELECT ${i}::int AS i`.pipe(Effect.result)
      console.log("b", b._tag === "Success" ? JSON.stringify(b.success) : String((b as any).failure), Math.round(performance.now() - t0), server.getStats())
    }
  }).pipe(Effect.provide(PgClient.layer({ host: "127.0.0.1", port, username: "postgres", database: "postgres", maxConnections: 1 })))
  yield* Effect.promise(() => server.stop())
  yield* Effect.promise(() => db.close())
})
Effect.runPromise(main).then(() => console.log("done"), (e) => { console.error("ERR", e); process.exit(1) })
