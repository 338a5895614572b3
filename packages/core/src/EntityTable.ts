/**
 * An entity's table, derived from its definition: the `CREATE TABLE` of the
 * `RepositorySql` table contract (docs/adr/0002) and the partial indexes its
 * lists need, as SQL text and as a migration. One definition, many
 * derivations (STYLE.md 14): the table can no longer drift from the schema
 * a team copied it from.
 *
 * Each field's column type comes from its schema, and must hold every value
 * the schema accepts exactly as the repository writes and reads it:
 *
 * | field schema                                   | column                                      |
 * | ---------------------------------------------- | ------------------------------------------- |
 * | `Entity.Uuid` (a lowercase UUID)               | `uuid`                                      |
 * | any other text, a template literal             | `text COLLATE "C"` (code points, ADR 0004)  |
 * | `Decimal.make({ precision, scale })`           | `numeric(precision, scale)`                 |
 * | `Schema.Int` within Postgres `integer`         | `integer`                                   |
 * | `Schema.Int` beyond it (or unbounded)          | `bigint`                                    |
 * | `Schema.Finite`                                | `double precision`                          |
 * | `Schema.Boolean`                               | `boolean`                                   |
 * | `Schema.DateTimeUtcFromString`                 | `timestamptz`                               |
 * | `Schema.Literals([...])`, `Schema.Enum`        | the literals' type, `CHECK (col IN (...))`  |
 * | `Schema.Array(s)`, `s` a string schema         | `text[] COLLATE "C"`, never indexed (below) |
 * | `Schema.NullOr(x)`                             | `x`, nullable (everything else `NOT NULL`)  |
 *
 * Checks the kit knows become `CHECK` constraints: numeric bounds
 * (`isGreaterThan`, `isBetween`, ...; a bound an `integer` column already
 * enforces is left out), text lengths (`char_length` counts code points,
 * `isMaxLength` counts UTF-16 code units: a string of `n` units has at most
 * `n` and at least `ceil(n / 2)` code points, so those are the bounds; the
 * `isMinCodePoints` family is exact). A constraint never refuses a value
 * the schema accepts; other checks (patterns, custom filters) stay in the
 * schema only. An array column refuses a NULL element
 * (`array_position(col, NULL) IS NULL`) and takes the array's own length
 * checks as `cardinality(col)` bounds; its elements' checks (lengths
 * included) stay in the schema, since a `CHECK` cannot visit each element
 * without a subquery, which Postgres does not allow there. A schema with no
 * exact column (`Schema.Number`, which admits `NaN`; a `bigint`; a union of
 * unlike types; an array of anything but strings, or a tuple; an encoded
 * side that is not the JSON the repository binds and reads back, such as
 * `DateTimeUtcFromMillis`) throws an `Error` naming the entity and the
 * field: never a silent `text`.
 *
 * Indexes, all partial on `deleted_at IS NULL`: a unique index per unique
 * field; `(column, id)` per sortable field (ties are broken by `id`, so a
 * sorted page is an index scan that stops at `LIMIT`; it also serves
 * equality and range filters on that column); `(created_at, id)`; and
 * `(column)` per filterable field no other index leads with. Text that may
 * be longer than a B-tree entry holds (`maxIndexedTextBytes`) gets no index,
 * since the index would refuse valid values; a unique field must be short
 * enough for one (else it throws). An array column is never indexed, and
 * never sortable, filterable or unique (`Entity.make` refuses that: Postgres
 * and memory would order and compare arrays differently). Composite indexes
 * for a particular filter-and-sort pair are a decision per query: write them
 * yourself. Names are `<table>_live_<column>` and `<table>_unique_<column>`,
 * shortened with a hash to Postgres' 63-byte limit. Identifiers are quoted
 * exactly as the Postgres client quotes `sql(name)`, so they name what
 * `RepositorySql` queries; literals are SQL string constants.
 *
 * A module of its own rather than part of `RepositorySql`: migrations, a
 * code generator and reviews need the table without the repository, and the
 * schema-to-type rules are a subject of their own. It lives in `@org/core`
 * beside `RepositorySql` by ADR 0003 (SQL on `effect/sql` only).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Decimal, Entity, EntityTable } from "@org/core"
 *
 * const Item = Entity.make("Item", {
 *   table: "items",
 *   id: Entity.Uuid.pipe(Schema.brand("ItemId")),
 *   fields: {
 *     name: Entity.Text.check(Schema.isMinLength(1), Schema.isMaxLength(200)),
 *     price: Decimal.make({ precision: 12, scale: 2 }).check(Schema.isGreaterThanOrEqualTo(0)),
 *     note: Schema.NullOr(Entity.Text)
 *   },
 *   sortable: ["name", "price", "createdAt"]
 * })
 *
 * // CREATE TABLE "items" ("id" uuid PRIMARY KEY, "name" text COLLATE "C" NOT NULL
 * //   CHECK (char_length("name") BETWEEN 1 AND 200), "price" numeric(12, 2) NOT NULL
 * //   CHECK ("price" >= 0), "note" text COLLATE "C", "created_at" timestamptz NOT NULL, ...)
 * // CREATE INDEX "items_live_name" ON "items" ("name", "id") WHERE "deleted_at" IS NULL ...
 * const ddl: ReadonlyArray<string> = EntityTable.statements(Item)
 *
 * // In the application's migrations (`Migrations.layer` of @org/sql):
 * export const migrations = { "1_create_items": EntityTable.migration(Item) }
 * ```
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import type * as Schema from "effect/Schema"
import * as SchemaAST from "effect/SchemaAST"
import * as SqlClient from "effect/sql/SqlClient"
import type * as SqlError from "effect/sql/SqlError"
import * as Statement from "effect/sql/Statement"
import * as Decimal from "./Decimal.ts"
import type * as Entity from "./Entity.ts"

/**
 * One column of an entity's table. `checks` are SQL boolean expressions
 * (identifiers already quoted), one `CHECK` each.
 *
 * @since 0.2.0
 * @category models
 */
