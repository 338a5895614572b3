/**
 * A fixture entity that exercises every kind of field a repository must
 * handle: text that sorts by code point, a unique field, an exact decimal
 * (`Decimal`, `numeric(12, 2)`), an integer that fits Postgres `integer`, a
 * boolean and a nullable text. Used by the law suites.
 *
 * @since 0.1.0
 */
import { Decimal, Entity, EntityTable } from "@org/core"
import * as Schema from "effect/Schema"

/**
 * The widget id.
 *
 * @since 0.1.0
 * @category fixtures
 */
export const WidgetId = Entity.Uuid.pipe(Schema.brand("WidgetId"))

/**
 * The widget entity definition (table `widgets`).
 *
 * @since 0.1.0
 * @category fixtures
 */
export const Widget = Entity.make("Widget", {
  table: "widgets",
  id: WidgetId,
  fields: {
    name: Entity.Text.check(Schema.isMinLength(1), Schema.isMaxLength(40)),
    sku: Entity.Text.check(Schema.isMinLength(1), Schema.isMaxLength(20)),
    price: Decimal.make({ precision: 12, scale: 2 }).check(Schema.isGreaterThanOrEqualTo(0)),
    quantity: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 2_147_483_647 })),
    active: Schema.Boolean,
    note: Schema.NullOr(Entity.Text)
  },
  sortable: ["id", "name", "sku", "price", "quantity", "active", "note", "createdAt", "updatedAt"],
  filterable: ["id", "name", "sku", "price", "quantity", "active", "note", "createdAt", "updatedAt"],
  unique: ["sku"]
})

/**
 * The statements that create a widgets table named `table`, derived from the
 * entity by `EntityTable.statements` (the `RepositorySql` table contract, with
 * its unique and list indexes; one statement each: drivers run them one at a
 * time). Use `{ ...Widget, table }` as the definition of a second table.
 *
 * @since 0.1.0
 * @category fixtures
 */
export const createTableNamed = (table: string): ReadonlyArray<string> =>
  EntityTable.statements({ ...Widget, table })

/**
 * The statements that create the `widgets` table (`EntityTable.statements(Widget)`).
 *
 * @since 0.1.0
 * @category fixtures
 */
export const createTable: ReadonlyArray<string> = createTableNamed("widgets")
