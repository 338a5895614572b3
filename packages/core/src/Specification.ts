/**
 * Specifications: filters over entities as data. A `Spec` is a small AST
 * (`True`, `False`, `And`, `Or`, `Not`, `Compare`, `In`, `Like`, `IsNull`,
 * `Between`) whose values are JSON scalars in each field's encoded form, so a
 * spec travels as JSON (queries, caches, logs) unchanged. Build one fluently
 * (`field("price").gte(10)`) or typed from an entity definition
 * (`of(Item).field("price").gte(10)`), and interpret it twice: as an in-memory
 * predicate (`isSatisfiedBy`) and as an `effect/sql` WHERE fragment (`toSql`).
 *
 * Both interpreters validate the same way (fields from the definition's
 * column allow-list, values decoded with the field's schema) and mean the
 * same thing: two-valued logic (a predicate on a NULL field is false, never
 * unknown), values in the one order of `Ordering`, LIKE with Postgres' rules.
 * A property test checks the two against Postgres (see docs/specification.md).
 *
 * @since 0.1.0
 */
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaAST from "effect/SchemaAST"
import * as SchemaTransformation from "effect/SchemaTransformation"
import * as SqlClient from "effect/sql/SqlClient"
import type * as Statement from "effect/sql/Statement"
import * as Entity from "./Entity.ts"
import * as LikePattern from "./internal/specificationLike.ts"
import * as Ordering from "./Ordering.ts"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * The schema of {@link Value}: a string, a finite number or a boolean.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Value = Schema.Union([Schema.String, Schema.Finite, Schema.Boolean])

/**
 * A value in a specification: a JSON scalar, in the field's encoded form
 * (a date-time is an ISO-8601 string, a price a number).
 *
 * @since 0.1.0
 * @category models
 */
export type Value = typeof Value.Type

/**
 * The schema of {@link Operator}.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Operator = Schema.Literals(["eq", "ne", "lt", "lte", "gt", "gte"])

/**
 * The comparison operators of `Compare`.
 *
 * @since 0.1.0
 * @category models
 */
export type Operator = typeof Operator.Type

// The one definition of the AST: every node's fields, as Schema. The node
// types, `Encoded`, the `Spec` codec and `make` derive from it; a child is a
// `Spec` again, so decoding yields nodes all the way down.
const Child = Schema.suspend((): Schema.Codec<Spec, Encoded> => Spec)
const Nodes = Schema.Union([
  Schema.TaggedStruct("True", {}),
  Schema.TaggedStruct("False", {}),
  Schema.TaggedStruct("And", { specs: Schema.Array(Child) }),
  Schema.TaggedStruct("Or", { specs: Schema.Array(Child) }),
  Schema.TaggedStruct("Not", { spec: Child }),
  Schema.TaggedStruct("Compare", { field: Schema.String, op: Operator, value: Value }),
  Schema.TaggedStruct("In", { field: Schema.String, values: Schema.Array(Value) }),
  Schema.TaggedStruct("Like", {
    field: Schema.String,
    pattern: Schema.String,
    caseInsensitive: Schema.Boolean
  }),
  Schema.TaggedStruct("IsNull", { field: Schema.String }),
  Schema.TaggedStruct("Between", { field: Schema.String, low: Value, high: Value })
]).annotate({ identifier: "Specification" })

type Data = typeof Nodes.Type
type Tag = Data["_tag"]
type Node<T extends Tag> = Extract<Data, { readonly _tag: T }> & Combinators
type EncodedNode<T extends Tag> = Extract<typeof Nodes.Encoded, { readonly _tag: T }>

/**
 * The fluent combinators every specification node carries.
 *
 * @since 0.1.0
 * @category models
 */
export interface Combinators {
  /** Both this and `that`: `And([this, that])`. */
  readonly and: (that: Spec) => And
  /** This or `that`: `Or([this, that])`. */
  readonly or: (that: Spec) => Or
  /** Not this: `Not(this)`. */
  readonly not: () => Not
}

/**
 * Satisfied by every entity.
 *
 * @since 0.1.0
 * @category models
 */
export interface True extends Node<"True"> {}

/**
 * Satisfied by no entity.
 *
 * @since 0.1.0
 * @category models
 */
export interface False extends Node<"False"> {}

/**
 * Satisfied when every spec (`specs`) is (`True` when empty).
 *
 * @since 0.1.0
 * @category models
 */
