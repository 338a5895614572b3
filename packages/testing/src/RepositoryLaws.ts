/**
 * The laws every `Repository` implementation obeys, as a model-based
 * property over any entity made with `Entity.make`: random command sequences
 * run against a small reference model and against the implementation must
 * give the same observable results, step by step (values, versions,
 * timestamps, errors, page contents and order).
 *
 * The scenarios are derived from the entity's own schemas: create inputs and
 * patches from its fields, filters over its filterable fields, sorts over its
 * sortable fields. Run it on a team's entity and table, and it tests that
 * table (its column types, collations, unique indexes), not just the kit.
 * Running it against `RepositoryMemory` and `RepositorySql` proves the two
 * equivalent wherever the scenarios reach.
 *
 * @since 0.1.0
 */
import { type Entity, Ordering, Pagination, type Repository, RepositorySql, Specification } from "@org/core"
import * as Clock from "effect/Clock"
import type * as SecureRandom from "effect/crypto/SecureRandom"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Random from "effect/Random"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaAST from "effect/SchemaAST"
import * as SqlClient from "effect/sql/SqlClient"
import * as TestClock from "effect/testing/TestClock"
import * as fc from "fast-check"
import * as FieldArbitrary from "./internal/fieldArbitrary.ts"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * Which entity a command targets: the n-th created (deleted ones included),
 * or an id that was never created.
 *
 * @since 0.1.0
 * @category models
 */
export type Target =
  | { readonly _tag: "Created"; readonly n: number }
  | { readonly _tag: "Unknown"; readonly id: string }

/**
 * The version a write is made against.
 *
 * @since 0.1.0
 * @category models
 */
export type Expect = "none" | "current" | "stale"

/**
 * A value in a generated filter: a field value in its encoded form, the id
 * of the n-th created entity, or the instant `offset` milliseconds after the
 * scenario began (ids and times are only known while it runs).
 *
 * @since 0.1.0
 * @category models
 */
export type FilterValue =
  | Specification.Value
  | { readonly _tag: "IdOf"; readonly n: number }
  | { readonly _tag: "Instant"; readonly offset: number }

/**
 * A generated filter: a `Specification` whose values are resolved when the
 * scenario runs.
 *
 * @since 0.1.0
 * @category models
 */
export type Filter =
  | {
      readonly _tag: "Compare"
      readonly field: string
      readonly op: Specification.Operator
      readonly value: FilterValue
    }
  | { readonly _tag: "In"; readonly field: string; readonly values: ReadonlyArray<FilterValue> }
  | {
      readonly _tag: "Between"
      readonly field: string
      readonly low: FilterValue
      readonly high: FilterValue
    }
  | {
      readonly _tag: "Like"
      readonly field: string
      readonly pattern: string
      readonly caseInsensitive: boolean
    }
  | { readonly _tag: "IsNull"; readonly field: string }
  | { readonly _tag: "And" | "Or"; readonly filters: ReadonlyArray<Filter> }
  | { readonly _tag: "Not"; readonly filter: Filter }

/**
 * One step of a generated scenario.
 *
 * @since 0.1.0
 * @category models
 */
export type Command<D extends Entity.Any = Entity.Any> =
  | { readonly _tag: "Create"; readonly input: Entity.CreateOf<D> }
  | { readonly _tag: "Get"; readonly target: Target }
  | {
      readonly _tag: "Update"
      readonly target: Target
      readonly patch: Entity.PatchOf<D>
      readonly expect: Expect
    }
  | { readonly _tag: "Delete"; readonly target: Target; readonly expect: Expect }
  | {
      readonly _tag: "List"
      readonly page: number
      readonly size: number
      readonly sort: ReadonlyArray<Pagination.SortKey<Entity.SortableOf<D>>>
      readonly filter: Filter | undefined
    }
  | { readonly _tag: "Count"; readonly filter: Filter | undefined }
  | { readonly _tag: "Tick"; readonly millis: number }

