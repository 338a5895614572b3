/**
 * What the templates are made from: the entity's names, its fields with
 * their schema expressions, sort/filter lists and sample values, its
 * permissions and the chosen options. Derived from a parsed spec by pure
 * functions; the planner renders it.
 *
 * @since 0.1.0
 */
import * as FieldSpec from "./FieldSpec.ts"
import type * as Names from "./Names.ts"

/**
 * The generator's options (`--with-events`, `--with-cache`,
 * `--soft-delete`, `--owned`). `cache` implies `events`: cached reads are
 * dropped when the entity's events commit.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly events: boolean
  readonly cache: boolean
  readonly softDelete: boolean
  readonly owned: boolean
}

/**
 * A field value in its JSON form, for the generated tests (`string[]` is an
 * array of strings).
 *
 * @since 0.1.0
 * @category models
 */
export type Sample = string | number | boolean | ReadonlyArray<string>

/**
 * One field, ready to render.
 *
 * @since 0.1.0
 * @category models
 */
export interface FieldModel {
  readonly name: string
  readonly optional: boolean
  readonly type: FieldSpec.FieldType
  /** The TypeScript expression of its schema, e.g. `Schema.NullOr(Entity.Timestamp)`. */
  readonly schema: string
  readonly sortable: boolean
  /** API clients may filter on it (arrays: no, the Specification filters compare scalars). */
  readonly filterable: boolean
  /** A valid value in its JSON form, and a second one (different where the type allows). */
  readonly sample: Sample
  readonly other: Sample
}

/**
 * The permissions of the entity and who gets them.
 *
 * @since 0.1.0
 * @category models
 */
export interface Permissions {
  readonly read: string
  readonly create: string
  /** `own` and `any` with `--owned`; one permission otherwise. */
  readonly update: { readonly own: string; readonly any: string } | string
  readonly delete: { readonly own: string; readonly any: string } | string
  readonly all: ReadonlyArray<string>
  readonly user: ReadonlyArray<string>
  readonly admin: ReadonlyArray<string>
}

/**
 * Everything the templates need.
 *
 * @since 0.1.0
 * @category models
 */
export interface Model {
  readonly names: Names.EntityNames
  readonly fields: ReadonlyArray<FieldModel>
  readonly options: Options
  readonly permissions: Permissions
  readonly sortable: ReadonlyArray<string>
  readonly filterable: ReadonlyArray<string>
  readonly usesDecimal: boolean
  /** The spec as given, printed canonically (it heads the generated files). */
  readonly spec: string
}

/**
 * The longest text the generator lets be sorted (`EntityTable` indexes text
 * up to this many code points; longer text could not be indexed).
 *
 * @since 0.1.0
 * @category constants
 */
export const maxSortableLength = 600