export interface And extends Node<"And"> {}

/**
 * Satisfied when some spec (`specs`) is (`False` when empty).
 *
 * @since 0.1.0
 * @category models
 */
export interface Or extends Node<"Or"> {}

/**
 * Satisfied when `spec` is not.
 *
 * @since 0.1.0
 * @category models
 */
export interface Not extends Node<"Not"> {}

/**
 * `field op value`; false when the field is null.
 *
 * @since 0.1.0
 * @category models
 */
export interface Compare extends Node<"Compare"> {}

/**
 * The field equals one of `values`; false when empty or when the field is null.
 *
 * @since 0.1.0
 * @category models
 */
export interface In extends Node<"In"> {}

/**
 * The text field matches a LIKE `pattern` (`%` any run, `_` one character,
 * `\` escapes); `caseInsensitive` folds ASCII letters (ILIKE).
 *
 * @since 0.1.0
 * @category models
 */
export interface Like extends Node<"Like"> {}

/**
 * The field is null.
 *
 * @since 0.1.0
 * @category models
 */
export interface IsNull extends Node<"IsNull"> {}

/**
 * `low <= field <= high` (both ends inclusive); false when the field is null.
 *
 * @since 0.1.0
 * @category models
 */
export interface Between extends Node<"Between"> {}

/**
 * A specification: one node of the AST.
 *
 * @since 0.1.0
 * @category models
 */
export type Spec = True | False | And | Or | Not | Compare | In | Like | IsNull | Between

/**
 * A specification as plain data: the JSON form of {@link Spec}, and what
 * {@link make} accepts. Every `Spec` is also an `Encoded`.
 *
 * @since 0.1.0
 * @category models
 */
export type Encoded =
  | EncodedTrue
  | EncodedFalse
  | EncodedAnd
  | EncodedOr
  | EncodedNot
  | EncodedCompare
  | EncodedIn
  | EncodedLike
  | EncodedIsNull
  | EncodedBetween

// `Spec` and `Encoded` are unions of interfaces, not `typeof Nodes.Type` and
// `typeof Nodes.Encoded`: TypeScript resolves an interface lazily, which lets
// the types recurse through `Child`.
interface EncodedTrue extends EncodedNode<"True"> {}
interface EncodedFalse extends EncodedNode<"False"> {}
interface EncodedAnd extends EncodedNode<"And"> {}
interface EncodedOr extends EncodedNode<"Or"> {}
interface EncodedNot extends EncodedNode<"Not"> {}
interface EncodedCompare extends EncodedNode<"Compare"> {}
interface EncodedIn extends EncodedNode<"In"> {}
interface EncodedLike extends EncodedNode<"Like"> {}
interface EncodedIsNull extends EncodedNode<"IsNull"> {}
interface EncodedBetween extends EncodedNode<"Between"> {}

// -----------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------

/**
 * The spec names a field that is not in the entity's column allow-list.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnknownField extends Schema.TaggedError<UnknownField>()("UnknownField", {
  entity: Schema.String,
  field: Schema.String
}) {
  override get message(): string {
    return `${this.entity} has no field ${JSON.stringify(this.field)} to filter on`
  }
}

/**
 * A value the field's schema cannot decode, or an operator that makes no
 * sense for the field (e.g. `like` on a number). The message names the field.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidValue extends Schema.TaggedError<InvalidValue>()("InvalidValue", {
  entity: Schema.String,
  field: Schema.String,
  message: Schema.String
}) {}

/**
 * Why a specification cannot be applied to an entity.
 *
 * @since 0.1.0
 * @category errors
 */
export type SpecificationError = UnknownField | InvalidValue

/**
 * The schema of {@link SpecificationError}.
 *
 * @since 0.1.0
 * @category errors
 */
export const SpecificationError = Schema.Union([UnknownField, InvalidValue])

// -----------------------------------------------------------------------------
// constructors
// -----------------------------------------------------------------------------

const TypeId = "~@org/core/Specification"

// The methods live on the prototype, not enumerable: a node's own properties
// are exactly its data, so `JSON.stringify(spec)` is its JSON form.
class SpecificationNode {
  and(this: Spec, that: Spec): And {
    return and([this, that])
  }
  or(this: Spec, that: Spec): Or {
    return or([this, that])
  }
  not(this: Spec): Not {
    return not(this)
  }
}
Object.defineProperty(SpecificationNode.prototype, TypeId, { value: TypeId })

