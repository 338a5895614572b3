/**
 * The laws every `Repository` implementation obeys, as a model-based
 * property: random command sequences run against a small reference model and
 * against the implementation must give the same observable results, step by
 * step (values, versions, timestamps, errors, page contents and order).
 *
 * Running the same suite against `RepositoryMemory` and `RepositorySql`
 * proves the two equivalent wherever the suite reaches.
 *
 * @since 0.1.0
 */
import { type Entity, Ordering, Pagination, type Repository, Specification } from "@org/core"
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as TestClock from "effect/testing/TestClock"
import * as fc from "fast-check"
import { Widget } from "./Widget.ts"

type Input = Entity.CreateOf<typeof Widget>
type Patch = Entity.PatchOf<typeof Widget>
type SortField = Entity.SortableOf<typeof Widget>

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
 * One step of a generated scenario.
 *
 * @since 0.1.0
 * @category models
 */
export type Command =
  | { readonly _tag: "Create"; readonly input: Input }
  | { readonly _tag: "Get"; readonly target: Target }
  | { readonly _tag: "Update"; readonly target: Target; readonly patch: Patch; readonly expect: Expect }
  | { readonly _tag: "Delete"; readonly target: Target; readonly expect: Expect }
  | {
      readonly _tag: "List"
      readonly page: number
      readonly size: number
      readonly sort: ReadonlyArray<Pagination.SortKey<SortField>>
      readonly filter: Specification.Spec | undefined
    }
  | { readonly _tag: "Count"; readonly filter: Specification.Spec | undefined }
  | { readonly _tag: "Tick"; readonly millis: number }

// A small alphabet makes ties and duplicates common; it includes characters
// whose UTF-16 and code point orders differ (U+E000 and U+FFFD vs astral),
// case pairs, SQL-ish punctuation and a non-BMP emoji.
const char = fc.constantFrom(
  "a",
  "b",
  "B",
  "é",
  "ß",
  "\u{1F600}",
  "\uFFFD",
  "\uE000",
  " ",
  "%",
  "_",
  "'",
  ";",
  "\\"
)
const text = (maxLength: number) => fc.string({ unit: char, minLength: 1, maxLength })

const fields = {
  name: text(6),
  sku: fc.constantFrom("A", "B", "C", "D", "E", "F"),
  price: fc.integer({ min: 0, max: 99_999 }).map((cents) => cents / 100),
  quantity: fc.integer({ min: 0, max: 4 }),
  active: fc.boolean(),
  note: fc.option(text(4), { nil: null })
}

/**
 * Arbitrary create input: valid by construction, with frequent ties.
 *
 * @since 0.1.0
 * @category arbitraries
 */
export const input: fc.Arbitrary<Input> = fc.record(fields)

const patch: fc.Arbitrary<Patch> = fc.record(fields, { requiredKeys: [] })

const target: fc.Arbitrary<Target> = fc.oneof(
  { weight: 9, arbitrary: fc.nat(30).map((n) => ({ _tag: "Created" as const, n })) },
  { weight: 1, arbitrary: fc.uuid({ version: 4 }).map((id) => ({ _tag: "Unknown" as const, id })) }
)

const expect: fc.Arbitrary<Expect> = fc.constantFrom("none", "current", "stale")

const sortKey: fc.Arbitrary<Pagination.SortKey<SortField>> = fc.record({
  field: fc.constantFrom<SortField>(...Widget.sortable),
  direction: Pagination.Direction.members.length === 2 ? fc.constantFrom("asc", "desc") : fc.constant("asc")
})

const W = Specification.of(Widget)

// Filters over the fixture's fields, with values drawn from the same small
// pools as the data, so they are often true and often false. (The full
// equivalence of the two interpreters is proven by the Specification tests;
// here filters only have to flow through list and count the same way.)
const atom: fc.Arbitrary<Specification.Spec> = fc.oneof(
  fields.name.map((v) => W.field("name").eq(v)),
  fields.sku.map((v) => W.field("sku").ne(v)),
  fields.price.map((v) => W.field("price").gte(v)),
  fields.quantity.map((v) => W.field("quantity").lt(v)),
  fc.boolean().map((v) => W.field("active").eq(v)),
  fc.constant(W.field("note").isNull()),
  fc.uniqueArray(fields.sku, { maxLength: 3 }).map((vs) => W.field("sku").in(vs)),
  fc.constantFrom("%a%", "b_", "%\\%%", "%\\_%").map((p) => W.field("name").ilike(p))
)

