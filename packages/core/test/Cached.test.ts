import { assert, describe, it } from "@effect/vitest"
import { Cached, CacheStore, InvalidationBus, TieredCache } from "@org/core"
import { Effect, Layer, Schema } from "effect"
import { TestClock } from "effect/testing"

const Price = Schema.Struct({ sku: Schema.String, cents: Schema.Int, at: Schema.Date })
type Price = typeof Price.Type

const Shared = Layer.mergeAll(CacheStore.layerMemory, InvalidationBus.layerMemory)

const pricing = () => {
  const calls: Array<string> = []
  const fetchPrice = (sku: string, currency: string) =>
    Effect.sync((): Price => {
      calls.push(`${sku}/${currency}`)
      return { sku, cents: calls.length, at: new Date(0) }
    })
  return { fetchPrice, calls }
}

describe("Cached", () => {
  it.effect("caches per derived key and expires with the TTL under TestClock", () =>
    Effect.gen(function* () {
      const { fetchPrice, calls } = pricing()
      const price = yield* Cached.make(fetchPrice, {
        name: "cached-ttl",
        schema: Price,
        ttl: "30 seconds",
        key: (sku, currency) => `${sku}/${currency}`
      })
      const first = yield* price("A", "EUR")
      const again = yield* price("A", "EUR")
      yield* price("A", "USD")
      assert.deepStrictEqual(again, first)
      assert.deepStrictEqual(calls, ["A/EUR", "A/USD"])
      yield* TestClock.adjust("29999 millis")
      yield* price("A", "EUR")
      assert.strictEqual(calls.length, 2)
      yield* TestClock.adjust("1 millis")
      yield* price("A", "EUR")
      assert.deepStrictEqual(calls, ["A/EUR", "A/USD", "A/EUR"])
    }).pipe(Effect.provide(Shared))
  )

  it.effect("values round-trip through L2 with the Schema (a Date survives JSON)", () =>
    Effect.gen(function* () {
      const { fetchPrice, calls } = pricing()
      const options = { name: "cached-l2-a", namespace: "prices", schema: Price, ttl: "1 minute" as const }
      const a = yield* TieredCache.make(options)
      const b = yield* TieredCache.make({ ...options, name: "cached-l2-b" })
      const onA = Cached.wrap(a, fetchPrice, { key: (sku, currency) => `${sku}/${currency}` })
      const onB = Cached.wrap(b, fetchPrice, { key: (sku, currency) => `${sku}/${currency}` })
      const written = yield* onA("A", "EUR")
      const read = yield* onB("A", "EUR")
      assert.strictEqual(calls.length, 1)
      assert.instanceOf(read.at, Date)
      assert.deepStrictEqual(read, written)
    }).pipe(Effect.provide(Shared))
  )

  it.effect("tags from the value and the arguments invalidate the right entries", () =>
    Effect.gen(function* () {
      const { fetchPrice, calls } = pricing()
      const price = yield* Cached.make(fetchPrice, {
        name: "cached-tags",
        schema: Price,
        ttl: "1 hour",
        key: (sku, currency) => `${sku}/${currency}`,
        tags: (value, _sku, currency) => [`sku:${value.sku}`, `currency:${currency}`]
      })
      yield* price("A", "EUR")
      yield* price("B", "EUR")
      yield* price("A", "USD")
      yield* price.cache.invalidateTag("currency:EUR")
      yield* price("A", "EUR")
      yield* price("B", "EUR")
      yield* price("A", "USD")
      assert.deepStrictEqual(calls, ["A/EUR", "B/EUR", "A/USD", "A/EUR", "B/EUR"])
      yield* price.cache.invalidateTag("sku:A")
      yield* price("A", "USD")
      yield* price("B", "EUR")
      assert.deepStrictEqual(calls.slice(5), ["A/USD"])
    }).pipe(Effect.provide(Shared))
  )
})