// A node is frozen, arrays included (copied, so a caller's array stays theirs).
const node = <A extends Spec>(data: Omit<A, keyof Combinators>): A => {
  const entries = Object.entries(data).map(([key, value]) => [
    key,
    Array.isArray(value) ? Object.freeze([...value]) : value
  ])
  return Object.freeze(Object.assign(Object.create(SpecificationNode.prototype), Object.fromEntries(entries)))
}

/**
 * Whether a value is a {@link Spec} node (built here or decoded by {@link Spec}).
 *
 * @since 0.1.0
 * @category guards
 */
export const isSpec = (u: unknown): u is Spec => Predicate.hasProperty(u, TypeId)

/**
 * Satisfied by every entity.
 *
 * @example
 * ```ts
 * import { Specification } from "@org/core"
 * const everything = Specification.all
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const all: True = node<True>({ _tag: "True" })

/**
 * Satisfied by no entity.
 *
 * @example
 * ```ts
 * import { Specification } from "@org/core"
 * const nothing = Specification.none
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const none: False = node<False>({ _tag: "False" })

/**
 * Satisfied when every spec is; `and([])` is satisfied by everything.
 *
 * @example
 * ```ts
 * import { Specification } from "@org/core"
 * const cheapTools = Specification.and([
 *   Specification.field("price").lt(10),
 *   Specification.field("category").eq("tools")
 * ])
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const and = (specs: ReadonlyArray<Spec>): And => node<And>({ _tag: "And", specs })

/**
 * Satisfied when some spec is; `or([])` is satisfied by nothing.
 *
 * @example
 * ```ts
 * import { Specification } from "@org/core"
 * const toolsOrGarden = Specification.or([
 *   Specification.field("category").eq("tools"),
 *   Specification.field("category").eq("garden")
 * ])
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const or = (specs: ReadonlyArray<Spec>): Or => node<Or>({ _tag: "Or", specs })

/**
 * Satisfied when `spec` is not. With two-valued logic, `not(eq)` holds on a
 * null field (the comparison is false there).
 *
 * @example
 * ```ts
 * import { Specification } from "@org/core"
 * const notFree = Specification.not(Specification.field("price").eq(0))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const not = (spec: Spec): Not => node<Not>({ _tag: "Not", spec })

/**
 * Builds a specification from its plain-data form (a hand-written AST, or
 * JSON already parsed and trusted): the {@link Spec} schema's decoding
 * without its checks, so a value such as `NaN` is left to the interpreters
 * to report. Untrusted input goes through the {@link Spec} schema instead.
 *
 * @example
 * ```ts
 * import { Specification } from "@org/core"
 * const spec = Specification.make({ _tag: "Compare", field: "price", op: "gte", value: 10 })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (encoded: Encoded): Spec => Schema.decodeSync(Spec)(encoded, { disableChecks: true })

// -----------------------------------------------------------------------------
// builders
// -----------------------------------------------------------------------------

/**
 * Builds the predicates of one field. Values are in the field's encoded form
 * (untyped builder) or its decoded type (typed builder, see {@link of}).
 *
 * @since 0.1.0
 * @category builders
 */
export interface Field<A> {
  readonly name: string
  readonly eq: (value: A) => Compare
  readonly ne: (value: A) => Compare
  readonly lt: (value: A) => Compare
  readonly lte: (value: A) => Compare
  readonly gt: (value: A) => Compare
  readonly gte: (value: A) => Compare
  readonly in: (values: ReadonlyArray<A>) => In
  readonly between: (low: A, high: A) => Between
  readonly like: (pattern: string) => Like
  readonly ilike: (pattern: string) => Like
  readonly isNull: () => IsNull
}

const fieldWith = <A>(name: string, encode: (value: A) => Value): Field<A> => {
  const compare = (op: Operator) => (value: A) =>
    node<Compare>({ _tag: "Compare", field: name, op, value: encode(value) })
  const like = (caseInsensitive: boolean) => (pattern: string) =>
    node<Like>({ _tag: "Like", field: name, pattern, caseInsensitive })
  return {
    name,
    eq: compare("eq"),
    ne: compare("ne"),
    lt: compare("lt"),
    lte: compare("lte"),
    gt: compare("gt"),
    gte: compare("gte"),
    in: (values) => node<In>({ _tag: "In", field: name, values: values.map(encode) }),
    between: (low, high) =>
      node<Between>({ _tag: "Between", field: name, low: encode(low), high: encode(high) }),
    like: like(false),
    ilike: like(true),
    isNull: () => node<IsNull>({ _tag: "IsNull", field: name })
  }
}