export interface Column {
  /** The entity field, or `deletedAt` for the soft-delete column. */
  readonly field: string
  /** The column name, unquoted. */
  readonly name: string
  /** The SQL type, e.g. `numeric(12, 2)`. */
  readonly type: string
  /** `"C"` for text: code point order, as `Ordering` compares in memory. */
  readonly collation: "C" | undefined
  readonly nullable: boolean
  readonly primaryKey: boolean
  readonly checks: ReadonlyArray<string>
  /**
   * Every value fits a B-tree index entry. False for text that may be longer
   * than {@link maxIndexedTextBytes}: an index on it would refuse valid
   * values; and for arrays, which are never sorted, filtered or unique.
   */
  readonly indexable: boolean
}

/**
 * One index of an entity's table; every one is partial on `deleted_at IS NULL`.
 *
 * @since 0.2.0
 * @category models
 */
export interface Index {
  /** The index name, unquoted, at most 63 bytes. */
  readonly name: string
  /** Column names, unquoted, in index order. */
  readonly columns: ReadonlyArray<string>
  readonly unique: boolean
}

/**
 * The column of the soft-delete mark (`RepositorySql` reads and writes it by
 * this name; it is not an entity field).
 *
 * @since 0.2.0
 * @category constants
 */
export const deletedAtColumn = "deleted_at"

/**
 * Postgres' identifier limit in bytes (NAMEDATALEN - 1): longer names are
 * silently truncated, so two long names could become one.
 *
 * @since 0.2.0
 * @category constants
 */
export const maxIdentifierBytes = 63

/**
 * The most UTF-8 bytes a text column may hold and still be indexed. A B-tree
 * entry holds at most about 2,700 bytes (a third of a page); a value longer
 * than that fails its insert. Text is indexed only when its length checks
 * bound it below this (`isMaxLength(800)`: UTF-8 needs at most 3 bytes per
 * UTF-16 code unit, 4 per code point).
 *
 * @since 0.2.0
 * @category constants
 */
export const maxIndexedTextBytes = 2400

// The Postgres client's own identifier quoting: `"` doubled, a dot splits
// schema and name. Used for every identifier, so the DDL names exactly what
// `sql(name)` in RepositorySql names.
const quote: (name: string) => string = Statement.defaultEscape('"')

const utf8 = new TextEncoder()
const byteLength = (s: string): number => utf8.encode(s).length

// A string constant. E'' only when needed: with standard_conforming_strings
// off a backslash would escape in '', never in E'' with backslashes doubled.
const literal = (value: string): string =>
  value.includes("\\")
    ? `E'${value.replaceAll("\\", "\\\\").replaceAll("'", "''")}'`
    : `'${value.replaceAll("'", "''")}'`

// Finite by construction (Effect's number checks refuse other payloads).
const numberLiteral = (n: number): string => (Object.is(n, -0) ? "0" : String(n))

const int32 = { min: -2_147_483_648, max: 2_147_483_647 } as const

// -----------------------------------------------------------------------------
// Checks of a schema, read from Effect's representation annotations
// -----------------------------------------------------------------------------

interface Bound {
  readonly value: number
  readonly exclusive: boolean
}

interface Facts {
  readonly ids: Set<string>
  lower?: Bound
  upper?: Bound
  minUnits: number
  maxUnits?: number
  minCodePoints: number
  maxCodePoints?: number
}

