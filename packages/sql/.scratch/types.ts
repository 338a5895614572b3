import { PGlite } from "@electric-sql/pglite"
import { PGLiteSocketServer } from "@electric-sql/pglite-socket"
import * as PgClient from "@effect/sql-pg/PgClient"
import { Effect, Redacted } from "effect"
import { SqlClient } from "effect/sql"

const query = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql`SELECT
    '2024-01-02T03:04:05.678Z'::timestamptz AS tstz,
    '2024-01-02 03:04:05.678'::timestamp AS ts,
    '2024-01-02'::date AS d,
    12.50::numeric AS num,
    '123e4567-e89b-12d3-a456-426614174000'::uuid AS id,
    42::int AS i4,
    9007199254740993::bigint AS i8,
    7::smallint AS i2,
    1.5::float8 AS f8,
    true AS b,
    NULL AS n,
    NULL::int AS nint,
    '{"a":1}'::jsonb AS j,
    ARRAY[1,2]::int[] AS arr,
    'x'::text AS t,
    count(*) AS cnt,
    current_setting('TimeZone') AS tz,
    version() AS v`
  console.log(rows[0])
  for (const [k, v] of Object.entries(rows[0]!)) console.log(k, typeof v, v?.constructor?.name)
  const [p] = yield* sql`SELECT ${new Date("2024-01-02T03:04:05.678Z")} AS pd, ${10n} AS pb, ${"12.5"}::numeric AS pn, ${1.5} AS pf, ${true} AS pbool, ${null} AS pnull`
  console.log(p)
  for (const [k, v] of Object.entries(p!)) console.log(k, typeof v, v?.constructor?.name)
})

const main = Effect.gen(function*() {
  if (process.argv[2] === "pg") {
    yield* query.pipe(Effect.provide(PgClient.layer({ url: Redacted.make("postgresql://postgres@127.0.0.1:5432/test") })))
  } else {
    const db = yield* Effect.promise(() => PGlite.create())
    const server = new PGLiteSocketServer({ db, port: 0, host: "127.0.0.1" })
    yield* Effect.promise(() => server.start())
    const conn = server.getServerConn()
    console.log("conn", conn)
    const port = Number(conn.slice(conn.lastIndexOf(":") + 1))
    yield* query.pipe(Effect.provide(PgClient.layer({ host: "127.0.0.1", port, username: "postgres", database: "postgres", maxConnections: 1 })))
    yield* Effect.promise(() => server.stop())
    yield* Effect.promise(() => db.close())
  }
})
Effect.runPromise(main).then(() => console.log("done"), (e) => { console.error("ERR", e); process.exit(1) })
