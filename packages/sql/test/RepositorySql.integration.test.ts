/**
 * The SQL repository against real databases: embedded PGlite always, and the
 * Postgres at DATABASE_URL when there is one (always in CI). The same
 * model-based laws as the in-memory repository, so the implementations are
 * equivalent wherever the generated scenarios reach.
 */
import { assert, layer } from "@effect/vitest"
import { Pagination, RepositoryMemory, RepositorySql } from "@org/core"
import { PgEmbedded, SqlTest } from "@org/sql"
import { RepositoryLaws, Widget } from "@org/testing"
import { Effect, Exit, Layer } from "effect"
import * as SecureRandom from "effect/crypto/SecureRandom"
import { SqlClient } from "effect/sql"

import { databaseUrl, requireServices } from "./env.ts"

const backends = [
  { name: "embedded PGlite", database: PgEmbedded.layer() },
  ...(databaseUrl !== undefined || requireServices
    ? [{ name: "Postgres at DATABASE_URL", database: SqlTest.layer }]
    : [])
]

const setup = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`DROP TABLE IF EXISTS widgets`
  for (const statement of Widget.createTable) yield* sql.unsafe(statement)
  return Effect.andThen(sql`TRUNCATE widgets`, RepositorySql.make(Widget.Widget)).pipe(Effect.orDie)
})

const widget = { name: "saw", sku: "S-1", price: 12.5, quantity: 3, active: true, note: null } as const

for (const backend of backends) {
  layer(Layer.mergeAll(backend.database, SecureRandom.layerWebCrypto), { timeout: 120_000 })(
    `RepositorySql on ${backend.name}`,
    (it) => {
      it.effect(
        "obeys the repository laws on this database (model-based, 300 scenarios)",
        () =>
          Effect.gen(function* () {
            const backend = yield* SqlTest.backend
            yield* Effect.logInfo(`RepositorySql laws on ${backend}`)
            yield* RepositoryLaws.check(yield* setup, { numRuns: 300, maxCommands: 40 })
          }),
        120_000
      )

      it.effect("returns exactly what the in-memory repository returns for the same writes", () =>
        Effect.gen(function* () {
          const sqlRepo = yield* Effect.flatten(setup)
          const memory = yield* RepositoryMemory.make(Widget.Widget)
          const inputs = [
            widget,
            { ...widget, sku: "S-2", name: "\u{1F600} emoji", note: "n" },
            { ...widget, sku: "S-3", name: "\uFFFD replacement", price: 0.07 },
            { ...widget, sku: "S-4", name: "Zebra", price: 9_999_999.99 },
            { ...widget, sku: "S-5", name: "ábc", quantity: 0 }
          ]
          for (const input of inputs) {
            yield* sqlRepo.create(input)
            yield* memory.create(input)
          }
          const request = Pagination.request({ size: 10, sort: [{ field: "name", direction: "asc" }] })
          const strip = (page: Pagination.Page<{ readonly name: string; readonly price: number }>) =>
            page.items.map((w) => [w.name, w.price])
          assert.deepStrictEqual(strip(yield* sqlRepo.list(request)), strip(yield* memory.list(request)))
        })
      )

      it.effect("concurrent updates against the same version: exactly one wins, the rest conflict", () =>
        Effect.gen(function* () {
          const repo = yield* Effect.flatten(setup)
          const created = yield* repo.create(widget)
          const exits = yield* Effect.forEach(
            Array.from({ length: 12 }, (_, i) => i),
            (i) => Effect.exit(repo.update(created.id, { quantity: i + 10 }, { expectedVersion: 1 })),
            { concurrency: "unbounded" }
          )
          const failures = exits.flatMap((exit) =>
            Exit.isFailure(exit)
              ? exit.cause.reasons.flatMap((r) => (r._tag === "Fail" ? [r.error] : []))
              : []
          )
          assert.strictEqual(exits.filter(Exit.isSuccess).length, 1)
          assert.strictEqual(failures.length, 11)
          for (const failure of failures)
            assert.deepInclude(failure, { _tag: "Conflict", reason: "stale-version" })
          assert.strictEqual((yield* repo.findById(created.id)).version, 2)
        })
      )

      it.effect("keeps hostile text verbatim: quotes, comments, placeholders, backslashes", () =>
        Effect.gen(function* () {
          const repo = yield* Effect.flatten(setup)
          const hostile = ["'; DROP TABLE widgets; --", "$1", "\\", "/* c */", '"quoted"', "%_"]
          for (const [i, name] of hostile.entries()) {
            const created = yield* repo.create({ ...widget, sku: `H-${i}`, name })
            assert.strictEqual((yield* repo.findById(created.id)).name, name)
          }
          assert.strictEqual(yield* repo.count(), hostile.length)
        })
      )
    }
  )
}
