/**
 * Entity building blocks as Schemas (Identifiable, Timestamped, SoftDeletable,
 * Versioned) and `Entity.make`, which turns an entity's own fields into every
 * shape a repository and an API need: the full record, the create input, the
 * update patch, and the allow-list of columns.
 *
 * @since 0.1.0
 */
import type * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as SchemaAST from "effect/SchemaAST"
import * as SchemaTransformation from "effect/SchemaTransformation"

/**
 * A UUID string. Input may use either hex case; the decoded value is always
 * lowercase, as Postgres prints it, so ids compare equal in memory and in SQL.
 * Brand it per entity so ids of different entities do not mix.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Entity } from "@org/core"
 * export const ItemId = Entity.Uuid.pipe(Schema.brand("ItemId"))
 * export type ItemId = typeof ItemId.Type
 * ```
 *
 * @since 0.1.0
 * @category building blocks
 */
export const Uuid = Schema.String.annotate({ format: "uuid" })
  .check(Schema.isMaxLength(36))
  .pipe(
    Schema.decodeTo(
      Schema.String.check(Schema.isUUID(), Schema.isLowercased()),
      SchemaTransformation.toLowerCase()
    )
  )

/**
 * Text that a database can store exactly: well-formed Unicode (no lone
 * surrogates, which UTF-8 cannot encode) and no NUL character (which
 * Postgres `text` rejects). Accepting either would lose or corrupt data.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Entity } from "@org/core"
 * const Name = Entity.Text.check(Schema.isMinLength(1), Schema.isMaxLength(200))
 * ```
 *
 * @since 0.1.0
 * @category building blocks
 */
export const Text = Schema.String.check(
  Schema.makeFilter((s: string) => s.isWellFormed() && !s.includes("\u0000"), {
    expected: "text without NUL characters or unpaired surrogates"
  })
)

/**
 * Fields of an entity with an identity: `{ id }`.
 *
 * @since 0.1.0
 * @category building blocks
 */
export const Identifiable = <IdSchema extends IdField>(id: IdSchema): { readonly id: IdSchema } => ({ id })

/**
 * A moment in UTC: an ISO-8601 string on the wire (at most 64 characters,
 * documented as `date-time`), a `DateTime.Utc` in code, `timestamptz` in
 * Postgres.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Entity } from "@org/core"
 * const PublishedAt = Schema.NullOr(Entity.Timestamp)
 * ```
 *
 * @since 0.3.0
 * @category building blocks
 */
export const Timestamp = Schema.String.annotate({ format: "date-time" })
  .check(Schema.isMaxLength(64))
  .pipe(Schema.decodeTo(Schema.DateTimeUtcFromString))

/**
 * Fields of an entity that records when it was created and last changed
 * (ISO-8601 strings on the wire, `DateTime.Utc` in code).
 *
 * @since 0.1.0
 * @category building blocks
 */
export const Timestamped = {
  createdAt: Timestamp,
  updatedAt: Timestamp
} as const

/**
 * Fields of an entity that is deleted by marking it, not by removing it.
 * Repositories keep `deletedAt` to themselves: a deleted entity is never read.
 *
 * @since 0.1.0
 * @category building blocks
 */
export const SoftDeletable = {
  deletedAt: Schema.NullOr(Timestamp)
} as const

/**
 * A version number, 1 on creation and incremented by every update
 * (the basis of optimistic concurrency and of ETags).
 *
 * @since 0.1.0
 * @category building blocks
 */
export const Version = Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)).annotate({
  description: "incremented by every update, 1 on creation"
})

/**
 * Fields of an entity that carries a version.
 *
 * @since 0.1.0
 * @category building blocks
 */
export const Versioned = { version: Version } as const

/**
 * The fields an entity declares itself (everything but id, timestamps and version).
 *
 * @since 0.1.0
 * @category models
 */
export type Fields = { readonly [field: string]: Field }

/**
 * One entity field: any schema that needs no services to decode or encode.
 *
 * @since 0.1.0
 * @category models
 */
export type Field = Schema.Top & { readonly DecodingServices: never; readonly EncodingServices: never }

/**
 * The schema of an entity id: decodes from and encodes to a string, no services.
 *
 * @since 0.1.0
 * @category models
 */
export type IdField = Field & { readonly Encoded: string }

