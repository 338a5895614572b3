/**
 * Effect's own `Result`, re-exported with what it lacks: validation that
 * collects every failure instead of stopping at the first (`validateAll`,
 * `validateStruct`). The bridges are Effect's: `Effect.fromResult` (to an
 * effect), `Effect.result` (from one), `Result.fromNullishOr`,
 * `Result.fromOption`, `Result.getSuccess`.
 *
 * @since 0.1.0
 */
import * as Arr from "effect/Array"
import * as R from "effect/Result"

export * from "effect/Result"

/**
 * Validation that accumulates: all successes when every result succeeds,
 * otherwise every failure, in input order (never just the first).
 *
 * @example
 * ```ts
 * import { Result } from "@org/core"
 * Result.validateAll([Result.succeed(1), Result.fail("a"), Result.fail("b")])
 * // Failure(["a", "b"])
 * ```
 *
 * @since 0.1.0
 * @category validation
 */
export const validateAll = <A, E>(
  results: Iterable<R.Result<A, E>>
): R.Result<Array<A>, Arr.NonEmptyArray<E>> => {
  const successes: Array<A> = []
  const failures: Array<E> = []
  for (const result of results) {
    if (R.isSuccess(result)) successes.push(result.success)
    else failures.push(result.failure)
  }
  return Arr.isArrayNonEmpty(failures) ? R.fail(failures) : R.succeed(successes)
}

/**
 * Validates every field of a record with its own `Result`, keeping the field
 * names: all values, or every failure tagged with the field that produced it.
 *
 * @example
 * ```ts
 * import { Result } from "@org/core"
 * Result.validateStruct({ name: Result.succeed("a"), age: Result.fail("too young") })
 * // Failure([{ field: "age", error: "too young" }])
 * ```
 *
 * @since 0.1.0
 * @category validation
 */
export const validateStruct = <const Fields extends Record<string, R.Result<unknown, unknown>>>(
  fields: Fields
): R.Result<
  { readonly [K in keyof Fields]: R.Result.Success<Fields[K]> },
  Arr.NonEmptyArray<{
    readonly field: keyof Fields & string
    readonly error: R.Result.Failure<Fields[keyof Fields]>
  }>
> => {
  const values: Record<string, unknown> = {}
  const failures: Array<{ field: string; error: unknown }> = []
  for (const [field, result] of Object.entries(fields)) {
    if (R.isSuccess(result)) values[field] = result.success
    else failures.push({ field, error: result.failure })
  }
  type Values = { readonly [K in keyof Fields]: R.Result.Success<Fields[K]> }
  type Failures = Arr.NonEmptyArray<{
    readonly field: keyof Fields & string
    readonly error: R.Result.Failure<Fields[keyof Fields]>
  }>
  // The loop above fills `values` with exactly the keys and types of
  // `fields`, and `failures` with their names and errors.
  return Arr.isArrayNonEmpty(failures) ? R.fail(failures as Failures) : R.succeed(values as Values)
}
