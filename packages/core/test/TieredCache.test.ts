import { assert, describe, it } from "@effect/vitest"
import { CacheStore, InvalidationBus, TieredCache } from "@org/core"
import { Clock, Effect, Fiber, Layer, Logger, Option, Schema } from "effect"
import { TestClock } from "effect/testing"
import { metricValue } from "./fixtures/cache.ts"

const Item = Schema.Struct({ id: Schema.String, version: Schema.Number })
type Item = typeof Item.Type

/** One store and one bus shared by every cache of a test: several instances of one service. */
const Shared = Layer.mergeAll(CacheStore.layerMemory, InvalidationBus.layerMemory)

const counter = () => {
  let loads = 0
  const load = (id: string, version = 1, delay = 0) =>
    Effect.suspend(() => {
      loads++
      const value: Item = { id, version }
      return delay === 0 ? Effect.succeed(value) : Effect.as(Effect.sleep(delay), value)
    })
  return { load, loads: () => loads }
}

const instance = (name: string, options: Partial<TieredCache.Options<Item, unknown>> = {}) =>
  TieredCache.make({ name, namespace: "items", schema: Item, ttl: "10 seconds", ...options })

/** Lets queued bus messages be delivered. */
const settle = Effect.repeat(Effect.yieldNow, { times: 5 })

/** Advances the TestClock in small steps so that pollers and sleepers interleave. */
const advance = (millis: number, step = 5) =>
  Effect.forEach(Array.from({ length: Math.ceil(millis / step) }), () => TestClock.adjust(step), {
    discard: true
  })

const captureLogs = () => {
  const lines: Array<{ level: string; message: string }> = []
  const logger = Logger.make(({ logLevel, message }) => {
    lines.push({ level: logLevel, message: Array.isArray(message) ? message.join(" ") : String(message) })
  })
  return { lines, layer: Logger.layer([logger]) }
}

/** A store whose every operation fails or hangs while `mode` says so; counts calls. */
const faultyStore = (mode: { current: "ok" | "fail" | "hang" }) =>
  Effect.map(CacheStore.makeMemory, (memory) => {
    let calls = 0
    const wrap =
      <Args extends ReadonlyArray<unknown>, A>(
        operation: string,
        f: (...args: Args) => Effect.Effect<A, CacheStore.CacheStoreError>
      ) =>
      (...args: Args): Effect.Effect<A, CacheStore.CacheStoreError> =>
        Effect.suspend(() => {
          calls++
          if (mode.current === "fail") {
            return Effect.fail(
              new CacheStore.CacheStoreError({ operation, cause: new Error("connection refused") })
            )
          }
          if (mode.current === "hang") return Effect.never
          return f(...args)
        })
    const store = CacheStore.CacheStore.of({
      get: wrap("get", memory.get),
      set: wrap("set", memory.set),
      delete: wrap("delete", memory.delete),
      deleteByPrefix: wrap("deleteByPrefix", memory.deleteByPrefix),
      deleteByTag: wrap("deleteByTag", memory.deleteByTag),
      acquireLock: wrap("acquireLock", memory.acquireLock),
      releaseLock: wrap("releaseLock", memory.releaseLock)
    })
    return { store, calls: () => calls }
  })

