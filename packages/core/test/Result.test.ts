import { assert, describe, it } from "@effect/vitest"
import { Result } from "@org/core"
import { Option } from "effect"
import * as fc from "fast-check"

const result: fc.Arbitrary<Result.Result<number, string>> = fc.oneof(
  fc.integer().map((n) => Result.succeed(n)),
  fc.string().map((s) => Result.fail(s))
)

describe("Result", () => {
  it("is Effect's Result: its constructors and guards are re-exported", () => {
    fc.assert(
      fc.property(result, (r) => {
        assert.strictEqual(Result.isSuccess(r), !Result.isFailure(r))
        assert.deepStrictEqual(
          Result.getSuccess(r),
          Result.isSuccess(r) ? Option.some(r.success) : Option.none()
        )
      })
    )
  })

  it("validateAll keeps every failure in order, or every success", () => {
    fc.assert(
      fc.property(fc.array(result), (results) => {
        const failures = results.filter(Result.isFailure).map((r) => r.failure)
        const successes = results.filter(Result.isSuccess).map((r) => r.success)
        const validated = Result.validateAll(results)
        if (failures.length > 0) assert.deepStrictEqual(Result.getFailure(validated), Option.some(failures))
        else assert.deepStrictEqual(Result.getSuccess(validated), Option.some(successes))
      })
    )
  })

  it("validateStruct names the failing fields", () => {
    const validated = Result.validateStruct({
      name: Result.succeed("saw"),
      price: Result.fail("must be >= 0"),
      quantity: Result.fail("must be an integer")
    })
    assert.deepStrictEqual(
      validated,
      Result.fail([
        { field: "price", error: "must be >= 0" },
        { field: "quantity", error: "must be an integer" }
      ])
    )
    assert.deepStrictEqual(Result.validateStruct({ a: Result.succeed(1) }), Result.succeed({ a: 1 }))
  })
})