const tighterLower = (a: Bound | undefined, b: Bound): Bound =>
  a === undefined || b.value > a.value || (b.value === a.value && b.exclusive) ? b : a

const tighterUpper = (a: Bound | undefined, b: Bound): Bound =>
  a === undefined || b.value < a.value || (b.value === a.value && b.exclusive) ? b : a

const collect = (checks: SchemaAST.Checks | undefined, facts: Facts): Facts => {
  for (const check of checks ?? []) {
    if (check._tag === "FilterGroup") {
      collect(check.checks, facts)
      continue
    }
    const representation = check.annotations?.representation
    if (representation === undefined) continue
    const id = representation.id.replace("effect/schema/", "")
    const payload: Readonly<Record<string, unknown>> =
      typeof representation.payload === "object" && representation.payload !== null
        ? Object.fromEntries(Object.entries(representation.payload))
        : {}
    const entry = (key: string): unknown => payload[key]
    const num = (key: string): number | undefined => {
      const value = entry(key)
      return typeof value === "number" && Number.isFinite(value) ? value : undefined
    }
    facts.ids.add(id)
    const lower = (value: number | undefined, exclusive: boolean) => {
      if (value !== undefined) facts.lower = tighterLower(facts.lower, { value, exclusive })
    }
    const upper = (value: number | undefined, exclusive: boolean) => {
      if (value !== undefined) facts.upper = tighterUpper(facts.upper, { value, exclusive })
    }
    const atLeast = (key: "minUnits" | "minCodePoints", value: number | undefined) => {
      if (value !== undefined) facts[key] = Math.max(facts[key], value)
    }
    const atMost = (key: "maxUnits" | "maxCodePoints", value: number | undefined) => {
      if (value !== undefined) facts[key] = Math.min(facts[key] ?? Infinity, value)
    }
    switch (id) {
      case "isGreaterThan":
        lower(num("exclusiveMinimum"), true)
        break
      case "isGreaterThanOrEqualTo":
        lower(num("minimum"), false)
        break
      case "isLessThan":
        upper(num("exclusiveMaximum"), true)
        break
      case "isLessThanOrEqualTo":
        upper(num("maximum"), false)
        break
      case "isBetween":
        lower(num("minimum"), entry("exclusiveMinimum") === true)
        upper(num("maximum"), entry("exclusiveMaximum") === true)
        break
      case "isMinLength":
        atLeast("minUnits", num("minLength"))
        break
      case "isMaxLength":
        atMost("maxUnits", num("maxLength"))
        break
      case "isBetweenLength":
        atLeast("minUnits", num("minimum"))
        atMost("maxUnits", num("maximum"))
        break
      case "isMinCodePoints":
        atLeast("minCodePoints", num("minCodePoints"))
        break
      case "isMaxCodePoints":
        atMost("maxCodePoints", num("maxCodePoints"))
        break
      case "isBetweenCodePoints":
        atLeast("minCodePoints", num("minimum"))
        atMost("maxCodePoints", num("maximum"))
        break
    }
  }
  return facts
}

const factsOf = (ast: SchemaAST.AST): Facts =>
  collect(ast.checks, { ids: new Set(), minUnits: 0, minCodePoints: 0 })

// -----------------------------------------------------------------------------
// Schema -> column type
// -----------------------------------------------------------------------------

// How the repository writes and reads a value: a JSON string, number,
// boolean, or an array of strings (bound as a Postgres array, read back by
// `jsonb_build_object` as a JSON array).
type Storage = "string" | "number" | "boolean" | "array"

interface Mapped {
  readonly type: string
  readonly storage: Storage
  readonly collation: "C" | undefined
  readonly nullable: boolean
  readonly checks: (column: string) => ReadonlyArray<string>
  /** For text: the most UTF-8 bytes a value may take (Infinity if unbounded). */
  readonly maxBytes?: number
}

// Where a field's schema has no exact column: "EntityTable: Item.price".
type At = string

const unmappable = (at: At, reason: string): Error => new Error(`${at}: ${reason}`)

const members = (ast: SchemaAST.AST): ReadonlyArray<SchemaAST.AST> =>
  SchemaAST.isUnion(ast) ? ast.types.flatMap(members) : [ast]