/**
 * Any entity definition, for code generic over entities (repositories, the
 * CRUD group factory). Every `Definition` is an `Any`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Any {
  readonly name: string
  readonly table: string
  readonly idSchema: IdField
  readonly fields: Fields
  readonly schema: Schema.Codec<AnyRecord, { readonly [key: string]: unknown }, never, never>
  readonly create: Schema.Codec<{ readonly [key: string]: unknown }, unknown, never, never>
  readonly update: Schema.Codec<{ readonly [key: string]: unknown }, unknown, never, never>
  readonly columns: { readonly [field: string]: string }
  readonly sortable: ReadonlyArray<string>
  readonly filterable: ReadonlyArray<string>
  readonly unique: ReadonlyArray<string>
}

/**
 * The stored shape every entity shares, seen generically.
 *
 * @since 0.1.0
 * @category models
 */
export interface AnyRecord {
  readonly [key: string]: unknown
  readonly id: string
  readonly createdAt: DateTime.Utc
  readonly updatedAt: DateTime.Utc
  readonly version: number
}

type IsNullable<S> = S extends Schema.Top ? (null extends S["Type"] ? true : false) : false

/**
 * Create-input fields: nullable fields may be left out and default to `null`.
 *
 * @since 0.1.0
 * @category models
 */
export type CreateFields<F extends Fields> = {
  readonly [K in keyof F]: IsNullable<F[K]> extends true ? Schema.withDecodingDefaultKey<F[K]> : F[K]
}

/**
 * Update-patch fields: every field optional; a nullable field set to `null` is cleared.
 *
 * @since 0.1.0
 * @category models
 */
export type UpdateFields<F extends Fields> = { readonly [K in keyof F]: Schema.optionalKey<F[K]> }

/**
 * The fields of a stored entity: id, own fields, timestamps and version.
 *
 * @since 0.1.0
 * @category models
 */
export type RecordFields<IdSchema extends Schema.Top, F extends Fields> = { readonly id: IdSchema } & F &
  typeof Timestamped &
  typeof Versioned

/**
 * Everything known about one kind of entity.
 *
 * @since 0.1.0
 * @category models
 */
export interface Definition<
  Name extends string = string,
  IdSchema extends IdField = IdField,
  F extends Fields = Fields
> {
  /** Name used in errors and spans, e.g. `"Item"`. */
  readonly name: Name
  /** SQL table name. */
  readonly table: string
  readonly idSchema: IdSchema
  /** The entity's own fields, as declared. */
  readonly fields: F
  /** The stored entity: id, own fields, `createdAt`, `updatedAt`, `version`. */
  readonly schema: Schema.Struct<RecordFields<IdSchema, F>>
  /** Input of `Repository.create`: the own fields, nullable ones optional. */
  readonly create: Schema.Struct<CreateFields<F>>
  /** Input of `Repository.update`: any subset of the own fields. */
  readonly update: Schema.Struct<UpdateFields<F>>
  /** Allow-list of entity field name -> SQL column name. Nothing else ever reaches SQL. */
  readonly columns: { readonly [K in keyof RecordFields<IdSchema, F> & string]: string }
  /** Fields that may be sorted on (ties are always broken by `id`). */
  readonly sortable: ReadonlyArray<keyof RecordFields<IdSchema, F> & string>
  /** Fields that API clients may filter on (a Specification may use any column). */
  readonly filterable: ReadonlyArray<keyof RecordFields<IdSchema, F> & string>
  /** Own fields whose values are unique among live (not deleted) entities. */
  readonly unique: ReadonlyArray<keyof F & string>
}

/**
 * The stored entity type of a definition.
 *
 * @since 0.1.0
 * @category models
 */
export type Type<D extends Any> = D["schema"]["Type"]

/**
 * The id type of a definition.
 *
 * @since 0.1.0
 * @category models
 */
export type IdOf<D extends Any> = D["idSchema"]["Type"]

/**
 * The create-input type of a definition: every field, except that nullable
 * fields may be left out (a repository stores `null` for them), as the
 * create payload's decoding allows.
 *
 * @since 0.1.0
 * @category models
 */
export type CreateOf<D extends Any> = NullableOptional<D["create"]["Type"]>

type NullableOptional<T> = {
  readonly [K in keyof T as null extends T[K] ? never : K]: T[K]
} & {
  readonly [K in keyof T as null extends T[K] ? K : never]?: T[K]
} extends infer O
  ? { readonly [K in keyof O]: O[K] }
  : never

/**
 * The update-patch type of a definition.
 *
 * @since 0.1.0
 * @category models
 */
export type PatchOf<D extends Any> = D["update"]["Type"]

/**
 * A sortable field name of a definition.
 *
 * @since 0.1.0
 * @category models
 */
export type SortableOf<D extends Any> = D["sortable"][number]

const snakeCase = (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)

