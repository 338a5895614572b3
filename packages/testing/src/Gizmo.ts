/**
 * A second fixture entity, shaped unlike `Widget`, so the law suites are
 * shown to be generic over entities: a nullable unique field (NULLs never
 * collide), a literal union, a nullable date-time, a double, an integer
 * beyond Postgres `integer` (a `bigint` column) and a signed 3-decimal
 * amount.
 *
 * @since 0.1.0
 */
import { Decimal, Entity, EntityTable } from "@org/core"
import * as Schema from "effect/Schema"

/**
 * The gizmo id.
 *
 * @since 0.1.0
 * @category fixtures
 */
export const GizmoId = Entity.Uuid.pipe(Schema.brand("GizmoId"))

/**
 * The gizmo entity definition (table `gizmos`).
 *
 * @since 0.1.0
 * @category fixtures
 */
export const Gizmo = Entity.make("Gizmo", {
  table: "gizmos",
  id: GizmoId,
  fields: {
    code: Schema.NullOr(Entity.Text.check(Schema.isMaxLength(6))),
    kind: Schema.Literals(["bolt", "nut", "washer"]),
    dueAt: Schema.NullOr(Schema.DateTimeUtcFromString),
    weight: Schema.Finite,
    count: Schema.Int,
    balance: Decimal.make({ precision: 9, scale: 3 })
  },
  sortable: ["id", "code", "kind", "dueAt", "weight", "count", "balance", "createdAt", "updatedAt"],
  filterable: [
    "id",
    "code",
    "kind",
    "dueAt",
    "weight",
    "count",
    "balance",
    "createdAt",
    "updatedAt",
    "version"
  ],
  unique: ["code"]
})

/**
 * The statements that create the `gizmos` table, derived from the entity by
 * `EntityTable.statements` (one statement each).
 *
 * @since 0.1.0
 * @category fixtures
 */
export const createTable: ReadonlyArray<string> = EntityTable.statements(Gizmo)
