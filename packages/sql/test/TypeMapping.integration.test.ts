/**
 * What `PgClient` returns for common column types, asserted on PGlite and on
 * real Postgres: repository code runs on both, so any drift must fail here.
 * The README's type table mirrors these assertions.
 */
import { PgClient } from "@effect/sql-pg"
import { assert, describe, layer, type Vitest } from "@effect/vitest"
import { SqlTest } from "@org/sql"
import * as PgEmbedded from "@org/sql/PgEmbedded"
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import { skipWithoutPostgres } from "./env.ts"

const instant = "2024-01-02T03:04:05.678Z"
const uuid = "123e4567-e89b-12d3-a456-426614174000"
const beyondDouble = 9007199254740993n // 2^53 + 1

interface Row {
  readonly at: unknown
  readonly local_at: unknown
  readonly day: unknown
  readonly amount: unknown
  readonly id: unknown
  readonly small: unknown
  readonly int: unknown
  readonly big: unknown
  readonly real: unknown
  readonly flag: unknown
  readonly doc: unknown
  readonly tags: unknown
  readonly missing: unknown
}

const assertRow = (row: Row | undefined) => {
  assert.isDefined(row)
  assert.instanceOf(row!.at, Date, "timestamptz -> Date")
  assert.strictEqual((row!.at as Date).toISOString(), instant)
  assert.instanceOf(row!.local_at, Date, "timestamp -> Date (wall clock read as UTC)")
  assert.strictEqual((row!.local_at as Date).toISOString(), instant)
  assert.strictEqual(row!.day, "2024-01-02", "date -> string")
  assert.strictEqual(row!.amount, "1234.50", "numeric -> string, scale kept")
  assert.strictEqual(row!.id, uuid, "uuid -> lower-case string")
  assert.strictEqual(row!.small, 7, "smallint -> number")
  assert.strictEqual(row!.int, 42, "integer -> number")
  assert.strictEqual(row!.big, beyondDouble, "bigint -> bigint")
  assert.strictEqual(row!.real, 1.5, "double precision -> number")
  assert.strictEqual(row!.flag, true, "boolean -> boolean")
  assert.deepStrictEqual(row!.doc, { a: [1, "x"] }, "jsonb -> parsed JSON")
  assert.deepStrictEqual(row!.tags, ["a", "b"], "text[] -> array")
  assert.isNull(row!.missing, "NULL -> null")
}

const suite = (it: Vitest.MethodsNonLive<PgClient.PgClient | SqlClient.SqlClient>) => {
  it.effect("decodes literals of each type the same way", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const [row] = yield* sql<Row>`SELECT
        ${instant}::timestamptz AS at,
        '2024-01-02 03:04:05.678'::timestamp AS local_at,
        '2024-01-02'::date AS day,
        1234.5::numeric(12, 2) AS amount,
        ${uuid.toUpperCase()}::uuid AS id,
        7::smallint AS small,
        42::int AS int,
        ${beyondDouble.toString()}::bigint AS big,
        1.5::float8 AS real,
        true AS flag,
        '{"a": [1, "x"]}'::jsonb AS doc,
        ARRAY['a', 'b'] AS tags,
        NULL::text AS missing`
      assertRow(row)
    })
  )

  it.effect("round-trips JavaScript values through a table", () =>
    Effect.gen(function* () {
      const sql = yield* PgClient.PgClient
      yield* sql`CREATE TEMP TABLE type_probe (
        at timestamptz, local_at timestamp, day date, amount numeric(12, 2), id uuid, small smallint,
        int integer, big bigint, real float8, flag boolean, doc jsonb, tags text[], missing text
      )`
      yield* sql`INSERT INTO type_probe ${sql.insert({
        at: new Date(instant),
        local_at: new Date(instant),
        day: "2024-01-02",
        amount: "1234.5",
        id: uuid,
        small: 7,
        int: 42,
        big: beyondDouble,
        real: 1.5,
        flag: true,
        doc: sql.json({ a: [1, "x"] }),
        tags: ["a", "b"],
        missing: null
      })}`
      const [row] = yield* sql<Row>`SELECT * FROM type_probe`
      yield* sql`DROP TABLE type_probe`
      assertRow(row)
    })
  )

  it.effect("returns count(*) as bigint and sum(int) as bigint", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const [row] = yield* sql<{
        n: unknown
        total: unknown
      }>`SELECT count(*) AS n, sum(x) AS total FROM (VALUES (1), (2)) AS t (x)`
      assert.strictEqual(row?.n, 2n)
      assert.strictEqual(row?.total, 3n)
    })
  )
}

layer(PgEmbedded.layer())("types on PGlite", suite)

describe.skipIf(skipWithoutPostgres)("on the DATABASE_URL server", () => {
  layer(SqlTest.layer)("types on Postgres", suite)
})
