/**
 * List filters in the query string, parsed into a `Specification`:
 * `field[op]=value` with `op` one of `eq ne lt lte gt gte in between like
 * ilike null`,
 * and a bare `field=value` meaning `eq`. Filters are ANDed (a repeated
 * parameter too). Only the entity's `filterable` fields are accepted; each
 * value is decoded with the field's schema (`price[gte]=10` is the number
 * 10, `createdAt[lt]=2026-01-01T00:00:00Z` a date-time); `in` takes a comma
 * list; `between` takes `low,high` (both included, as SQL's `BETWEEN`);
 * `null` takes `true` or `false`; `like`/`ilike` take a pattern (`%`,
 * `_`, `\` escapes; see docs/specification.md).
 *
 * Every bad parameter is reported, each naming the parameter, never echoing
 * its value or anything of the database.
 *
 * @since 0.1.0
 */
import * as Entity from "@org/core/Entity"
import * as Specification from "@org/core/Specification"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import type * as Problem from "./Problem.ts"

/**
 * The filter operators of the query language.
 *
 * @since 0.1.0
 * @category models
 */
export const operators = [
  "eq",
  "ne",
  "lt",
  "lte",
  "gt",
  "gte",
  "in",
  "between",
  "like",
  "ilike",
  "null"
] as const

/**
 * One filter operator.
 *
 * @since 0.1.0
 * @category models
 */
export type Operator = (typeof operators)[number]

const key = /^([A-Za-z_][A-Za-z0-9_]*)(?:\[([a-z]+)\])?$/

const problem = (parameter: string, message: string): Problem.FieldError => ({
  in: "query",
  pointer: `/${parameter.slice(0, 100)}`,
  message
})

type Parsed = Result.Result<Specification.Spec, Problem.FieldError>

// Decodes one query-string value with the field's schema (as HttpApi decodes
// query parameters) and re-encodes it to the JSON form a Specification holds.
const encodedValue = (schema: Entity.Field, raw: string): Result.Result<Specification.Value, string> => {
  const decoded = Schema.decodeUnknownResult(Schema.toCodecStringTree(schema))(raw)
  if (Result.isFailure(decoded)) return Result.fail("is not a valid value for this field")
  const encoded = Schema.encodeUnknownResult(schema)(decoded.success)
  if (Result.isFailure(encoded)) return Result.fail("is not a valid value for this field")
  const value = encoded.success
  return typeof value === "string" ||
    typeof value === "boolean" ||
    (typeof value === "number" && Number.isFinite(value))
    ? Result.succeed(value)
    : Result.fail("cannot be compared")
}

// The schema a filter value of `field` is decoded with.
const fieldSchema = (definition: Entity.Any, field: string): Entity.Field =>
  field in definition.fields
    ? (definition.fields[field] ?? Schema.String)
    : field === "id"
      ? definition.idSchema
      : Entity.Timestamp

/**
 * The longest filter value taken, in characters (a comma list included);
 * longer is a 400. OpenAPI states it on every text operand.
 *
 * @since 0.3.0
 * @category constants
 */
export const maxValueLength = 1024

const parseOne = (definition: Entity.Any, parameter: string, raw: string): Parsed => {
  if (raw.length > maxValueLength)
    return Result.fail(problem(parameter, `is longer than ${maxValueLength} characters`))
  const match = key.exec(parameter)
  const field = match?.[1]
  if (field === undefined || !definition.filterable.includes(field)) {
    return Result.fail(
      problem(parameter, `unknown filter field (filterable: ${definition.filterable.join(", ") || "none"})`)
    )
  }
  const op = match?.[2] ?? "eq"
  if (!(operators as ReadonlyArray<string>).includes(op)) {
    return Result.fail(
      problem(parameter, `unknown operator "${op.slice(0, 20)}" (operators: ${operators.join(", ")})`)
    )
  }
  const schema = fieldSchema(definition, field)
  const value = (text: string) =>
    Result.mapError(encodedValue(schema, text), (message) => problem(parameter, message))
  const builder = Specification.field(field)
  switch (op as Operator) {
    case "null":
      if (raw !== "true" && raw !== "false") return Result.fail(problem(parameter, "must be true or false"))
      return Result.succeed(raw === "true" ? builder.isNull() : Specification.not(builder.isNull()))
    case "in": {
      const values = Result.all(raw.split(",").map(value))
      return Result.map(values, (vs) => builder.in(vs))
    }
    case "between": {
      const bounds = raw.split(",")
      if (bounds.length !== 2) return Result.fail(problem(parameter, "takes two values: low,high"))
      return Result.map(Result.all([value(bounds[0] ?? ""), value(bounds[1] ?? "")]), ([low, high]) =>
        builder.between(low, high)
      )
    }
    case "like":
      return Result.succeed(builder.like(raw))
    case "ilike":
      return Result.succeed(builder.ilike(raw))
    default:
      return Result.map(value(raw), (v) => builder[op as "eq" | "ne" | "lt" | "lte" | "gt" | "gte"](v))
  }
}

