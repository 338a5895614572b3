/**
 * The items table obeys the repository laws: the model-based suite of
 * `@org/testing`, derived from the `Item` entity's own schemas, run against
 * `RepositorySql` on the table the migrations create (PGlite, or the
 * Postgres at DATABASE_URL). This is what a team writes for its own entity:
 * one line per table. A price of any finite number on the same table (what
 * `price` was before `Decimal`) is caught by the same line.
 */
import { assert, layer } from "@effect/vitest"
import { Decimal, Entity } from "@org/core"
import { Migrations, SqlTest } from "@org/sql"
import { RepositoryLaws } from "@org/testing"
import { Effect, Layer, Schema } from "effect"
import * as SecureRandom from "effect/crypto/SecureRandom"
import { Item } from "../src/domain/Item.ts"
import { migrations } from "../src/server/Migrations.ts"

const Database = Layer.provideMerge(Migrations.layer(migrations), SqlTest.layer)

// The same entity, but `price` as any finite number in range, which the
// `numeric(12, 2)` column rounds to 2 decimals.
const LoosePrice = Entity.make("Item", {
  table: Item.table,
  id: Item.idSchema,
  fields: {
    ...Item.fields,
    price: Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0), Schema.isLessThan(10_000_000_000))
  },
  sortable: Item.sortable,
  filterable: Item.filterable
})

layer(Layer.mergeAll(Database, SecureRandom.layerWebCrypto), { timeout: 120_000 })("items table", (it) => {
  it.effect(
    "obeys the repository laws (model-based, 200 scenarios)",
    () => RepositoryLaws.check(Item, RepositoryLaws.freshSql(Item), { numRuns: 200 }),
    120_000
  )

  it.effect(
    "the same laws catch a price that is any finite number (the column rounds it)",
    () =>
      Effect.gen(function* () {
        const report = yield* RepositoryLaws.run(LoosePrice, RepositoryLaws.freshSql(LoosePrice), {
          numRuns: 100,
          endOnFailure: true
        })
        assert.isTrue(report.failed, "the laws must fail")
        const message = String(report.errorInstance)
        const [, step] = /Step (\d+) \((Create|Update)\) differs from the model/.exec(message) ?? []
        assert.isDefined(step, message)
        const write = report.counterexample![0][Number(step)]
        const price =
          write?._tag === "Create"
            ? write.input.price
            : write?._tag === "Update"
              ? write.patch.price
              : undefined
        assert.isDefined(price, message)
        // A price the numeric(12, 2) column cannot keep exactly: the table
        // reads it back rounded (or refuses it) where the model keeps it.
        assert.isFalse(Decimal.fits({ precision: 12, scale: 2 }, price!), String(price))
      }),
    120_000
  )
})
