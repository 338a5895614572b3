import { assert, describe, it } from "@effect/vitest"
import { SqlTest } from "@org/sql"
import { ConfigProvider, Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { databaseUrl, requireServices, skipWithoutPostgres } from "./env.ts"

const withEnv = (env: Record<string, string>) =>
  Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))

const tableExists = (name: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const [row] = yield* sql<{ found: boolean }>`SELECT to_regclass(${name}) IS NOT NULL AS found`
    return row?.found
  })

describe("SqlTest.layer", () => {
  it.effect("gives each build its own empty database", () =>
    Effect.gen(function* () {
      const first = yield* Layer.build(SqlTest.layer)
      const second = yield* Layer.build(SqlTest.layer)
      console.log(`SqlTest backend: ${yield* SqlTest.backend.pipe(Effect.provide(first))}`)

      yield* Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        yield* sql`CREATE TABLE only_in_first (id int)`
      }).pipe(Effect.provide(first))

      assert.isTrue(yield* tableExists("only_in_first").pipe(Effect.provide(first)))
      assert.isFalse(yield* tableExists("only_in_first").pipe(Effect.provide(second)))
    })
  )

  it.effect("uses the backend the environment asks for", () =>
    Effect.gen(function* () {
      const backend = yield* SqlTest.backend.pipe(Effect.provide(SqlTest.layer))
      assert.strictEqual(backend, databaseUrl === undefined ? "pglite" : "postgres")
    })
  )

  describe.skipIf(skipWithoutPostgres)("on Postgres", () => {
    it.effect("creates test_<random> and drops it when the scope closes", () =>
      Effect.gen(function* () {
        const name = yield* Effect.scoped(
          Effect.gen(function* () {
            const sql = yield* SqlClient.SqlClient
            const [row] = yield* sql<{ name: string }>`SELECT current_database() AS name`
            return row!.name
          }).pipe(Effect.provide(SqlTest.layer))
        )
        assert.match(name, /^test_[0-9a-z]+$/)
        const remaining = yield* Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          return yield* sql`SELECT 1 FROM pg_database WHERE datname = ${name}`
        }).pipe(Effect.provide(SqlTest.layer))
        assert.lengthOf(remaining, 0)
      })
    )
  })

  it.effect("fails, not falls back, when REQUIRE_SERVICES=1 and DATABASE_URL is unset", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Effect.provide(Effect.void, SqlTest.layer).pipe(withEnv({ REQUIRE_SERVICES: "1" }))
      )
      assert.strictEqual(error._tag, "DatabaseConfigError")
      assert.include(error.message, "REQUIRE_SERVICES=1 but DATABASE_URL is not set")
    })
  )

  it.effect("fails, not falls back, when REQUIRE_SERVICES=1 and Postgres is unreachable", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Effect.provide(Effect.void, SqlTest.layer).pipe(
          withEnv({ REQUIRE_SERVICES: "1", DATABASE_URL: "postgresql://postgres@127.0.0.1:1/none" })
        )
      )
      assert.strictEqual(error._tag, "DatabaseUnavailable")
      assert.include(error.message, "REQUIRE_SERVICES=1 but Postgres at DATABASE_URL is unreachable")
    })
  )

  it.effect.skipIf(requireServices)(
    "falls back to PGlite when Postgres is unreachable and not required",
    () =>
      Effect.gen(function* () {
        const backend = yield* SqlTest.backend.pipe(
          Effect.provide(SqlTest.layer),
          withEnv({ DATABASE_URL: "postgresql://postgres@127.0.0.1:1/none" })
        )
        assert.strictEqual(backend, "pglite")
      })
  )
})