/**
 * The untyped fluent builder: predicates on a field by name, with values in
 * the field's encoded (JSON) form. Nothing is checked until a spec is
 * interpreted against an entity definition.
 *
 * @example
 * ```ts
 * import { Specification } from "@org/core"
 * const spec = Specification.field("price").gte(10).and(Specification.field("name").ilike("%saw%"))
 * ```
 *
 * @since 0.1.0
 * @category builders
 */
export const field = (name: string): Field<Value> => fieldWith<Value>(name, (value) => value)

/**
 * The field names of an entity definition that a typed builder accepts.
 *
 * @since 0.1.0
 * @category builders
 */
export type FieldName<D extends Entity.Any> = keyof D["columns"] & keyof Entity.Type<D> & string

/**
 * A typed field builder: values are the field's decoded type (`like` only on
 * text fields, `isNull` only on nullable ones).
 *
 * @since 0.1.0
 * @category builders
 */
export interface TypedField<A> extends Omit<Field<NonNullable<A>>, "like" | "ilike" | "isNull"> {
  readonly like: [NonNullable<A>] extends [string] ? (pattern: string) => Like : never
  readonly ilike: [NonNullable<A>] extends [string] ? (pattern: string) => Like : never
  readonly isNull: null extends A ? () => IsNull : never
}

/**
 * A typed builder for one entity definition (see {@link of}).
 *
 * @since 0.1.0
 * @category builders
 */
export interface Builder<D extends Entity.Any> {
  readonly definition: D
  readonly field: <K extends FieldName<D>>(name: K) => TypedField<Entity.Type<D>[K]>
}

const isValue = (u: unknown): u is Value =>
  typeof u === "string" || typeof u === "boolean" || (typeof u === "number" && Number.isFinite(u))

/**
 * The typed builder of an entity definition: field names are the record's
 * fields and values their decoded types, so `field("nope")` and
 * `field("price").gte("x")` do not compile. Values are encoded with the
 * field's schema into the AST (a `DateTime` becomes an ISO-8601 string).
 *
 * @example
 * ```ts
 * import { DateTime, Schema } from "effect"
 * import { Entity, Specification } from "@org/core"
 *
 * const Item = Entity.make("Item", {
 *   table: "items",
 *   id: Entity.Uuid.pipe(Schema.brand("ItemId")),
 *   fields: { name: Entity.Text, price: Schema.Finite }
 * })
 * const S = Specification.of(Item)
 * const spec = S.field("price").gte(10).and(S.field("createdAt").lt(DateTime.makeUnsafe(0)))
 * ```
 *
 * @since 0.1.0
 * @category builders
 */
export const of = <D extends Entity.Any>(definition: D): Builder<D> => ({
  definition,
  field: <K extends FieldName<D>>(name: K): TypedField<Entity.Type<D>[K]> => {
    const schema = fieldSchema(definition, name)
    const encode = (value: unknown): Value => {
      if (schema !== undefined) {
        const encoded = Schema.encodeUnknownResult(schema)(value)
        if (Result.isSuccess(encoded) && isValue(encoded.success)) return encoded.success
      }
      // A value the schema refuses (e.g. below a minimum) stays as it is: the
      // interpreters report it as an InvalidValue, as for any JSON input.
      if (isValue(value)) return value
      throw new Error(`Specification.of(${definition.name}): a value of ${name} cannot be encoded as JSON`)
    }
    // The one cast kept: the runtime builder has every method, and the typed
    // view hides those that make no sense for the field's type. That view is a
    // conditional type on a generic field type, which no value satisfies until
    // TypeScript knows the field, so it is asserted here.
    return fieldWith(name, encode) as TypedField<Entity.Type<D>[K]>
  }
})

// -----------------------------------------------------------------------------
// schema
// -----------------------------------------------------------------------------