const storageOf = (ast: SchemaAST.AST): Storage | undefined => {
  switch (ast._tag) {
    case "Arrays":
      return ast.elements.length === 0 && ast.rest.length === 1 && storageOf(ast.rest[0]!) === "string"
        ? "array"
        : undefined
    case "String":
    case "TemplateLiteral":
      return "string"
    case "Number":
      return "number"
    case "Boolean":
      return "boolean"
    case "Literal":
      return typeof ast.literal === "string"
        ? "string"
        : typeof ast.literal === "number"
          ? "number"
          : typeof ast.literal === "boolean"
            ? "boolean"
            : undefined
    case "Enum":
      return ast.enums.every(([, value]) => typeof value === "string")
        ? "string"
        : ast.enums.every(([, value]) => typeof value === "number")
          ? "number"
          : undefined
    default:
      return undefined
  }
}

const bounds = (
  column: string,
  lower: Bound | undefined,
  upper: Bound | undefined
): ReadonlyArray<string> => {
  if (lower === undefined && upper === undefined) return []
  if (lower !== undefined && upper !== undefined && !lower.exclusive && !upper.exclusive) {
    return [`${column} BETWEEN ${numberLiteral(lower.value)} AND ${numberLiteral(upper.value)}`]
  }
  const parts: Array<string> = []
  if (lower !== undefined)
    parts.push(`${column} ${lower.exclusive ? ">" : ">="} ${numberLiteral(lower.value)}`)
  if (upper !== undefined)
    parts.push(`${column} ${upper.exclusive ? "<" : "<="} ${numberLiteral(upper.value)}`)
  return [parts.join(" AND ")]
}

const textColumn = (facts: Facts): Omit<Mapped, "nullable"> => {
  // char_length counts code points; a string of n UTF-16 units has between
  // ceil(n / 2) and n of them.
  const min = Math.max(Math.ceil(facts.minUnits / 2), facts.minCodePoints)
  const maxes = [facts.maxUnits, facts.maxCodePoints].filter((n): n is number => n !== undefined)
  const max = maxes.length === 0 ? undefined : Math.min(...maxes)
  return {
    type: "text",
    storage: "string",
    collation: "C",
    maxBytes: Math.min(3 * (facts.maxUnits ?? Infinity), 4 * (facts.maxCodePoints ?? Infinity)),
    checks: (column) =>
      bounds(
        `char_length(${column})`,
        min > 0 ? { value: min, exclusive: false } : undefined,
        max === undefined ? undefined : { value: max, exclusive: false }
      )
  }
}

// An array of text: `text[]`, collated "C" as every text column is, so a
// comparison written by hand orders elements by code point as `Ordering`
// does. The array's own length checks count elements (`cardinality`);
// element checks stay in the schema (see the module doc). A NULL element is
// no string: `array_position` finds one (and refuses a multidimensional
// array, which no JS array is bound as).
const arrayColumn = (ast: SchemaAST.Arrays, at: At): Omit<Mapped, "nullable"> => {
  const element = ast.elements.length === 0 && ast.rest.length === 1 ? ast.rest[0] : undefined
  if (element === undefined || !SchemaAST.isString(element)) {
    throw unmappable(
      at,
      `no column type is known for ${describe(ast)}: an array column holds text only (Schema.Array(Entity.Text))`
    )
  }
  const facts = factsOf(ast)
  const max = facts.maxUnits
  return {
    type: "text[]",
    storage: "array",
    collation: "C",
    checks: (column) => [
      `array_position(${column}, NULL) IS NULL`,
      ...bounds(
        `cardinality(${column})`,
        facts.minUnits > 0 ? { value: facts.minUnits, exclusive: false } : undefined,
        max === undefined ? undefined : { value: max, exclusive: false }
      )
    ]
  }
}

const numberColumn = (ast: SchemaAST.AST, at: At): Omit<Mapped, "nullable"> => {
  const facts = factsOf(ast)
  const checks = (lower: Bound | undefined, upper: Bound | undefined) => (column: string) =>
    bounds(column, lower, upper)
  const decimal = Decimal.getOptions(ast)
  if (decimal !== undefined) {
    return {
      type: `numeric(${decimal.precision}, ${decimal.scale})`,
      storage: "number",
      collation: undefined,
      checks: checks(facts.lower, facts.upper)
    }
  }
  if (facts.ids.has("isInt")) {
    const lo =
      facts.lower === undefined
        ? -Infinity
        : facts.lower.exclusive
          ? Math.floor(facts.lower.value) + 1
          : Math.ceil(facts.lower.value)
    const hi =
      facts.upper === undefined
        ? Infinity
        : facts.upper.exclusive
          ? Math.ceil(facts.upper.value) - 1
          : Math.floor(facts.upper.value)
    const fits = lo >= int32.min && hi <= int32.max
    // Safe integers always fit bigint; a bound the integer type enforces itself is noise.
    const lower = fits && lo === int32.min ? undefined : facts.lower
    const upper = fits && hi === int32.max ? undefined : facts.upper
    return {
      type: fits ? "integer" : "bigint",
      storage: "number",
      collation: undefined,
      checks: checks(lower, upper)
    }
  }
  if (facts.ids.has("isFinite")) {
    return {
      type: "double precision",
      storage: "number",
      collation: undefined,
      checks: checks(facts.lower, facts.upper)
    }
  }
  throw unmappable(
    at,
    "a number that may be NaN or infinite has no exact column: use Schema.Finite, Schema.Int or Decimal.make"
  )
}

