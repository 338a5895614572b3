import { assert, describe, layer } from "@effect/vitest"
import { PgDatabase, SqlTest } from "@org/sql"
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import { databaseUrl, skipWithoutPostgres } from "./env.ts"

// Reads the real environment: DATABASE_URL must point at a running server.
describe.skipIf(skipWithoutPostgres)("PgDatabase.layerConfig with DATABASE_URL", () => {
  layer(PgDatabase.layerConfig, { excludeTestServices: true })((it) => {
    it.effect("connects to the Postgres server of DATABASE_URL, not PGlite", () =>
      Effect.gen(function* () {
        assert.isDefined(databaseUrl, "REQUIRE_SERVICES=1 needs DATABASE_URL")
        yield* PgDatabase.ready("5 seconds")
        assert.strictEqual(yield* SqlTest.backend, "postgres")
        const sql = yield* SqlClient.SqlClient
        const [row] = yield* sql<{ database: string }>`SELECT current_database() AS database`
        assert.strictEqual(row?.database, new URL(databaseUrl!).pathname.slice(1))
      })
    )

    it.effect("uses a pool of several connections, not the single embedded one", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const pids = yield* Effect.forEach(
          [1, 2, 3],
          () =>
            sql<{ pid: number }>`SELECT pg_backend_pid() AS pid, pg_sleep(0.2)`.pipe(
              Effect.map((rows) => rows[0]?.pid)
            ),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(new Set(pids).size, 3)
      })
    )
  })
})
