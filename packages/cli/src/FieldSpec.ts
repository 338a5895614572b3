/**
 * The `--fields` language of `gen entity`: a comma-separated list of
 * `name:type` entries, `?` after the type for an optional (nullable) field,
 * commas inside parentheses belonging to the type. Parsed by a small
 * scanner into a typed AST (a Schema, so tools can decode and print it);
 * `print` is its inverse, `parse(print(spec))` gives `spec` back.
 *
 * | type                  | meaning                                                  |
 * | --------------------- | -------------------------------------------------------- |
 * | `string`, `string(1..200)`, `string(..80)` | short text, optional length bounds in code points |
 * | `text`                | long text, no bound (filterable, not sortable)           |
 * | `int`, `int(>=0)`, `int(0..100)` | an integer, optional bounds              |
 * | `number`, `number(>0,<1)` | a finite number, optional bounds                     |
 * | `decimal(12,2)`, `decimal(12,2,>=0)` | an exact decimal, `numeric(12, 2)`          |
 * | `boolean`, `uuid`, `date` | `date` is an instant (`timestamptz`)                 |
 * | `enum(a\|b\|c)`       | one of the literals                                      |
 * | `string[]`            | a list of short text, at most 100 items (`text[]`; neither sortable nor filterable) |
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * One numeric bound: `>= 0` is `{ value: 0, exclusive: false }`.
 *
 * @since 0.1.0
 * @category models
 */
export const Bound = Schema.Struct({ value: Schema.Finite, exclusive: Schema.Boolean })

/**
 * A numeric bound.
 *
 * @since 0.1.0
 * @category models
 */
export type Bound = typeof Bound.Type

/**
 * Lower and upper numeric bounds, each optional.
 *
 * @since 0.1.0
 * @category models
 */
export const Bounds = Schema.Struct({ min: Schema.optionalKey(Bound), max: Schema.optionalKey(Bound) })

/**
 * Numeric bounds.
 *
 * @since 0.1.0
 * @category models
 */
export type Bounds = typeof Bounds.Type

/**
 * The type of a field, as written in the spec.
 *
 * @since 0.1.0
 * @category models
 */
export const FieldType = Schema.Union([
  Schema.TaggedStruct("String", {
    minLength: Schema.optionalKey(Schema.Int),
    maxLength: Schema.optionalKey(Schema.Int)
  }),
  Schema.TaggedStruct("Text", {}),
  Schema.TaggedStruct("Int", { bounds: Bounds }),
  Schema.TaggedStruct("Number", { bounds: Bounds }),
  Schema.TaggedStruct("Decimal", { precision: Schema.Int, scale: Schema.Int, bounds: Bounds }),
  Schema.TaggedStruct("Boolean", {}),
  Schema.TaggedStruct("Uuid", {}),
  Schema.TaggedStruct("Date", {}),
  Schema.TaggedStruct("Enum", { values: Schema.Array(Schema.String) }),
  Schema.TaggedStruct("StringArray", {})
])

/**
 * A field type.
 *
 * @since 0.1.0
 * @category models
 */
export type FieldType = typeof FieldType.Type

/**
 * One field: its name, its type, and whether it may be null.
 *
 * @since 0.1.0
 * @category models
 */
export const Field = Schema.Struct({ name: Schema.String, type: FieldType, optional: Schema.Boolean })

/**
 * A field.
 *
 * @since 0.1.0
 * @category models
 */
export type Field = typeof Field.Type

/**
 * A whole spec: the fields in order.
 *
 * @since 0.1.0
 * @category models
 */
export const Spec = Schema.Array(Field)

/**
 * A spec.
 *
 * @since 0.1.0
 * @category models
 */
export type Spec = typeof Spec.Type

/**
 * A spec that cannot be parsed: `field` is the 1-based index of the entry
 * (0 for the spec as a whole), `fieldName` its name when it got that far, `text`
 * the offending text.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidSpec extends Schema.TaggedError<InvalidSpec>()("InvalidSpec", {
  field: Schema.Int,
  fieldName: Schema.optionalKey(Schema.String),
  text: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    const where =
      this.field === 0
        ? "--fields"
        : `--fields: field ${this.field}${this.fieldName === undefined ? "" : ` (${this.fieldName})`}`
    return `${where}: ${this.reason} in ${JSON.stringify(this.text)}`
  }
}

/**
 * The most digits a `decimal` may have (`Decimal.make` of @org/core keeps
 * numbers exact up to 15 significant digits).
 *
 * @since 0.1.0
 * @category constants
 */
export const maxDecimalPrecision = 15

// -----------------------------------------------------------------------------
// Scanner
// -----------------------------------------------------------------------------