/**
 * The maximum length of a bare `string` field.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxLength = 255

/**
 * The most items a `string[]` field holds (each a bare `string`, at most
 * {@link defaultMaxLength} code points). A bound, so one request cannot
 * store an unbounded list; `EntityTable` makes it a `CHECK` on the array's
 * `cardinality`. Edit the generated schema for another.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxArrayItems = 100

const num = (n: number): string => (Object.is(n, -0) ? "0" : String(n))

const boundChecks = (bounds: FieldSpec.Bounds): ReadonlyArray<string> => [
  ...(bounds.min === undefined
    ? []
    : [
        bounds.min.exclusive
          ? `Schema.isGreaterThan(${num(bounds.min.value)})`
          : `Schema.isGreaterThanOrEqualTo(${num(bounds.min.value)})`
      ]),
  ...(bounds.max === undefined
    ? []
    : [
        bounds.max.exclusive
          ? `Schema.isLessThan(${num(bounds.max.value)})`
          : `Schema.isLessThanOrEqualTo(${num(bounds.max.value)})`
      ])
]

const checked = (base: string, checks: ReadonlyArray<string>): string =>
  checks.length === 0 ? base : `${base}.check(${checks.join(", ")})`

const baseSchema = (type: FieldSpec.FieldType): string => {
  switch (type._tag) {
    case "String":
      return checked("Entity.Text", [
        ...(type.minLength === undefined || type.minLength === 0
          ? []
          : [`Schema.isMinCodePoints(${type.minLength})`]),
        `Schema.isMaxCodePoints(${type.maxLength ?? defaultMaxLength})`
      ])
    case "Text":
      return "Entity.Text"
    case "Int":
      return checked("Schema.Int", boundChecks(type.bounds))
    case "Number":
      return checked("Schema.Finite", boundChecks(type.bounds))
    case "Decimal":
      return checked(
        `Decimal.make({ precision: ${type.precision}, scale: ${type.scale} })`,
        boundChecks(type.bounds)
      )
    case "Boolean":
      return "Schema.Boolean"
    case "Uuid":
      return "Entity.Uuid"
    case "Date":
      return "Entity.Timestamp"
    case "Enum":
      return `Schema.Literals([${type.values.map((v) => JSON.stringify(v)).join(", ")}])`
    case "StringArray":
      return checked(`Schema.Array(${baseSchema({ _tag: "String" })})`, [
        `Schema.isMaxLength(${maxArrayItems})`
      ])
  }
}

const isSortable = (type: FieldSpec.FieldType): boolean => {
  switch (type._tag) {
    case "String":
      return (type.maxLength ?? defaultMaxLength) <= maxSortableLength
    case "Text":
    case "Boolean":
    case "StringArray":
      return false
    default:
      return true
  }
}

const within = (bounds: FieldSpec.Bounds, n: number): boolean =>
  (bounds.min === undefined || (bounds.min.exclusive ? n > bounds.min.value : n >= bounds.min.value)) &&
  (bounds.max === undefined || (bounds.max.exclusive ? n < bounds.max.value : n <= bounds.max.value))

// The first two distinct candidates that pass `accept` (the only one twice
// when the bounds admit a single value).
const pick = (
  candidates: ReadonlyArray<number>,
  accept: (n: number) => boolean
): readonly [number, number] => {
  const ok = [...new Set(candidates.map((n) => (Object.is(n, -0) ? 0 : n)))].filter(accept)
  const first = ok[0] ?? 0
  return [first, ok[1] ?? first]
}

const numberCandidates = (bounds: FieldSpec.Bounds, step: number): ReadonlyArray<number> => {
  const out = [1, 2, 0, 3]
  for (const b of [bounds.min, bounds.max]) {
    if (b !== undefined)
      out.push(b.value, b.value + step, b.value - step, b.value + 2 * step, b.value - 2 * step)
  }
  if (bounds.min !== undefined && bounds.max !== undefined)
    out.push((bounds.min.value + bounds.max.value) / 2)
  return out
}

const fitsDecimal = (precision: number, scale: number, n: number): boolean => {
  const scaled = n * 10 ** scale
  return Math.abs(Math.round(scaled) - scaled) < 1e-9 && Math.abs(n) < 10 ** (precision - scale)
}

// Round to the type's scale, so a midpoint candidate prints as a decimal it accepts.
const roundTo = (n: number, scale: number): number => Number(n.toFixed(scale))

const sizedText = (base: string, min: number, max: number): string => {
  const length = Math.min(Math.max(base.length, min), max)
  return base.padEnd(length, "x").slice(0, length)
}

const samples = (type: FieldSpec.FieldType): readonly [Sample, Sample] => {
  switch (type._tag) {
    case "String": {
      const min = type.minLength ?? 0
      const max = type.maxLength ?? defaultMaxLength
      return [sizedText("Sample", min, max), sizedText("Other", min, max)]
    }
    case "Text":
      return ["Sample text", "Other text"]
    case "Int":
      return pick(numberCandidates(type.bounds, 1), (n) => Number.isInteger(n) && within(type.bounds, n))
    case "Number":
      return pick(numberCandidates(type.bounds, 0.5), (n) => within(type.bounds, n))
    case "Decimal": {
      const step = 10 ** -type.scale
      return pick(
        numberCandidates(type.bounds, step).map((n) => roundTo(n, type.scale)),
        (n) => within(type.bounds, n) && fitsDecimal(type.precision, type.scale, n)
      )
    }
    case "Boolean":
      return [true, false]
    case "Uuid":
      return ["0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c"]
    case "Date":
      return ["2026-01-15T10:00:00.000Z", "2026-02-01T12:30:00.000Z"]
    case "Enum":
      return [type.values[0]!, type.values[1] ?? type.values[0]!]
    case "StringArray":
      // Characters Postgres' array syntax treats specially, so the generated
      // tests send them; the second sample (the patch when the list is the
      // first field that can change) is the empty list.
      return [["Sample", 'a, "quoted" {tag}'], []]
  }
}

/**
 * The permissions of an entity: `<kebab>:read|create|update:own|update:any|delete:own|delete:any`
 * with `--owned` (a user gets read, create and the `own` ones, an admin the
 * `any` ones); without it `read|create|update|delete`, a user reading and
 * creating and only an admin changing or deleting (nothing says whose a row
 * is, so no user may change everyone's).
 *
 * @since 0.1.0
 * @category models
 */
export const permissionsOf = (kebab: string, owned: boolean): Permissions => {
  const read = `${kebab}:read`
  const create = `${kebab}:create`
  if (owned) {
    const update = { own: `${kebab}:update:own`, any: `${kebab}:update:any` }
    const remove = { own: `${kebab}:delete:own`, any: `${kebab}:delete:any` }
    return {
      read,
      create,
      update,
      delete: remove,
      all: [read, create, update.own, update.any, remove.own, remove.any],
      user: [read, create, update.own, remove.own],
      admin: [update.any, remove.any]
    }
  }
  const update = `${kebab}:update`
  const remove = `${kebab}:delete`
  return {
    read,
    create,
    update,
    delete: remove,
    all: [read, create, update, remove],
    user: [read, create],
    admin: [update, remove]
  }
}

/**
 * The model of an entity from its checked names and spec.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (names: Names.EntityNames, spec: FieldSpec.Spec, options: Options): Model => {
  const fields: Array<FieldModel> = []
  for (const field of spec) {
    const base = baseSchema(field.type)
    const [sample, other] = samples(field.type)
    fields.push({
      name: field.name,
      optional: field.optional,
      type: field.type,
      schema: field.optional ? `Schema.NullOr(${base})` : base,
      sortable: isSortable(field.type),
      filterable: field.type._tag !== "StringArray",
      sample,
      other
    })
  }
  const events = options.events || options.cache
  return {
    names,
    fields,
    options: { ...options, events },
    permissions: permissionsOf(names.kebab, options.owned),
    sortable: ["id", ...fields.filter((f) => f.sortable).map((f) => f.name), "createdAt", "updatedAt"],
    filterable: [
      "id",
      ...fields.filter((f) => f.filterable).map((f) => f.name),
      ...(options.owned ? ["ownerId"] : []),
      "createdAt",
      "updatedAt"
    ],
    usesDecimal: fields.some((f) => f.type._tag === "Decimal"),
    spec: FieldSpec.print(spec)
  }
}