/**
 * Your own generators for fields whose schema the derivation cannot serve
 * (a custom filter no generator satisfies often enough), or where you want
 * specific values. They are pooled like derived ones.
 *
 * @since 0.1.0
 * @category models
 */
export type FieldArbitraries<D extends Entity.Any> = {
  readonly [K in keyof D["fields"]]?: fc.Arbitrary<D["fields"][K]["Type"]>
}

/**
 * How to run the laws. `numRuns` scenarios (default 100) of at most
 * `maxCommands` steps (default 40); `seed` and `path` replay a reported
 * failure; `endOnFailure` skips shrinking.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<D extends Entity.Any> {
  readonly numRuns?: number | undefined
  readonly maxCommands?: number | undefined
  readonly seed?: number | undefined
  readonly path?: string | undefined
  readonly endOnFailure?: boolean | undefined
  readonly arbitraries?: FieldArbitraries<D> | undefined
}

/**
 * The outcome of a run, as fast-check reports it (`failed`, `counterexample`,
 * `errorInstance`, `seed`, `counterexamplePath`, `numRuns`...).
 *
 * @since 0.1.0
 * @category models
 */
export type Report<D extends Entity.Any> = fc.RunDetails<[ReadonlyArray<Command<D>>]>

// -----------------------------------------------------------------------------
// arbitraries
// -----------------------------------------------------------------------------

/**
 * The generators of one entity's scenarios.
 *
 * @since 0.1.0
 * @category models
 */
export interface Arbitraries<D extends Entity.Any> {
  readonly input: fc.Arbitrary<Entity.CreateOf<D>>
  readonly patch: fc.Arbitrary<Entity.PatchOf<D>>
  readonly filter: fc.Arbitrary<Filter>
  readonly sort: fc.Arbitrary<ReadonlyArray<Pagination.SortKey<Entity.SortableOf<D>>>>
  readonly command: fc.Arbitrary<Command<D>>
  readonly scenario: fc.Arbitrary<ReadonlyArray<Command<D>>>
}

// Each field draws mostly from a small pool of its own values (fixed per
// run of the laws, from the seed), so ties in sorts, filter hits and unique
// collisions are common, and sometimes a fresh value.
const poolSize = 6

const operators: ReadonlyArray<Specification.Operator> = ["eq", "ne", "lt", "lte", "gt", "gte"]

