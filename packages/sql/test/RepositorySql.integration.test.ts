/**
 * The SQL repository against real databases: embedded PGlite always, and the
 * Postgres at DATABASE_URL when there is one (always in CI). The same
 * model-based laws as the in-memory repository, so the implementations are
 * equivalent wherever the generated scenarios reach; two deliberately
 * broken tables, which the laws must catch; and arrays of text on a derived
 * `text[]` table, read back as memory reads them.
 */
import { assert, layer } from "@effect/vitest"
import { Decimal, Entity, EntityTable, Pagination, RepositoryMemory, RepositorySql } from "@org/core"
import { SqlTest } from "@org/sql"
import * as PgEmbedded from "@org/sql/PgEmbedded"
import { Gizmo, RepositoryLaws, Widget } from "@org/testing"
import { Effect, Exit, Layer, Schema } from "effect"
import * as SecureRandom from "effect/crypto/SecureRandom"
import { SqlClient } from "effect/sql"
import * as fc from "fast-check"

import { scenarios, withServer } from "./env.ts"

const backends = [
  { name: "embedded PGlite", database: PgEmbedded.layer(), embedded: true },
  ...(withServer ? [{ name: "Postgres at DATABASE_URL", database: SqlTest.layer, embedded: false }] : [])
]

const setup = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`DROP TABLE IF EXISTS widgets`
  for (const statement of Widget.createTable) yield* sql.unsafe(statement)
  // DELETE, not TRUNCATE: on a table this small it costs a fraction (no new files, no fsync of them).
  return Effect.andThen(sql`DELETE FROM widgets`, RepositorySql.make(Widget.Widget)).pipe(Effect.orDie)
})

const widget = { name: "saw", sku: "S-1", price: 12.5, quantity: 3, active: true, note: null } as const

// Mutation 1: the table keeps one decimal where the entity allows two.
const OneDecimal = { ...Widget.Widget, table: "widgets_one_decimal" }
const oneDecimalTable = Widget.createTableNamed(OneDecimal.table).map((statement) =>
  statement.replace("numeric(12, 2)", "numeric(12, 1)")
)

// Mutation 2: the bug this suite was made generic for. The price is any
// finite number (as Widget's was), the column `numeric(12, 2)`: 12.345 is
// stored as 12.35 while memory keeps 12.345.
const FinitePrice = Entity.make("Widget", {
  table: "widgets",
  id: Widget.WidgetId,
  fields: {
    ...Widget.Widget.fields,
    price: Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0), Schema.isLessThan(10_000_000_000))
  },
  sortable: Widget.Widget.sortable,
  filterable: Widget.Widget.filterable,
  unique: Widget.Widget.unique
})

// The step the laws report as differing writes a price the column cannot
// keep exactly (and so reads back, or refuses, differently from the model).
const assertCaughtAtPrice = (
  report: RepositoryLaws.Report<typeof Widget.Widget>,
  column: Decimal.Options
) => {
  assert.isTrue(report.failed, "the laws must fail on this table")
  const message = String(report.errorInstance)
  const [, step] = /Step (\d+) \((Create|Update)\) differs from the model/.exec(message) ?? []
  assert.isDefined(step, message)
  const write = report.counterexample![0][Number(step)]
  const price =
    write?._tag === "Create" ? write.input.price : write?._tag === "Update" ? write.patch.price : undefined
  assert.isDefined(price, message)
  assert.isFalse(Decimal.fits(column, price!), `${price} fits numeric(${column.precision}, ${column.scale})`)
}

// Arrays of text (`text[]`, derived by EntityTable): the array's own length
// is a CHECK, the elements' lengths are the schema's alone.
const Tagged = Entity.make("Tagged", {
  table: "tagged",
  id: Entity.Uuid.pipe(Schema.brand("TaggedId")),
  fields: {
    label: Entity.Text.check(Schema.isMaxLength(20)),
    tags: Schema.Array(Entity.Text.check(Schema.isMaxLength(40))).check(Schema.isMaxLength(8)),
    more: Schema.NullOr(Schema.Array(Entity.Text))
  }
})

// What Postgres' array text syntax and the driver's array binding treat
// specially (separators, quotes, escapes, braces, the word NULL, blanks),
// and text whose UTF-16 and code point forms differ.
const awkward = [
  "",
  "NULL",
  "null",
  ",",
  "a,b",
  '"',
  '"quoted"',
  "\\",
  '\\"',
  "{",
  "}",
  "{}",
  "{a,b}",
  "{NULL}",
  "'",
  " ",
  " padded ",
  "\t",
  "\n",
  "é",
  "\u{1F600}",
  "\uFFFD",
  "\uE000",
  "日本"
]
const isTag = Schema.is(Tagged.fields.tags)
const isMore = Schema.is(Tagged.fields.more)
const element = fc.oneof(
  fc.constantFrom(...awkward),
  fc.array(fc.constantFrom(...awkward, "x"), { maxLength: 4 }).map((parts) => parts.join("")),
  fc.string({ unit: "grapheme", maxLength: 8 })
)
const tags = fc.array(element, { maxLength: 8 }).filter(isTag)
const more = fc.option(fc.array(element, { maxLength: 12 }), { nil: null }).filter(isMore)
const arrays = fc.record({ tags, more, patchTags: tags, patchMore: more })

