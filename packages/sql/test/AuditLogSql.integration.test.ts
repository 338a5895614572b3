/**
 * The SQL audit log obeys the AuditLog laws on a real database (Postgres at
 * DATABASE_URL, embedded PGlite otherwise), and its migration runs under the
 * migrator.
 */
import { assert, describe, layer } from "@effect/vitest"
import { AuditLog, AuditLogSql } from "@org/core"
import { Migrations, SqlTest } from "@org/sql"
import { AuditLogLaws } from "@org/testing"
import { Effect } from "effect"
import { SqlClient } from "effect/sql"

// Each law starts from an empty table on the layer's database.
const reset = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`DROP TABLE IF EXISTS ${sql(AuditLogSql.table)}`
  yield* AuditLogSql.migration
}).pipe(Effect.orDie)

const fresh = Effect.gen(function* () {
  yield* reset
  return { log: yield* AuditLogSql.make }
})

layer(SqlTest.layer, { timeout: 60_000 })("AuditLogSql", (it) => {
  describe("obeys the AuditLog laws", () => {
    for (const [name, law] of Object.entries(AuditLogLaws.laws)) {
      it.effect(name, () => law(fresh), 60_000)
    }
  })

  it.effect("the migration is idempotent, works under the migrator and creates the indexes", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      yield* sql`DROP TABLE IF EXISTS ${sql(AuditLogSql.table)}`
      yield* sql`DROP TABLE IF EXISTS effect_sql_migrations`
      const applied = yield* Migrations.run({ "1_audit_log": AuditLogSql.migration })
      assert.deepStrictEqual(applied, [[1, "audit_log"]])
      yield* AuditLogSql.migration
      const indexes = yield* sql<{ readonly indexname: string }>`SELECT indexname FROM pg_indexes
        WHERE tablename = ${AuditLogSql.table} ORDER BY indexname`
      assert.deepStrictEqual(
        indexes.map((row) => row.indexname),
        [
          "audit_log_actor_id",
          "audit_log_aggregate_id",
          "audit_log_occurred_at",
          "audit_log_pkey",
          "audit_log_type"
        ]
      )
    })
  )

  it.effect("a redelivered event inserts no second row", () =>
    Effect.gen(function* () {
      yield* reset
      const sql = yield* SqlClient.SqlClient
      const log = yield* AuditLogSql.make
      const consumer = yield* AuditLog.consumer().pipe(Effect.provideService(AuditLog.AuditLog, log))
      const event = AuditLogLaws.envelope({
        at: 1,
        seq: 1,
        actorId: "u1",
        payload: { token: "t", name: "n" }
      })
      yield* consumer.handle(event)
      yield* consumer.handle(event)
      const rows = yield* sql<{ readonly n: number; readonly data: string }>`SELECT count(*)::int AS n,
        max(data::text) AS data FROM ${sql(AuditLogSql.table)}`
      assert.strictEqual(rows[0]?.n, 1)
      assert.deepStrictEqual(JSON.parse(rows[0]?.data ?? "null"), { name: "n" })
    })
  )
})
