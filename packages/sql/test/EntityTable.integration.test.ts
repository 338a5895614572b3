/**
 * Tables derived from entities (`EntityTable.migration`) on real databases:
 * embedded PGlite always, and the Postgres at DATABASE_URL when there is one.
 * The repository laws pass on them as on the hand-written tables they
 * replace, and on an entity with a field of every kind the derivation knows
 * (so no derived type or CHECK refuses or changes a value its schema
 * accepts); the CHECKs refuse what the schema refuses; hostile identifiers
 * are created verbatim; and, on Postgres, sorted and filtered pages are
 * index scans.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Decimal, Entity, EntityTable, Pagination, RepositorySql, Specification } from "@org/core"
import { SqlTest } from "@org/sql"
import * as PgEmbedded from "@org/sql/PgEmbedded"
import { Gizmo, RepositoryLaws, Widget } from "@org/testing"
import { Effect, Exit, Layer, Schema } from "effect"
import * as SecureRandom from "effect/crypto/SecureRandom"
import { SqlClient } from "effect/sql"

import { scenarios, skipWithoutPostgres, withServer } from "./env.ts"

const backends = [
  { name: "embedded PGlite", database: PgEmbedded.layer(), embedded: true },
  ...(withServer ? [{ name: "Postgres at DATABASE_URL", database: SqlTest.layer, embedded: false }] : [])
]

const SamplerId = Entity.Uuid.pipe(Schema.brand("SamplerId"))

// A field of each kind, at the edges where a derived column could disagree
// with its schema: a 2-unit minimum (one emoji is 1 code point), exact code
// point bounds, case-preserving UUID text, quotes and a backslash in
// literals, integers past Postgres `integer`, an exclusive double bound.
const Sampler = Entity.make("Sampler", {
  table: "samplers",
  id: SamplerId,
  fields: {
    ref: Schema.NullOr(Entity.Uuid),
    anyCaseUuid: Schema.String.check(Schema.isUUID()),
    title: Entity.Text.check(Schema.isMinLength(2), Schema.isMaxLength(6)),
    nick: Entity.Text.check(Schema.isBetweenCodePoints(1, 3)),
    amount: Decimal.make({ precision: 6, scale: 2 }).check(Schema.isGreaterThan(-1)),
    small: Schema.Int.check(Schema.isBetween({ minimum: -5, maximum: 5 })),
    wide: Schema.Number.check(Schema.isUint32()),
    ratio: Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1, exclusiveMaximum: true })),
    always: Schema.Literal(true),
    at: Schema.NullOr(Schema.DateTimeUtcFromString),
    status: Schema.Literals(["new", "it's", "back\\slash"]),
    level: Schema.Literals([1, 2, 3_000_000_000]),
    color: Schema.Enum({ Red: "red", Blue: "blue" })
  },
  sortable: ["id", "title", "nick", "amount", "small", "wide", "ratio", "at", "status", "level", "createdAt"],
  filterable: [
    "ref",
    "anyCaseUuid",
    "title",
    "nick",
    "amount",
    "wide",
    "always",
    "status",
    "color",
    "version"
  ],
  unique: ["nick"]
})

const migrate = (definition: Entity.Any) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`DROP TABLE IF EXISTS ${sql(definition.table)}`
    yield* EntityTable.migration(definition)
  })

for (const backend of backends) {
  layer(Layer.mergeAll(backend.database, SecureRandom.layerWebCrypto), { timeout: 120_000 })(
    `EntityTable on ${backend.name}`,
    (it) => {
      it.effect(
        // RepositorySql runs 300 scenarios on the hand-written Widget table; the
        // derived one has the same columns, so a third of that shows it agrees.
        "Widget: the laws pass on the derived table (100 scenarios)",
        () =>
          Effect.gen(function* () {
            yield* migrate(Widget.Widget)
            yield* RepositoryLaws.check(Widget.Widget, RepositoryLaws.freshSql(Widget.Widget), {
              numRuns: scenarios(backend, 100),
              maxCommands: 40
            })
          }),
        120_000
      )

      it.effect(
        "Gizmo: the laws pass on the derived table (75 scenarios)",
        () =>
          Effect.gen(function* () {
            yield* migrate(Gizmo.Gizmo)
            yield* RepositoryLaws.check(Gizmo.Gizmo, RepositoryLaws.freshSql(Gizmo.Gizmo), {
              numRuns: scenarios(backend, 75)
            })
          }),
        120_000
      )

      it.effect(
        "an entity with a field of every kind: the laws pass, so no derived column refuses or changes a valid value",
        () =>
          Effect.gen(function* () {
            yield* migrate(Sampler)
            yield* RepositoryLaws.check(Sampler, RepositoryLaws.freshSql(Sampler), {
              numRuns: scenarios(backend, 150)
            })
          }),
        120_000
      )

      it.effect("the edges the schema accepts are stored exactly", () =>
        Effect.gen(function* () {
          yield* migrate(Sampler)
          const repo = yield* RepositorySql.make(Sampler)
          const input = {
            ref: null,
            anyCaseUuid: "0189ABCD-ef01-7abc-8def-0123456789AB",
            title: "\u{1F600}", // 2 UTF-16 units, 1 code point
            nick: "\u{1F600}\u{1F600}\u{1F600}", // 3 code points, 6 units
            amount: -0.99,
            small: -5,
            wide: 4_294_967_295,
            ratio: 0.9999999999999999,
            always: true,
            at: null,
            status: "back\\slash",
            level: 3_000_000_000,
            color: "blue"
          } as const
          const created = yield* repo.create(input)
          const found = yield* repo.findById(created.id)
          const { id: _id, createdAt: _c, updatedAt: _u, version: _v, ...stored } = found
          assert.deepStrictEqual(stored, input)
          yield* repo.create({ ...input, nick: "a'b", status: "it's", title: "ab", wide: 0, small: 5 })
          assert.strictEqual(yield* repo.count(), 2)
        })
      )

      it.effect("the derived CHECKs refuse, in the table itself, what the schema refuses", () =>
        Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          yield* migrate(Widget.Widget)
          yield* migrate(Gizmo.Gizmo)
          const valid = {
            id: "0189abcd-ef01-7abc-8def-0123456789ab",
            name: "saw",
            sku: "S-1",
            price: 1.5,
            quantity: 3,
            active: true,
            note: null,
            created_at: "2024-01-01T00:00:00Z",
            updated_at: "2024-01-01T00:00:00Z",
            version: 1
          }
          const insertWidget = (row: Record<string, unknown>) =>
            Effect.exit(sql`INSERT INTO widgets ${sql.insert({ ...valid, ...row })}`)
          const refused: ReadonlyArray<Record<string, unknown>> = [
            { name: "" },
            { name: "x".repeat(41) },
            { sku: "x".repeat(21) },
            { price: -0.01 },
            { quantity: -1 },
            { quantity: 2_147_483_648 },
            { version: 0 },
            { name: null }
          ]
          for (const row of refused) {
            const exit = yield* insertWidget(row)
            assert.isTrue(Exit.isFailure(exit), `accepted ${JSON.stringify(row)}`)
          }
          assert.isTrue(Exit.isSuccess(yield* insertWidget({})), "the valid row itself")
          // The same sku again while the first is live: the partial unique index.
          assert.isTrue(Exit.isFailure(yield* insertWidget({ id: "0189abcd-ef01-7abc-8def-0123456789ac" })))
          yield* sql`UPDATE widgets SET deleted_at = now()`
          assert.isTrue(Exit.isSuccess(yield* insertWidget({ id: "0189abcd-ef01-7abc-8def-0123456789ad" })))

          const gizmo = {
            id: "0189abcd-ef01-7abc-8def-0123456789ab",
            code: null,
            kind: "nut",
            due_at: null,
            weight: 1.5,
            count: 3_000_000_000,
            balance: -1.5,
            created_at: "2024-01-01T00:00:00Z",
            updated_at: "2024-01-01T00:00:00Z",
            version: 1
          }
          const insertGizmo = (row: Record<string, unknown>) =>
            Effect.exit(sql`INSERT INTO gizmos ${sql.insert({ ...gizmo, ...row })}`)
          for (const row of [{ kind: "screw" }, { kind: "Nut" }, { code: "x".repeat(7) }, { balance: 1e6 }]) {
            assert.isTrue(Exit.isFailure(yield* insertGizmo(row)), `accepted ${JSON.stringify(row)}`)
          }
          assert.isTrue(Exit.isSuccess(yield* insertGizmo({})), "the valid row itself")
          // NULLs never collide in the unique code.
          assert.isTrue(Exit.isSuccess(yield* insertGizmo({ id: "0189abcd-ef01-7abc-8def-0123456789ae" })))
        })
      )

      it.effect("hostile table and column names are created verbatim, and nothing else runs", () =>
        Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          yield* migrate(Widget.Widget)
          const table = `odd"table'; DROP TABLE widgets; --`
          const label = `we"ird col); DROP TABLE widgets; --`
          const Hostile = Entity.make("Hostile", {
            table,
            id: SamplerId,
            fields: {
              label: Entity.Text.check(Schema.isMaxLength(9)),
              flag: Schema.Literals(["a'b", "c\\d"])
            },
            columns: { label, flag: "Flag" },
            sortable: ["label"],
            unique: ["flag"]
          })
          yield* migrate(Hostile)
          const columns = yield* sql<{ readonly column_name: string }>`SELECT column_name
            FROM information_schema.columns WHERE table_name = ${table} ORDER BY ordinal_position`
          assert.deepStrictEqual(
            columns.map((c) => c.column_name),
            EntityTable.columns(Hostile).map((c) => c.name)
          )
          assert.include(
            columns.map((c) => c.column_name),
            label
          )
          const indexes = yield* sql<{ readonly indexname: string }>`SELECT indexname FROM pg_indexes
            WHERE tablename = ${table}`
          assert.deepStrictEqual(
            indexes
              .map((i) => i.indexname)
              .filter((name) => !name.endsWith("_pkey"))
              .sort(),
            EntityTable.indexes(Hostile)
              .map((i) => i.name)
              .sort()
          )
          yield* sql`INSERT INTO ${sql(table)} ${sql.insert({
            id: "0189abcd-ef01-7abc-8def-0123456789ab",
            [label]: "x",
            Flag: "c\\d",
            created_at: "2024-01-01T00:00:00Z",
            updated_at: "2024-01-01T00:00:00Z",
            version: 1
          })}`
          assert.isTrue(
            Exit.isFailure(yield* Effect.exit(sql`UPDATE ${sql(table)} SET ${sql("Flag")} = ${"c\\\\d"}`)),
            "the literal CHECK keeps its backslash exactly"
          )
          const widgets = yield* sql<{ readonly n: number }>`SELECT count(*)::int AS n FROM widgets`
          assert.strictEqual(widgets[0]?.n, 0, "widgets is still there")
        })
      )
    }
  )
}

// -----------------------------------------------------------------------------
// Query plans (Postgres only: PGlite's planner statistics are not the point)
// -----------------------------------------------------------------------------

interface PlanNode {
  readonly "Node Type": string
  readonly "Relation Name"?: string
  readonly "Index Name"?: string
  readonly Plans?: ReadonlyArray<PlanNode>
}

const nodes = (node: PlanNode): Array<PlanNode> => [node, ...(node.Plans ?? []).flatMap(nodes)]

const explain = (request: Parameters<typeof RepositorySql.pageStatement>[1]) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const statement = yield* RepositorySql.pageStatement(Widget.Widget, request)
    const [text, params] = statement.compile()
    const rows = yield* sql.unsafe<{ "QUERY PLAN": ReadonlyArray<{ Plan: PlanNode }> }>(
      `EXPLAIN (FORMAT JSON) ${text}`,
      params
    )
    return nodes(rows[0]!["QUERY PLAN"][0]!.Plan)
  })

const W = Specification.of(Widget.Widget)

describe.skipIf(skipWithoutPostgres)("EntityTable query plans on Postgres", () => {
  layer(SqlTest.layer, { timeout: 120_000 })((it) => {
    it.effect(
      "sorted, filtered pages on 6,000 widgets are index scans of the derived indexes",
      () =>
        Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          yield* migrate(Widget.Widget)
          yield* sql`
            INSERT INTO widgets (id, name, sku, price, quantity, active, note, created_at, updated_at, version, deleted_at)
            SELECT gen_random_uuid(), 'widget ' || n, 'S-' || n, (n % 5000) / 10.0, n % 100, n % 2 = 0, NULL,
                   now() - n * interval '1 second', now(), 1, CASE WHEN n > 6000 THEN now() ELSE NULL END
            FROM generate_series(1, 6300) AS n`
          yield* sql`ANALYZE widgets`
          const cases = [
            {
              ...Pagination.request({ page: 3, sort: [{ field: "name", direction: "asc" }] }),
              filter: undefined
            },
            {
              ...Pagination.request({ sort: [{ field: "price", direction: "desc" }] }),
              filter: W.field("price").gte(10).and(W.field("active").eq(true))
            },
            {
              ...Pagination.request({ sort: [{ field: "createdAt", direction: "desc" }] }),
              filter: W.field("quantity").lt(5)
            },
            {
              ...Pagination.request({ sort: [{ field: "quantity", direction: "asc" }] }),
              filter: W.field("quantity").between(5, 6)
            },
            { ...Pagination.request({}), filter: W.field("sku").eq("S-123") }
          ]
          for (const request of cases) {
            const plan = yield* explain(request)
            const shape = JSON.stringify(plan.map((node) => [node["Node Type"], node["Index Name"]]))
            assert.isFalse(
              plan.some((node) => node["Node Type"] === "Seq Scan" && node["Relation Name"] === "widgets"),
              shape
            )
            assert.isTrue(
              plan.some((node) => node["Index Name"]?.startsWith("widgets_") ?? false),
              `the plan uses a derived widgets index: ${shape}`
            )
          }
        }),
      120_000
    )
  })
})