/**
 * The schema of a specification: decodes the JSON form (see {@link Encoded})
 * into {@link Spec} nodes and encodes them back. Use
 * `Schema.fromJsonString(Specification.Spec)` for a JSON string. Field names
 * and values are checked only against an entity, by the interpreters.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Specification } from "@org/core"
 *
 * const FromJson = Schema.fromJsonString(Specification.Spec)
 * const spec = Schema.decodeUnknownSync(FromJson)('{"_tag":"IsNull","field":"note"}')
 * const json = Schema.encodeSync(FromJson)(spec)
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const Spec: Schema.Codec<Spec, Encoded> = Nodes.pipe(
  Schema.decodeTo(
    Schema.declare(isSpec, { identifier: "Spec" }),
    // A node is its data: encoding reads its own properties, children included.
    SchemaTransformation.transform({
      decode: (data: Data) => node<Spec>(data),
      encode: (spec: Spec): Data => spec
    })
  )
)

// -----------------------------------------------------------------------------
// validation, shared by both interpreters
// -----------------------------------------------------------------------------

interface Column {
  readonly field: string
  readonly column: string
  /** The field's type admits null: SQL predicates get an `IS NOT NULL` guard. */
  readonly nullable: boolean
  /** The field's type is text: LIKE applies. */
  readonly text: boolean
  readonly decode: (input: unknown) => Result.Result<unknown, Schema.SchemaError>
  readonly encode: (input: unknown) => Result.Result<unknown, Schema.SchemaError>
}

/** A value checked against its field: decoded for memory, re-encoded (canonical) for SQL. */
interface Checked {
  readonly decoded: unknown
  readonly encoded: Value
}

type Prepared =
  | { readonly _tag: "Const"; readonly value: boolean }
  | { readonly _tag: "And" | "Or"; readonly items: ReadonlyArray<Prepared> }
  | { readonly _tag: "Not"; readonly item: Prepared }
  | { readonly _tag: "Compare"; readonly column: Column; readonly op: Operator; readonly value: Checked }
  | { readonly _tag: "In"; readonly column: Column; readonly values: ReadonlyArray<Checked> }
  | {
      readonly _tag: "Like"
      readonly column: Column
      readonly pattern: string
      readonly compiled: LikePattern.Pattern
    }
  | { readonly _tag: "IsNull"; readonly column: Column }
  | { readonly _tag: "Between"; readonly column: Column; readonly low: Checked; readonly high: Checked }

const fieldSchema = (definition: Entity.Any, field: string): Entity.Field | undefined => {
  if (field === "id") return definition.idSchema
  if (Object.hasOwn(definition.fields, field)) return definition.fields[field]
  if (field === "createdAt" || field === "updatedAt") return Entity.Timestamped[field]
  if (field === "version") return Entity.Version
  return undefined
}

const isNullableAst = (ast: SchemaAST.AST): boolean =>
  SchemaAST.isNull(ast) || (SchemaAST.isUnion(ast) && ast.types.some(isNullableAst))

const isTextAst = (ast: SchemaAST.AST): boolean => {
  if (SchemaAST.isUnion(ast)) {
    const members = ast.types.filter((member) => !SchemaAST.isNull(member))
    return members.length > 0 && members.every(isTextAst)
  }
  return (
    SchemaAST.isString(ast) ||
    SchemaAST.isTemplateLiteral(ast) ||
    (SchemaAST.isLiteral(ast) && typeof ast.literal === "string")
  )
}

// Text that reaches Postgres exactly: UTF-8 cannot carry a lone surrogate
// (the driver would send U+FFFD) and `text` cannot hold NUL.
const isStorableText = (s: string): boolean => s.isWellFormed() && !s.includes("\u0000")

// timestamptz accepts these years in ISO form; outside them Postgres would fail.
const minInstant = -62_135_596_800_000 // 0001-01-01T00:00:00.000Z
const maxInstant = 253_402_300_799_999 // 9999-12-31T23:59:59.999Z

