import { assert, describe, it } from "@effect/vitest"
import { CacheStore, InvalidationBus, RepositoryCache, RepositoryMemory, UnitOfWork } from "@org/core"
import { RepositoryLaws, Widget } from "@org/testing"
import { Effect, Layer } from "effect"
import * as SecureRandom from "effect/crypto/SecureRandom"

const Caching = Layer.mergeAll(
  CacheStore.layerMemory,
  InvalidationBus.layerMemory,
  SecureRandom.layerWebCrypto
)

const widget = { name: "saw", sku: "S-1", price: 1, quantity: 1, active: true, note: null } as const

describe("RepositoryCache", () => {
  it.effect("a cached repository obeys the repository laws (200 scenarios)", () =>
    Effect.gen(function* () {
      const fresh = Effect.flatMap(RepositoryMemory.make(Widget.Widget), (repository) =>
        RepositoryCache.make(Widget.Widget, repository, { ttl: "1 minute" })
      )
      // Each scenario gets its own cache namespace through a fresh store.
      yield* RepositoryLaws.check(
        Widget.Widget,
        Effect.scoped(
          fresh.pipe(Effect.provide(Layer.mergeAll(CacheStore.layerMemory, InvalidationBus.layerMemory)))
        ),
        { numRuns: 200 }
      )
    }).pipe(Effect.provide(SecureRandom.layerWebCrypto))
  )

  it.effect("reads are served from the cache; a write on one instance is seen by another", () =>
    Effect.gen(function* () {
      const source = yield* RepositoryMemory.make(Widget.Widget)
      let reads = 0
      const counted = {
        ...source,
        findById: (id: Parameters<typeof source.findById>[0]) => {
          reads++
          return source.findById(id)
        }
      }
      // Two instances: one source of truth, one shared L2 and bus, two L1s.
      const a = yield* RepositoryCache.make(Widget.Widget, counted, { ttl: "1 minute" })
      const b = yield* RepositoryCache.make(Widget.Widget, counted, { ttl: "1 minute" })
      const created = yield* a.create(widget)
      yield* a.findById(created.id)
      yield* a.findById(created.id)
      yield* b.findById(created.id)
      assert.strictEqual(reads, 1, "one repository read; the rest from L1 or L2")
      yield* a.update(created.id, { price: 2 })
      // The bus delivers asynchronously; give it a turn.
      yield* Effect.yieldNow
      assert.strictEqual((yield* b.findById(created.id)).price, 2, "instance b sees a's write")
      yield* b.delete(created.id)
      yield* Effect.yieldNow
      assert.strictEqual((yield* Effect.flip(a.findById(created.id)))._tag, "NotFound")
    }).pipe(Effect.scoped, Effect.provide(Caching))
  )

  it.effect("a write inside a transaction invalidates again after the commit", () =>
    Effect.gen(function* () {
      const source = yield* RepositoryMemory.make(Widget.Widget)
      const cached = yield* RepositoryCache.make(Widget.Widget, source, { ttl: "1 minute" })
      const created = yield* cached.create(widget)
      yield* UnitOfWork.transaction(
        Effect.gen(function* () {
          yield* cached.update(created.id, { price: 5 })
          // A reader inside the transaction caches the uncommitted value...
          yield* cached.findById(created.id)
          yield* source.update(created.id, { price: 6 })
        })
      )
      // ...which the after-commit invalidation drops.
      assert.strictEqual((yield* cached.findById(created.id)).price, 6)
    }).pipe(Effect.scoped, Effect.provide(Layer.mergeAll(Caching, UnitOfWork.layerMemory)))
  )
})
