/**
 * `UsersSql.layer` obeys the accounts store laws on embedded PGlite, and on
 * the Postgres at DATABASE_URL when there is one (always in CI, with
 * REQUIRE_SERVICES=1, where a missing server fails instead of skipping).
 * Each backend is one migrated database; every law and every generated
 * scenario starts from emptied tables. PGlite has a single connection, so
 * its concurrency laws are serialized; on Postgres they really race.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Migrations, SqlTest } from "@org/sql"
import * as PgEmbedded from "@org/sql/PgEmbedded"
import { Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import * as Users from "../src/Users.ts"
import * as UsersSql from "../src/UsersSql.ts"
import * as UsersLaws from "./laws/UsersLaws.ts"

const databaseUrl = process.env.DATABASE_URL || undefined
const requireServices = ["1", "true", "yes"].includes(process.env.REQUIRE_SERVICES ?? "")

const backends: ReadonlyArray<{
  readonly name: string
  readonly database: typeof SqlTest.layer
  /** What `SqlTest.backend` must report; SqlTest may fall back to PGlite unless services are required. */
  readonly expected: ReadonlyArray<SqlTest.Backend>
}> = [
  { name: "embedded PGlite", database: PgEmbedded.layer(), expected: ["pglite"] },
  ...(databaseUrl !== undefined || requireServices
    ? [
        {
          name: "Postgres at DATABASE_URL",
          database: SqlTest.layer,
          expected: requireServices ? ["postgres" as const] : ["postgres" as const, "pglite" as const]
        }
      ]
    : [])
]

const migrations = { "1_users": UsersSql.migration }

const reset = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  // DELETE, not TRUNCATE: on tables this small it costs a fraction (no new files, no fsync of them).
  yield* sql`DELETE FROM user_recovery_codes`
  yield* sql`DELETE FROM users`
}).pipe(Effect.orDie)

for (const backend of backends) {
  const Database = Migrations.layer(migrations).pipe(Layer.provideMerge(backend.database))

  layer(Database, { timeout: 120_000 })(`UsersSql.layer on ${backend.name}`, (it) => {
    describe("obeys the accounts store laws", () => {
      UsersLaws.register(it, UsersSql.layer, { reset, runs: 30, maxCommands: 25, timeout: 120_000 })
    })

    it.effect("runs on the database it is named after", () =>
      Effect.map(SqlTest.backend, (actual) => assert.include(backend.expected, actual))
    )

    it.effect("delete keeps the row, marked deleted, with its recovery codes", () =>
      Effect.gen(function* () {
        yield* reset
        const sql = yield* SqlClient.SqlClient
        const users = yield* Users.Users
        const ada = yield* users.create({
          email: "ada@example.com",
          name: null,
          passwordHash: "h",
          roles: []
        })
        yield* users.replaceRecoveryCodes(ada.id, ["r1"])
        assert.isTrue(yield* users.delete(ada.id))
        const rows = yield* sql<{ readonly deleted: boolean; readonly codes: number }>`
          SELECT deleted_at IS NOT NULL AS deleted,
            (SELECT count(*)::int FROM user_recovery_codes WHERE user_id = users.id) AS codes
          FROM users`
        assert.deepStrictEqual(rows, [{ deleted: true, codes: 1 }])
      }).pipe(Effect.provide(UsersSql.layer))
    )

    it.effect("the migrator applied the tables, and a second run applies nothing", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        assert.deepStrictEqual(yield* Migrations.run(migrations), [])
        const tables = yield* sql<{ readonly name: string }>`
          SELECT table_name AS name FROM information_schema.tables
          WHERE table_schema = current_schema() AND table_name IN ('users', 'user_recovery_codes')
          ORDER BY table_name`
        assert.deepStrictEqual(
          tables.map((table) => table.name),
          ["user_recovery_codes", "users"]
        )
      })
    )
  })
}
