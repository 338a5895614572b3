/**
 * The one total order of field values that every repository sorts by, so the
 * in-memory and the SQL implementation return rows in the same order:
 * strings by Unicode code point (Postgres `COLLATE "C"`), numbers and
 * booleans naturally, date-times by instant, and `null` after every value
 * (Postgres' default: `NULLS LAST` ascending, `NULLS FIRST` descending).
 *
 * @since 0.1.0
 */
import * as DateTime from "effect/DateTime"
import type * as Pagination from "./Pagination.ts"

// Maps UTF-16 code units so that comparing them gives code point order:
// surrogates (U+D800..DFFF, i.e. astral code points) must sort after U+E000..FFFF.
const codeUnitRank = (c: number): number => (c >= 0xe000 ? c - 0x800 : c >= 0xd800 ? c + 0x2000 : c)

/**
 * Compares two strings by Unicode code point, like Postgres' `"C"` collation
 * on UTF-8 text (JavaScript's `<` compares UTF-16 code units instead).
 *
 * @since 0.1.0
 * @category orders
 */
export const compareStrings = (a: string, b: string): number => {
  const length = Math.min(a.length, b.length)
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x !== y) return codeUnitRank(x) - codeUnitRank(y)
  }
  return a.length - b.length
}

const rank = (value: unknown): number | string | undefined => {
  if (typeof value === "string" || typeof value === "number") return value
  if (typeof value === "boolean") return value ? 1 : 0
  if (DateTime.isDateTime(value)) return DateTime.toEpochMillis(value)
  return undefined
}

/**
 * Compares two field values in ascending order, `null` last. Values of
 * different kinds (which one column never holds) compare equal.
 *
 * @since 0.1.0
 * @category orders
 */
export const compareValues = (a: unknown, b: unknown): number => {
  const aNull = a === null || a === undefined
  const bNull = b === null || b === undefined
  if (aNull || bNull) return aNull === bNull ? 0 : aNull ? 1 : -1
  const x = rank(a)
  const y = rank(b)
  if (typeof x === "string" && typeof y === "string") return compareStrings(x, y)
  if (typeof x === "number" && typeof y === "number") return x < y ? -1 : x > y ? 1 : 0
  return 0
}

/**
 * A comparator of records for a sort, with ties broken by `id` ascending.
 *
 * @example
 * ```ts
 * import { Ordering } from "@org/core"
 * const rows = [{ id: "b", n: 1 }, { id: "a", n: 1 }]
 * rows.sort(Ordering.bySortKeys([{ field: "n", direction: "desc" }]))
 * ```
 *
 * @since 0.1.0
 * @category orders
 */
export const bySortKeys =
  (sort: ReadonlyArray<Pagination.SortKey>) =>
  (a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>): number => {
    for (const key of sort) {
      const result = compareValues(a[key.field], b[key.field])
      if (result !== 0) return key.direction === "asc" ? result : -result
    }
    return compareValues(a.id, b.id)
  }