// Splits on the commas at parenthesis depth 0; an unbalanced parenthesis is
// reported against the entry it opens.
const splitTopLevel = (input: string): ReadonlyArray<string> | InvalidSpec => {
  const parts: Array<string> = []
  let depth = 0
  let start = 0
  for (let i = 0; i < input.length; i++) {
    const c = input[i]
    if (c === "(") depth++
    else if (c === ")") {
      depth--
      if (depth < 0) {
        return new InvalidSpec({
          field: parts.length + 1,
          text: input.slice(start, i + 1).trim(),
          reason: "a ')' without its '('"
        })
      }
    } else if (c === "," && depth === 0) {
      parts.push(input.slice(start, i))
      start = i + 1
    }
  }
  if (depth > 0) {
    return new InvalidSpec({
      field: parts.length + 1,
      text: input.slice(start).trim(),
      reason: "a '(' is never closed"
    })
  }
  parts.push(input.slice(start))
  return parts
}

const isLetter = (c: string | undefined): boolean =>
  c !== undefined && ((c >= "a" && c <= "z") || (c >= "A" && c <= "Z"))
const isDigit = (c: string | undefined): boolean => c !== undefined && c >= "0" && c <= "9"
const isSpace = (c: string | undefined): boolean => c === " " || c === "\t" || c === "\n" || c === "\r"

// A cursor over one entry's text.
class Cursor {
  pos = 0
  readonly text: string
  constructor(text: string) {
    this.text = text
  }
  peek(): string | undefined {
    return this.text[this.pos]
  }
  skipSpace(): void {
    while (isSpace(this.peek())) this.pos++
  }
  eat(c: string): boolean {
    if (this.text.startsWith(c, this.pos)) {
      this.pos += c.length
      return true
    }
    return false
  }
  word(): string {
    const start = this.pos
    while (isLetter(this.peek()) || isDigit(this.peek()) || this.peek() === "_") this.pos++
    return this.text.slice(start, this.pos)
  }
  done(): boolean {
    return this.pos >= this.text.length
  }
}

// A decimal number: `-`? digits (`.` digits)?
const scanNumber = (text: string): number | undefined => {
  let i = 0
  if (text[i] === "-") i++
  const digitsStart = i
  while (isDigit(text[i])) i++
  if (i === digitsStart) return undefined
  if (text[i] === ".") {
    i++
    const fractionStart = i
    while (isDigit(text[i])) i++
    if (i === fractionStart) return undefined
  }
  if (i !== text.length) return undefined
  const value = Number(text)
  return Number.isFinite(value) ? value : undefined
}

// -----------------------------------------------------------------------------
// Type arguments
// -----------------------------------------------------------------------------

type Fail = (reason: string, text?: string) => InvalidSpec

const range = (text: string, fail: Fail): { min?: number; max?: number } | InvalidSpec => {
  const at = text.indexOf("..")
  if (at < 0) return fail(`a range is "min..max" (either end may be left out), got "${text}"`)
  const low = text.slice(0, at).trim()
  const high = text.slice(at + 2).trim()
  const out: { min?: number; max?: number } = {}
  for (const [key, part] of [
    ["min", low],
    ["max", high]
  ] as const) {
    if (part === "") continue
    const n = scanNumber(part)
    if (n === undefined) return fail(`"${part}" is not a number`)
    out[key] = n
  }
  return out
}

const bounds = (items: ReadonlyArray<string>, integer: boolean, fail: Fail): Bounds | InvalidSpec => {
  let min: Bound | undefined
  let max: Bound | undefined
  const setMin = (bound: Bound, item: string): InvalidSpec | undefined => {
    if (min !== undefined) return fail(`two lower bounds ("${item}")`)
    min = bound
    return undefined
  }
  const setMax = (bound: Bound, item: string): InvalidSpec | undefined => {
    if (max !== undefined) return fail(`two upper bounds ("${item}")`)
    max = bound
    return undefined
  }
  for (const item of items) {
    let error: InvalidSpec | undefined
    const op = ([">=", "<=", ">", "<"] as const).find((o) => item.startsWith(o))
    if (op !== undefined) {
      const value = scanNumber(item.slice(op.length).trim())
      if (value === undefined) return fail(`"${item.slice(op.length).trim()}" is not a number`)
      const bound = { value, exclusive: op.length === 1 }
      error = op.startsWith(">") ? setMin(bound, item) : setMax(bound, item)
    } else if (item.includes("..")) {
      const r = range(item, fail)
      if (r instanceof InvalidSpec) return r
      if (r.min !== undefined) error = setMin({ value: r.min, exclusive: false }, item)
      if (error === undefined && r.max !== undefined) error = setMax({ value: r.max, exclusive: false }, item)
    } else {
      return fail(`a bound is ">=n", ">n", "<=n", "<n" or "a..b", got "${item}"`)
    }
    if (error !== undefined) return error
  }
  for (const bound of [min, max]) {
    if (integer && bound !== undefined && !Number.isInteger(bound.value)) {
      return fail(`an integer bound must be an integer, got ${bound.value}`)
    }
  }
  if (min !== undefined && max !== undefined) {
    const empty = min.value > max.value || (min.value === max.value && (min.exclusive || max.exclusive))
    if (empty) return fail("the bounds admit no value")
  }
  return { ...(min === undefined ? {} : { min }), ...(max === undefined ? {} : { max }) }
}

