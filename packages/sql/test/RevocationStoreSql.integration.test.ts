/**
 * The SQL revocation store obeys the RevocationStore laws on a real database
 * (Postgres at DATABASE_URL, embedded PGlite otherwise), with time driven by
 * the TestClock: the store takes "now" from the caller's Clock.
 */
import { assert, describe, layer } from "@effect/vitest"
import { RevocationStore, RevocationStoreSql } from "@org/core"
import { Migrations, SqlTest } from "@org/sql"
import { RevocationStoreLaws } from "@org/testing"
import { Clock, Effect } from "effect"
import { SqlClient } from "effect/sql"
import { TestClock } from "effect/testing"

// Each law starts from an empty table on the layer's database.
const reset = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`DROP TABLE IF EXISTS ${sql(RevocationStoreSql.table)}`
  yield* RevocationStoreSql.migration
}).pipe(Effect.orDie)

const fresh = Effect.gen(function* () {
  yield* reset
  return { store: yield* RevocationStoreSql.make(), advance: TestClock.adjust, slackMillis: 0 }
})

const rowCount = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const [row] = yield* sql<{
    readonly n: number
  }>`SELECT count(*)::int AS n FROM ${sql(RevocationStoreSql.table)}`
  return row?.n ?? -1
})

layer(SqlTest.layer, { timeout: 60_000 })("RevocationStoreSql", (it) => {
  describe("obeys the RevocationStore laws", () => {
    for (const [name, law] of Object.entries(RevocationStoreLaws.laws)) {
      it.effect(name, () => law(fresh, { runs: 40 }), 60_000)
    }
  })

  describe("in memory over it (RevocationStore.makeWriteThrough) obeys the laws too", () => {
    const writeThrough = Effect.gen(function* () {
      yield* reset
      const store = yield* Effect.orDie(RevocationStore.makeWriteThrough(yield* RevocationStoreSql.make()))
      return { store, advance: TestClock.adjust, slackMillis: 0 }
    })
    for (const [name, law] of Object.entries(RevocationStoreLaws.laws)) {
      it.effect(name, () => law(writeThrough, { runs: 20 }), 60_000)
    }
  })

  it.effect("a write-through store made again on the table (a restart) knows every revocation", () =>
    Effect.gen(function* () {
      yield* reset
      const now = yield* Clock.currentTimeMillis
      const before = yield* RevocationStore.makeWriteThrough(yield* RevocationStoreSql.make())
      yield* before.revokeToken("jti-1", now + 60_000)
      yield* before.revokeSubject("user-1", now, now + 60_000)
      const after = yield* RevocationStore.makeWriteThrough(yield* RevocationStoreSql.make())
      assert.isTrue(yield* after.isRevoked({ tokenId: "jti-1", subject: "someone", issuedAt: now }))
      assert.isTrue(yield* after.isRevoked({ tokenId: "jti-2", subject: "user-1", issuedAt: now }))
      assert.isFalse(yield* after.isRevoked({ tokenId: "jti-2", subject: "user-1", issuedAt: now + 1 }))
    })
  )

  it.effect("the migration is idempotent and works under the migrator", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      yield* sql`DROP TABLE IF EXISTS ${sql(RevocationStoreSql.table)}`
      yield* sql`DROP TABLE IF EXISTS effect_sql_migrations`
      const applied = yield* Migrations.run({ "1_auth_revocations": RevocationStoreSql.migration })
      assert.deepStrictEqual(applied, [[1, "auth_revocations"]])
      yield* RevocationStoreSql.migration
      const store = yield* RevocationStoreSql.make()
      yield* store.revokeToken("t", (yield* Clock.currentTimeMillis) + 1_000)
      assert.isTrue(yield* store.isRevoked({ tokenId: "t", subject: "u", issuedAt: 0 }))
    })
  )

  it.effect("purgeExpired deletes expired rows only, in bounded batches", () =>
    Effect.gen(function* () {
      yield* reset
      const store = yield* RevocationStoreSql.make({ purgeEvery: 1_000_000 })
      const now = yield* Clock.currentTimeMillis
      for (let i = 0; i < 5; i++) yield* store.revokeToken(`old-${i}`, now + 100)
      yield* store.revokeSubject("old-subject", now, now + 100)
      yield* store.revokeToken("live", now + 10_000)
      yield* TestClock.adjust(200)
      assert.strictEqual(yield* rowCount, 7, "expired rows stay until purged (they are only invisible)")
      assert.strictEqual(yield* RevocationStoreSql.purgeExpired(4), 4)
      assert.strictEqual(yield* RevocationStoreSql.purgeExpired(4), 2)
      assert.strictEqual(yield* RevocationStoreSql.purgeExpired(4), 0)
      assert.strictEqual(yield* rowCount, 1)
      assert.isTrue(yield* store.isRevoked({ tokenId: "live", subject: "u", issuedAt: 0 }))
    })
  )

  it.effect("writes purge expired rows on their own every purgeEvery writes", () =>
    Effect.gen(function* () {
      yield* reset
      const store = yield* RevocationStoreSql.make({ purgeEvery: 3 })
      const now = yield* Clock.currentTimeMillis
      yield* store.revokeToken("a", now + 100)
      yield* store.revokeToken("b", now + 100)
      yield* TestClock.adjust(200)
      assert.strictEqual(yield* rowCount, 2)
      yield* store.revokeToken("c", now + 10_000)
      assert.strictEqual(yield* rowCount, 1, "the third write purged the two expired rows")
    })
  )

  it.effect("a subject revoked again after its entry expired starts from the new cut-off", () =>
    Effect.gen(function* () {
      yield* reset
      const store = yield* RevocationStoreSql.make({ purgeEvery: 1_000_000 })
      const now = yield* Clock.currentTimeMillis
      yield* store.revokeSubject("u", now + 50, now + 100)
      yield* TestClock.adjust(200)
      yield* store.revokeSubject("u", now + 10, now + 1_000)
      assert.isFalse(yield* store.isRevoked({ tokenId: "t", subject: "u", issuedAt: now + 40 }))
      assert.isTrue(yield* store.isRevoked({ tokenId: "t", subject: "u", issuedAt: now + 10 }))
    })
  )

  it.effect("a database failure is RevocationUnavailable naming the operation, never an answer", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      yield* sql`DROP TABLE IF EXISTS ${sql(RevocationStoreSql.table)}`
      const store = yield* RevocationStoreSql.make()
      const check = yield* Effect.flip(store.isRevoked({ tokenId: "t", subject: "u", issuedAt: 0 }))
      assert.strictEqual(check._tag, "RevocationUnavailable")
      assert.strictEqual(check.operation, "RevocationStoreSql.isRevoked")
      const write = yield* Effect.flip(store.revokeSubject("u", 0, 1_000))
      assert.strictEqual(write.operation, "RevocationStoreSql.revokeSubject")
      assert.strictEqual((yield* Effect.flip(store.entries)).operation, "RevocationStoreSql.entries")
    })
  )
})
