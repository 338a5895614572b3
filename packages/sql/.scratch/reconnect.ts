import { PGlite } from "@electric-sql/pglite"
import { PGLiteSocketServer } from "@electric-sql/pglite-socket"
import * as PgClient from "@effect/sql-pg/PgClient"
import { Effect } from "effect"
import { SqlClient } from "effect/sql"

const main = Effect.gen(function*() {
  const db = yield* Effect.promise(() => PGlite.create())
  const server = new PGLiteSocketServer({ db, port: 0, host: "127.0.0.1", maxConnections: 1 })
  yield* Effect.promise(() => server.start())
  const conn = server.getServerConn()
  const port = Number(conn.slice(conn.lastIndexOf(":") + 1))
  yield* Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    for (let i = 0; i < 5; i++) {
      const r = yield* sql`SELECT current_database() AS db, current_user AS u, pg_backend_pid() AS pid`.pipe(Effect.result)
      console.log(i, r._tag === "Success" ? r.success : String((r as any).failure), server.getStats())
      yield* Effect.sleep("150 millis")
    }
  }).pipe(Effect.provide(PgClient.layer({ host: "127.0.0.1", port, username: process.argv[2] ?? "postgres", database: process.argv[3] ?? "postgres", maxConnections: 1, idleTimeout: "50 millis" })))
  console.log(server.getStats())
  yield* Effect.promise(() => server.stop())
  yield* Effect.promise(() => db.close())
})
Effect.runPromise(main).then(() => console.log("done"), (e) => { console.error("ERR", e); process.exit(1) })