const splitArgs = (args: string | undefined): ReadonlyArray<string> =>
  args === undefined ? [] : args.split(",").map((a) => a.trim())

const typeOf = (
  name: string,
  args: string | undefined,
  array: boolean,
  fail: Fail
): FieldType | InvalidSpec => {
  const noArgs = (type: FieldType): FieldType | InvalidSpec =>
    args === undefined ? type : fail(`${name} takes no arguments`)
  if (array) {
    if (name === "string" && args === undefined) return { _tag: "StringArray" }
    return fail(`only "string[]" is an array type, got "${name}${args === undefined ? "" : `(${args})`}[]"`)
  }
  const items = splitArgs(args)
  if (args !== undefined && items.some((i) => i === ""))
    return fail(`an empty argument in "${name}(${args})"`)
  switch (name) {
    case "string": {
      if (args === undefined) return { _tag: "String" }
      if (items.length !== 1) return fail(`string takes one range "min..max", got "${args}"`)
      const r = range(items[0]!, fail)
      if (r instanceof InvalidSpec) return r
      for (const n of [r.min, r.max]) {
        if (n !== undefined && (!Number.isInteger(n) || n < 0)) {
          return fail(`a length is a whole number >= 0, got ${n}`)
        }
      }
      if (r.max !== undefined && r.max < 1) return fail("a maximum length must be at least 1")
      if (r.min !== undefined && r.max !== undefined && r.min > r.max) {
        return fail(`the minimum length ${r.min} is above the maximum ${r.max}`)
      }
      return {
        _tag: "String",
        ...(r.min === undefined ? {} : { minLength: r.min }),
        ...(r.max === undefined ? {} : { maxLength: r.max })
      }
    }
    case "text":
      return noArgs({ _tag: "Text" })
    case "int":
    case "number": {
      const b = bounds(items, name === "int", fail)
      return b instanceof InvalidSpec ? b : { _tag: name === "int" ? "Int" : "Number", bounds: b }
    }
    case "decimal": {
      if (items.length < 2) return fail(`decimal needs its precision and scale, e.g. "decimal(12,2)"`)
      const precision = scanNumber(items[0]!)
      const scale = scanNumber(items[1]!)
      if (precision === undefined || !Number.isInteger(precision) || precision < 1) {
        return fail(`the precision is a whole number from 1, got "${items[0]}"`)
      }
      if (precision > maxDecimalPrecision) {
        return fail(
          `the precision is at most ${maxDecimalPrecision} (exact as a JSON number), got ${precision}`
        )
      }
      if (scale === undefined || !Number.isInteger(scale) || scale < 0 || scale > precision) {
        return fail(`the scale is a whole number from 0 to the precision, got "${items[1]}"`)
      }
      const b = bounds(items.slice(2), false, fail)
      return b instanceof InvalidSpec ? b : { _tag: "Decimal", precision, scale, bounds: b }
    }
    case "boolean":
      return noArgs({ _tag: "Boolean" })
    case "uuid":
      return noArgs({ _tag: "Uuid" })
    case "date":
      return noArgs({ _tag: "Date" })
    case "enum": {
      if (args === undefined) return fail(`enum needs its values, e.g. "enum(draft|sent)"`)
      const values = args.split("|").map((v) => v.trim())
      const seen = new Set<string>()
      for (const value of values) {
        if (!isEnumValue(value)) {
          return fail(`an enum value is a letter then letters, digits, "_" or "-", got "${value}"`)
        }
        if (seen.has(value)) return fail(`the enum value "${value}" appears twice`)
        seen.add(value)
      }
      return { _tag: "Enum", values }
    }
    default:
      return fail(
        `unknown type "${name}" (known: string, text, int, number, decimal, boolean, uuid, date, enum, string[])`
      )
  }
}

const isEnumValue = (value: string): boolean =>
  isLetter(value[0]) && [...value].every((c) => isLetter(c) || isDigit(c) || c === "_" || c === "-")