for (const backend of backends) {
  layer(Layer.mergeAll(backend.database, SecureRandom.layerWebCrypto), { timeout: 120_000 })(
    `RepositorySql on ${backend.name}`,
    (it) => {
      it.effect(
        "obeys the repository laws on this database (model-based, 300 scenarios)",
        () =>
          Effect.gen(function* () {
            const engine = yield* SqlTest.backend
            yield* Effect.logInfo(`RepositorySql laws on ${engine}`)
            yield* RepositoryLaws.check(Widget.Widget, yield* setup, {
              numRuns: scenarios(backend, 300),
              maxCommands: 40
            })
          }),
        120_000
      )

      it.effect(
        "obeys the laws on an entity of another shape (Gizmo: nullable unique, date-time, double, bigint)",
        () =>
          Effect.gen(function* () {
            const sql = yield* SqlClient.SqlClient
            yield* sql`DROP TABLE IF EXISTS gizmos`
            for (const statement of Gizmo.createTable) yield* sql.unsafe(statement)
            yield* RepositoryLaws.check(Gizmo.Gizmo, RepositoryLaws.freshSql(Gizmo.Gizmo), {
              numRuns: scenarios(backend, 150)
            })
          }),
        120_000
      )

      it.effect(
        "the laws catch a numeric(12, 1) column under a 2-decimal price",
        () =>
          Effect.gen(function* () {
            const sql = yield* SqlClient.SqlClient
            yield* sql`DROP TABLE IF EXISTS ${sql(OneDecimal.table)}`
            for (const statement of oneDecimalTable) yield* sql.unsafe(statement)
            assertCaughtAtPrice(
              yield* RepositoryLaws.run(OneDecimal, RepositoryLaws.freshSql(OneDecimal), {
                numRuns: 100,
                endOnFailure: true
              }),
              { precision: 12, scale: 1 }
            )
          }),
        120_000
      )

      it.effect(
        "the laws catch a price of any finite number on a numeric(12, 2) column (12.345 read back as 12.35)",
        () =>
          Effect.gen(function* () {
            yield* setup
            assertCaughtAtPrice(
              yield* RepositoryLaws.run(FinitePrice, RepositoryLaws.freshSql(FinitePrice), {
                numRuns: 100,
                endOnFailure: true
              }),
              { precision: 12, scale: 2 }
            )
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

      it.effect(
        "both repositories refuse a price with more decimals than the column keeps, and store nothing",
        () =>
          Effect.gen(function* () {
            const sqlRepo = yield* Effect.flatten(setup)
            const memory = yield* RepositoryMemory.make(Widget.Widget)
            for (const repo of [sqlRepo, memory]) {
              const exit = yield* Effect.exit(repo.create({ ...widget, price: 12.345 }))
              assert.isTrue(Exit.hasDies(exit), String(exit))
              assert.strictEqual(yield* repo.count(), 0)
              const created = yield* repo.create({ ...widget, price: 12.34 })
              assert.strictEqual(created.price, 12.34)
              assert.isTrue(Exit.hasDies(yield* Effect.exit(repo.update(created.id, { price: 0.001 }))))
              assert.strictEqual((yield* repo.findById(created.id)).price, 12.34)
            }
          })
      )

      it.effect(
        "arrays of text: created and updated through text[], read back as the memory repository reads them",
        () =>
          Effect.gen(function* () {
            const sql = yield* SqlClient.SqlClient
            yield* sql`DROP TABLE IF EXISTS ${sql(Tagged.table)}`
            yield* EntityTable.migration(Tagged)
            const sqlRepo = yield* RepositorySql.make(Tagged)
            const memory = yield* RepositoryMemory.make(Tagged)
            const context = yield* Effect.context<never>()
            const seen = (entity: typeof Tagged.schema.Type) => ({
              label: entity.label,
              tags: entity.tags,
              more: entity.more,
              version: entity.version
            })
            const property = fc.asyncProperty(arrays, (input) =>
              Effect.runPromiseWith(context)(
                Effect.gen(function* () {
                  const views = []
                  for (const repo of [memory, sqlRepo]) {
                    const created = yield* repo.create({ label: "t", tags: input.tags, more: input.more })
                    const found = yield* repo.findById(created.id)
                    const updated = yield* repo.update(created.id, {
                      tags: input.patchTags,
                      more: input.patchMore
                    })
                    const after = yield* repo.findById(created.id)
                    views.push([created, found, updated, after].map(seen))
                  }
                  const [inMemory, inSql] = views
                  assert.deepStrictEqual(inSql, inMemory)
                  // Memory keeps what it was given: the SQL repository does too.
                  assert.deepStrictEqual(inSql![1]!.tags, input.tags)
                  assert.deepStrictEqual(inSql![3], {
                    label: "t",
                    tags: input.patchTags,
                    more: input.patchMore,
                    version: 2
                  })
                })
              )
            )
            yield* Effect.promise(() =>
              fc.assert(property, {
                numRuns: scenarios(backend, 200),
                endOnFailure: true,
                examples: [
                  [{ tags: awkward.slice(0, 8), more: awkward, patchTags: [], patchMore: [] }],
                  [{ tags: [], more: null, patchTags: awkward.slice(8, 16), patchMore: ["NULL"] }],
                  [{ tags: awkward.slice(16), more: [""], patchTags: ["NULL", "", "NULL"], patchMore: null }]
                ]
              })
            )
          }),
        120_000
      )

      it.effect("create: a nullable field left out is stored as NULL", () =>
        Effect.gen(function* () {
          const repo = yield* Effect.flatten(setup)
          const { note: _note, ...withoutNote } = { ...widget, sku: "N-1" }
          const created = yield* repo.create(withoutNote)
          assert.isNull(created.note)
          assert.isNull((yield* repo.findById(created.id)).note)
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
