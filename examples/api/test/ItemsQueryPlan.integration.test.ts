/**
 * The items indexes serve the list queries: on real Postgres with 12,000
 * items, `EXPLAIN` of a filtered, sorted page (the statement the repository
 * really runs) shows no sequential scan of `items`.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Pagination, RepositorySql, Specification } from "@org/core"
import { Migrations, SqlTest } from "@org/sql"
import { Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { Item } from "../src/domain/Item.ts"
import { migrations } from "../src/server/Migrations.ts"

const onPostgres = process.env.DATABASE_URL !== undefined && process.env.DATABASE_URL !== ""
const required = ["1", "true"].includes(process.env.REQUIRE_SERVICES ?? "")

interface PlanNode {
  readonly "Node Type": string
  readonly "Relation Name"?: string
  readonly "Index Name"?: string
  readonly Plans?: ReadonlyArray<PlanNode>
}

const nodes = (node: PlanNode): Array<PlanNode> => [node, ...(node.Plans ?? []).flatMap(nodes)]

const Database = Layer.provideMerge(Migrations.layer(migrations), SqlTest.layer)

const S = Specification.of(Item)

const seed = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  // 12,000 live items over 40 categories (some null) and a spread of prices,
  // plus 500 deleted ones, then fresh statistics for the planner.
  yield* sql`
    INSERT INTO items (id, name, description, price, quantity, category, owner_id, created_at, updated_at, version, deleted_at)
    SELECT gen_random_uuid(), 'item ' || n, NULL, (n % 5000) / 10.0, n % 100,
           CASE WHEN n % 41 = 0 THEN NULL ELSE 'category-' || (n % 40) END,
           '00000000-0000-0000-0000-000000000000', now(), now(), 1,
           CASE WHEN n > 12000 THEN now() ELSE NULL END
    FROM generate_series(1, 12500) AS n`
  yield* sql`ANALYZE items`
})

const explain = (request: Parameters<typeof RepositorySql.pageStatement>[1]) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const statement = yield* RepositorySql.pageStatement(Item, request)
    const [text, params] = statement.compile()
    const rows = yield* sql.unsafe<{ "QUERY PLAN": ReadonlyArray<{ Plan: PlanNode }> }>(
      `EXPLAIN (FORMAT JSON) ${text}`,
      params
    )
    return nodes(rows[0]!["QUERY PLAN"][0]!.Plan)
  })

describe.skipIf(!onPostgres && !required)("items query plans on Postgres", () => {
  layer(Database, { timeout: 120_000 })((it) => {
    it.effect(
      "filtered, sorted pages use the indexes (no sequential scan of items)",
      () =>
        Effect.gen(function* () {
          yield* seed
          const cases = [
            // The contract's example: price[gte]=10&category[in]=tools,garden&sort=-price,name
            {
              ...Pagination.request({
                sort: [
                  { field: "price", direction: "desc" },
                  { field: "name", direction: "asc" }
                ]
              }),
              filter: S.field("price")
                .gte(10)
                .and(S.field("category").in(["category-3", "category-7"]))
            },
            {
              ...Pagination.request({ page: 3, sort: [{ field: "name", direction: "asc" }] }),
              filter: undefined
            },
            {
              ...Pagination.request({ sort: [{ field: "createdAt", direction: "desc" }] }),
              filter: S.field("quantity").lt(5)
            },
            {
              ...Pagination.request({ sort: [{ field: "price", direction: "asc" }] }),
              filter: S.field("price").between(5, 6)
            }
          ]
          for (const request of cases) {
            const plan = yield* explain(request)
            const scans = plan.filter(
              (node) => node["Node Type"] === "Seq Scan" && node["Relation Name"] === "items"
            )
            assert.lengthOf(
              scans,
              0,
              JSON.stringify(plan.map((node) => [node["Node Type"], node["Index Name"]]))
            )
            assert.isTrue(
              plan.some((node) => node["Index Name"]?.startsWith("items_") ?? false),
              "the plan uses one of the items indexes"
            )
          }
        }),
      120_000
    )
  })
})
