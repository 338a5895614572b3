/**
 * fast-check arbitraries derived from an entity field's Schema (its decoded
 * side), tuned to find the places where a repository and its table disagree:
 * text from a small alphabet whose UTF-16 and code point orders differ,
 * numbers at their boundaries (including the edges of Postgres `integer`),
 * decimals on their exact grid, date-times Postgres can store. Anything else
 * falls back to Effect's own `Arbitrary` for the schema. Every value is
 * checked against the field's schema, so it is valid by construction.
 * Internal: reached through `RepositoryLaws`.
 */
import { Decimal } from "@org/core"
import * as Arbitrary from "effect/Arbitrary"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import * as SchemaAST from "effect/SchemaAST"
import * as fc from "fast-check"

// A small alphabet makes ties and duplicates common; it includes characters
// whose UTF-16 and code point orders differ (U+E000 and U+FFFD vs astral),
// case pairs, SQL-ish and LIKE punctuation and a non-BMP emoji.
const alphabet = ["a", "b", "B", "é", "ß", "\u{1F600}", "\uFFFD", "\uE000", " ", "%", "_", "'", ";", "\\"]

/** The characters generated text is made of. */
export const char: fc.Arbitrary<string> = fc.constantFrom(...alphabet)

interface Constraint {
  minLength?: number
  maxLength?: number
  minimum?: number
  exclusiveMinimum?: boolean
  maximum?: number
  exclusiveMaximum?: boolean
  number?: "finite" | "integer"
  patterns: Array<RegExp>
  uuid: boolean
}

const collect = (checks: SchemaAST.Checks | undefined, into: Constraint): Constraint => {
  for (const check of checks ?? []) {
    if (check._tag === "FilterGroup") {
      collect(check.checks, into)
      continue
    }
    const annotations = check.annotations
    const representation = annotations?.representation as { readonly id?: unknown } | undefined
    if (representation?.id === "effect/schema/isUUID") into.uuid = true
    const c = annotations?.arbitraryConstraint
    if (c === undefined) continue
    if (typeof c.minLength === "number") into.minLength = Math.max(into.minLength ?? 0, c.minLength)
    if (typeof c.maxLength === "number") into.maxLength = Math.min(into.maxLength ?? Infinity, c.maxLength)
    if (typeof c.minimum === "number") {
      if (into.minimum === undefined || c.minimum > into.minimum) {
        into.minimum = c.minimum
        into.exclusiveMinimum = c.exclusiveMinimum === true
      } else if (c.minimum === into.minimum && c.exclusiveMinimum === true) into.exclusiveMinimum = true
    }
    if (typeof c.maximum === "number") {
      if (into.maximum === undefined || c.maximum < into.maximum) {
        into.maximum = c.maximum
        into.exclusiveMaximum = c.exclusiveMaximum === true
      } else if (c.maximum === into.maximum && c.exclusiveMaximum === true) into.exclusiveMaximum = true
    }
    if (c.number === "integer" || (c.number === "finite" && into.number === undefined)) into.number = c.number
    for (const pattern of c.patterns ?? []) into.patterns.push(new RegExp(pattern.source, pattern.flags))
  }
  return into
}

// Safe integers, plus Postgres `integer`'s edges and the first values past
// them: a schema that allows 2^31 on an `integer` column is a bug to find.
const int32Edges = [-2_147_483_649, -2_147_483_648, 2_147_483_647, 2_147_483_648]

const integers = (c: Constraint): fc.Arbitrary<number> => {
  const lo = Math.max(
    Number.MIN_SAFE_INTEGER,
    c.minimum === undefined
      ? -Infinity
      : c.exclusiveMinimum
        ? Math.floor(c.minimum) + 1
        : Math.ceil(c.minimum)
  )
  const hi = Math.min(
    Number.MAX_SAFE_INTEGER,
    c.maximum === undefined ? Infinity : c.exclusiveMaximum ? Math.ceil(c.maximum) - 1 : Math.floor(c.maximum)
  )
  const edges = [lo, hi, 0, 1, -1, ...int32Edges].filter((n) => n >= lo && n <= hi)
  return fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom(...edges) },
    { weight: 3, arbitrary: fc.integer({ min: lo, max: hi }) }
  )
}

// Values on the grid of `numeric(precision, scale)`: whole units of
// 10^-scale, divided exactly (the quotient is the double nearest the decimal).
const decimals = (options: Decimal.Options, c: Constraint): fc.Arbitrary<number> => {
  const factor = 10 ** options.scale
  const limit = 10 ** options.precision - 1
  const toUnits = (x: number, up: boolean) => {
    const scaled = x * factor
    const rounded = Math.round(scaled)
    return Math.abs(scaled - rounded) < 1e-6 ? rounded : up ? Math.ceil(scaled) : Math.floor(scaled)
  }
  let lo = -limit
  let hi = limit
  if (c.minimum !== undefined) lo = Math.max(lo, toUnits(c.minimum, true) + (c.exclusiveMinimum ? 1 : 0))
  if (c.maximum !== undefined) hi = Math.min(hi, toUnits(c.maximum, false) - (c.exclusiveMaximum ? 1 : 0))
  const edges = [lo, hi, 0, 1, -1, lo + 1, hi - 1, factor, -factor].filter((n) => n >= lo && n <= hi)
  const units = fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom(...edges) },
    { weight: 3, arbitrary: fc.integer({ min: lo, max: hi }) }
  )
  return units.map((n) => n / factor)
}

