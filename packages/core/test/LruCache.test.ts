import { assert, describe, it } from "@effect/vitest"
import { LruCache } from "@org/core"
import { Effect, Option } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import { metricValue } from "./fixtures/cache.ts"

describe("LruCache", () => {
  it.effect("an entry expires after its TTL (TestClock), a per-entry TTL overrides the default", () =>
    Effect.gen(function* () {
      const cache = yield* LruCache.make<string, number>({ name: "lru-ttl", maxEntries: 10, ttl: "1 second" })
      yield* cache.set("a", 1)
      yield* cache.set("b", 2, { ttl: "5 seconds" })
      yield* TestClock.adjust("999 millis")
      assert.deepStrictEqual(yield* cache.get("a"), Option.some(1))
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(yield* cache.get("a"), Option.none())
      assert.deepStrictEqual(yield* cache.get("b"), Option.some(2))
      yield* TestClock.adjust("4 seconds")
      assert.deepStrictEqual(yield* cache.get("b"), Option.none())
      const stats = yield* cache.stats
      assert.strictEqual(stats.expirations, 2)
      assert.strictEqual(stats.evictions, 0)
    })
  )

  it.effect("evicts the least recently used entry, a read refreshes recency", () =>
    Effect.gen(function* () {
      const cache = yield* LruCache.make<string, number>({ name: "lru-order", maxEntries: 2 })
      yield* cache.set("a", 1)
      yield* cache.set("b", 2)
      yield* cache.get("a")
      yield* cache.set("c", 3)
      assert.deepStrictEqual(yield* cache.get("b"), Option.none())
      assert.deepStrictEqual(yield* cache.get("a"), Option.some(1))
      assert.deepStrictEqual(yield* cache.get("c"), Option.some(3))
      assert.strictEqual((yield* cache.stats).evictions, 1)
    })
  )

  it.effect("the byte bound evicts until the sizes fit; a value larger than the bound is not stored", () =>
    Effect.gen(function* () {
      const cache = yield* LruCache.make<string, string>({
        name: "lru-bytes",
        maxEntries: 100,
        maxBytes: 10,
        sizeOf: (value) => value.length
      })
      yield* cache.set("a", "xxxx")
      yield* cache.set("b", "xxxx")
      yield* cache.set("c", "xxxx")
      assert.deepStrictEqual(yield* cache.get("a"), Option.none())
      assert.strictEqual((yield* cache.stats).bytes, 8)
      yield* cache.set("d", "x".repeat(11))
      assert.deepStrictEqual(yield* cache.get("d"), Option.none())
      assert.strictEqual((yield* cache.stats).bytes, 8)
    })
  )

  it.effect("deleteWhere removes by key and by tag", () =>
    Effect.gen(function* () {
      const cache = yield* LruCache.make<string, number>({ name: "lru-where", maxEntries: 10 })
      yield* cache.set("user:1", 1, { tags: ["team:a"] })
      yield* cache.set("user:2", 2, { tags: ["team:b"] })
      yield* cache.set("org:1", 3)
      assert.strictEqual(yield* cache.deleteWhere((_, tags) => tags.includes("team:a")), 1)
      assert.strictEqual(yield* cache.deleteWhere((key) => key.startsWith("org:")), 1)
      assert.strictEqual((yield* cache.stats).size, 1)
    })
  )

  it.effect(
    "metrics labelled by cache name move with hits, misses and evictions, and go away with the scope",
    () =>
      Effect.gen(function* () {
        yield* Effect.scoped(
          Effect.gen(function* () {
            const cache = yield* LruCache.make<string, number>({ name: "lru-metrics", maxEntries: 1 })
            yield* cache.set("a", 1)
            yield* cache.get("a")
            yield* cache.get("a")
            yield* cache.get("zz")
            yield* cache.set("b", 2)
            assert.strictEqual(yield* metricValue("cache.hits", "lru-metrics"), 2)
            assert.strictEqual(yield* metricValue("cache.misses", "lru-metrics"), 1)
            assert.strictEqual(yield* metricValue("cache.evictions", "lru-metrics"), 1)
            assert.strictEqual(yield* metricValue("cache.size", "lru-metrics"), 1)
            assert.closeTo((yield* metricValue("cache.hit_rate", "lru-metrics"))!, 2 / 3, 1e-9)
          })
        )
        assert.strictEqual(yield* metricValue("cache.hits", "lru-metrics"), undefined)
      })
  )

  // Model-based: random sequences of get/set/delete/advance against a tiny
  // reference LRU (an array in recency order, least recent first).
  type Op =
    | { readonly _tag: "get"; readonly key: string }
    | { readonly _tag: "set"; readonly key: string; readonly value: string; readonly ttl: number | undefined }
    | { readonly _tag: "delete"; readonly key: string }
    | { readonly _tag: "advance"; readonly millis: number }

  const key = fc.constantFrom("a", "b", "c", "d", "e")
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ _tag: fc.constant("get" as const), key }),
    fc.record({
      _tag: fc.constant("set" as const),
      key,
      value: fc.string({ minLength: 0, maxLength: 6 }),
      ttl: fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined })
    }),
    fc.record({ _tag: fc.constant("delete" as const), key }),
    fc.record({ _tag: fc.constant("advance" as const), millis: fc.integer({ min: 0, max: 60 }) })
  )

  interface ModelEntry {
    readonly key: string
    readonly value: string
    readonly expiresAt: number
  }

  const runModel = (ops: ReadonlyArray<Op>, maxEntries: number, maxBytes: number | undefined) => {
    const sizeOf = (value: string) => (maxBytes === undefined ? 0 : value.length)
    const bound = maxBytes ?? Infinity
    let entries: Array<ModelEntry> = []
    let now = 0
    let evictions = 0
    let expirations = 0
    const outputs: Array<string | null> = []
    const bytes = () => entries.reduce((sum, e) => sum + sizeOf(e.value), 0)
    for (const o of ops) {
      switch (o._tag) {
        case "advance":
          now += o.millis
          break
        case "delete":
          entries = entries.filter((e) => e.key !== o.key)
          break
        case "get": {
          const found = entries.find((e) => e.key === o.key)
          entries = entries.filter((e) => e.key !== o.key)
          if (found === undefined) outputs.push(null)
          else if (found.expiresAt <= now) {
            expirations++
            outputs.push(null)
          } else {
            entries.push(found)
            outputs.push(found.value)
          }
          break
        }
        case "set": {
          entries = entries.filter((e) => e.key !== o.key)
          if (o.ttl === 0 || sizeOf(o.value) > bound) break
          entries.push({
            key: o.key,
            value: o.value,
            expiresAt: o.ttl === undefined ? Infinity : now + o.ttl
          })
          while (entries.length > maxEntries || bytes() > bound) {
            const lru = entries.shift()!
            if (lru.expiresAt <= now) expirations++
            else evictions++
          }
        }
      }
    }
    return { outputs, evictions, expirations, size: entries.length, bytes: bytes() }
  }

  it.effect("behaves as a reference LRU model under random operation sequences", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.array(op, { minLength: 5, maxLength: 60, size: "max" }),
          fc.integer({ min: 1, max: 4 }),
          fc.option(fc.integer({ min: 0, max: 14 }), { nil: undefined }),
          async (ops, maxEntries, maxBytes) => {
            const expected = runModel(ops, maxEntries, maxBytes)
            const actual = await Effect.runPromise(
              Effect.gen(function* () {
                const cache = yield* LruCache.make<string, string>(
                  maxBytes === undefined
                    ? { name: "lru-model", maxEntries }
                    : { name: "lru-model", maxEntries, maxBytes, sizeOf: (value) => value.length }
                )
                const outputs: Array<string | null> = []
                for (const o of ops) {
                  switch (o._tag) {
                    case "advance":
                      yield* TestClock.adjust(o.millis)
                      break
                    case "delete":
                      yield* cache.delete(o.key)
                      break
                    case "get":
                      outputs.push(Option.getOrNull(yield* cache.get(o.key)))
                      break
                    case "set":
                      yield* cache.set(o.key, o.value, o.ttl === undefined ? {} : { ttl: o.ttl })
                  }
                }
                const stats = yield* cache.stats
                return {
                  outputs,
                  evictions: stats.evictions,
                  expirations: stats.expirations,
                  size: stats.size,
                  bytes: stats.bytes
                }
              }).pipe(Effect.scoped, Effect.provide(TestClock.layer()))
            )
            assert.deepStrictEqual(actual, expected)
          }
        ),
        { numRuns: 300 }
      )
    )
  )
})