const prepare = (definition: Entity.Any, spec: Spec): Result.Result<Prepared, SpecificationError> => {
  const entity = definition.name
  const resolved = new Map<string, Column>()

  const resolve = (field: unknown): Result.Result<Column, SpecificationError> => {
    const name = String(field)
    const known = resolved.get(name)
    if (known !== undefined) return Result.succeed(known)
    const column =
      typeof field === "string" && Object.hasOwn(definition.columns, field)
        ? definition.columns[field]
        : undefined
    const schema = column === undefined ? undefined : fieldSchema(definition, name)
    if (typeof column !== "string" || schema === undefined) {
      return Result.fail(new UnknownField({ entity, field: name }))
    }
    const info: Column = {
      field: name,
      column,
      nullable: isNullableAst(schema.ast),
      text: isTextAst(schema.ast),
      decode: Schema.decodeUnknownResult(schema),
      encode: Schema.encodeUnknownResult(schema)
    }
    resolved.set(name, info)
    return Result.succeed(info)
  }

  const invalid = (column: Column, reason: string) =>
    Result.fail(new InvalidValue({ entity, field: column.field, message: `${column.field}: ${reason}` }))

  const check = (column: Column, value: unknown): Result.Result<Checked, SpecificationError> => {
    if (!isValue(value)) return invalid(column, "expected a string, a finite number or a boolean")
    if (typeof value === "string" && !isStorableText(value)) {
      return invalid(column, "text must be well-formed Unicode without NUL characters")
    }
    const decoded = column.decode(value)
    if (Result.isFailure(decoded)) return invalid(column, decoded.failure.message)
    const d = decoded.success
    if (DateTime.isDateTime(d)) {
      const millis = DateTime.toEpochMillis(d)
      if (millis < minInstant || millis > maxInstant) {
        return invalid(column, "date-times must lie in the years 0001 to 9999")
      }
    } else if (typeof d !== "string" && typeof d !== "number" && typeof d !== "boolean") {
      return invalid(column, "values of this field cannot be compared")
    }
    const encoded = column.encode(d)
    if (
      Result.isFailure(encoded) ||
      !isValue(encoded.success) ||
      (typeof encoded.success === "string" && !isStorableText(encoded.success))
    ) {
      return invalid(column, "values of this field cannot be compared")
    }
    return Result.succeed({ decoded: d, encoded: encoded.success })
  }

  const junction = (
    specs: ReadonlyArray<Spec>,
    tag: "And" | "Or"
  ): Result.Result<Prepared, SpecificationError> => {
    const items: Array<Prepared> = []
    for (const spec of specs) {
      const item = go(spec)
      if (Result.isFailure(item)) return item
      items.push(item.success)
    }
    return Result.succeed({ _tag: tag, items })
  }

  const go = (spec: Spec): Result.Result<Prepared, SpecificationError> => {
    switch (spec._tag) {
      case "True":
        return Result.succeed({ _tag: "Const", value: true })
      case "False":
        return Result.succeed({ _tag: "Const", value: false })
      case "And":
      case "Or":
        return junction(spec.specs, spec._tag)
      case "Not":
        return Result.map(go(spec.spec), (item): Prepared => ({ _tag: "Not", item }))
      case "IsNull":
        return Result.map(resolve(spec.field), (column): Prepared => ({ _tag: "IsNull", column }))
    }
    const resolvedColumn = resolve(spec.field)
    if (Result.isFailure(resolvedColumn)) return Result.fail(resolvedColumn.failure)
    const column = resolvedColumn.success
    switch (spec._tag) {
      case "Compare": {
        if (!Object.hasOwn(operators, spec.op)) return invalid(column, "unknown comparison operator")
        return Result.map(
          check(column, spec.value),
          (value): Prepared => ({
            _tag: "Compare",
            column,
            op: spec.op,
            value
          })
        )
      }
      case "In": {
        const values: Array<Checked> = []
        for (const value of spec.values) {
          const checked = check(column, value)
          if (Result.isFailure(checked)) return Result.fail(checked.failure)
          values.push(checked.success)
        }
        return Result.succeed({ _tag: "In", column, values })
      }
      case "Between": {
        const low = check(column, spec.low)
        if (Result.isFailure(low)) return Result.fail(low.failure)
        const high = check(column, spec.high)
        if (Result.isFailure(high)) return Result.fail(high.failure)
        return Result.succeed({ _tag: "Between", column, low: low.success, high: high.success })
      }
      case "Like": {
        const operator = spec.caseInsensitive ? "ilike" : "like"
        if (!column.text) return invalid(column, `${operator} applies to text fields only`)
        if (typeof spec.pattern !== "string" || !isStorableText(spec.pattern)) {
          return invalid(column, "a pattern must be well-formed Unicode without NUL characters")
        }
        const compiled = LikePattern.compile(spec.pattern, spec.caseInsensitive)
        if (compiled === undefined) {
          return invalid(column, `the ${operator} pattern ends with a lone escape character \\`)
        }
        return Result.succeed({ _tag: "Like", column, pattern: spec.pattern, compiled })
      }
    }
  }

  return go(spec)
}