const likeEscape = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`)

const isValue = (u: unknown): u is Specification.Value =>
  typeof u === "string" || typeof u === "boolean" || (typeof u === "number" && Number.isFinite(u))

/**
 * Derives the generators of scenarios for an entity from its schemas. Use
 * {@link check}; this is for writing further properties on the same data.
 *
 * @example
 * ```ts
 * import * as fc from "fast-check"
 * import { RepositoryLaws, Widget } from "@org/testing"
 *
 * const { input } = RepositoryLaws.arbitraries(Widget.Widget, { seed: 1 })
 * const samples = fc.sample(input, 3)
 * ```
 *
 * @since 0.1.0
 * @category arbitraries
 */
export const arbitraries = <D extends Entity.Any>(
  definition: D,
  options?: {
    readonly seed?: number | undefined
    readonly maxCommands?: number | undefined
    readonly arbitraries?: FieldArbitraries<D> | undefined
  }
): Arbitraries<D> => {
  const seed = options?.seed ?? 0
  const own: Record<string, Entity.Field> = definition.fields
  const custom: Readonly<Record<string, fc.Arbitrary<unknown> | undefined>> = options?.arbitraries ?? {}
  const values: Record<string, fc.Arbitrary<unknown>> = {}
  for (const [i, [name, schema]] of Object.entries(own).entries()) {
    const base = custom[name] ?? FieldArbitrary.make(schema, `${definition.name}.${name}`)
    const pool = fc.sample(base, { numRuns: poolSize, seed: seed + i })
    values[name] = fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(...pool) },
      { weight: 1, arbitrary: base }
    )
  }

  // The record types follow from the field schemas, built key by key above.
  const input = fc.record(values) as fc.Arbitrary<never>
  const patch = fc.record(values, { requiredKeys: [] }) as fc.Arbitrary<never>

  const target: fc.Arbitrary<Target> = fc.oneof(
    { weight: 9, arbitrary: fc.nat(30).map((n) => ({ _tag: "Created" as const, n })) },
    { weight: 1, arbitrary: fc.uuid({ version: 4 }).map((id) => ({ _tag: "Unknown" as const, id })) }
  )
  const expect: fc.Arbitrary<Expect> = fc.constantFrom("none", "current", "stale")

  const sortable: ReadonlyArray<Entity.SortableOf<D>> = definition.sortable
  const sort: fc.Arbitrary<ReadonlyArray<Pagination.SortKey<Entity.SortableOf<D>>>> =
    sortable.length === 0
      ? fc.constant([])
      : fc.uniqueArray(
          fc.record({
            field: fc.constantFrom(...sortable),
            direction: fc.constantFrom<Pagination.Direction>("asc", "desc")
          }),
          { maxLength: 3, selector: (key) => key.field }
        )

  // Atoms over each filterable field, with values from the same pools as the
  // data, so they are often true and often false. (The full equivalence of
  // the two interpreters is proven by the Specification tests; here filters
  // have to flow through list and count the same way, on this entity's table.)
  const atomsOf = (field: string): Array<fc.Arbitrary<Filter>> => {
    const compare = (value: fc.Arbitrary<FilterValue>): Array<fc.Arbitrary<Filter>> => [
      fc.record({ op: fc.constantFrom(...operators), value }).map(({ op, value }) => ({
        _tag: "Compare" as const,
        field,
        op,
        value
      })),
      fc.array(value, { maxLength: 3 }).map((values) => ({ _tag: "In" as const, field, values })),
      fc.tuple(value, value).map(([low, high]) => ({ _tag: "Between" as const, field, low, high }))
    ]
    if (field === "id") {
      return compare(
        fc.oneof(
          { weight: 4, arbitrary: fc.nat(30).map((n) => ({ _tag: "IdOf" as const, n })) },
          { weight: 1, arbitrary: fc.uuid({ version: 4 }) }
        )
      )
    }
    if (field === "createdAt" || field === "updatedAt") {
      return compare(
        fc.integer({ min: -1_000, max: 60_000 }).map((offset) => ({ _tag: "Instant" as const, offset }))
      )
    }
    if (field === "version") return compare(fc.integer({ min: 0, max: 6 }))
    const schema = own[field]
    const value = values[field]
    if (schema === undefined || value === undefined) return []
    const ast = SchemaAST.toType(schema.ast)
    const atoms: Array<fc.Arbitrary<Filter>> = []
    if (FieldArbitrary.isNullable(ast)) atoms.push(fc.constant({ _tag: "IsNull" as const, field }))
    const encode = Schema.encodeUnknownSync(schema)
    const encoded = value.filter((v) => v !== null).map((v) => encode(v))
    if (fc.sample(encoded, { numRuns: 20, seed }).every(isValue)) {
      atoms.push(...compare(encoded.filter(isValue)))
    }
    if (FieldArbitrary.isText(ast)) {
      const pattern = fc.oneof(
        fc.constantFrom("%", "_%", "%a%", "b_", "B%", "%\\%%", "%\\_%", "%\u{1F600}%", "%é%"),
        encoded
          .filter((v): v is string => typeof v === "string")
          .map((v) => `${likeEscape(Array.from(v).slice(0, 2).join(""))}%`)
      )
      atoms.push(
        fc.record({ pattern, caseInsensitive: fc.boolean() }).map(({ pattern, caseInsensitive }) => ({
          _tag: "Like" as const,
          field,
          pattern,
          caseInsensitive
        }))
      )
    }
    return atoms
  }
  const atoms = definition.filterable.flatMap((field: string) => atomsOf(field))
  const filter: fc.Arbitrary<Filter> =
    atoms.length === 0
      ? fc.constant({ _tag: "And" as const, filters: [] })
      : fc.letrec<{ filter: Filter }>((tie) => ({
          filter: fc.oneof(
            { depthSize: "small", withCrossShrink: true },
            fc.oneof(...atoms),
            fc.array(tie("filter"), { maxLength: 3 }).map((filters) => ({ _tag: "And" as const, filters })),
            fc.array(tie("filter"), { maxLength: 3 }).map((filters) => ({ _tag: "Or" as const, filters })),
            tie("filter").map((filter) => ({ _tag: "Not" as const, filter }))
          )
        })).filter

  // Weighted towards writes so that state builds up.
  const command: fc.Arbitrary<Command<D>> = fc.oneof(
    { weight: 5, arbitrary: input.map((input) => ({ _tag: "Create" as const, input })) },
    { weight: 2, arbitrary: target.map((target) => ({ _tag: "Get" as const, target })) },
    {
      weight: 4,
      arbitrary: fc.record({ target, patch, expect }).map((c) => ({ _tag: "Update" as const, ...c }))
    },
    { weight: 2, arbitrary: fc.record({ target, expect }).map((c) => ({ _tag: "Delete" as const, ...c })) },
    {
      weight: 3,
      arbitrary: fc
        .record({
          page: fc.integer({ min: 1, max: 4 }),
          size: fc.integer({ min: 1, max: 7 }),
          sort,
          filter: fc.option(filter, { nil: undefined })
        })
        .map((c) => ({ _tag: "List" as const, ...c }))
    },
    {
      weight: 1,
      arbitrary: fc.option(filter, { nil: undefined }).map((filter) => ({ _tag: "Count" as const, filter }))
    },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 1, max: 5_000 }).map((millis) => ({ _tag: "Tick" as const, millis }))
    }
  )
  // "medium": lengths spread up to the maximum, so state builds up past a page.
  const scenario = fc.array(command, { minLength: 1, maxLength: options?.maxCommands ?? 40, size: "medium" })
  return { input, patch, filter, sort, command, scenario }
}

// -----------------------------------------------------------------------------
// The reference model: the simplest thing that states the laws.
// -----------------------------------------------------------------------------

interface ModelRow {
  readonly n: number
  fields: Record<string, unknown>
  createdAt: number
  updatedAt: number
  version: number
  deleted: boolean
}

type Outcome =
  | { readonly ok: unknown }
  | { readonly error: string }
  | {
      readonly error: "Conflict"
      readonly reason: string
      readonly fields: ReadonlyArray<string>
      readonly currentVersion?: number
    }

class Model {
  rows: Array<ModelRow> = []
  /** The ids the repository gave the rows, by creation number. */
  ids: Array<string> = []
  now: number
  readonly definition: Entity.Any
  readonly fieldNames: ReadonlyArray<string>
  readonly observe: (row: ModelRow) => unknown
  readonly key: (field: string, value: unknown) => string
  constructor(
    definition: Entity.Any,
    now: number,
    observe: (row: ModelRow) => unknown,
    key: (field: string, value: unknown) => string
  ) {
    this.definition = definition
    this.fieldNames = Object.keys(definition.fields)
    this.now = now
    this.observe = observe
    this.key = key
  }

  // A unique field collides on equal values; null never collides (as in a
  // Postgres unique index: NULLs are distinct).
  private duplicate(candidate: Record<string, unknown>, self: number | undefined): Outcome | undefined {
    const taken = this.definition.unique.filter(
      (field) =>
        candidate[field] !== null &&
        this.rows.some(
          (row) =>
            !row.deleted &&
            row.n !== self &&
            this.key(field, row.fields[field]) === this.key(field, candidate[field])
        )
    )
    return taken.length > 0 ? { error: "Conflict", reason: "duplicate", fields: taken } : undefined
  }

  private live(n: number | undefined): ModelRow | undefined {
    const row = n === undefined ? undefined : this.rows[n]
    return row && !row.deleted ? row : undefined
  }

  private stale(row: ModelRow, expected: number | undefined): Outcome | undefined {
    return expected !== undefined && expected !== row.version
      ? { error: "Conflict", reason: "stale-version", fields: [], currentVersion: row.version }
      : undefined
  }

  create(input: Readonly<Record<string, unknown>>): Outcome {
    const fields: Record<string, unknown> = {}
    for (const field of this.fieldNames) fields[field] = input[field]
    const conflict = this.duplicate(fields, undefined)
    if (conflict) return conflict
    const row: ModelRow = {
      n: this.rows.length,
      fields,
      createdAt: this.now,
      updatedAt: this.now,
      version: 1,
      deleted: false
    }
    this.rows.push(row)
    return { ok: this.observe(row) }
  }

  get(n: number | undefined): Outcome {
    const row = this.live(n)
    return row ? { ok: this.observe(row) } : { error: "NotFound" }
  }

  update(
    n: number | undefined,
    patch: Readonly<Record<string, unknown>>,
    expected: number | undefined
  ): Outcome {
    const row = this.live(n)
    if (!row) return { error: "NotFound" }
    const stale = this.stale(row, expected)
    if (stale) return stale
    const changes = this.fieldNames.filter((field) => Object.hasOwn(patch, field))
    if (changes.length === 0) return { ok: this.observe(row) }
    const fields = { ...row.fields }
    for (const field of changes) fields[field] = patch[field]
    const conflict = this.duplicate(fields, row.n)
    if (conflict) return conflict
    row.fields = fields
    row.updatedAt = this.now
    row.version += 1
    return { ok: this.observe(row) }
  }

  delete(n: number | undefined, expected: number | undefined): Outcome {
    const row = this.live(n)
    if (!row) return { error: "NotFound" }
    const stale = this.stale(row, expected)
    if (stale) return stale
    row.deleted = true
    return { ok: undefined }
  }

  list(request: Pagination.PageRequest, test: (row: ModelRow) => boolean): Outcome {
    const live = this.rows.filter((row) => !row.deleted && test(row))
    // Sorted on the values the repository holds, with ids as the tie-breaker.
    const sortable = live.map((row) => ({ row, record: this.record(row) }))
    sortable.sort((a, b) => Ordering.bySortKeys(request.sort)(a.record, b.record))
    const start = Pagination.offset(request)
    const items = sortable.slice(start, start + request.size).map(({ row }) => this.observe(row))
    return { ok: Pagination.makePage(items, request, live.length) }
  }

  count(test: (row: ModelRow) => boolean): Outcome {
    return { ok: this.rows.filter((row) => !row.deleted && test(row)).length }
  }

  /** The row as the entity the repository holds. */
  record(row: ModelRow): Entity.AnyRecord {
    return {
      ...row.fields,
      id: this.ids[row.n] ?? "",
      createdAt: DateTime.makeUnsafe(row.createdAt),
      updatedAt: DateTime.makeUnsafe(row.updatedAt),
      version: row.version
    }
  }
}

// -----------------------------------------------------------------------------
// Running a scenario against an implementation.
// -----------------------------------------------------------------------------

const outcomeOf = <A>(
  exit: Exit.Exit<A, Repository.NotFound | Repository.Conflict | Specification.SpecificationError>,
  observe: (a: A) => unknown
) => {
  if (Exit.isSuccess(exit)) return { ok: observe(exit.value) }
  const error = exit.cause.reasons.find((reason) => reason._tag === "Fail")
  if (error === undefined || error._tag !== "Fail") return { defect: String(exit.cause) }
  const failure = error.error
  if (failure._tag === "UnknownField" || failure._tag === "InvalidValue") return { error: failure._tag }
  return failure._tag === "NotFound"
    ? { error: "NotFound" }
    : {
        error: "Conflict",
        reason: failure.reason,
        fields: failure.fields,
        ...(failure.currentVersion === undefined ? {} : { currentVersion: failure.currentVersion })
      }
}

const nowhere = "00000000-0000-4000-8000-000000000000"

/**
 * Runs one scenario against a repository (which must start empty) and the
 * model; fails with a message naming the first step whose outcomes differ.
 * Needs `TestClock`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as SecureRandom from "effect/crypto/SecureRandom"
 * import { RepositoryMemory } from "@org/core"
 * import { RepositoryLaws, Widget } from "@org/testing"
 *
 * const program = Effect.flatMap(RepositoryMemory.make(Widget.Widget), (repository) =>
 *   RepositoryLaws.runScenario(Widget.Widget, repository, [{ _tag: "Count", filter: undefined }])
 * ).pipe(Effect.provide(SecureRandom.layerWebCrypto))
 * ```
 *
 * @since 0.1.0
 * @category laws
 */