/**
 * Parses the filter parameters of a query string (every parameter but the
 * `reserved` ones, such as `page`, `size`, `sort`) into one specification,
 * or every problem found. A specification that parses is also checked
 * against the entity (for example `like` on a number is refused here).
 *
 * @example
 * ```ts
 * import type { Entity } from "@org/core"
 * import { Filters } from "@org/http"
 *
 * declare const Item: Entity.Any // an Entity.make definition
 *
 * const spec = Filters.parse(Item, new URLSearchParams("price[gte]=10&category[in]=tools,garden"))
 * ```
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (
  definition: Entity.Any,
  params: URLSearchParams,
  options: { readonly reserved?: ReadonlyArray<string> } = {}
): Effect.Effect<Specification.Spec | undefined, ReadonlyArray<Problem.FieldError>> =>
  Effect.gen(function* () {
    const reserved = options.reserved ?? ["page", "size", "sort"]
    const specs: Array<Specification.Spec> = []
    const problems: Array<Problem.FieldError> = []
    for (const [parameter, raw] of params) {
      if (reserved.includes(parameter)) continue
      const parsed = parseOne(definition, parameter, raw)
      if (Result.isFailure(parsed)) {
        problems.push(parsed.failure)
        continue
      }
      // Checked alone, so a refusal names its own parameter.
      const checked = yield* Effect.result(Specification.isSatisfiedBy(definition, parsed.success))
      if (Result.isFailure(checked)) problems.push(problem(parameter, checked.failure.message.slice(0, 200)))
      else specs.push(parsed.success)
      if (problems.length >= 50) break
    }
    if (problems.length > 0) return yield* Effect.fail(problems)
    return specs.length === 0 ? undefined : specs.length === 1 ? specs[0] : Specification.and(specs)
  })

// The JSON Schema of a field's filter value: the field's own, without `null`
// (`[null]=true` asks for null), inlined ($refs become plain strings).
const valueJsonSchema = (schema: Entity.Field): Record<string, unknown> => {
  const { schema: json } = Schema.toJsonSchemaDocument(schema)
  const members: ReadonlyArray<unknown> = Array.isArray(json.anyOf) ? json.anyOf : [json]
  const value = members.find(
    (member): member is Record<string, unknown> =>
      typeof member === "object" && member !== null && !("type" in member && member.type === "null")
  )
  return value === undefined || JSON.stringify(value).includes("$ref") ? { type: "string" } : value
}

// A text operand is never longer than `maxValueLength`, whatever its field says.
const bounded = (value: Record<string, unknown>): Record<string, unknown> =>
  value.type === "string" && !(typeof value.maxLength === "number" && value.maxLength <= maxValueLength)
    ? { ...value, maxLength: maxValueLength }
    : value

/**
 * The filters of an entity as OpenAPI query parameters: one `deepObject`
 * parameter per filterable field (`price[gte]=10`), its operators as
 * properties with the field's own value schema (`in` and `between` take a
 * comma list; `like`/`ilike` only on text; `null` a boolean). `reserved`
 * names (`page`, `size`, `sort`) are left out. A generated client types
 * them and serializes them as the server reads them.
 *
 * @example
 * ```ts
 * import type { Entity } from "@org/core"
 * import { Filters } from "@org/http"
 *
 * declare const Item: Entity.Any
 * const parameters = Filters.openApiParameters(Item)
 * ```
 *
 * @since 0.2.0
 * @category openapi
 */
export const openApiParameters = (
  definition: Entity.Any,
  reserved: ReadonlyArray<string> = ["page", "size", "sort"]
): ReadonlyArray<Record<string, unknown>> =>
  definition.filterable
    .filter((field) => !reserved.includes(field))
    .map((field) => {
      const value = bounded(valueJsonSchema(fieldSchema(definition, field)))
      const list = {
        type: "string",
        maxLength: maxValueLength,
        description: "a comma-separated list of values"
      }
      const properties: Record<string, unknown> = {
        eq: value,
        ne: value,
        lt: value,
        lte: value,
        gt: value,
        gte: value,
        in: list,
        between: { type: "string", maxLength: maxValueLength, description: "low,high (both included)" },
        ...(value.type === "string"
          ? {
              like: {
                type: "string",
                maxLength: maxValueLength,
                description: "a LIKE pattern: % any run, _ one character, \\ escapes"
              },
              ilike: { type: "string", maxLength: maxValueLength, description: "like, ignoring ASCII case" }
            }
          : {}),
        null: { type: "boolean" }
      }
      return {
        name: field,
        in: "query",
        required: false,
        style: "deepObject",
        explode: true,
        description: `Filters on ${field}: \`${field}[op]=value\`, ANDed with the others.`,
        schema: { type: "object", properties, additionalProperties: false }
      }
    })
