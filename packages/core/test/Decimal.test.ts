import { assert, describe, it } from "@effect/vitest"
import { Decimal } from "@org/core"
import { Effect, Exit, Schema } from "effect"
import * as Arbitrary from "effect/Arbitrary"
import * as fc from "fast-check"

const Money = Decimal.make({ precision: 12, scale: 2 })
const Price = Money.check(Schema.isGreaterThanOrEqualTo(0))
const decode = Schema.decodeUnknownExit(Price)
const is = Schema.is(Money)

const failure = (exit: Exit.Exit<unknown, Schema.SchemaError>): string =>
  Exit.isFailure(exit)
    ? String(exit.cause.reasons.map((r) => (r._tag === "Fail" ? r.error.message : r._tag)))
    : ""

describe("Decimal", () => {
  it("accepts what numeric(12,2) stores exactly, edges included", () => {
    for (const n of [0, 0.07, 0.1, 12.34, 12.3, 1, 9_999_999_999.99, 0.01]) {
      assert.isTrue(Exit.isSuccess(decode(n)), String(n))
    }
    assert.isTrue(is(-9_999_999_999.99))
  })

  it("refuses (never rounds) too many decimals or digits, with a message naming the limits", () => {
    for (const n of [12.345, 0.1 + 0.2, 1e10, 10_000_000_000.5, 0.001, 5e-324, Number.NaN, Infinity]) {
      assert.isFalse(is(n), String(n))
    }
    assert.strictEqual(
      failure(decode(12.345)),
      "Expected a decimal with at most 10 digits before the point and 2 after it"
    )
    assert.include(failure(decode(-0.01)), "greater than or equal to 0")
    const Count = Decimal.make({ precision: 3, scale: 0 })
    assert.isTrue(Schema.is(Count)(999))
    assert.isFalse(Schema.is(Count)(1000))
    assert.include(failure(Schema.decodeUnknownExit(Count)(1.5)), "an integer of at most 3 digits")
  })

  it("agrees with an independent oracle (toFixed round trip) on arbitrary doubles", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.double({ noNaN: true, min: -1e11, max: 1e11 }),
          fc.integer({ min: -1e12, max: 1e12 }).map((c) => c / 100)
        ),
        fc.integer({ min: 0, max: 6 }),
        (n, scale) => {
          const options = { precision: 12, scale }
          const oracle = Math.abs(n) < 10 ** (12 - scale) && Number(n.toFixed(scale)) === n
          assert.strictEqual(Decimal.fits(options, n), oracle, `${n} at scale ${scale}`)
        }
      ),
      { numRuns: 2_000 }
    )
  })

  it("every fitting value survives JSON and the text SQL binds (String) unchanged", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -(10 ** 15) + 1, max: 10 ** 15 - 1 }),
        fc.integer({ min: 0, max: 15 }),
        (units, scale) => {
          const n = units / 10 ** scale
          assert.isTrue(Decimal.fits({ precision: 15, scale }, n), String(n))
          assert.strictEqual(JSON.parse(JSON.stringify(n)), n)
          assert.strictEqual(Number(String(n)), n)
          assert.isAtMost(Decimal.fractionDigits(n), scale)
        }
      )
    )
  })

  it("refuses impossible definitions when the schema is made", () => {
    assert.throws(
      () => Decimal.make({ precision: 16, scale: 2 }),
      /precision must be an integer from 1 to 15/
    )
    assert.throws(() => Decimal.make({ precision: 0, scale: 0 }), /precision/)
    assert.throws(
      () => Decimal.make({ precision: 4, scale: 5 }),
      /scale must be an integer from 0 to the precision/
    )
    assert.throws(() => Decimal.make({ precision: 4, scale: 1.5 }), /scale/)
  })

  it("getOptions reads precision and scale back through further checks", () => {
    assert.deepStrictEqual(Decimal.getOptions(Price), { precision: 12, scale: 2 })
    assert.deepStrictEqual(Decimal.getOptions(Price.ast), { precision: 12, scale: 2 })
    assert.isUndefined(Decimal.getOptions(Schema.Finite))
  })

  it("documents its bounds and scale in JSON Schema, so a schema-valid number is a valid one", () => {
    const document = Schema.toJsonSchemaDocument(Price)
    assert.deepInclude(document.schema as object, {
      type: "number",
      exclusiveMaximum: 10_000_000_000,
      multipleOf: 0.01
    })
    // the value a generated client sent that the server refused (issue 12): now schema-invalid too
    const n = 7875994132.137326
    assert.isFalse(Schema.is(Price)(n))
    assert.notStrictEqual(Math.round(n * 100) / 100, n, "not a multiple of 0.01")
    const whole = Schema.toJsonSchemaDocument(Decimal.make({ precision: 9, scale: 0 }))
    assert.deepInclude(whole.schema as object, { multipleOf: 1 })
  })

  it.effect("Effect's own Arbitrary generates fitting values (no exhaustion)", () =>
    Effect.gen(function* () {
      const values = yield* Arbitrary.sampleEffect(Arbitrary.schema(Price), { count: 50, seed: 7 })
      assert.strictEqual(values.length, 50)
      for (const n of values) assert.isTrue(Schema.is(Price)(n), String(n))
    })
  )
})