const doubles = (c: Constraint): fc.Arbitrary<number> =>
  fc.double({
    noNaN: c.number !== undefined,
    noDefaultInfinity: c.number !== undefined,
    ...(c.minimum === undefined ? {} : { min: c.minimum, minExcluded: c.exclusiveMinimum === true }),
    ...(c.maximum === undefined ? {} : { max: c.maximum, maxExcluded: c.exclusiveMaximum === true })
  })

const strings = (c: Constraint): ReadonlyArray<fc.Arbitrary<string>> => {
  if (c.uuid) return [fc.uuid()]
  const min = c.minLength ?? 0
  const max = Math.max(min, Math.min(c.maxLength ?? 8, min + 8))
  const text = fc.string({ unit: char, minLength: min, maxLength: max })
  return [text, ...c.patterns.map((pattern) => fc.stringMatching(pattern))]
}

// Postgres timestamptz stores years 1 to 9999 in ISO form; Effect's own
// date-time arbitrary ranges far beyond, into values no table can hold.
const minInstant = -62_135_596_800_000 // 0001-01-01T00:00:00.000Z
const maxInstant = 253_402_300_799_999 // 9999-12-31T23:59:59.999Z
const instants: fc.Arbitrary<DateTime.Utc> = fc
  .oneof(
    fc.constantFrom(minInstant, maxInstant, 0),
    fc.integer({ min: 0, max: 4_102_444_800_000 }),
    fc.integer({ min: minInstant, max: maxInstant })
  )
  .map((millis) => DateTime.makeUnsafe(millis))

const candidates = (ast: SchemaAST.AST): ReadonlyArray<fc.Arbitrary<unknown>> => {
  switch (ast._tag) {
    case "Null":
      return [fc.constant(null)]
    case "Undefined":
      return [fc.constant(undefined)]
    case "Boolean":
      return [fc.boolean()]
    case "Literal":
      return [fc.constant(ast.literal)]
    case "Enum":
      return [fc.constantFrom(...ast.enums.map(([, value]) => value))]
    case "String":
      return strings(collect(ast.checks, { patterns: [], uuid: false }))
    case "Number": {
      const c = collect(ast.checks, { patterns: [], uuid: false })
      const decimal = Decimal.getOptions(ast)
      if (decimal !== undefined) return [decimals(decimal, c)]
      return [c.number === "integer" ? integers(c) : doubles(c)]
    }
    case "Union": {
      const members = ast.types.map((member) => ({ member, arbitrary: single(member) }))
      return [
        fc.oneof(
          ...members.map(({ member, arbitrary }) => ({
            weight: SchemaAST.isNull(member) ? 1 : 3,
            arbitrary
          }))
        )
      ]
    }
    case "Declaration":
      return Schema.is(Schema.make(ast))(DateTime.makeUnsafe(0)) ? [instants] : []
    default:
      return []
  }
}

const accepts = <A>(arbitrary: fc.Arbitrary<A>, valid: (u: unknown) => boolean): boolean => {
  const sample = fc.sample(arbitrary, { numRuns: 50, seed: 42 })
  return sample.filter(valid).length >= 10
}

// Effect's own arbitrary, sampled once into a fixed pool.
const fromEffect = (ast: SchemaAST.AST): fc.Arbitrary<unknown> | undefined => {
  const exit = Effect.runSyncExit(
    Effect.suspend(() => Arbitrary.sampleEffect(Arbitrary.schema(Schema.make(ast)), { count: 64, seed: 42 }))
  )
  return Exit.isSuccess(exit) && exit.value.length > 0 ? fc.constantFrom(...exit.value) : undefined
}

const single = (ast: SchemaAST.AST): fc.Arbitrary<unknown> => {
  const valid = Schema.is(Schema.make(ast))
  for (const arbitrary of candidates(ast)) {
    if (accepts(arbitrary, valid)) return arbitrary.filter(valid)
  }
  const fallback = fromEffect(ast)
  if (fallback !== undefined && accepts(fallback, valid)) return fallback.filter(valid)
  throw new Error(`cannot generate values of ${String(ast)}`)
}

/**
 * An arbitrary of valid values of a field schema (its decoded side). Throws,
 * naming the field, when no generator produces valid values often enough:
 * pass one yourself then.
 */
export const make = (schema: Schema.Top, name: string): fc.Arbitrary<unknown> => {
  const ast = SchemaAST.toType(schema.ast)
  const valid = Schema.is(Schema.toType(schema))
  const exit = Effect.runSyncExit(Effect.try(() => single(ast)))
  if (Exit.isFailure(exit)) {
    throw new Error(
      `RepositoryLaws: ${name}: no generator finds valid values of this schema; pass one in options.arbitraries`
    )
  }
  return exit.value.filter(valid)
}

/** The field's decoded type admits null. */
export const isNullable = (ast: SchemaAST.AST): boolean =>
  SchemaAST.isNull(ast) || (SchemaAST.isUnion(ast) && ast.types.some(isNullable))

/** The field is text, so LIKE applies (the same test `Specification` makes). */
export const isText = (ast: SchemaAST.AST): boolean => {
  if (SchemaAST.isUnion(ast)) {
    const members = ast.types.filter((member) => !SchemaAST.isNull(member))
    return members.length > 0 && members.every(isText)
  }
  return (
    SchemaAST.isString(ast) ||
    SchemaAST.isTemplateLiteral(ast) ||
    (SchemaAST.isLiteral(ast) && typeof ast.literal === "string")
  )
}
