/**
 * The unit-of-work laws on real databases: `UnitOfWork.layerSql` with two SQL
 * repositories on two tables, on embedded PGlite and on the Postgres at
 * DATABASE_URL when there is one (always in CI).
 */
import { layer } from "@effect/vitest"
import { RepositorySql, UnitOfWork } from "@org/core"
import { SqlTest } from "@org/sql"
import * as PgEmbedded from "@org/sql/PgEmbedded"
import { UnitOfWorkLaws, Widget } from "@org/testing"
import { Effect, Layer } from "effect"
import * as SecureRandom from "effect/crypto/SecureRandom"
import { SqlClient } from "effect/sql"
import { databaseUrl, requireServices } from "./env.ts"

const backends = [
  { name: "embedded PGlite", database: PgEmbedded.layer() },
  ...(databaseUrl !== undefined || requireServices
    ? [{ name: "Postgres at DATABASE_URL", database: SqlTest.layer }]
    : [])
]

const Gadget = { ...Widget.Widget, table: "gadgets" }

const fresh = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  for (const table of ["widgets", "gadgets"]) {
    yield* sql`DROP TABLE IF EXISTS ${sql(table)}`
    for (const statement of Widget.createTableNamed(table)) yield* sql.unsafe(statement)
  }
  return { left: yield* RepositorySql.make(Widget.Widget), right: yield* RepositorySql.make(Gadget) }
}).pipe(Effect.orDie)

for (const backend of backends) {
  const Services = Layer.mergeAll(
    UnitOfWork.layerSql.pipe(Layer.provideMerge(backend.database)),
    SecureRandom.layerWebCrypto
  )
  layer(Services, { timeout: 60_000 })(`UnitOfWork.layerSql on ${backend.name}`, (it) => {
    for (const [name, law] of Object.entries(UnitOfWorkLaws.laws)) {
      it.effect(name, () => law(fresh))
    }
  })
}