export const runScenario = <D extends Entity.Any>(
  definition: D,
  repository: Repository.ForEntity<D>,
  commands: ReadonlyArray<Command<D>>
): Effect.Effect<void> =>
  Effect.gen(function* () {
    const own: Record<string, Entity.Field> = definition.fields
    // Values are compared in their encoded (JSON) form: what a client sees.
    const encoders = Object.entries(own).map(
      ([field, schema]) => [field, Schema.encodeUnknownSync(schema)] as const
    )
    const encodeFields = (source: Readonly<Record<string, unknown>>) => {
      const fields: Record<string, unknown> = {}
      for (const [field, encode] of encoders) fields[field] = encode(source[field])
      return fields
    }
    const keyEncoders = new Map(encoders)
    const key = (field: string, value: unknown) => JSON.stringify(keyEncoders.get(field)?.(value))
    const numberOf = new Map<string, number>()
    const model: Model = new Model(
      definition,
      yield* Clock.currentTimeMillis,
      (row) => ({
        id: row.n,
        ...encodeFields(row.fields),
        createdAt: row.createdAt,
        updatedAt: row.updatedAt,
        version: row.version
      }),
      key
    )
    const start = model.now
    const ids = model.ids
    const observe = (entity: Entity.AnyRecord): unknown => ({
      id: numberOf.get(entity.id) ?? `unexpected id ${entity.id}`,
      ...encodeFields(entity),
      createdAt: DateTime.toEpochMillis(entity.createdAt),
      updatedAt: DateTime.toEpochMillis(entity.updatedAt),
      version: entity.version
    })
    // Ids reach the repository decoded by the entity's own id schema.
    const decodeId = Schema.decodeUnknownSync(definition.idSchema)
    const resolve = (t: Target): { id: Entity.IdOf<D>; n: number | undefined } => {
      if (t._tag === "Unknown" || ids.length === 0)
        return { id: decodeId(t._tag === "Unknown" ? t.id : nowhere), n: undefined }
      const n = t.n % ids.length
      return { id: decodeId(ids[n]), n }
    }
    const expectedVersion = (n: number | undefined, expect: Expect): number | undefined => {
      if (expect === "none") return undefined
      const version = n === undefined ? 1 : model.rows[n]!.version
      return expect === "current" ? version : version + 1
    }
    const resolveValue = (value: FilterValue): Specification.Value => {
      if (typeof value !== "object") return value
      if (value._tag === "IdOf") return ids.length === 0 ? nowhere : ids[value.n % ids.length]!
      return DateTime.formatIso(DateTime.makeUnsafe(start + value.offset))
    }
    const toEncoded = (filter: Filter): Specification.Encoded => {
      switch (filter._tag) {
        case "Compare":
          return { ...filter, value: resolveValue(filter.value) }
        case "In":
          return { ...filter, values: filter.values.map(resolveValue) }
        case "Between":
          return { ...filter, low: resolveValue(filter.low), high: resolveValue(filter.high) }
        case "And":
        case "Or":
          return { _tag: filter._tag, specs: filter.filters.map(toEncoded) }
        case "Not":
          return { _tag: "Not", spec: toEncoded(filter.filter) }
        default:
          return filter
      }
    }
    const toSpec = (filter: Filter | undefined) =>
      filter === undefined ? undefined : Specification.make(toEncoded(filter))
    // The model filters with the in-memory interpreter, on rows shaped as
    // entities; a filter the interpreter refuses is an expected error.
    const modelFilter = (
      spec: Specification.Spec | undefined,
      then: (test: (row: ModelRow) => boolean) => Outcome
    ) =>
      Effect.map(
        Effect.result(Specification.isSatisfiedBy<Entity.Any>(definition, spec ?? Specification.all)),
        (test): Outcome =>
          Result.isFailure(test)
            ? { error: test.failure._tag }
            : then((row) => test.success(model.record(row)))
      )

    for (const [step, c] of commands.entries()) {
      let actual: unknown
      let expected: Outcome
      switch (c._tag) {
        case "Create": {
          expected = model.create(c.input)
          const exit = yield* Effect.exit(repository.create(c.input))
          if (Exit.isSuccess(exit)) {
            numberOf.set(exit.value.id, ids.length)
            ids.push(exit.value.id)
          }
          actual = outcomeOf(exit, observe)
          break
        }
        case "Get": {
          const { id, n } = resolve(c.target)
          expected = model.get(n)
          actual = outcomeOf(yield* Effect.exit(repository.findById(id)), observe)
          break
        }
        case "Update": {
          const { id, n } = resolve(c.target)
          const version = expectedVersion(n, c.expect)
          expected = model.update(n, c.patch, version)
          actual = outcomeOf(
            yield* Effect.exit(repository.update(id, c.patch, { expectedVersion: version })),
            observe
          )
          break
        }
        case "Delete": {
          const { id, n } = resolve(c.target)
          const version = expectedVersion(n, c.expect)
          expected = model.delete(n, version)
          actual = outcomeOf(
            yield* Effect.exit(repository.delete(id, { expectedVersion: version })),
            () => undefined
          )
          break
        }
        case "List": {
          const filter = toSpec(c.filter)
          const request = { ...Pagination.request({ page: c.page, size: c.size, sort: c.sort }), filter }
          expected = yield* modelFilter(filter, (test) => model.list(request, test))
          actual = outcomeOf(yield* Effect.exit(repository.list(request)), (page) => ({
            ...page,
            items: page.items.map(observe)
          }))
          break
        }
        case "Count": {
          const filter = toSpec(c.filter)
          expected = yield* modelFilter(filter, (test) => model.count(test))
          actual = outcomeOf(yield* Effect.exit(repository.count(filter)), (n) => n)
          break
        }
        case "Tick": {
          yield* TestClock.adjust(c.millis)
          model.now += c.millis
          continue
        }
      }
      const a = JSON.stringify(actual)
      const e = JSON.stringify(expected)
      if (a !== e) {
        return yield* Effect.die(
          new Error(`Step ${step} (${c._tag}) differs from the model:\n  expected ${e}\n  actual   ${a}`)
        )
      }
    }
  })

