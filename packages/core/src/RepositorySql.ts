/**
 * A `Repository` over `effect/sql`, driver-agnostic within Postgres-style
 * SQL (it uses `jsonb_build_object` and `RETURNING`). Every identifier comes
 * from the entity's column allow-list and is escaped by the driver; every
 * value is a bound parameter.
 *
 * Rows are read as one JSON object per row, so the entity's JSON codec (the
 * same one the HTTP API uses) decodes them: timestamps arrive as ISO-8601
 * strings and numerics as JSON numbers, whichever driver is in use.
 *
 * Table contract: one column per entity field (see `Entity.columns`), plus
 * `deleted_at timestamptz NULL`; text columns that are sorted on are declared
 * `COLLATE "C"` (code point order, like `Ordering.compareStrings`); unique
 * fields have a unique index `WHERE deleted_at IS NULL`. `EntityTable`
 * derives that table, with its list indexes, from the entity.
 *
 * @since 0.1.0
 */
import * as SecureRandom from "effect/crypto/SecureRandom"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as SqlClient from "effect/sql/SqlClient"
import type * as SqlError from "effect/sql/SqlError"
import type * as Statement from "effect/sql/Statement"
import type * as Entity from "./Entity.ts"
import * as Records from "./internal/records.ts"
import * as Pagination from "./Pagination.ts"
import * as Repository from "./Repository.ts"
import * as Specification from "./Specification.ts"

const safeName = /^[A-Za-z_][A-Za-z0-9_]*$/

// The SQL of one entity's table: identifiers from the allow-list only.
const statements = (sql: SqlClient.SqlClient, definition: Entity.Any) => {
  const columns = definition.columns
  for (const field of Object.keys(columns)) {
    // Field names become JSON keys in SQL text below: only plain names are allowed.
    if (!safeName.test(field))
      throw new Error(`${definition.name}: unsafe field name ${JSON.stringify(field)}`)
  }
  const column = (field: string) => sql(columns[field]!)
  const table = sql(definition.table)
  const idColumn = column("id")
  const deletedAt = sql("deleted_at")
  const rowObject = sql.literal(
    `jsonb_build_object(${Object.keys(columns)
      .map((field) => `'${field}', ${JSON.stringify(columns[field])}`)
      .join(", ")})`
  )
  const where = (filter: Specification.Spec | undefined) =>
    filter === undefined
      ? Effect.succeed(sql.literal("TRUE"))
      : Effect.provideService(Specification.toSql(definition, filter), SqlClient.SqlClient, sql)
  const page = (request: Repository.ListRequest) =>
    Effect.map(where(request.filter), (condition) => {
      const order = request.sort.map(
        (key) => sql`${column(key.field)} ${sql.literal(key.direction === "asc" ? "ASC" : "DESC")}`
      )
      // Ties are broken by id, unless the sort already names it.
      if (!request.sort.some((key) => key.field === "id")) order.push(sql`${idColumn} ASC`)
      return sql<{ row: unknown }>`SELECT ${rowObject} AS row FROM ${table}
        WHERE ${deletedAt} IS NULL AND ${condition}
        ORDER BY ${sql.csv(order)}
        LIMIT ${request.size} OFFSET ${Pagination.offset(request)}`
    })
  const count = (filter: Specification.Spec | undefined) =>
    Effect.map(
      where(filter),
      (condition) => sql<{ total: number }>`SELECT count(*)::int AS total FROM ${table}
        WHERE ${deletedAt} IS NULL AND ${condition}`
    )
  return { column, table, idColumn, deletedAt, rowObject, page, count }
}

/**
 * The statement that reads one page of a listing, exactly as
 * `make(...).list` runs it: for `EXPLAIN` in tests and for reviews of the
 * query plans an entity's indexes must support.
 *
 * @example
 * ```ts
 * import { type Entity, Pagination, RepositorySql, Specification } from "@org/core"
 *
 * declare const Item: Entity.Any // an Entity.make definition
 *
 * const statement = RepositorySql.pageStatement(Item, {
 *   ...Pagination.request({ sort: [{ field: "price", direction: "desc" }] }),
 *   filter: Specification.field("price").gte(10)
 * })
 * ```
 *
 * @since 0.1.0
 * @category statements
 */
