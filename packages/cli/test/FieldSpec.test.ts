/**
 * The `--fields` parser: the documented example, the printer as its
 * inverse (a property over generated ASTs), and one named error per kind of
 * mistake.
 */
import { assert, describe, it } from "@effect/vitest"
import { FieldSpec } from "@org/cli"
import { Schema } from "effect"
import * as fc from "fast-check"

const parsed = (input: string): FieldSpec.Spec => {
  const spec = FieldSpec.parse(input)
  if (spec instanceof FieldSpec.InvalidSpec) throw new Error(spec.message)
  return spec
}

const refused = (input: string): FieldSpec.InvalidSpec => {
  const spec = FieldSpec.parse(input)
  if (!(spec instanceof FieldSpec.InvalidSpec)) throw new Error(`parsed: ${JSON.stringify(spec)}`)
  return spec
}

// -- generated ASTs -----------------------------------------------------------

const name = fc.stringMatching(/^[a-z][a-zA-Z0-9]{0,10}$/)

const bounds = (value: fc.Arbitrary<number>): fc.Arbitrary<FieldSpec.Bounds> =>
  fc
    .record({
      a: fc.option(value, { nil: undefined }),
      b: fc.option(value, { nil: undefined }),
      aEx: fc.boolean(),
      bEx: fc.boolean()
    })
    .map(({ a, b, aEx, bEx }) => {
      const [low, high] = a !== undefined && b !== undefined && a > b ? [b, a] : [a, b]
      // equal bounds admit a value only when both are inclusive
      const same = low !== undefined && low === high
      return {
        ...(low === undefined ? {} : { min: { value: low, exclusive: same ? false : aEx } }),
        ...(high === undefined ? {} : { max: { value: high, exclusive: same ? false : bEx } })
      }
    })

const integer = fc.integer({ min: -100_000, max: 100_000 })
const decimal = integer.map((n) => n / 100)

const fieldType: fc.Arbitrary<FieldSpec.FieldType> = fc.oneof(
  fc
    .record({
      min: fc.option(fc.integer({ min: 0, max: 50 }), { nil: undefined }),
      extra: fc.option(fc.integer({ min: 0, max: 500 }), { nil: undefined })
    })
    .map(({ min, extra }) => ({
      _tag: "String" as const,
      ...(min === undefined ? {} : { minLength: min }),
      ...(extra === undefined ? {} : { maxLength: Math.max(1, min ?? 0) + extra })
    })),
  fc.constant({ _tag: "Text" as const }),
  bounds(integer).map((b) => ({ _tag: "Int" as const, bounds: b })),
  bounds(decimal).map((b) => ({ _tag: "Number" as const, bounds: b })),
  fc
    .integer({ min: 1, max: FieldSpec.maxDecimalPrecision })
    .chain((precision) =>
      fc.record({
        precision: fc.constant(precision),
        scale: fc.integer({ min: 0, max: precision }),
        bounds: bounds(decimal)
      })
    )
    .map((d) => ({ _tag: "Decimal" as const, ...d })),
  fc.constant({ _tag: "Boolean" as const }),
  fc.constant({ _tag: "Uuid" as const }),
  fc.constant({ _tag: "Date" as const }),
  fc
    .uniqueArray(fc.stringMatching(/^[a-z][a-z0-9_-]{0,8}$/), { minLength: 1, maxLength: 5 })
    .map((values) => ({ _tag: "Enum" as const, values })),
  fc.constant({ _tag: "StringArray" as const })
)

const spec: fc.Arbitrary<FieldSpec.Spec> = fc.array(
  fc.record({ name, type: fieldType, optional: fc.boolean() }),
  { minLength: 1, maxLength: 8 }
)