/**
 * Runs the laws and returns fast-check's report instead of failing: for
 * tests that expect a broken repository to be caught (`report.failed`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as SecureRandom from "effect/crypto/SecureRandom"
 * import { RepositoryMemory } from "@org/core"
 * import { RepositoryLaws, Widget } from "@org/testing"
 *
 * const failed = RepositoryLaws.run(Widget.Widget, RepositoryMemory.make(Widget.Widget), { numRuns: 50 }).pipe(
 *   Effect.map((report) => report.failed),
 *   Effect.provide(SecureRandom.layerWebCrypto)
 * )
 * ```
 *
 * @since 0.1.0
 * @category laws
 */
export const run = <D extends Entity.Any, E, R>(
  definition: D,
  fresh: Effect.Effect<Repository.ForEntity<D>, E, R>,
  options?: Options<D>
): Effect.Effect<Report<D>, never, R> =>
  Effect.gen(function* () {
    // One seed drives the value pools and fast-check, so a reported seed replays.
    const seed = options?.seed ?? (yield* Random.nextIntBetween(0, 2_147_483_647))
    const { scenario } = arbitraries(definition, {
      seed,
      maxCommands: options?.maxCommands,
      arbitraries: options?.arbitraries
    })
    const context = yield* Effect.context<R>()
    const property = fc.asyncProperty(scenario, (commands) =>
      Effect.runPromiseWith(context)(
        Effect.flatMap(Effect.orDie(fresh), (repository) => runScenario(definition, repository, commands))
      )
    )
    return yield* Effect.promise(() =>
      fc.check(property, {
        numRuns: options?.numRuns ?? 100,
        seed,
        includeErrorInReport: true,
        ...(options?.path === undefined ? {} : { path: options.path }),
        ...(options?.endOnFailure === undefined ? {} : { endOnFailure: options.endOnFailure })
      })
    )
  })