// -----------------------------------------------------------------------------
// Parser
// -----------------------------------------------------------------------------

const parseField = (entry: string, index: number): Field | InvalidSpec => {
  const text = entry.trim()
  const cursor = new Cursor(text)
  let name: string | undefined
  const fail: Fail = (reason, at = text) =>
    new InvalidSpec({ field: index, ...(name === undefined ? {} : { fieldName: name }), text: at, reason })
  if (text === "") return fail("an empty field (two commas in a row, or a trailing comma?)")
  const word = cursor.word()
  if (word === "") return fail(`a field starts with its name, got "${text.slice(0, 12)}"`)
  name = word
  cursor.skipSpace()
  if (!cursor.eat(":")) return fail(`"name:type" expected, no ":" after "${word}"`)
  cursor.skipSpace()
  const typeName = cursor.word()
  if (typeName === "") return fail(`a type expected after "${word}:"`)
  cursor.skipSpace()
  let args: string | undefined
  if (cursor.eat("(")) {
    const start = cursor.pos
    const close = text.indexOf(")", start)
    // splitTopLevel balanced the parentheses, so the first ")" closes this one
    if (close < 0) return fail("a '(' is never closed")
    args = text.slice(start, close).trim()
    if (args.includes("(")) return fail(`nested parentheses in "${typeName}(${args})"`)
    cursor.pos = close + 1
    cursor.skipSpace()
  }
  const array = cursor.eat("[")
  if (array) {
    cursor.skipSpace()
    if (!cursor.eat("]")) return fail(`"[]" expected after "${typeName}["`)
    cursor.skipSpace()
  }
  const optional = cursor.eat("?")
  cursor.skipSpace()
  if (!cursor.done()) return fail(`unexpected "${text.slice(cursor.pos)}" after the type`)
  const type = typeOf(typeName, args, array, fail)
  if (type instanceof InvalidSpec) return type
  return { name: word, type, optional }
}

/**
 * Parses a `--fields` spec. The result is the AST or one `InvalidSpec`
 * naming the first problem (its field and text). Names are not judged here
 * (see `Names.checkFields`).
 *
 * @example
 * ```ts
 * import { FieldSpec } from "@org/cli"
 *
 * const spec = FieldSpec.parse("title:string(1..200),amount:decimal(12,2),due:date?")
 * ```
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (input: string): Spec | InvalidSpec => {
  if (input.trim() === "") return new InvalidSpec({ field: 0, text: input, reason: "no fields" })
  const entries = splitTopLevel(input)
  if (entries instanceof InvalidSpec) return entries
  const fields: Array<Field> = []
  for (const [i, entry] of entries.entries()) {
    const field = parseField(entry, i + 1)
    if (field instanceof InvalidSpec) return field
    fields.push(field)
  }
  return fields
}

// -----------------------------------------------------------------------------
// Printer
// -----------------------------------------------------------------------------

const printNumber = (n: number): string => (Object.is(n, -0) ? "0" : String(n))

const printBounds = (b: Bounds): ReadonlyArray<string> => [
  ...(b.min === undefined ? [] : [`${b.min.exclusive ? ">" : ">="}${printNumber(b.min.value)}`]),
  ...(b.max === undefined ? [] : [`${b.max.exclusive ? "<" : "<="}${printNumber(b.max.value)}`])
]

const withArgs = (name: string, args: ReadonlyArray<string>): string =>
  args.length === 0 ? name : `${name}(${args.join(",")})`

/**
 * The spec text of one type (`decimal(12,2,>=0)`).
 *
 * @since 0.1.0
 * @category printing
 */
export const printType = (type: FieldType): string => {
  switch (type._tag) {
    case "String":
      return type.minLength === undefined && type.maxLength === undefined
        ? "string"
        : `string(${type.minLength ?? ""}..${type.maxLength ?? ""})`
    case "Text":
      return "text"
    case "Int":
      return withArgs("int", printBounds(type.bounds))
    case "Number":
      return withArgs("number", printBounds(type.bounds))
    case "Decimal":
      return withArgs("decimal", [String(type.precision), String(type.scale), ...printBounds(type.bounds)])
    case "Boolean":
      return "boolean"
    case "Uuid":
      return "uuid"
    case "Date":
      return "date"
    case "Enum":
      return `enum(${type.values.join("|")})`
    case "StringArray":
      return "string[]"
  }
}

/**
 * Prints a spec back to the `--fields` text that parses to it.
 *
 * @since 0.1.0
 * @category printing
 */
export const print = (spec: Spec): string =>
  spec.map((field) => `${field.name}:${printType(field.type)}${field.optional ? "?" : ""}`).join(",")
