/**
 * The SQL idempotency store obeys the IdempotencyStore laws on a real
 * database (Postgres at DATABASE_URL, embedded PGlite otherwise), with time
 * driven by the TestClock: the store takes "now" from the caller's Clock.
 */
import { assert, describe, layer } from "@effect/vitest"
import { IdempotencyStoreSql } from "@org/core"
import { Migrations, SqlTest } from "@org/sql"
import { IdempotencyStoreLaws } from "@org/testing"
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import { TestClock } from "effect/testing"

// Each law starts from an empty table on the layer's database.
const reset = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`DROP TABLE IF EXISTS ${sql(IdempotencyStoreSql.table)}`
  yield* IdempotencyStoreSql.migration
}).pipe(Effect.orDie)

const fresh = Effect.gen(function* () {
  yield* reset
  return { store: yield* IdempotencyStoreSql.make(), advance: TestClock.adjust }
})

const rowCount = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const [row] = yield* sql<{
    readonly n: number
  }>`SELECT count(*)::int AS n FROM ${sql(IdempotencyStoreSql.table)}`
  return row?.n ?? -1
})

layer(SqlTest.layer, { timeout: 60_000 })("IdempotencyStoreSql", (it) => {
  describe("obeys the IdempotencyStore laws", () => {
    for (const [name, law] of Object.entries(IdempotencyStoreLaws.laws)) {
      it.effect(name, () => law(fresh), 60_000)
    }
  })

  it.effect("the migration is idempotent and works under the migrator", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      yield* sql`DROP TABLE IF EXISTS ${sql(IdempotencyStoreSql.table)}`
      yield* sql`DROP TABLE IF EXISTS effect_sql_migrations`
      const applied = yield* Migrations.run({ "1_http_idempotency": IdempotencyStoreSql.migration })
      assert.deepStrictEqual(applied, [[1, "http_idempotency"]])
      yield* IdempotencyStoreSql.migration
      const store = yield* IdempotencyStoreSql.make()
      const begin = yield* store.begin("s", "k", "fp", { ttl: 1_000, lease: 100 })
      assert.strictEqual(begin._tag, "Started")
    })
  )

  it.effect("purgeExpired deletes expired rows only", () =>
    Effect.gen(function* () {
      yield* reset
      const store = yield* IdempotencyStoreSql.make({ purgeEvery: 1_000_000 })
      for (let i = 0; i < 3; i++) yield* store.begin("s", `old-${i}`, "fp", { ttl: 100, lease: 50 })
      yield* store.begin("s", "young", "fp", { ttl: 10_000, lease: 50 })
      yield* TestClock.adjust(200)
      assert.strictEqual(yield* IdempotencyStoreSql.purgeExpired(2), 2)
      assert.strictEqual(yield* IdempotencyStoreSql.purgeExpired(), 1)
      assert.strictEqual(yield* rowCount, 1)
    })
  )
})