/**
 * The model-based law: for `numRuns` random scenarios on `definition`, each
 * on a repository from `fresh` (which must start empty), the implementation
 * and the model agree at every step. Dies with fast-check's report (the
 * shrunk scenario, the first differing step, the seed to replay) otherwise.
 * Needs `TestClock` (as in `it.effect`) and whatever `fresh` needs.
 *
 * @example
 * ```ts
 * import { it } from "@effect/vitest"
 * import { Effect } from "effect"
 * import * as SecureRandom from "effect/crypto/SecureRandom"
 * import { RepositoryMemory } from "@org/core"
 * import { RepositoryLaws, Widget } from "@org/testing"
 *
 * it.effect("memory repository obeys the laws", () =>
 *   RepositoryLaws.check(Widget.Widget, RepositoryMemory.make(Widget.Widget), { numRuns: 200 }).pipe(
 *     Effect.provide(SecureRandom.layerWebCrypto)
 *   )
 * )
 * ```
 *
 * @since 0.1.0
 * @category laws
 */
export const check = <D extends Entity.Any, E, R>(
  definition: D,
  fresh: Effect.Effect<Repository.ForEntity<D>, E, R>,
  options?: Options<D>
): Effect.Effect<void, never, R> =>
  Effect.flatMap(run(definition, fresh, options), (report) =>
    report.failed ? Effect.die(new Error(fc.defaultReportMessage(report))) : Effect.void
  )

/**
 * A fresh SQL repository for the laws: empties the entity's table
 * (`DELETE`: on tables this small, much cheaper than `TRUNCATE`), then makes a `RepositorySql` on it. The table must exist
 * (run your migrations first).
 *
 * @example
 * ```ts
 * import { RepositoryLaws, Widget } from "@org/testing"
 *
 * // to run inside a layer that provides a migrated SqlClient and SecureRandom:
 * const law = RepositoryLaws.check(Widget.Widget, RepositoryLaws.freshSql(Widget.Widget), { numRuns: 100 })
 * ```
 *
 * @since 0.1.0
 * @category fixtures
 */
export const freshSql = <D extends Entity.Any>(
  definition: D
): Effect.Effect<Repository.ForEntity<D>, never, SqlClient.SqlClient | SecureRandom.SecureRandom> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.andThen(Effect.orDie(sql`DELETE FROM ${sql(definition.table)}`), RepositorySql.make(definition))
  )
