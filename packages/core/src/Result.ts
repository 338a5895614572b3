/**
 * Effect's own `Result`, re-exported with the bridges service code reaches for:
 * to and from `Effect`, from nullable values and `Option`, and validation that
 * collects every failure instead of stopping at the first.
 *
 * @since 0.1.0
 */
import * as Arr from "effect/Array"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as R from "effect/Result"

export * from "effect/Result"

/**
 * Lifts a `Result` into an `Effect` that succeeds or fails with its value.
 *
 * @example
 * ```ts
 * import { Result } from "@org/core"
 * const effect = Result.toEffect(Result.succeed(1))
 * ```
 *
 * @since 0.1.0
 * @category conversions
 */
export const toEffect: <A, E>(self: R.Result<A, E>) => Effect.Effect<A, E> = Effect.fromResult

/**
 * Runs an effect and captures its typed outcome as a `Result` (defects still die).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Result } from "@org/core"
 * const outcome = Result.fromEffect(Effect.fail("boom")) // Effect<Result<never, string>>
 * ```
 *
 * @since 0.1.0
 * @category conversions
 */
export const fromEffect: <A, E, Req>(
  self: Effect.Effect<A, E, Req>
) => Effect.Effect<R.Result<A, E>, never, Req> = Effect.result

/**
 * A `Success` for a present value, a `Failure` built by `onNullish` for `null`
 * or `undefined`.
 *
 * @example
 * ```ts
 * import { Result } from "@org/core"
 * Result.fromNullable(process.env.PORT, () => "PORT is not set")
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromNullable = <A, E>(value: A, onNullish: () => E): R.Result<NonNullable<A>, E> =>
  R.fromNullishOr(value, onNullish)

/**
 * A `Result` from an `Option`, failing with `onNone()` when it is empty.
 *
 * @since 0.1.0
 * @category conversions
 */
export const fromOptionOr = <A, E>(option: Option.Option<A>, onNone: () => E): R.Result<A, E> =>
  Option.isSome(option) ? R.succeed(option.value) : R.fail(onNone())

/**
 * The value of a `Success` as an `Option`; a `Failure` becomes `None`.
 *
 * @since 0.1.0
 * @category conversions
 */
export const toOption: <A, E>(self: R.Result<A, E>) => Option.Option<A> = R.getSuccess

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
  // The loop above fills `values` with exactly the keys and types of `fields`.
  return Arr.isArrayNonEmpty(failures) ? R.fail(failures as never) : R.succeed(values as never)
}
