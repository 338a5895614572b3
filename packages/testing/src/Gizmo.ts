/**
 * A second fixture entity, shaped unlike `Widget`, so the law suites are
 * shown to be generic over entities: a nullable unique field (NULLs never
 * collide), a literal union, a nullable date-time, a double, an integer
 * beyond Postgres `integer` (a `bigint` column) and a signed 3-decimal
 * amount.
 *
 * @since 0.1.0
 */
import { Decimal, Entity } from "@org/core"
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
 * The statements that create the `gizmos` table per the `RepositorySql`
 * table contract (one statement each).
 *
 * @since 0.1.0
 * @category fixtures
 */
export const createTable: ReadonlyArray<string> = [
  `CREATE TABLE gizmos (
    id uuid PRIMARY KEY,
    code text COLLATE "C",
    kind text COLLATE "C" NOT NULL,
    due_at timestamptz,
    weight double precision NOT NULL,
    count bigint NOT NULL,
    balance numeric(9, 3) NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    version integer NOT NULL,
    deleted_at timestamptz
  )`,
  `CREATE UNIQUE INDEX gizmos_code_live ON gizmos (code) WHERE deleted_at IS NULL`
]
