/**
 * The fixtures' tables are derived (`EntityTable`), and what is derived is
 * what the law suites were shown to pass on: the hand-written tables, plus
 * the CHECKs and list indexes the schemas imply.
 */
import { assert, describe, it } from "@effect/vitest"
import { EntityTable } from "@org/core"
import { Gizmo, Widget } from "@org/testing"

const index = (table: string, name: string, columns: string, unique = false) =>
  `CREATE ${unique ? "UNIQUE " : ""}INDEX "${table}_${name}" ON "${table}" (${columns}) WHERE "deleted_at" IS NULL`

const widgets = (table: string) => [
  `CREATE TABLE "${table}" (
  "id" uuid PRIMARY KEY,
  "name" text COLLATE "C" NOT NULL CHECK (char_length("name") BETWEEN 1 AND 40),
  "sku" text COLLATE "C" NOT NULL CHECK (char_length("sku") BETWEEN 1 AND 20),
  "price" numeric(12, 2) NOT NULL CHECK ("price" >= 0),
  "quantity" integer NOT NULL CHECK ("quantity" >= 0),
  "active" boolean NOT NULL,
  "note" text COLLATE "C",
  "created_at" timestamptz NOT NULL,
  "updated_at" timestamptz NOT NULL,
  "version" integer NOT NULL CHECK ("version" >= 1),
  "deleted_at" timestamptz
)`,
  index(table, "unique_sku", `"sku"`, true),
  index(table, "live_id", `"id"`),
  index(table, "live_name", `"name", "id"`),
  index(table, "live_sku", `"sku", "id"`),
  index(table, "live_price", `"price", "id"`),
  index(table, "live_quantity", `"quantity", "id"`),
  index(table, "live_active", `"active", "id"`),
  // note: unbounded text, no index (a long note would not fit one).
  index(table, "live_created_at", `"created_at", "id"`),
  index(table, "live_updated_at", `"updated_at", "id"`)
]

const gizmos = [
  `CREATE TABLE "gizmos" (
  "id" uuid PRIMARY KEY,
  "code" text COLLATE "C" CHECK (char_length("code") <= 6),
  "kind" text COLLATE "C" NOT NULL CHECK ("kind" IN ('bolt', 'nut', 'washer')),
  "due_at" timestamptz,
  "weight" double precision NOT NULL,
  "count" bigint NOT NULL,
  "balance" numeric(9, 3) NOT NULL,
  "created_at" timestamptz NOT NULL,
  "updated_at" timestamptz NOT NULL,
  "version" integer NOT NULL CHECK ("version" >= 1),
  "deleted_at" timestamptz
)`,
  index("gizmos", "unique_code", `"code"`, true),
  index("gizmos", "live_id", `"id"`),
  index("gizmos", "live_code", `"code", "id"`),
  index("gizmos", "live_kind", `"kind", "id"`),
  index("gizmos", "live_due_at", `"due_at", "id"`),
  index("gizmos", "live_weight", `"weight", "id"`),
  index("gizmos", "live_count", `"count", "id"`),
  index("gizmos", "live_balance", `"balance", "id"`),
  index("gizmos", "live_created_at", `"created_at", "id"`),
  index("gizmos", "live_updated_at", `"updated_at", "id"`),
  // version is filterable, not sortable: an index for its filters alone.
  index("gizmos", "live_version", `"version"`)
]

describe("the fixtures' derived tables", () => {
  it("Widget: text in code point order with its lengths, numeric(12, 2), integer, a partial unique sku", () => {
    assert.deepStrictEqual(EntityTable.statements(Widget.Widget), widgets("widgets"))
    assert.deepStrictEqual(Widget.createTable, widgets("widgets"))
    assert.deepStrictEqual(Widget.createTableNamed("gadgets"), widgets("gadgets"))
  })

  it("Gizmo: nullable unique text, a literal union, a nullable date-time, double, bigint, numeric(9, 3)", () => {
    assert.deepStrictEqual(EntityTable.statements(Gizmo.Gizmo), gizmos)
    assert.deepStrictEqual(Gizmo.createTable, gizmos)
  })

  it("the list indexes cover every sortable field of both but unbounded text, each ending in id", () => {
    for (const definition of [Widget.Widget, Gizmo.Gizmo]) {
      const byField = new Map(EntityTable.columns(definition).map((c) => [c.field, c]))
      const indexed = EntityTable.indexes(definition).filter((i) => !i.unique)
      for (const field of definition.sortable) {
        const column = byField.get(field)!
        const found = indexed.find((i) => i.columns[0] === column.name)
        if (column.indexable) {
          assert.isDefined(found, field)
          assert.deepStrictEqual(found!.columns, field === "id" ? ["id"] : [column.name, "id"])
        } else assert.isUndefined(found, field)
      }
    }
  })
})