const isNullableAst = (ast: SchemaAST.AST): boolean =>
  SchemaAST.isNull(ast) || (SchemaAST.isUnion(ast) && ast.types.some(isNullableAst))

/**
 * Whether a field's schema admits `null` (such a field may be left out on
 * create and defaults to `null`).
 *
 * @example
 * ```ts
 * import { Entity } from "@org/core"
 * import { Schema } from "effect"
 *
 * Entity.isNullable(Schema.NullOr(Schema.String)) // true
 * ```
 *
 * @since 0.2.0
 * @category guards
 */
export const isNullable = (schema: Schema.Top): boolean => isNullableAst(schema.ast)

const nullDefault = Effect.succeed(null)

// An array (or tuple) among the decoded side's members, `NullOr` looked through.
const isArrayAst = (ast: SchemaAST.AST): boolean =>
  SchemaAST.isArrays(ast) || (SchemaAST.isUnion(ast) && ast.types.some(isArrayAst))

/**
 * Defines an entity from its own fields. Columns default to the snake_case of
 * each field name; `sortable` defaults to `id`, `createdAt`, `updatedAt`;
 * `filterable` (what API clients may filter on) defaults to nothing. Throws
 * an `Error` naming the entity and the field for a reserved field name, or
 * an array field listed in `sortable`, `filterable` or `unique`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Entity } from "@org/core"
 *
 * export const ItemId = Entity.Uuid.pipe(Schema.brand("ItemId"))
 * export const Item = Entity.make("Item", {
 *   table: "items",
 *   id: ItemId,
 *   fields: {
 *     name: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(200)),
 *     description: Schema.NullOr(Schema.String)
 *   },
 *   sortable: ["name", "createdAt"]
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <
  const Name extends string,
  IdSchema extends IdField,
  const F extends Fields,
  const Sortable extends keyof RecordFields<IdSchema, F> & string = never
>(
  name: Name,
  options: {
    readonly table: string
    readonly id: IdSchema
    readonly fields: F
    readonly columns?: { readonly [K in keyof RecordFields<IdSchema, F> & string]?: string }
    readonly sortable?: ReadonlyArray<Sortable>
    readonly filterable?: ReadonlyArray<keyof RecordFields<IdSchema, F> & string>
    readonly unique?: ReadonlyArray<keyof F & string>
  }
): Definition<Name, IdSchema, F> => {
  const recordFields = { id: options.id, ...options.fields, ...Timestamped, ...Versioned }
  for (const key of Object.keys(options.fields)) {
    if (key in Timestamped || key in Versioned || key === "id" || key === "deletedAt") {
      throw new Error(`Entity ${name}: the field name "${key}" is reserved`)
    }
  }
  // Array fields are stored, never sorted, filtered or unique: memory and
  // Postgres order and compare arrays differently, no index holds them, and
  // a Specification compares scalars.
  const roles = [
    ["sortable", options.sortable ?? []],
    ["filterable", options.filterable ?? []],
    ["unique", options.unique ?? []]
  ] as const
  for (const [role, keys] of roles) {
    for (const key of keys) {
      const schema: Schema.Top | undefined = options.fields[key]
      if (schema !== undefined && isArrayAst(SchemaAST.toType(schema.ast))) {
        throw new Error(
          `Entity ${name}: the array field "${key}" cannot be ${role} (arrays are stored, never sorted, filtered or unique)`
        )
      }
    }
  }
  const create: Record<string, Schema.Constraint> = {}
  const update: Record<string, Schema.Constraint> = {}
  for (const [key, schema] of Object.entries(options.fields)) {
    create[key] = isNullableAst(schema.ast) ? Schema.withDecodingDefaultKey(nullDefault)(schema) : schema
    update[key] = Schema.optionalKey(schema)
  }
  const columns: Record<string, string> = {}
  for (const key of Object.keys(recordFields)) {
    columns[key] = options.columns?.[key as keyof typeof options.columns] ?? snakeCase(key)
  }
  const sortable: ReadonlyArray<string> = options.sortable ?? ["id", "createdAt", "updatedAt"]
  return {
    name,
    table: options.table,
    idSchema: options.id,
    fields: options.fields,
    // The records above are built key by key from `options.fields`, so they
    // have exactly the mapped types declared on `Definition`.
    schema: Schema.Struct(recordFields) as never,
    create: Schema.Struct(create) as never,
    update: Schema.Struct(update) as never,
    columns: columns as never,
    sortable: sortable as never,
    filterable: options.filterable ?? [],
    unique: options.unique ?? []
  }
}