/**
 * Arbitrary filter on the fixture entity: atoms combined with and/or/not.
 *
 * @since 0.1.0
 * @category arbitraries
 */
export const filter: fc.Arbitrary<Specification.Spec> = fc.letrec<{ spec: Specification.Spec }>((tie) => ({
  spec: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    atom,
    fc.array(tie("spec"), { maxLength: 3 }).map(Specification.and),
    fc.array(tie("spec"), { maxLength: 3 }).map(Specification.or),
    tie("spec").map(Specification.not)
  )
})).spec

/**
 * Arbitrary command, weighted towards writes so that state builds up.
 *
 * @since 0.1.0
 * @category arbitraries
 */
export const command: fc.Arbitrary<Command> = fc.oneof(
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
        sort: fc.uniqueArray(sortKey, { maxLength: 3, selector: (key) => key.field }),
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

/**
 * Arbitrary scenario: a sequence of commands.
 *
 * @since 0.1.0
 * @category arbitraries
 */
export const scenario = (maxCommands = 40): fc.Arbitrary<ReadonlyArray<Command>> =>
  fc.array(command, { minLength: 1, maxLength: maxCommands })

// ---------------------------------------------------------------------------
// The reference model: the simplest thing that states the laws.

interface ModelRow {
  readonly n: number
  fields: Record<string, unknown>
  createdAt: number
  updatedAt: number
  version: number
  deleted: boolean
}

/** What a caller can observe of a record: the id replaced by its creation number. */
type Observed = Readonly<Record<string, unknown>>

type Outcome =
  | { readonly ok: unknown }
  | { readonly error: "NotFound" }
  | {
      readonly error: "Conflict"
      readonly reason: string
      readonly fields: ReadonlyArray<string>
      readonly currentVersion?: number
    }

const fieldNames = Object.keys(Widget.fields)

const observeModel = (row: ModelRow): Observed => ({
  id: row.n,
  ...row.fields,
  createdAt: row.createdAt,
  updatedAt: row.updatedAt,
  version: row.version
})

class Model {
  rows: Array<ModelRow> = []
  now: number
  constructor(now: number) {
    this.now = now
  }

  private duplicate(candidate: Record<string, unknown>, self: number | undefined): Outcome | undefined {
    const taken = Widget.unique.filter((field) =>
      this.rows.some((row) => !row.deleted && row.n !== self && row.fields[field] === candidate[field])
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

  create(input: Input): Outcome {
    const fields: Record<string, unknown> = {}
    for (const field of fieldNames) fields[field] = input[field as keyof Input]
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
    return { ok: observeModel(row) }
  }

  get(n: number | undefined): Outcome {
    const row = this.live(n)
    return row ? { ok: observeModel(row) } : { error: "NotFound" }
  }

  update(n: number | undefined, patch: Patch, expected: number | undefined): Outcome {
    const row = this.live(n)
    if (!row) return { error: "NotFound" }
    const stale = this.stale(row, expected)
    if (stale) return stale
    const changes = fieldNames.filter((field) => Object.hasOwn(patch, field))
    if (changes.length === 0) return { ok: observeModel(row) }
    const fields = { ...row.fields }
    for (const field of changes) fields[field] = patch[field as keyof Patch]
    const conflict = this.duplicate(fields, row.n)
    if (conflict) return conflict
    row.fields = fields
    row.updatedAt = this.now
    row.version += 1
    return { ok: observeModel(row) }
  }

  delete(n: number | undefined, expected: number | undefined): Outcome {
    const row = this.live(n)
    if (!row) return { error: "NotFound" }
    const stale = this.stale(row, expected)
    if (stale) return stale
    row.deleted = true
    return { ok: undefined }
  }

  list(request: Pagination.PageRequest<SortField>, test: (row: ModelRow) => boolean): Outcome {
    const live = this.rows.filter((row) => !row.deleted && test(row)).map(observeModel)
    live.sort(Ordering.bySortKeys(request.sort))
    const start = Pagination.offset(request)
    return { ok: Pagination.makePage(live.slice(start, start + request.size), request, live.length) }
  }

  count(test: (row: ModelRow) => boolean): Outcome {
    return { ok: this.rows.filter((row) => !row.deleted && test(row)).length }
  }
}

// ---------------------------------------------------------------------------
// Running a scenario against an implementation.

type WidgetRepository = Repository.ForEntity<typeof Widget>

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

/**
 * Runs one scenario against a fresh repository and the model; fails with a
 * message naming the first step whose outcomes differ.
 *
 * @since 0.1.0
 * @category laws
 */
export const runScenario = (repository: WidgetRepository, commands: ReadonlyArray<Command>) =>
  Effect.gen(function* () {
    const model = new Model(yield* Clock.currentTimeMillis)
    const ids: Array<string> = []
    const numberOf = new Map<string, number>()
    const observe = (entity: Entity.Type<typeof Widget>): Observed => {
      const observed: Record<string, unknown> = {
        id: numberOf.get(entity.id) ?? `unexpected id ${entity.id}`
      }
      for (const field of fieldNames) observed[field] = entity[field as keyof typeof entity]
      observed.createdAt = DateTime.toEpochMillis(entity.createdAt)
      observed.updatedAt = DateTime.toEpochMillis(entity.updatedAt)
      observed.version = entity.version
      return observed
    }
    const resolve = (t: Target): { id: string; n: number | undefined } => {
      if (t._tag === "Unknown" || ids.length === 0)
        return { id: t._tag === "Unknown" ? t.id : "00000000-0000-4000-8000-000000000000", n: undefined }
      const n = t.n % ids.length
      return { id: ids[n]!, n }
    }
    const expectedVersion = (n: number | undefined, expect: Expect): number | undefined => {
      if (expect === "none") return undefined
      const version = n === undefined ? 1 : model.rows[n]!.version
      return expect === "current" ? version : version + 1
    }

    // The model filters with the in-memory interpreter, on rows shaped as entities.
    const modelTest = (spec: Specification.Spec | undefined) =>
      Effect.map(
        Effect.orDie(Specification.isSatisfiedBy(Widget, spec ?? Specification.all)),
        (test) => (row: ModelRow) =>
          test({
            ...row.fields,
            id: ids[row.n],
            createdAt: DateTime.makeUnsafe(row.createdAt),
            updatedAt: DateTime.makeUnsafe(row.updatedAt),
            version: row.version
          } as Entity.Type<typeof Widget>)
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
          actual = outcomeOf(yield* Effect.exit(repository.findById(id as never)), observe)
          break
        }
        case "Update": {
          const { id, n } = resolve(c.target)
          const version = expectedVersion(n, c.expect)
          expected = model.update(n, c.patch, version)
          actual = outcomeOf(
            yield* Effect.exit(repository.update(id as never, c.patch, { expectedVersion: version })),
            observe
          )
          break
        }
        case "Delete": {
          const { id, n } = resolve(c.target)
          const version = expectedVersion(n, c.expect)
          expected = model.delete(n, version)
          actual = outcomeOf(
            yield* Effect.exit(repository.delete(id as never, { expectedVersion: version })),
            () => undefined
          )
          break
        }
        case "List": {
          const request = {
            ...Pagination.request({ page: c.page, size: c.size, sort: c.sort }),
            filter: c.filter
          }
          expected = model.list(request, yield* modelTest(c.filter))
          actual = outcomeOf(yield* Effect.exit(repository.list(request)), (page) => ({
            ...page,
            items: page.items.map(observe)
          }))
          break
        }
        case "Count": {
          expected = model.count(yield* modelTest(c.filter))
          actual = outcomeOf(yield* Effect.exit(repository.count(c.filter)), (n) => n)
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
 * The model-based law: for `numRuns` random scenarios, each on a repository
 * from `fresh` (which must start empty), the implementation and the model
 * agree at every step. Needs `TestClock` (as in `it.effect`).
 *
 * @example
 * ```ts
 * import { it } from "@effect/vitest"
 * import { RepositoryMemory } from "@org/core"
 * import { RepositoryLaws, Widget } from "@org/testing"
 *
 * it.effect("memory repository obeys the laws", () =>
 *   RepositoryLaws.check(RepositoryMemory.make(Widget.Widget), { numRuns: 200 }))
 * ```
 *
 * @since 0.1.0
 * @category laws
 */
export const check = <R>(
  fresh: Effect.Effect<WidgetRepository, never, R>,
  options?: { readonly numRuns?: number; readonly maxCommands?: number; readonly seed?: number }
): Effect.Effect<void, never, R> =>
  Effect.gen(function* () {
    const context = yield* Effect.context<R>()
    const run = (commands: ReadonlyArray<Command>) =>
      Effect.runPromiseWith(context)(Effect.flatMap(fresh, (repository) => runScenario(repository, commands)))
    yield* Effect.promise(() =>
      fc.assert(fc.asyncProperty(scenario(options?.maxCommands), run), {
        numRuns: options?.numRuns ?? 100,
        ...(options?.seed === undefined ? {} : { seed: options.seed })
      })
    )
  })
