import { assert, describe, it } from "@effect/vitest"
import { CacheStore, InvalidationBus, TieredCache } from "@org/core"
import { Effect, Layer, Schema } from "effect"
import { parentId, recording } from "./fixtures/tracing.ts"

const Item = Schema.Struct({ id: Schema.String })

const Shared = Layer.mergeAll(CacheStore.layerMemory, InvalidationBus.layerMemory)

const instance = TieredCache.make({ name: "items", schema: Item, ttl: "10 seconds" })

const load = (id: string) => () => Effect.succeed({ id })

describe("TieredCache tracing", () => {
  it.effect("marks the caller's span with cache.hit (miss, l1, l2) and spans a load only", () =>
    Effect.gen(function* () {
      const traces = recording()
      yield* Effect.gen(function* () {
        const first = yield* instance
        const second = yield* instance
        yield* first.getOrLoad("a", load("a")).pipe(Effect.withSpan("read 1"))
        yield* first.getOrLoad("a", load("a")).pipe(Effect.withSpan("read 2"))
        // Another instance over the same store: its L1 is empty, L2 has the value.
        yield* second.getOrLoad("a", load("a")).pipe(Effect.withSpan("read 3"))
      }).pipe(Effect.scoped, Effect.provide(Shared), Effect.provide(traces.layer))

      const [miss, l1, l2] = ["read 1", "read 2", "read 3"].map((name) => traces.named(name)[0]!)
      assert.strictEqual(miss!.attributes.get("cache.hit"), "miss")
      assert.strictEqual(miss!.attributes.get("cache.name"), "items")
      assert.strictEqual(l1!.attributes.get("cache.hit"), "l1")
      assert.strictEqual(l2!.attributes.get("cache.hit"), "l2")

      const loads = traces.named("TieredCache.load")
      assert.strictEqual(loads.length, 1, "one load span: for the miss only")
      assert.strictEqual(parentId(loads[0]!), miss!.spanId)
      assert.strictEqual(loads[0]!.attributes.get("cache.name"), "items")
      // Nothing but the three reads and the one load.
      assert.strictEqual(traces.spans.length, 4)
    })
  )

  it.effect("a failed load ends its span with the failure and marks a miss", () =>
    Effect.gen(function* () {
      const traces = recording()
      const exit = yield* Effect.gen(function* () {
        const cache = yield* instance
        return yield* Effect.exit(
          cache.getOrLoad("b", () => Effect.fail("boom")).pipe(Effect.withSpan("read"))
        )
      }).pipe(Effect.scoped, Effect.provide(Shared), Effect.provide(traces.layer))
      assert.strictEqual(exit._tag, "Failure")
      assert.strictEqual(traces.named("read")[0]!.attributes.get("cache.hit"), "miss")
      const load = traces.named("TieredCache.load")[0]!
      assert.isTrue(load.status._tag === "Ended" && load.status.exit._tag === "Failure")
    })
  )

  it.effect("needs no span: a hit outside any span is just a hit", () =>
    Effect.gen(function* () {
      const cache = yield* instance
      yield* cache.getOrLoad("c", load("c"))
      const value = yield* cache.getOrLoad("c", () => Effect.die("not loaded twice"))
      assert.deepStrictEqual(value, { id: "c" })
    }).pipe(Effect.scoped, Effect.provide(Shared))
  )
})