const sqlOperators: Readonly<Record<Operator, string>> = {
  eq: "=",
  ne: "<>",
  lt: "<",
  lte: "<=",
  gt: ">",
  gte: ">="
}
const operators: Readonly<Record<Operator, (order: number) => boolean>> = {
  eq: (order) => order === 0,
  ne: (order) => order !== 0,
  lt: (order) => order < 0,
  lte: (order) => order <= 0,
  gt: (order) => order > 0,
  gte: (order) => order >= 0
}

// -----------------------------------------------------------------------------
// in memory
// -----------------------------------------------------------------------------

type Row = { readonly [field: string]: unknown }

const kind = (u: unknown): string => (DateTime.isDateTime(u) ? "DateTime" : typeof u)

// The one order of `Ordering`, for two values of the same kind; a null (or
// missing) field, or a value of another kind, satisfies no comparison.
const orderOf = (value: unknown, against: unknown, againstKind: string): number | undefined =>
  value === null || value === undefined || kind(value) !== againstKind
    ? undefined
    : Ordering.compareValues(value, against)

const predicate = (prepared: Prepared): ((row: Row) => boolean) => {
  switch (prepared._tag) {
    case "Const": {
      const value = prepared.value
      return () => value
    }
    case "And": {
      const items = prepared.items.map(predicate)
      return (row) => items.every((item) => item(row))
    }
    case "Or": {
      const items = prepared.items.map(predicate)
      return (row) => items.some((item) => item(row))
    }
    case "Not": {
      const item = predicate(prepared.item)
      return (row) => !item(row)
    }
    case "IsNull": {
      const field = prepared.column.field
      return (row) => row[field] === null || row[field] === undefined
    }
    case "Compare": {
      const field = prepared.column.field
      const against = prepared.value.decoded
      const againstKind = kind(against)
      const test = operators[prepared.op]
      return (row) => {
        const order = orderOf(row[field], against, againstKind)
        return order !== undefined && test(order)
      }
    }
    case "In": {
      const field = prepared.column.field
      const values = prepared.values.map((value) => [value.decoded, kind(value.decoded)] as const)
      return (row) => values.some(([against, againstKind]) => orderOf(row[field], against, againstKind) === 0)
    }
    case "Between": {
      const field = prepared.column.field
      const low = prepared.low.decoded
      const high = prepared.high.decoded
      const lowKind = kind(low)
      const highKind = kind(high)
      return (row) => {
        const fromLow = orderOf(row[field], low, lowKind)
        const toHigh = orderOf(row[field], high, highKind)
        return fromLow !== undefined && toHigh !== undefined && fromLow >= 0 && toHigh <= 0
      }
    }
    case "Like": {
      const field = prepared.column.field
      const compiled = prepared.compiled
      return (row) => {
        const value = row[field]
        return typeof value === "string" && LikePattern.matches(compiled, value)
      }
    }
  }
}

/**
 * Interprets a specification in memory: validates it against the entity
 * definition and decodes its values once, then returns a fast predicate.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { type Entity, Specification } from "@org/core"
 *
 * declare const Item: Entity.Any // an Entity.make definition
 *
 * const program = Effect.gen(function* () {
 *   const isCheap = yield* Specification.isSatisfiedBy(Item, Specification.field("price").lt(10))
 *   return isCheap
 * })
 * ```
 *
 * @since 0.1.0
 * @category interpreters
 */
export const isSatisfiedBy = <D extends Entity.Any>(
  definition: D,
  spec: Spec
): Effect.Effect<(entity: Entity.Type<D>) => boolean, SpecificationError> =>
  Effect.map(Effect.fromResult(prepare(definition, spec)), predicate)

/**
 * The entities that satisfy a specification, in their original order.
 *
 * @example
 * ```ts
 * import { type Entity, Specification } from "@org/core"
 *
 * declare const Item: Entity.Any // an Entity.make definition
 * declare const items: ReadonlyArray<Entity.Type<typeof Item>>
 *
 * const cheap = Specification.filter(Item, Specification.field("price").lt(10), items)
 * ```
 *
 * @since 0.1.0
 * @category interpreters
 */
export const filter = <D extends Entity.Any>(
  definition: D,
  spec: Spec,
  entities: Iterable<Entity.Type<D>>
): Effect.Effect<Array<Entity.Type<D>>, SpecificationError> =>
  Effect.map(isSatisfiedBy(definition, spec), (test) => Array.from(entities).filter(test))

