import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { Migrations, SqlTest } from "@org/sql"
import { Effect, Layer, Ref } from "effect"
import { SqlClient } from "effect/sql"
import { skipWithoutPostgres } from "./env.ts"

const createItems = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE items (id uuid PRIMARY KEY, name text NOT NULL)`
})

const addPrice = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE items ADD COLUMN price numeric(10, 2)`
})

// Counts how many times each migration body runs.
const counted = (runs: Ref.Ref<number>, migration: Migrations.Migration): Migrations.Migration =>
  Effect.andThen(
    Ref.update(runs, (n) => n + 1),
    migration
  )

const columns = (table: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ name: string }>`
      SELECT column_name AS name FROM information_schema.columns WHERE table_name = ${table} ORDER BY ordinal_position`
    return rows.map((row) => row.name)
  })

const recorded = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  return yield* sql<{ migration_id: number; name: string }>`
    SELECT migration_id, name FROM effect_sql_migrations ORDER BY migration_id`
})

describe("Migrations", () => {
  it.effect("applies pending migrations once; a second run applies nothing", () =>
    Effect.gen(function* () {
      const runs = yield* Ref.make(0)
      const migrations = {
        "1_create_items": counted(runs, createItems),
        "2_add_price": counted(runs, addPrice)
      }

      const first = yield* Migrations.run(migrations)
      const second = yield* Migrations.run(migrations)

      assert.deepStrictEqual(first, [
        [1, "create_items"],
        [2, "add_price"]
      ])
      assert.deepStrictEqual(second, [])
      assert.strictEqual(yield* Ref.get(runs), 2)
      assert.deepStrictEqual(yield* columns("items"), ["id", "name", "price"])
      assert.deepStrictEqual(yield* recorded, [
        { migration_id: 1, name: "create_items" },
        { migration_id: 2, name: "add_price" }
      ])
    }).pipe(Effect.provide(SqlTest.layer))
  )

  it.effect("applies only the migrations appended since the last run", () =>
    Effect.gen(function* () {
      yield* Migrations.run({ "1_create_items": createItems })
      const applied = yield* Migrations.run({ "1_create_items": createItems, "2_add_price": addPrice })
      assert.deepStrictEqual(applied, [[2, "add_price"]])
    }).pipe(Effect.provide(SqlTest.layer))
  )

  it.effect("runs all pending migrations in one transaction", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Migrations.run({ "1_create_items": createItems, "2_broken": Effect.fail("boom") })
      )
      assert.strictEqual(error._tag, "MigrationError")
      assert.deepStrictEqual(yield* columns("items"), [])
      assert.deepStrictEqual(yield* recorded, [])
    }).pipe(Effect.provide(SqlTest.layer))
  )

  it.effect("rejects keys that are not <id>_<name> with a positive id", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Migrations.run({ create_items: createItems, "0_init": Effect.void, "2_add_price": addPrice })
      )
      assert.strictEqual(error._tag, "MigrationError")
      assert.include(error.message, "create_items, 0_init")
      assert.deepStrictEqual(yield* columns("items"), [])
    }).pipe(Effect.provide(SqlTest.layer))
  )

  it.effect("Migrations.layer migrates when it is built", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* columns("items"), ["id", "name", "price"])
    }).pipe(
      Effect.provide(
        Migrations.layer({ "1_create_items": createItems, "2_add_price": addPrice }).pipe(
          Layer.provideMerge(SqlTest.layer)
        )
      )
    )
  )

  // Two processes starting at once: two pools on one database. The migrator's
  // LOCK TABLE makes the second wait for the first, then find nothing to do.
  it.effect.skipIf(skipWithoutPostgres)("does not double-apply when two clients start at once", () =>
    Effect.gen(function* () {
      const runs = yield* Ref.make(0)
      const slow = Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        yield* sql`SELECT pg_sleep(0.3)`
      })
      const migrations = {
        "1_create_items": counted(runs, Effect.andThen(slow, createItems)),
        "2_add_price": counted(runs, addPrice)
      }
      const config = (yield* PgClient.PgClient).config
      const [a, b] = yield* Effect.all(
        [Migrations.run(migrations), Migrations.run(migrations).pipe(Effect.provide(PgClient.layer(config)))],
        { concurrency: 2 }
      )
      assert.deepStrictEqual([a.length, b.length].sort(), [0, 2])
      assert.strictEqual(yield* Ref.get(runs), 2)
      assert.lengthOf(yield* recorded, 2)
    }).pipe(Effect.provide(SqlTest.layer))
  )
})