describe("TieredCache", () => {
  it.effect("an L1 entry filled from L2 never outlives L2's remaining TTL", () =>
    Effect.gen(function* () {
      const a = yield* instance("ttl-a")
      const b = yield* instance("ttl-b", { l1: { maxTtl: "1 hour" } })
      const { load, loads } = counter()
      yield* a.getOrLoad("1", () => load("1")) // L2 now holds it for 10 s
      yield* TestClock.adjust("8 seconds")
      yield* b.getOrLoad("1", () => load("1")) // from L2, 2 s left
      assert.strictEqual(loads(), 1)
      assert.strictEqual((yield* b.stats).l2Hits, 1)
      yield* TestClock.adjust("1999 millis")
      yield* b.getOrLoad("1", () => load("1"))
      assert.strictEqual(loads(), 1, "L1 served it while L2 still had it")
      yield* TestClock.adjust("1 millis")
      yield* b.getOrLoad("1", () => load("1"))
      assert.strictEqual(loads(), 2, "L1 kept an entry past its L2 expiry")
    }).pipe(Effect.provide(Shared))
  )

  it.effect("entries expire with their TTL (TestClock); per-entry TTL overrides the cache's", () =>
    Effect.gen(function* () {
      const cache = yield* instance("ttl-entry")
      const { load, loads } = counter()
      yield* cache.getOrLoad("short", () => load("short"), { ttl: "1 second" })
      yield* cache.getOrLoad("long", () => load("long"))
      yield* TestClock.adjust("1 second")
      yield* cache.getOrLoad("short", () => load("short"))
      yield* cache.getOrLoad("long", () => load("long"))
      assert.strictEqual(loads(), 3)
    }).pipe(Effect.provide(Shared))
  )

  it.effect(
    "N concurrent misses for one key run the loader once (in-process, without the store's lock)",
    () =>
      Effect.gen(function* () {
        const cache = yield* instance("stampede", { lock: false })
        const { load, loads } = counter()
        const fiber = yield* Effect.forkChild(
          Effect.all(
            Array.from({ length: 50 }, () => cache.getOrLoad("1", () => load("1", 1, 100))),
            { concurrency: "unbounded" }
          )
        )
        yield* advance(200)
        const results = yield* Fiber.join(fiber)
        assert.strictEqual(loads(), 1)
        assert.isTrue(results.every((r) => r.id === "1"))
      }).pipe(Effect.provide(Shared))
  )

  it.effect("two instances sharing a store and its lock run the loader once across both", () =>
    Effect.gen(function* () {
      const a = yield* instance("lock-a")
      const b = yield* instance("lock-b")
      const { load, loads } = counter()
      const call = (cache: TieredCache.TieredCache<Item>) => cache.getOrLoad("1", () => load("1", 1, 100))
      const fiber = yield* Effect.forkChild(
        Effect.all(
          [...Array.from({ length: 10 }, () => call(a)), ...Array.from({ length: 10 }, () => call(b))],
          {
            concurrency: "unbounded"
          }
        )
      )
      yield* advance(400)
      const results = yield* Fiber.join(fiber)
      assert.strictEqual(loads(), 1)
      assert.strictEqual(results.length, 20)
      assert.strictEqual((yield* b.stats).loads + (yield* a.stats).loads, 1)
    }).pipe(Effect.provide(Shared))
  )

  it.effect("a loader failure reaches its callers and is not cached", () =>
    Effect.gen(function* () {
      const cache = yield* instance("failure")
      const failed = yield* Effect.flip(cache.getOrLoad("1", () => Effect.fail("boom" as const)))
      assert.strictEqual(failed, "boom")
      const { load, loads } = counter()
      yield* cache.getOrLoad("1", () => load("1"))
      assert.strictEqual(loads(), 1)
    }).pipe(Effect.provide(Shared))
  )

  for (const kind of ["key", "prefix", "tag", "set"] as const) {
    it.effect(`invalidation by ${kind} on one instance reaches the other instance's L1 over the bus`, () =>
      Effect.gen(function* () {
        const a = yield* instance(`inv-${kind}-a`)
        const b = yield* instance(`inv-${kind}-b`)
        const { load, loads } = counter()
        const tags = { tags: (item: Item) => [`v:${item.version}`] }
        yield* a.getOrLoad("user:1", () => load("user:1"), tags)
        yield* b.getOrLoad("user:1", () => load("user:1"), tags) // from L2 into b's L1
        yield* b.getOrLoad("user:1", () => load("user:1"), tags) // b's L1
        assert.strictEqual((yield* b.stats).l1.hits, 1)
        assert.strictEqual(loads(), 1)
        switch (kind) {
          case "key":
            yield* a.invalidate("user:1")
            break
          case "prefix":
            yield* a.invalidatePrefix("user:")
            break
          case "tag":
            yield* a.invalidateTag("v:1")
            break
          case "set":
            yield* a.set("user:1", { id: "user:1", version: 2 })
        }
        yield* settle
        const seen = yield* b.getOrLoad("user:1", () => load("user:1", 3), tags)
        if (kind === "set") {
          assert.strictEqual(seen.version, 2, "b served its stale L1 copy after a's write")
          assert.strictEqual(loads(), 1)
        } else {
          assert.strictEqual(seen.version, 3, "b served a stale copy after a's invalidation")
          assert.strictEqual(loads(), 2)
        }
      }).pipe(Effect.provide(Shared))
    )
  }

  it.effect("an instance ignores its own echoes and other namespaces", () =>
    Effect.gen(function* () {
      const a = yield* instance("echo-a")
      const other = yield* TieredCache.make({
        name: "echo-other",
        namespace: "others",
        schema: Item,
        ttl: "1 minute"
      })
      const { load, loads } = counter()
      yield* other.getOrLoad("1", () => load("1"))
      yield* a.invalidate("1")
      yield* settle
      yield* other.getOrLoad("1", () => load("1"))
      assert.strictEqual(loads(), 1)
    }).pipe(Effect.provide(Shared))
  )

  it.effect("a load overtaken by an invalidation answers its caller but is not cached", () =>
    Effect.gen(function* () {
      const cache = yield* instance("dirty")
      const { load, loads } = counter()
      const fiber = yield* Effect.forkChild(cache.getOrLoad("1", () => load("1", 1, 100)))
      yield* advance(50)
      yield* cache.invalidate("1")
      yield* advance(100)
      assert.strictEqual((yield* Fiber.join(fiber)).version, 1)
      yield* cache.getOrLoad("1", () => load("1", 2))
      assert.strictEqual(loads(), 2)
    }).pipe(Effect.provide(Shared))
  )

  it.live("cross-instance invalidation delay over the memory bus is bounded (measured)", () =>
    Effect.gen(function* () {
      const a = yield* instance("delay-a")
      const b = yield* instance("delay-b")
      const delays: Array<number> = []
      for (let round = 1; round <= 200; round++) {
        yield* b.getOrLoad("k", () => Effect.succeed({ id: "k", version: round }))
        const start = yield* Clock.currentTimeNanos
        yield* a.set("k", { id: "k", version: -round })
        while (true) {
          const seen = yield* b.get("k")
          if (Option.isSome(seen) && seen.value.version === -round) break
          yield* Effect.yieldNow
        }
        delays.push(Number((yield* Clock.currentTimeNanos) - start) / 1000)
        yield* a.invalidate("k")
        yield* settle
      }
      delays.sort((x, y) => x - y)
      const p50 = delays[100]!
      const max = delays[199]!
      console.log(
        `memory bus: write on A -> B no longer stale: p50 ${p50.toFixed(0)} us, max ${max.toFixed(0)} us`
      )
      assert.isBelow(max, 50_000)
    }).pipe(Effect.provide(Shared))
  )

  it.effect(
    "a failing L2: reads succeed through the loader, L2 is skipped during the outage, logged once each way",
    () => {
      const logs = captureLogs()
      return Effect.gen(function* () {
        const mode = { current: "fail" as "ok" | "fail" | "hang" }
        const faulty = yield* faultyStore(mode)
        const cache = yield* instance("outage").pipe(
          Effect.provideService(CacheStore.CacheStore, faulty.store),
          Effect.provide(InvalidationBus.layerMemory)
        )
        const { load, loads } = counter()
        for (let i = 0; i < 10; i++) {
          const item = yield* cache.getOrLoad(`k${i}`, () => load(`k${i}`))
          assert.strictEqual(item.id, `k${i}`)
        }
        assert.strictEqual(loads(), 10)
        // 5 failures (the default threshold) open the outage; then L2 is not called.
        assert.strictEqual(faulty.calls(), 5)
        assert.isTrue((yield* cache.stats).outage)
        assert.strictEqual(yield* metricValue("cache.l2.outage", "outage"), 1)
        yield* TestClock.adjust("5 seconds")
        yield* cache.getOrLoad("probe-1", () => load("probe-1")) // probe fails: cool down again, silently
        assert.strictEqual(faulty.calls(), 6)
        yield* cache.getOrLoad("probe-2", () => load("probe-2"))
        assert.strictEqual(faulty.calls(), 6)
        mode.current = "ok"
        yield* TestClock.adjust("5 seconds")
        yield* cache.getOrLoad("probe-3", () => load("probe-3"))
        assert.isFalse((yield* cache.stats).outage)
        const warnings = logs.lines.filter((l) => l.level === "Warn")
        const infos = logs.lines.filter((l) => l.message.includes("L2 is back"))
        assert.strictEqual(warnings.length, 1, JSON.stringify(logs.lines))
        assert.strictEqual(infos.length, 1)
      }).pipe(Effect.provide(logs.layer))
    }
  )

  it.effect("a hanging L2: every read completes within the timeout bound, no failure surfaces", () =>
    Effect.gen(function* () {
      const mode = { current: "hang" as "ok" | "fail" | "hang" }
      const faulty = yield* faultyStore(mode)
      const cache = yield* instance("hang", {
        timeout: "50 millis",
        outage: { failures: 2, coolDown: "1 minute" }
      }).pipe(
        Effect.provideService(CacheStore.CacheStore, faulty.store),
        Effect.provide(InvalidationBus.layerMemory)
      )
      const { load, loads } = counter()
      for (let i = 0; i < 4; i++) {
        const start = yield* Clock.currentTimeMillis
        const fiber = yield* Effect.forkChild(
          Effect.zip(
            cache.getOrLoad(`k${i}`, () => load(`k${i}`)),
            Clock.currentTimeMillis
          )
        )
        yield* advance(200, 10)
        const [item, end] = yield* Fiber.join(fiber)
        assert.strictEqual(item.id, `k${i}`)
        // While L2 is believed up a miss waits one timeout (not one per L2 operation); during the outage, none.
        assert.strictEqual(end - start, i < 2 ? 50 : 0)
      }
      assert.strictEqual(loads(), 4)
      assert.strictEqual(faulty.calls(), 2)
    }).pipe(Effect.provide(Logger.layer([])))
  )

  it.effect(
    "a guard (e.g. a circuit breaker) wraps every L2 operation; its rejections degrade like failures",
    () =>
      Effect.gen(function* () {
        let guarded = 0
        let open = false
        const cache = yield* instance("guard", {
          guard: <X, E>(effect: Effect.Effect<X, E>) =>
            Effect.suspend((): Effect.Effect<X, E | string> => {
              guarded++
              return open ? Effect.fail("circuit open") : effect
            })
        })
        const { load, loads } = counter()
        yield* cache.getOrLoad("1", () => load("1")) // get, lock, set, unlock
        assert.strictEqual(guarded, 4)
        open = true
        yield* cache.getOrLoad("2", () => load("2"))
        assert.strictEqual(loads(), 2)
        assert.strictEqual((yield* cache.stats).l2Errors, 1)
      }).pipe(Effect.provide(Shared), Effect.provide(Logger.layer([])))
  )

  it.effect("metrics labelled by cache name: L1 hits/misses, L2 hits/misses, loads", () =>
    Effect.gen(function* () {
      const a = yield* instance("metrics-a")
      const b = yield* instance("metrics-b")
      const { load } = counter()
      yield* a.getOrLoad("1", () => load("1"))
      yield* a.getOrLoad("1", () => load("1"))
      yield* b.getOrLoad("1", () => load("1"))
      assert.strictEqual(yield* metricValue("cache.hits", "metrics-a"), 1)
      assert.strictEqual(yield* metricValue("cache.misses", "metrics-a"), 1)
      assert.strictEqual(yield* metricValue("cache.loads", "metrics-a"), 1)
      assert.strictEqual(yield* metricValue("cache.l2.misses", "metrics-a"), 1)
      assert.strictEqual(yield* metricValue("cache.l2.hits", "metrics-b"), 1)
      assert.strictEqual(yield* metricValue("cache.loads", "metrics-b"), 0)
    }).pipe(Effect.provide(Shared))
  )
})