// -----------------------------------------------------------------------------
// SQL
// -----------------------------------------------------------------------------

// A non-integer number is bound as text, so Postgres reads it as the column's
// own type: a numeric column then compares exactly and can use its index (a
// float8 parameter would cast the column to double instead). Integers bind
// as integers, which every numeric column type compares with directly.
const parameter = (value: Value): Value =>
  typeof value === "number" && !Number.isInteger(value) ? String(value) : value

const compile = (sql: SqlClient.SqlClient, prepared: Prepared): Statement.Fragment => {
  // Every node compiles to TRUE, FALSE or a parenthesised expression, so
  // nodes nest without relying on operator precedence.
  const guarded = (column: Column, expression: Statement.Fragment): Statement.Fragment =>
    column.nullable ? sql`(${sql(column.column)} IS NOT NULL AND ${expression})` : sql`(${expression})`
  // Text orders (and LIKE) are code point orders whatever the column's
  // collation; on a "C" column the cast and COLLATE are no-ops.
  const asText = (column: Column): Statement.Fragment => sql`${sql(column.column)}::text COLLATE "C"`
  switch (prepared._tag) {
    case "Const":
      return sql.literal(prepared.value ? "TRUE" : "FALSE")
    case "And":
      return sql.join(" AND ", true, "TRUE")(prepared.items.map((item) => compile(sql, item)))
    case "Or":
      return sql.join(" OR ", true, "FALSE")(prepared.items.map((item) => compile(sql, item)))
    case "Not":
      return sql`(NOT ${compile(sql, prepared.item)})`
    case "IsNull":
      return sql`(${sql(prepared.column.column)} IS NULL)`
    case "Compare": {
      const { column, op, value } = prepared
      // Strings order by code point, as in memory: orders on them go through
      // the "C" cast. Equality is byte equality under any deterministic
      // collation, so it stays bare and keeps uuid columns on their index.
      const subject =
        typeof value.decoded === "string" && op !== "eq" && op !== "ne"
          ? asText(column)
          : sql`${sql(column.column)}`
      return guarded(column, sql`${subject} ${sql.literal(sqlOperators[op])} ${parameter(value.encoded)}`)
    }
    case "In": {
      const { column, values } = prepared
      if (values.length === 0) return sql.literal("FALSE")
      return guarded(column, sql`${sql(column.column)} IN ${sql.in(values.map((v) => parameter(v.encoded)))}`)
    }
    case "Between": {
      const { column, low, high } = prepared
      const subject = typeof low.decoded === "string" ? asText(column) : sql`${sql(column.column)}`
      return guarded(column, sql`${subject} BETWEEN ${parameter(low.encoded)} AND ${parameter(high.encoded)}`)
    }
    case "Like": {
      const { column, pattern, compiled } = prepared
      const operator = sql.literal(compiled.caseInsensitive ? "ILIKE" : "LIKE")
      // E'\\' is one backslash whatever standard_conforming_strings says.
      return guarded(column, sql`${asText(column)} ${operator} ${pattern} ESCAPE E'\\\\'`)
    }
  }
}

/**
 * Compiles a specification to a WHERE fragment for the `SqlClient` in
 * context. Columns come only from the definition's allow-list (any other
 * field fails with `UnknownField`, it never reaches SQL); values are always
 * bound parameters. Each predicate on a nullable column is guarded with
 * `IS NOT NULL`, so SQL's NULL never leaks into NOT: the fragment means
 * exactly what {@link isSatisfiedBy} means.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SqlClient } from "effect/sql"
 * import { type Entity, Specification } from "@org/core"
 *
 * declare const Item: Entity.Any // an Entity.make definition
 *
 * const cheapItems = Effect.gen(function* () {
 *   const sql = yield* SqlClient.SqlClient
 *   const where = yield* Specification.toSql(Item, Specification.field("price").lt(10))
 *   return yield* sql`SELECT id FROM items WHERE deleted_at IS NULL AND ${where}`
 * })
 * ```
 *
 * @since 0.1.0
 * @category interpreters
 */
export const toSql = Effect.fnUntraced(function* (
  definition: Entity.Any,
  spec: Spec
): Effect.fn.Return<Statement.Fragment, SpecificationError, SqlClient.SqlClient> {
  const prepared = yield* Effect.fromResult(prepare(definition, spec))
  const sql = yield* SqlClient.SqlClient
  return compile(sql, prepared)
})
