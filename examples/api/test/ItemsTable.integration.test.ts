/**
 * The `items` table the example's migrations write by hand and the one
 * `EntityTable` derives from `Item` agree, as the database itself reports
 * them (PGlite, or the Postgres at DATABASE_URL): the same columns, types,
 * nullability and CHECK constraints, and every derived index is one the
 * migrations create. So the example could switch to
 * `EntityTable.migration(Item)` for a new database without a data change.
 * The differences are pinned here, so a change on either side shows.
 */
import { assert, layer } from "@effect/vitest"
import { EntityTable } from "@org/core"
import { Migrations, SqlTest } from "@org/sql"
import { Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { Item } from "../src/domain/Item.ts"
import { migrations } from "../src/server/Migrations.ts"

const Database = Layer.provideMerge(Migrations.layer(migrations), SqlTest.layer)

const derived = { ...Item, table: "items_derived" }

interface ColumnRow {
  readonly column_name: string
  readonly ordinal_position: number
  readonly data_type: string
  readonly udt_name: string
  readonly is_nullable: string
  readonly numeric_precision: number | null
  readonly numeric_scale: number | null
  readonly character_maximum_length: number | null
  readonly column_default: string | null
  readonly collation_name: string | null
}

const describeTable = (table: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const columns = yield* sql<ColumnRow>`SELECT column_name, ordinal_position::int AS ordinal_position,
        data_type, udt_name, is_nullable, numeric_precision::int AS numeric_precision,
        numeric_scale::int AS numeric_scale, character_maximum_length::int AS character_maximum_length,
        column_default, collation_name
      FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = ${table}
      ORDER BY ordinal_position`
    const checks = yield* sql<{ readonly definition: string }>`SELECT pg_get_constraintdef(oid) AS definition
      FROM pg_constraint WHERE conrelid = ${table}::regclass AND contype = 'c'`
    const indexes = yield* sql<{ readonly name: string; readonly definition: string }>`SELECT
        c.relname AS name, pg_get_indexdef(c.oid) AS definition
      FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      WHERE i.indrelid = ${table}::regclass AND NOT i.indisprimary`
    // An index's definition without its own name and its table's.
    const shape = (index: { readonly name: string; readonly definition: string }) =>
      index.definition
        .replace(` INDEX ${index.name} ON `, " INDEX ON ")
        .replace(/ ON \S+ USING /, " ON t USING ")
    return {
      columns: columns.map(({ collation_name: _collation, ...column }) => column),
      collations: Object.fromEntries(columns.map((c) => [c.column_name, c.collation_name])),
      checks: checks.map((c) => c.definition).sort(),
      indexes: indexes.map(shape).sort()
    }
  })

layer(Database, { timeout: 120_000 })("items table, hand-written and derived", (it) => {
  it.effect(
    "the same columns, types, nullability and CHECKs; derived indexes a subset of the written ones",
    () =>
      Effect.gen(function* () {
        yield* EntityTable.migration(derived)
        const written = yield* describeTable(Item.table)
        const made = yield* describeTable(derived.table)
        assert.lengthOf(written.columns, 11)
        assert.deepStrictEqual(made.columns, written.columns)
        assert.lengthOf(written.checks, 6)
        assert.deepStrictEqual(made.checks, written.checks)

        // Derived text is always in code point order (ADR 0004); the migration
        // left `description`, which is filterable but never sorted, in the
        // database's default collation.
        const collationDifferences = Object.keys(written.collations).filter(
          (column) => written.collations[column] !== made.collations[column]
        )
        assert.deepStrictEqual(collationDifferences, ["description"])
        assert.strictEqual(made.collations.description, "C")

        // Every derived index is one the migration wrote; the migration also
        // has a composite for one filter-and-sort pair, which is written per query.
        const missing = made.indexes.filter((index) => !written.indexes.includes(index))
        assert.deepStrictEqual(missing, [])
        const extra = written.indexes.filter((index) => !made.indexes.includes(index))
        assert.deepStrictEqual(extra, [
          "CREATE INDEX ON t USING btree (category, price, id) WHERE (deleted_at IS NULL)"
        ])
        assert.lengthOf(made.indexes, EntityTable.indexes(derived).length)
      })
  )
})