export const pageStatement = (
  definition: Entity.Any,
  request: Repository.ListRequest
): Effect.Effect<
  Statement.Statement<{ row: unknown }>,
  Specification.SpecificationError,
  SqlClient.SqlClient
> => Effect.flatMap(SqlClient.SqlClient, (sql) => statements(sql, definition).page(request))

/**
 * Makes a SQL repository for an entity over the `SqlClient` in context.
 * SQL failures other than unique violations are defects.
 *
 * @example
 * ```ts
 * import { Context, Layer } from "effect"
 * import { SecureRandom } from "effect/crypto"
 * import { type Entity, RepositorySql, type Repository } from "@org/core"
 *
 * declare const Item: Entity.Any // an Entity.make definition
 *
 * class Items extends Context.Service<Items, Repository.ForEntity<typeof Item>>()("app/Items") {
 *   static readonly layer = Layer.effect(Items, RepositorySql.make(Item)).pipe(
 *     Layer.provide(SecureRandom.layerWebCrypto)
 *   )
 * }
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <D extends Entity.Any>(
  definition: D
): Effect.Effect<Repository.ForEntity<D>, never, SqlClient.SqlClient | SecureRandom.SecureRandom> =>
  Effect.gen(function* () {
    type A = Entity.Type<D>
    const sql = yield* SqlClient.SqlClient
    const random = yield* SecureRandom.SecureRandom
    const fieldNames = Object.keys(definition.fields)
    const columns: Readonly<Record<string, string>> = definition.columns
    const { column, table, idColumn, deletedAt, rowObject, ...queries } = yield* Effect.try({
      try: () => statements(sql, definition),
      catch: (error) => error
    }).pipe(Effect.orDie)
    // Entity schemas need no services: the definition's `any`s are closed here.
    const decodeRow: (row: unknown) => Effect.Effect<A, Schema.SchemaError> = Schema.decodeUnknownEffect(
      definition.schema
    )
    const encode: (entity: unknown) => Effect.Effect<Record<string, unknown>, Schema.SchemaError> =
      Schema.encodeUnknownEffect(definition.schema)
    const fieldEncoders: Record<string, (value: unknown) => Effect.Effect<unknown, Schema.SchemaError>> = {}
    for (const [field, schema] of Object.entries<Entity.Field>(definition.fields)) {
      fieldEncoders[field] = Schema.encodeUnknownEffect(schema)
    }

    const decodeRows = (rows: ReadonlyArray<{ readonly row: unknown }>) =>
      Effect.forEach(rows, (r) => decodeRow(r.row))

    const conflictOnDuplicate = <X, E, R>(effect: Effect.Effect<X, E | SqlError.SqlError, R>) =>
      Effect.catchReason(effect, "SqlError", "UniqueViolation", (violation) => {
        const named = definition.unique.filter((field: string) =>
          violation.constraint.includes(columns[field]!)
        )
        return Effect.fail(Records.duplicate(definition, named.length > 0 ? named : definition.unique))
      })

    const notFound = (id: unknown) => Records.notFound(definition, id)

    const isLiveId = (id: unknown): id is string => typeof id === "string"

    const create = (input: Entity.CreateOf<D>) =>
      Effect.gen(function* () {
        const encoded = yield* encode(yield* Records.stamp(random, definition, input))
        const record: Record<string, unknown> = {}
        for (const field of Object.keys(columns)) record[columns[field]!] = encoded[field]
        const rows = yield* sql<{
          row: unknown
        }>`INSERT INTO ${table} ${sql.insert(record)} RETURNING ${rowObject} AS row`
        return (yield* decodeRows(rows))[0]!
      }).pipe(conflictOnDuplicate, Effect.catchTag(["SqlError", "SchemaError"], Effect.die))

    const currentVersion = (id: string) =>
      sql<{ version: number }>`SELECT ${column("version")} AS version FROM ${table}
        WHERE ${idColumn} = ${id} AND ${deletedAt} IS NULL`.pipe(
        Effect.map((rows) => (rows[0] === undefined ? undefined : Number(rows[0].version)))
      )

    // A write that matched no row: tell "absent" from "stale" with one more read.
    const missed = (id: string) =>
      Effect.flatMap(
        currentVersion(id),
        (version): Effect.Effect<never, Repository.NotFound | Repository.Conflict> =>
          version === undefined
            ? Effect.fail(notFound(id))
            : Effect.fail(Records.staleVersion(definition, version))
      )

    const versionGuard = (options: Repository.WriteOptions | undefined): Statement.Fragment =>
      options?.expectedVersion === undefined
        ? sql.literal("TRUE")
        : sql`${column("version")} = ${options.expectedVersion}`

    const findById = (id: Entity.IdOf<D>) =>
      Effect.gen(function* () {
        if (!isLiveId(id)) return yield* Effect.fail(notFound(id))
        const rows = yield* sql<{ row: unknown }>`SELECT ${rowObject} AS row FROM ${table}
          WHERE ${idColumn} = ${id} AND ${deletedAt} IS NULL`
        if (rows.length === 0) return yield* Effect.fail(notFound(id))
        return (yield* decodeRows(rows))[0]!
      }).pipe(Effect.catchTag(["SqlError", "SchemaError"], Effect.die))

    const update = (id: Entity.IdOf<D>, patch: Entity.PatchOf<D>, options?: Repository.WriteOptions) =>
      Effect.gen(function* () {
        if (!isLiveId(id)) return yield* Effect.fail(notFound(id))
        const changes = fieldNames.filter((field) => Object.hasOwn(patch, field))
        if (changes.length === 0) {
          const found = yield* findById(id)
          if (options?.expectedVersion !== undefined && options.expectedVersion !== found.version) {
            return yield* missed(id)
          }
          return found
        }
        const now = yield* DateTime.now
        const assignments: Array<Statement.Fragment> = []
        for (const field of changes) {
          assignments.push(sql`${column(field)} = ${yield* fieldEncoders[field]!(patch[field])}`)
        }
        assignments.push(sql`${column("updatedAt")} = ${DateTime.formatIso(now)}`)
        assignments.push(sql`${column("version")} = ${column("version")} + 1`)
        const rows = yield* sql<{ row: unknown }>`UPDATE ${table} SET ${sql.csv(assignments)}
          WHERE ${idColumn} = ${id} AND ${deletedAt} IS NULL AND ${versionGuard(options)}
          RETURNING ${rowObject} AS row`
        if (rows.length === 0) return yield* missed(id)
        return (yield* decodeRows(rows))[0]!
      }).pipe(conflictOnDuplicate, Effect.catchTag(["SqlError", "SchemaError"], Effect.die))

    const remove = (id: Entity.IdOf<D>, options?: Repository.WriteOptions) =>
      Effect.gen(function* () {
        if (!isLiveId(id)) return yield* Effect.fail(notFound(id))
        const now = yield* DateTime.now
        const rows = yield* sql`UPDATE ${table} SET ${deletedAt} = ${DateTime.formatIso(now)}
          WHERE ${idColumn} = ${id} AND ${deletedAt} IS NULL AND ${versionGuard(options)}
          RETURNING ${idColumn}`
        if (rows.length === 0) return yield* missed(id)
      }).pipe(Effect.catchTag("SqlError", Effect.die))

    const count = (filter?: Specification.Spec) =>
      Effect.flatMap(queries.count(filter), (statement) => statement).pipe(
        Effect.map((rows) => Number(rows[0]?.total ?? 0)),
        Effect.catchTag("SqlError", Effect.die)
      )

    const list = (request: Repository.ListRequest<Entity.SortableOf<D>>) =>
      Effect.gen(function* () {
        const rows = yield* yield* queries.page(request)
        const total = yield* count(request.filter)
        return Pagination.makePage(yield* decodeRows(rows), request, total)
      }).pipe(Effect.catchTag(["SqlError", "SchemaError"], Effect.die))

    // One span per method, the parent of the driver's statement spans; the
    // methods call each other untraced, so a listing is one span, not two.
    return Repository.traced(definition, { create, findById, update, delete: remove, list, count })
  })

/**
 * The options of a repository's method spans (`Repository.spanOptions`).
 *
 * @since 0.4.0
 * @category tracing
 */
export const spanOptions = Repository.spanOptions
