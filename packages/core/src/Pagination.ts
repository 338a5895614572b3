/**
 * Page requests and pages: `page` (from 1), `size`, and a multi-field sort
 * whose ties are always broken by `id`, so paging is stable.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import * as SchemaTransformation from "effect/SchemaTransformation"

/**
 * The largest page size a request may ask for.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxSize = 100

/**
 * The page size used when a request names none.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultSize = 20

/**
 * `asc` or `desc`.
 *
 * @since 0.1.0
 * @category models
 */
export const Direction = Schema.Literals(["asc", "desc"])

/**
 * `asc` or `desc`.
 *
 * @since 0.1.0
 * @category models
 */
export type Direction = typeof Direction.Type

/**
 * One sort key: a field and a direction.
 *
 * @since 0.1.0
 * @category models
 */
export interface SortKey<Field extends string = string> {
  readonly field: Field
  readonly direction: Direction
}

/**
 * A 1-based page number.
 *
 * @since 0.1.0
 * @category models
 */
export const PageNumber = Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))

/**
 * A page size between 1 and {@link maxSize}.
 *
 * @since 0.1.0
 * @category models
 */
export const PageSize = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: maxSize }))

// A query parameter's digits: no sign, exponent, fraction, blank or leading
// zero, so `?page=1e3` or `?page=+1` is refused, not read as 1000 or 1.
const digits = (max: number) =>
  Schema.String.check(
    Schema.isMaxLength(9),
    Schema.isPattern(/^[1-9][0-9]{0,8}$/u, { expected: "a positive integer written in digits" })
  ).pipe(
    Schema.decodeTo(
      Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: max })),
      SchemaTransformation.transform({ decode: Number, encode: String })
    )
  )

/**
 * `page` as a query parameter: digits only (`?page=2`), 1 or more.
 *
 * @since 0.2.0
 * @category schemas
 */
export const PageNumberParam = digits(999_999_999)

/**
 * `size` as a query parameter: digits only, 1 to {@link maxSize}.
 *
 * @since 0.2.0
 * @category schemas
 */
export const PageSizeParam = digits(maxSize)

/**
 * Which page of a listing to return, and in which order.
 *
 * @since 0.1.0
 * @category models
 */
export interface PageRequest<Field extends string = string> {
  readonly page: number
  readonly size: number
  readonly sort: ReadonlyArray<SortKey<Field>>
}

/**
 * A page request; page and size default to 1 and {@link defaultSize}.
 * Out-of-range numbers are clamped, so a `PageRequest` is always valid.
 *
 * @example
 * ```ts
 * import { Pagination } from "@org/core"
 * const request = Pagination.request({ page: 2, size: 10, sort: [{ field: "name", direction: "asc" }] })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const request = <Field extends string = never>(options?: {
  readonly page?: number | undefined
  readonly size?: number | undefined
  readonly sort?: ReadonlyArray<SortKey<Field>> | undefined
}): PageRequest<Field> => ({
  page: Math.max(1, Math.trunc(options?.page ?? 1)),
  size: Math.min(maxSize, Math.max(1, Math.trunc(options?.size ?? defaultSize))),
  sort: options?.sort ?? []
})

/**
 * One page of results with the numbers a client needs to page on.
 *
 * @since 0.1.0
 * @category models
 */
export interface Page<A> {
  readonly items: ReadonlyArray<A>
  readonly page: number
  readonly size: number
  readonly total: number
  readonly pages: number
}

/**
 * The number of pages for `total` items of `size` per page (0 when empty).
 *
 * @since 0.1.0
 * @category utils
 */
export const pageCount = (total: number, size: number): number => Math.ceil(total / size)

/**
 * How many items a page skips.
 *
 * @since 0.1.0
 * @category utils
 */
export const offset = (request: PageRequest<string>): number => (request.page - 1) * request.size

/**
 * Builds a page from its items, the request, and the total count.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makePage = <A>(
  items: ReadonlyArray<A>,
  request: PageRequest<string>,
  total: number
): Page<A> => ({
  items,
  page: request.page,
  size: request.size,
  total,
  pages: pageCount(total, request.size)
})

/**
 * The schema of a page of `item`, for API responses.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Pagination } from "@org/core"
 * const PageOfNames = Pagination.Page(Schema.String)
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const Page = <S extends Schema.Top>(item: S) =>
  Schema.Struct({
    items: Schema.Array(item).check(Schema.isMaxLength(maxSize)),
    page: PageNumber,
    size: PageSize,
    total: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
    pages: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
  })