const literalColumn = (
  values: ReadonlyArray<string | number | boolean>,
  at: At
): Omit<Mapped, "nullable"> => {
  const distinct = [...new Set(values)]
  if (distinct.every((v) => typeof v === "string")) {
    for (const v of distinct) {
      if (v.includes("\u0000")) throw unmappable(at, "a text literal with a NUL character cannot be stored")
    }
    return {
      type: "text",
      storage: "string",
      collation: "C",
      maxBytes: Math.max(...distinct.map(byteLength)),
      checks: (column) => [`${column} IN (${distinct.map(literal).join(", ")})`]
    }
  }
  if (distinct.every((v) => typeof v === "number")) {
    const ints = distinct.every(Number.isSafeInteger)
    if (!distinct.every(Number.isFinite)) throw unmappable(at, "a non-finite number literal cannot be stored")
    return {
      type: !ints
        ? "double precision"
        : distinct.every((v) => v >= int32.min && v <= int32.max)
          ? "integer"
          : "bigint",
      storage: "number",
      collation: undefined,
      checks: (column) => [`${column} IN (${distinct.map(numberLiteral).join(", ")})`]
    }
  }
  if (distinct.every((v) => typeof v === "boolean")) {
    return {
      type: "boolean",
      storage: "boolean",
      collation: undefined,
      checks: (column) => (distinct.length === 2 ? [] : [`${column} IN (${distinct.join(", ")})`])
    }
  }
  throw unmappable(at, "literals of different types share no column type")
}

const literalValues = (ast: SchemaAST.AST): ReadonlyArray<string | number | boolean> | undefined => {
  if (SchemaAST.isLiteral(ast)) {
    const value = ast.literal
    return typeof value === "bigint" ? undefined : [value]
  }
  if (SchemaAST.isEnum(ast)) return ast.enums.map(([, value]) => value)
  return undefined
}

const isDateTimeUtc = (ast: SchemaAST.AST): boolean => {
  const representation: unknown = SchemaAST.isDeclaration(ast) ? ast.annotations?.representation : undefined
  return (
    typeof representation === "object" &&
    representation !== null &&
    "id" in representation &&
    representation.id === "effect/schema/DateTimeUtc"
  )
}

const describe = (ast: SchemaAST.AST): string => {
  // Effect prints every array as "<Arrays>": name the element instead.
  const text =
    SchemaAST.isArrays(ast) && ast.elements.length === 0 && ast.rest.length === 1
      ? `ReadonlyArray<${describe(ast.rest[0]!)}>`
      : String(ast)
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}

const mapSchema = (schema: Schema.Top, at: At): Mapped => {
  const typeMembers = members(SchemaAST.toType(schema.ast))
  const nullable = typeMembers.some(SchemaAST.isNull)
  const present = typeMembers.filter((member) => !SchemaAST.isNull(member))
  const undefinedMember = present.find(SchemaAST.isUndefined)
  if (undefinedMember !== undefined) {
    throw unmappable(
      at,
      "undefined is no column value (the JSON the repository reads has no key): use NullOr"
    )
  }
  if (present.length === 0) throw unmappable(at, "a field that is always null needs no column")
  let mapped: Omit<Mapped, "nullable">
  const literals = present.map(literalValues)
  if (literals.every((values) => values !== undefined)) {
    mapped = literalColumn(literals.flat(), at)
  } else if (present.length > 1) {
    throw unmappable(at, `a union of unlike types has no single column type: ${describe(schema.ast)}`)
  } else {
    const ast = present[0]!
    if (SchemaAST.isString(ast)) {
      const facts = factsOf(ast)
      // Postgres prints a uuid in lowercase: only a lowercase UUID survives the round trip.
      mapped =
        facts.ids.has("isUUID") && facts.ids.has("isLowercased")
          ? { type: "uuid", storage: "string", collation: undefined, checks: () => [] }
          : textColumn(facts)
    } else if (SchemaAST.isTemplateLiteral(ast)) {
      mapped = textColumn(factsOf(ast))
    } else if (SchemaAST.isNumber(ast)) {
      mapped = numberColumn(ast, at)
    } else if (SchemaAST.isBoolean(ast)) {
      mapped = { type: "boolean", storage: "boolean", collation: undefined, checks: () => [] }
    } else if (isDateTimeUtc(ast)) {
      mapped = { type: "timestamptz", storage: "string", collation: undefined, checks: () => [] }
    } else if (SchemaAST.isArrays(ast)) {
      mapped = arrayColumn(ast, at)
    } else {
      throw unmappable(at, `no column type is known for ${describe(ast)}`)
    }
  }
  // The repository binds the encoded value and decodes the JSON it reads
  // back: the encoded side must be what the column stores.
  for (const member of members(SchemaAST.toEncoded(schema.ast))) {
    if (SchemaAST.isNull(member)) continue
    const storage = storageOf(member)
    if (storage !== mapped.storage) {
      throw unmappable(
        at,
        `its encoded form (${describe(member)}) is not the ${mapped.storage} a ${mapped.type} column is written and read as`
      )
    }
  }
  return { ...mapped, nullable }
}

