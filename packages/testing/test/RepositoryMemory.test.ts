import { assert, describe, it } from "@effect/vitest"
import { Pagination, type Repository, RepositoryMemory } from "@org/core"
import { RepositoryLaws, Widget } from "@org/testing"
import { Effect, Exit, Layer } from "effect"
import * as SecureRandom from "effect/crypto/SecureRandom"
import * as TestClock from "effect/testing/TestClock"

const fresh = RepositoryMemory.make(Widget.Widget)
const Random = Layer.succeed(
  SecureRandom.SecureRandom,
  SecureRandom.make((n) => crypto.getRandomValues(new Uint8Array(n)))
)

const widget = {
  name: "saw",
  sku: "S-1",
  price: 12.5,
  quantity: 3,
  active: true,
  note: null
} as const

describe("RepositoryMemory", () => {
  it.effect("obeys the repository laws (model-based, 300 scenarios)", () =>
    RepositoryLaws.check(Widget.Widget, fresh, { numRuns: 300 }).pipe(Effect.provide(Random))
  )

  it.effect("create stamps id, timestamps and version 1; findById returns it", () =>
    Effect.gen(function* () {
      const repo = yield* fresh
      yield* TestClock.adjust(1_000)
      const created = yield* repo.create(widget)
      assert.match(created.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      assert.strictEqual(created.version, 1)
      assert.strictEqual(created.createdAt.epochMilliseconds, 1_000)
      assert.deepStrictEqual(yield* repo.findById(created.id), created)
    }).pipe(Effect.provide(Random))
  )

  it.effect("create: a nullable field may be left out (stored as null); a required one may not", () =>
    Effect.gen(function* () {
      const repo = yield* fresh
      const { note: _note, ...withoutNote } = widget
      const created = yield* repo.create(withoutNote)
      assert.isNull(created.note)
      assert.deepStrictEqual(yield* repo.findById(created.id), created)
      const { sku: _sku, ...withoutSku } = { ...widget, sku: "S-2" }
      // @ts-expect-error: `sku` is required
      const refused = () => repo.create(withoutSku)
      assert.isFunction(refused)
    }).pipe(Effect.provide(Random))
  )

  it.effect("a write against a stale version fails with Conflict naming the current version", () =>
    Effect.gen(function* () {
      const repo = yield* fresh
      const created = yield* repo.create(widget)
      const updated = yield* repo.update(created.id, { price: 1 }, { expectedVersion: 1 })
      assert.strictEqual(updated.version, 2)
      const error = yield* Effect.flip(repo.update(created.id, { price: 2 }, { expectedVersion: 1 }))
      assert.strictEqual(error._tag, "Conflict")
      assert.deepInclude(error, { reason: "stale-version", currentVersion: 2 })
      const deleteError = yield* Effect.flip(repo.delete(created.id, { expectedVersion: 1 }))
      assert.strictEqual(deleteError._tag, "Conflict")
    }).pipe(Effect.provide(Random))
  )

  it.effect("soft delete hides the entity and frees its unique values", () =>
    Effect.gen(function* () {
      const repo = yield* fresh
      const first = yield* repo.create(widget)
      const duplicate = yield* Effect.flip(repo.create(widget))
      assert.deepInclude(duplicate, { _tag: "Conflict", reason: "duplicate", fields: ["sku"] })
      yield* repo.delete(first.id)
      assert.strictEqual((yield* Effect.flip(repo.findById(first.id)))._tag, "NotFound")
      assert.strictEqual((yield* Effect.flip(repo.delete(first.id)))._tag, "NotFound")
      const second = yield* repo.create(widget)
      assert.notStrictEqual(second.id, first.id)
      assert.strictEqual(yield* repo.count(), 1)
    }).pipe(Effect.provide(Random))
  )

  it.effect("concurrent writers with the same expected version: exactly one wins", () =>
    Effect.gen(function* () {
      const repo: Repository.ForEntity<typeof Widget.Widget> = yield* fresh
      const created = yield* repo.create(widget)
      const exits = yield* Effect.forEach(
        Array.from({ length: 20 }, (_, i) => i),
        (i) => Effect.exit(repo.update(created.id, { quantity: i }, { expectedVersion: 1 })),
        { concurrency: "unbounded" }
      )
      assert.strictEqual(exits.filter(Exit.isSuccess).length, 1)
      assert.strictEqual((yield* repo.findById(created.id)).version, 2)
    }).pipe(Effect.provide(Random))
  )

  it.effect("list pages are stable: concatenated pages equal the whole sorted listing", () =>
    Effect.gen(function* () {
      const repo = yield* fresh
      for (let i = 0; i < 23; i++) {
        yield* repo.create({ ...widget, sku: `S-${i}`, quantity: i % 3 })
      }
      const sort = [{ field: "quantity", direction: "desc" }] as const
      const all = yield* repo.list(Pagination.request({ size: 100, sort }))
      const pages = yield* Effect.forEach([1, 2, 3], (page) =>
        repo.list(Pagination.request({ page, size: 10, sort }))
      )
      assert.deepStrictEqual(
        pages.flatMap((p) => p.items),
        all.items
      )
      assert.deepStrictEqual(
        pages.map((p) => [p.total, p.pages, p.items.length]),
        [
          [23, 3, 10],
          [23, 3, 10],
          [23, 3, 3]
        ]
      )
    }).pipe(Effect.provide(Random))
  )
})