describe("FieldSpec", () => {
  it("parses the documented example", () => {
    assert.deepStrictEqual(
      parsed("title:string(1..200),amount:decimal(12,2),status:enum(draft|sent|paid),due:date?"),
      [
        { name: "title", type: { _tag: "String", minLength: 1, maxLength: 200 }, optional: false },
        { name: "amount", type: { _tag: "Decimal", precision: 12, scale: 2, bounds: {} }, optional: false },
        { name: "status", type: { _tag: "Enum", values: ["draft", "sent", "paid"] }, optional: false },
        { name: "due", type: { _tag: "Date" }, optional: true }
      ]
    )
  })

  it("reads every type, spaces allowed around the parts", () => {
    const spec = parsed(
      " a : string , b:text?, c:int(>=0), d:number(>0, <1), e:decimal(9, 3, >=-5), f:boolean, g:uuid?, h:date, i:enum(x | y), j:string[] "
    )
    assert.deepStrictEqual(
      spec.map((f) => FieldSpec.printType(f.type)),
      [
        "string",
        "text",
        "int(>=0)",
        "number(>0,<1)",
        "decimal(9,3,>=-5)",
        "boolean",
        "uuid",
        "date",
        "enum(x|y)",
        "string[]"
      ]
    )
    assert.deepStrictEqual(
      spec.filter((f) => f.optional).map((f) => f.name),
      ["b", "g"]
    )
  })

  it("a range bound is inclusive on both ends", () => {
    assert.deepStrictEqual(parsed("n:int(0..10)")[0]!.type, {
      _tag: "Int",
      bounds: { min: { value: 0, exclusive: false }, max: { value: 10, exclusive: false } }
    })
  })

  it("print is the inverse of parse (generated specs)", () => {
    fc.assert(
      fc.property(spec, (ast) => {
        const text = FieldSpec.print(ast)
        assert.deepStrictEqual(parsed(text), ast, text)
        // and the AST is what its Schema describes
        Schema.decodeUnknownSync(FieldSpec.Spec)(ast)
      }),
      { numRuns: 500 }
    )
  })

  const mistakes: ReadonlyArray<readonly [string, number, string | undefined, string]> = [
    ["", 0, undefined, "no fields"],
    ["title:string,", 2, undefined, "an empty field"],
    ["title", 1, "title", `no ":"`],
    ["title:", 1, "title", "a type expected"],
    ["a:int,b:float", 2, "b", `unknown type "float"`],
    ["a:string(1..200", 1, undefined, "never closed"],
    ["a:int),b:text", 1, undefined, "without its '('"],
    ["a:string(200)", 1, "a", "min..max"],
    ["a:string(5..2)", 1, "a", "above the maximum"],
    ["a:decimal(12)", 1, "a", "precision and scale"],
    ["a:decimal(20,2)", 1, "a", "at most 15"],
    ["a:decimal(4,5)", 1, "a", "the scale"],
    ["a:int(>=1.5)", 1, "a", "must be an integer"],
    ["a:int(>=0,>1)", 1, "a", "two lower bounds"],
    ["a:number(>5,<5)", 1, "a", "admit no value"],
    ["a:int(~3)", 1, "a", "a bound is"],
    ["a:enum(x|x)", 1, "a", "appears twice"],
    ["a:enum(1x)", 1, "a", "an enum value"],
    ["a:enum", 1, "a", "needs its values"],
    ["a:boolean(1)", 1, "a", "takes no arguments"],
    ["a:int[]", 1, "a", `only "string[]"`],
    ["a:date!", 1, "a", `unexpected "!"`],
    ["ok:text,b:int(>=x)", 2, "b", `"x" is not a number`]
  ]

  for (const [input, field, fieldName, reason] of mistakes) {
    it(`refuses ${JSON.stringify(input)} naming field ${field}`, () => {
      const error = refused(input)
      assert.strictEqual(error.field, field)
      assert.strictEqual(error.fieldName, fieldName)
      assert.include(error.message, reason)
      // one line that says where
      assert.notInclude(error.message, "\n")
      assert.match(error.message, field === 0 ? /^--fields: / : new RegExp(`^--fields: field ${field}`))
    })
  }
})
