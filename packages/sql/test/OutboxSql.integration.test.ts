/**
 * The SQL outbox obeys the Outbox laws on a real database (Postgres at
 * DATABASE_URL, embedded PGlite otherwise). Leases and retry delays run on
 * the database clock, so time passes for real here.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Outbox, UnitOfWork } from "@org/core"
import { Migrations, OutboxSql, SqlTest } from "@org/sql"
import { OutboxLaws } from "@org/testing"
import { Effect, Layer, Option } from "effect"
import { SqlClient } from "effect/sql"

const reset = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`DROP TABLE IF EXISTS ${sql(OutboxSql.table)}`
  yield* sql`DROP TABLE IF EXISTS ${sql(OutboxSql.inboxTable)}`
  yield* OutboxSql.migration
  yield* OutboxSql.inboxMigration
}).pipe(Effect.orDie)

const fresh = Effect.gen(function* () {
  yield* reset
  return {
    outbox: yield* OutboxSql.make({ listen: false }),
    unitOfWork: yield* UnitOfWork.UnitOfWork,
    advance: (millis: number) => Effect.sleep(millis)
  }
})

const Env = Layer.provideMerge(UnitOfWork.layerSql, SqlTest.layer)

layer(Env, { timeout: 60_000, excludeTestServices: true })("OutboxSql", (it) => {
  describe("obeys the Outbox laws", () => {
    for (const [name, law] of Object.entries(OutboxLaws.laws)) {
      it.effect(name, () => Effect.scoped(law(fresh)), 30_000)
    }
    it.effect(
      "agrees with the model",
      () => Effect.scoped(OutboxLaws.modelBased(fresh, { runs: 15 })),
      30_000
    )
  })

  it.effect("the migrations are idempotent and work under the migrator", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      yield* sql`DROP TABLE IF EXISTS ${sql(OutboxSql.table)}`
      yield* sql`DROP TABLE IF EXISTS ${sql(OutboxSql.inboxTable)}`
      yield* sql`DROP TABLE IF EXISTS effect_sql_migrations`
      const applied = yield* Migrations.run({
        "1_event_outbox": OutboxSql.migration,
        "2_event_inbox": OutboxSql.inboxMigration
      })
      assert.deepStrictEqual(applied, [
        [1, "event_outbox"],
        [2, "event_inbox"]
      ])
      yield* OutboxSql.migration
      yield* OutboxSql.inboxMigration
    })
  )

  it.effect("the inbox: once per (consumer, event), in the caller's transaction", () =>
    Effect.gen(function* () {
      yield* reset
      const sql = yield* SqlClient.SqlClient
      const inbox = yield* OutboxSql.makeInbox
      const uow = yield* UnitOfWork.UnitOfWork
      yield* sql`CREATE TABLE IF NOT EXISTS inbox_effects (n int)`
      yield* sql`DELETE FROM inbox_effects`
      const event = yield* OutboxLaws.envelope("x")
      const write = sql`INSERT INTO inbox_effects VALUES (1)`
      // Rolled back with the caller's transaction: recorded nowhere, so it runs again.
      yield* uow
        .transaction(Effect.andThen(inbox.once("audit", event.id, write), Effect.fail("x")))
        .pipe(Effect.ignore)
      assert.isTrue(Option.isSome(yield* inbox.once("audit", event.id, write)))
      assert.isTrue(Option.isNone(yield* inbox.once("audit", event.id, write)))
      assert.isTrue(Option.isSome(yield* inbox.once("mail", event.id, Effect.void)))
      // A failing effect records nothing.
      const other = yield* OutboxLaws.envelope("y")
      yield* inbox.once("audit", other.id, Effect.andThen(write, Effect.fail("no"))).pipe(Effect.ignore)
      assert.isTrue(Option.isSome(yield* inbox.once("audit", other.id, Effect.void)))
      const [row] = yield* sql<{ readonly n: number }>`SELECT count(*)::int AS n FROM inbox_effects`
      assert.strictEqual(row?.n, 1)
    })
  )

  it.effect("append joins the caller's transaction and survives odd consumer names", () =>
    Effect.gen(function* () {
      yield* reset
      const outbox = yield* OutboxSql.make({ listen: false })
      const event = yield* OutboxLaws.envelope("x")
      yield* UnitOfWork.transaction(outbox.append([event]))
      const [claimed] = yield* outbox.claim({ limit: 1, lease: "1 minute" })
      const names = ['a"b', "c,d", "e\\f", "{g}", "h'i", "NULL", ""]
      assert.isTrue(
        yield* outbox.retry(event.id, claimed?.lease ?? "", { after: 0, completed: names, error: "e" })
      )
      const [again] = yield* outbox.claim({ limit: 1, lease: "1 minute" })
      assert.deepStrictEqual([...(again?.completed ?? [])].sort(), [...names].sort())
      assert.isTrue(Option.isNone(yield* outbox.get("not-a-uuid")))
      assert.strictEqual(yield* outbox.replay(["not-a-uuid"]), 0)
      assert.deepStrictEqual(
        yield* Outbox.Outbox.pipe(
          Effect.as(1),
          Effect.provide(OutboxSql.layer({ listen: false })),
          Effect.scoped
        ),
        1
      )
    })
  )
})
