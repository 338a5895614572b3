/**
 * Exact decimals (prices, amounts) as Schemas that mean the same in memory,
 * in SQL and on the wire: `Decimal.make({ precision: 12, scale: 2 })` is the
 * field type of a Postgres `numeric(12, 2)` column.
 *
 * The rule is **refuse, never round**: a value with more than `scale` digits
 * after the point, or more than `precision - scale` before it, fails to
 * decode with a schema error that names the limits. Postgres would round
 * `12.345` to `12.35` in a `numeric(12,2)` column while memory kept `12.345`;
 * refusing at the schema makes both store exactly what was sent, or nothing.
 * Rounding is the caller's decision (half-even for banking, half-up for an
 * invoice), made before the value reaches the entity.
 *
 * The value is a JavaScript `number` and a JSON number on the wire. Every
 * decimal of at most 15 significant digits is a distinct double whose
 * shortest printing (`String(n)`, `JSON.stringify`) is that decimal again,
 * so with `precision <= 15` the number is exact: JSON, the bound SQL
 * parameter and the `numeric` column all carry the same decimal, and
 * `Ordering` and `Specification` compare prices as numbers with no decimal
 * library. Wider decimals would need a string on the wire; `make` refuses a
 * precision above 15 rather than lose digits silently.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import * as SchemaAST from "effect/SchemaAST"

/**
 * Digits in all (`precision`, 1 to 15) and after the point (`scale`, 0 to
 * `precision`), as in Postgres `numeric(precision, scale)`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly precision: number
  readonly scale: number
}

/**
 * The largest precision a `number` carries exactly (IEEE 754 double: 15
 * significant decimal digits always survive a round trip).
 *
 * @since 0.1.0
 * @category constants
 */
export const maxPrecision = 15

const annotationKey = "@org/core/Decimal"

const validate = (options: Options): Options => {
  const { precision, scale } = options
  if (!Number.isInteger(precision) || precision < 1 || precision > maxPrecision) {
    throw new RangeError(`Decimal: precision must be an integer from 1 to ${maxPrecision}, got ${precision}`)
  }
  if (!Number.isInteger(scale) || scale < 0 || scale > precision) {
    throw new RangeError(
      `Decimal: scale must be an integer from 0 to the precision (${precision}), got ${scale}`
    )
  }
  return { precision, scale }
}

/**
 * How many digits `n` has after the point, read from its shortest printing
 * (`String(n)`: `12.34`, `1e-7`, `1.5e+21`), which is the decimal JSON and
 * the SQL driver send.
 *
 * @example
 * ```ts
 * import { Decimal } from "@org/core"
 * Decimal.fractionDigits(12.34) // 2
 * Decimal.fractionDigits(0.1 + 0.2) // 17
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const fractionDigits = (n: number): number => {
  const [mantissa = "", exponent = "0"] = String(Math.abs(n)).split("e")
  const fraction = mantissa.split(".")[1] ?? ""
  return Math.max(0, fraction.length - Number(exponent))
}

/**
 * Whether `n` fits `numeric(precision, scale)` exactly: finite, at most
 * `scale` digits after the point and fewer than `10^(precision - scale)` in
 * magnitude.
 *
 * @example
 * ```ts
 * import { Decimal } from "@org/core"
 * Decimal.fits({ precision: 12, scale: 2 }, 12.34) // true
 * Decimal.fits({ precision: 12, scale: 2 }, 12.345) // false
 * ```
 *
 * @since 0.1.0
 * @category predicates
 */
export const fits = (options: Options, n: number): boolean =>
  Number.isFinite(n) &&
  Math.abs(n) < 10 ** (options.precision - options.scale) &&
  fractionDigits(n) <= options.scale

/**
 * The check behind {@link make}, for a number schema of your own (for
 * example one with bounds already attached).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Decimal } from "@org/core"
 * const Cents = Schema.Finite.check(Decimal.isDecimal({ precision: 12, scale: 2 }))
 * ```
 *
 * @since 0.1.0
 * @category checks
 */
export const isDecimal = (options: Options): SchemaAST.Filter<number> => {
  const { precision, scale } = validate(options)
  const integerDigits = precision - scale
  const bound = 10 ** integerDigits
  const largest = (10 ** precision - 1) / 10 ** scale
  const expected =
    scale === 0
      ? `an integer of at most ${integerDigits} digits`
      : `a decimal with at most ${integerDigits} digits before the point and ${scale} after it`
  return Schema.makeFilter((n: number) => fits({ precision, scale }, n), {
    expected,
    description: `${expected} (numeric(${precision}, ${scale}))`,
    [annotationKey]: { precision, scale },
    // The bounds and the scale, so a client generated from the document
    // sends only what the server accepts. `multipleOf: 0.01` is what JSON
    // Schema means by "2 digits after the point"; a validator that divides
    // floats naively refuses 0.07 (0.07 / 0.01 = 7.000000000000001): use
    // decimal-aware checking (ajv's `multipleOfPrecision`, see docs/api.md).
    toJsonSchema: () => [
      { exclusiveMinimum: -bound, exclusiveMaximum: bound, multipleOf: 10 ** -scale },
      true
    ],
    // A hint for Effect's own `Arbitrary`: integers in range always fit, while
    // random doubles almost never do (the predicate stays the authority).
    // The bounds are the exact extremes, which other generators read too.
    arbitraryConstraint: { number: "integer", minimum: -largest, maximum: largest }
  })
}

/**
 * A decimal number schema for a `numeric(precision, scale)` column. Decoding
 * refuses, never rounds, a value that does not fit; add your own checks for
 * bounds.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Decimal } from "@org/core"
 *
 * // numeric(12, 2) NOT NULL CHECK (price >= 0)
 * export const Price = Decimal.make({ precision: 12, scale: 2 }).check(Schema.isGreaterThanOrEqualTo(0))
 *
 * Schema.decodeUnknownSync(Price)(12.34) // 12.34
 * Schema.decodeUnknownExit(Price)(12.345) // fails: at most 2 digits after the point
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Schema.Finite => Schema.Finite.check(isDecimal(options))

const fromChecks = (checks: SchemaAST.Checks | undefined): Options | undefined => {
  for (const check of checks ?? []) {
    const found = check._tag === "Filter" ? check.annotations?.[annotationKey] : fromChecks(check.checks)
    if (found !== undefined) return found as Options
  }
  return undefined
}

/**
 * The precision and scale of a decimal schema (made by {@link make} or
 * carrying {@link isDecimal}), or `undefined`: for tools that derive
 * something from an entity, such as test data or DDL.
 *
 * @example
 * ```ts
 * import { Decimal } from "@org/core"
 * Decimal.getOptions(Decimal.make({ precision: 12, scale: 2 })) // { precision: 12, scale: 2 }
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const getOptions = (schema: Schema.Top | SchemaAST.AST): Options | undefined =>
  fromChecks(SchemaAST.toType(SchemaAST.isAST(schema) ? schema : schema.ast).checks)