// -----------------------------------------------------------------------------
// Names
// -----------------------------------------------------------------------------

const checkIdentifier = (what: string, name: string): string => {
  if (name.length === 0) throw new Error(`${what}: an empty identifier`)
  if (name.includes("\u0000")) throw new Error(`${what}: an identifier with a NUL character`)
  if (byteLength(name) > maxIdentifierBytes) {
    throw new Error(`${what}: ${JSON.stringify(name)} is longer than ${maxIdentifierBytes} bytes`)
  }
  return name
}

// FNV-1a (32 bit) of the UTF-8 bytes: stable across runs and platforms.
const hash = (s: string): string => {
  let h = 0x811c9dc5
  for (const byte of utf8.encode(s)) {
    h ^= byte
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h.toString(16).padStart(8, "0")
}

const truncateBytes = (s: string, max: number): string => {
  let out = ""
  for (const char of s) {
    if (byteLength(out + char) > max) break
    out += char
  }
  return out
}

/**
 * A stable index name within Postgres' 63 bytes: `<table>_<kind>_<column>`
 * as it is when it fits; otherwise the table part is shortened and a hash of
 * the full name keeps it unique, the column staying at the end when it can
 * (`RepositorySql` names the field of a unique violation from it).
 */
const indexName = (relation: string, kind: string, column: string): string => {
  const full = `${relation}_${kind}_${column}`
  if (byteLength(full) <= maxIdentifierBytes) return full
  const tail = `_${hash(full)}_${kind}_${column}`
  const room = maxIdentifierBytes - byteLength(tail)
  if (room >= 1) return truncateBytes(relation, room) + tail
  return `${truncateBytes(full, maxIdentifierBytes - 9)}_${hash(full)}`
}

// -----------------------------------------------------------------------------
// The table
// -----------------------------------------------------------------------------

const timestamp = {
  type: "timestamptz",
  collation: undefined,
  primaryKey: false,
  nullable: false,
  indexable: true
} as const

/**
 * The columns of an entity's table, in order: `id`, the entity's fields as
 * declared, `created_at`, `updated_at`, `version`, `deleted_at` (names from
 * the definition's `columns`). Throws an `Error` naming the entity and the
 * field when a field's schema has no exact column type.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Entity, EntityTable } from "@org/core"
 *
 * const Tag = Entity.make("Tag", {
 *   table: "tags",
 *   id: Entity.Uuid.pipe(Schema.brand("TagId")),
 *   fields: { label: Entity.Text.check(Schema.isMaxLength(30)) }
 * })
 * EntityTable.columns(Tag).map((column) => `${column.name} ${column.type}`)
 * // ["id uuid", "label text", "created_at timestamptz", ..., "deleted_at timestamptz"]
 * ```
 *
 * @since 0.2.0
 * @category derivations
 */
export const columns = (definition: Entity.Any): ReadonlyArray<Column> => {
  const where = (field: string) => `EntityTable: ${definition.name}.${field}`
  const name = (field: string): string => {
    const column = definition.columns[field]
    if (column === undefined) throw new Error(`${where(field)}: no column in the definition's columns`)
    checkIdentifier(where(field), column)
    if (column.includes("."))
      throw new Error(`${where(field)}: a column name with a dot: ${JSON.stringify(column)}`)
    return column
  }
  const mapped = (field: string, schema: Schema.Top): Mapped => mapSchema(schema, where(field))
  const id = mapped("id", definition.idSchema)
  if (id.type !== "uuid" || id.nullable) {
    throw new Error(
      `${where("id")}: the id must be a lowercase UUID (Entity.Uuid): the table keeps it in "id uuid PRIMARY KEY"`
    )
  }
  const out: Array<Column> = [
    {
      field: "id",
      name: name("id"),
      type: "uuid",
      collation: undefined,
      nullable: false,
      primaryKey: true,
      checks: [],
      indexable: true
    }
  ]
  for (const [field, schema] of Object.entries<Schema.Top>(definition.fields)) {
    const m = mapped(field, schema)
    const column = name(field)
    out.push({
      field,
      name: column,
      type: m.type,
      collation: m.collation,
      nullable: m.nullable,
      primaryKey: false,
      checks: m.checks(quote(column)),
      indexable: m.storage !== "array" && (m.maxBytes ?? 0) <= maxIndexedTextBytes
    })
  }
  const version = name("version")
  out.push(
    { field: "createdAt", name: name("createdAt"), ...timestamp, checks: [] },
    { field: "updatedAt", name: name("updatedAt"), ...timestamp, checks: [] },
    {
      field: "version",
      name: version,
      type: "integer",
      collation: undefined,
      nullable: false,
      primaryKey: false,
      checks: [`${quote(version)} >= 1`],
      indexable: true
    },
    { field: "deletedAt", name: deletedAtColumn, ...timestamp, nullable: true, checks: [] }
  )
  const seen = new Map<string, string>()
  for (const column of out) {
    const other = seen.get(column.name)
    if (other !== undefined) {
      throw new Error(
        `EntityTable: ${definition.name}: ${other} and ${column.field} both map to the column ${JSON.stringify(column.name)}`
      )
    }
    seen.set(column.name, column.field)
  }
  return out
}

// Postgres spells every array type with a trailing "[]".
const isArrayType = (type: string): boolean => type.endsWith("[]")

const relationOf = (definition: Entity.Any): string => {
  const parts = definition.table.split(".")
  for (const part of parts) checkIdentifier(`EntityTable: ${definition.name}: table`, part)
  return parts[parts.length - 1]!
}

/**
 * The indexes of an entity's table, all partial on `deleted_at IS NULL`: a
 * unique index per unique field, then `(column, id)` per sortable field (and
 * `(created_at, id)` if `createdAt` is not sortable), then `(column)` per
 * filterable field that no index above leads with (the primary key serves
 * `id`). Text columns that are not `indexable` get none; a unique one throws.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Entity, EntityTable } from "@org/core"
 *
 * const Tag = Entity.make("Tag", {
 *   table: "tags",
 *   id: Entity.Uuid.pipe(Schema.brand("TagId")),
 *   fields: { label: Entity.Text.check(Schema.isMaxLength(30)) },
 *   sortable: ["label"],
 *   unique: ["label"]
 * })
 * EntityTable.indexes(Tag).map((index) => index.name)
 * // ["tags_unique_label", "tags_live_label", "tags_live_created_at"]
 * ```
 *
 * @since 0.2.0
 * @category derivations
 */
export const indexes = (definition: Entity.Any): ReadonlyArray<Index> => {
  const relation = relationOf(definition)
  const byField = new Map(columns(definition).map((column) => [column.field, column]))
  const column = (field: string, role: string): Column => {
    const found = byField.get(field)
    if (found === undefined || field === "deletedAt") {
      throw new Error(`EntityTable: ${definition.name}: ${role} field ${JSON.stringify(field)} has no column`)
    }
    // Entity.make refuses this already; a definition built by hand may not have.
    if (isArrayType(found.type)) {
      throw new Error(
        `EntityTable: ${definition.name}.${field}: an array column cannot be ${role} (it is never indexed)`
      )
    }
    return found
  }
  const id = column("id", "id").name
  const out: Array<Index> = []
  const leading = new Set<string>([id])
  for (const field of definition.unique) {
    const { name, indexable } = column(field, "unique")
    if (!indexable) {
      throw new Error(
        `EntityTable: ${definition.name}.${field}: a unique field needs a unique index, and text longer than ` +
          `${maxIndexedTextBytes} UTF-8 bytes does not fit one: bound its length (isMaxLength(800) or less)`
      )
    }
    out.push({ name: indexName(relation, "unique", name), columns: [name], unique: true })
    leading.add(name)
  }
  // Text that may not fit an index entry gets no index: it would refuse
  // valid values. Sorting on it scans.
  const sorted = [...new Set<string>([...definition.sortable, "createdAt"])]
  for (const field of sorted) {
    const { name, indexable } = column(field, "sortable")
    if (!indexable) continue
    out.push({
      name: indexName(relation, "live", name),
      columns: name === id ? [id] : [name, id],
      unique: false
    })
    leading.add(name)
  }
  for (const field of definition.filterable) {
    const { name, indexable } = column(field, "filterable")
    if (!indexable || leading.has(name)) continue
    out.push({ name: indexName(relation, "live", name), columns: [name], unique: false })
    leading.add(name)
  }
  const names = new Set<string>()
  for (const index of out) {
    if (names.has(index.name)) {
      throw new Error(`EntityTable: ${definition.name}: two indexes are named ${JSON.stringify(index.name)}`)
    }
    names.add(index.name)
  }
  return out
}

const renderColumn = (column: Column): string =>
  [
    quote(column.name),
    column.type,
    ...(column.collation === undefined ? [] : [`COLLATE ${quote(column.collation)}`]),
    ...(column.primaryKey ? ["PRIMARY KEY"] : column.nullable ? [] : ["NOT NULL"]),
    ...column.checks.map((check) => `CHECK (${check})`)
  ].join(" ")

/**
 * The `CREATE TABLE` statement of an entity's table (see {@link columns}).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Entity, EntityTable } from "@org/core"
 *
 * const Tag = Entity.make("Tag", {
 *   table: "tags",
 *   id: Entity.Uuid.pipe(Schema.brand("TagId")),
 *   fields: { label: Entity.Text.check(Schema.isMaxLength(30)) }
 * })
 * const ddl = EntityTable.createTable(Tag)
 * // CREATE TABLE "tags" (
 * //   "id" uuid PRIMARY KEY,
 * //   "label" text COLLATE "C" NOT NULL CHECK (char_length("label") <= 30),
 * //   ...
 * ```
 *
 * @since 0.2.0
 * @category derivations
 */
export const createTable = (definition: Entity.Any): string => {
  relationOf(definition)
  const lines = columns(definition).map((column) => `  ${renderColumn(column)}`)
  return `CREATE TABLE ${quote(definition.table)} (\n${lines.join(",\n")}\n)`
}

/**
 * The `CREATE INDEX` statements of an entity's table (see {@link indexes}).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Entity, EntityTable } from "@org/core"
 *
 * const Tag = Entity.make("Tag", {
 *   table: "tags",
 *   id: Entity.Uuid.pipe(Schema.brand("TagId")),
 *   fields: { label: Entity.Text },
 *   unique: ["label"]
 * })
 * EntityTable.createIndexes(Tag)[0]
 * // CREATE UNIQUE INDEX "tags_unique_label" ON "tags" ("label") WHERE "deleted_at" IS NULL
 * ```
 *
 * @since 0.2.0
 * @category derivations
 */
export const createIndexes = (definition: Entity.Any): ReadonlyArray<string> =>
  indexes(definition).map(
    (index) =>
      `CREATE ${index.unique ? "UNIQUE " : ""}INDEX ${quote(index.name)} ON ${quote(definition.table)} ` +
      `(${index.columns.map(quote).join(", ")}) WHERE ${quote(deletedAtColumn)} IS NULL`
  )

/**
 * Every statement that creates an entity's table, in order: the table,
 * then its indexes. One statement each, since drivers run them one at a time.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { SqlClient } from "effect/sql"
 * import { Entity, EntityTable } from "@org/core"
 *
 * const Tag = Entity.make("Tag", {
 *   table: "tags",
 *   id: Entity.Uuid.pipe(Schema.brand("TagId")),
 *   fields: { label: Entity.Text }
 * })
 * const create = Effect.gen(function* () {
 *   const sql = yield* SqlClient.SqlClient
 *   for (const statement of EntityTable.statements(Tag)) yield* sql.unsafe(statement)
 * })
 * ```
 *
 * @since 0.2.0
 * @category derivations
 */
export const statements = (definition: Entity.Any): ReadonlyArray<string> => [
  createTable(definition),
  ...createIndexes(definition)
]

/**
 * A migration that creates an entity's table and indexes, for the
 * migrations record of `Migrations.layer`/`Migrations.run` (`@org/sql`). The
 * statements are derived when it is called, so a field with no column type
 * throws at startup, before any SQL runs. It is plain `CREATE`: a table that
 * already exists fails the migration rather than being taken for this one.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Entity, EntityTable } from "@org/core"
 * import { Migrations } from "@org/sql"
 *
 * const Tag = Entity.make("Tag", {
 *   table: "tags",
 *   id: Entity.Uuid.pipe(Schema.brand("TagId")),
 *   fields: { label: Entity.Text }
 * })
 * const Database = Migrations.layer({ "1_create_tags": EntityTable.migration(Tag) })
 * ```
 *
 * @since 0.2.0
 * @category migrations
 */
export const migration = (
  definition: Entity.Any
): Effect.Effect<void, SqlError.SqlError, SqlClient.SqlClient> => {
  const ddl = statements(definition)
  return Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    for (const statement of ddl) yield* sql.unsafe(statement)
  })
}
