/**
 * The L1 hit path of the cache against `lru-cache` (a direct synchronous
 * `get`): `cached` (key derivation + `TieredCache.getOrLoad` hit), the
 * effectful `LruCache.get`, and for context Effect's own `Cache.get` and the floor of
 * any effectful read (a bare `Effect.succeed` per read in the same loop). Every
 * case reads the same 1 000 resident keys round-robin; the Effect cases run
 * their `ops` reads in a loop inside one Effect run (a hit never leaves the
 * fiber), `lru-cache` in a plain loop. No target is set: the ratio is
 * reported as measured.
 * Usage: `./node_modules/.bin/pnpm bench cache`.
 */
import { Cache, Effect, Layer, Schema, Scope } from "effect"
import { LRUCache } from "lru-cache"
import * as Cached from "../packages/core/src/Cached.ts"
import * as CacheStore from "../packages/core/src/CacheStore.ts"
import * as InvalidationBus from "../packages/core/src/InvalidationBus.ts"
import * as LruCache from "../packages/core/src/LruCache.ts"
import { type Case, type Comparison, compare } from "./harness.ts"

const scope = Scope.makeUnsafe()
const inScope = <A>(effect: Effect.Effect<A, never, Scope.Scope>): A =>
  Effect.runSync(Scope.provide(effect, scope))

const size = 1_000
const keys = Array.from({ length: size }, (_, i) => `item:${i}`)
const Item = Schema.Struct({ id: Schema.String, price: Schema.Number })
const fetchItem = (id: string) => Effect.succeed({ id, price: id.length })

const effectLoop = (name: string, read: (key: string) => Effect.Effect<unknown>): Case => ({
  name,
  batch: (ops) =>
    Effect.runSync(
      Effect.gen(function* () {
        for (let i = 0; i < ops; i++) yield* read(keys[i % size]!)
      })
    )
})

export const run = async (): Promise<ReadonlyArray<Comparison>> => {
  const baselineCache = new LRUCache<string, { id: string; price: number }>({ max: 10_000, ttl: 60_000 })
  for (const key of keys) baselineCache.set(key, { id: key, price: key.length })
  let sink = 0
  const baseline: Case = {
    name: "lru-cache get",
    batch: (ops) => {
      for (let i = 0; i < ops; i++) sink += baselineCache.get(keys[i % size]!)!.price
    }
  }

  const item = inScope(
    Cached.make(fetchItem, { name: "bench-items", schema: Item, ttl: "1 minute", key: (id) => id }).pipe(
      Effect.provide(Layer.mergeAll(CacheStore.layerMemory, InvalidationBus.layerMemory))
    )
  )
  const lru = inScope(
    LruCache.make<string, number>({ name: "bench-lru", maxEntries: 10_000, ttl: "1 minute" })
  )
  const effectCache = Effect.runSync(
    Cache.make({
      capacity: 10_000,
      timeToLive: "1 minute",
      lookup: (key: string) => Effect.succeed(key.length)
    })
  )
  Effect.runSync(
    Effect.forEach(
      keys,
      (key) => Effect.all([item(key), lru.set(key, key.length), Cache.get(effectCache, key)]),
      { discard: true }
    )
  )

  const results = [
    await compare(
      "cache: L1 hit through `cached` vs lru-cache",
      effectLoop("cached (L1 hit)", item),
      baseline,
      {
        ops: 100_000
      }
    ),
    await compare("cache: LruCache.get vs lru-cache", effectLoop("LruCache.get", lru.get), baseline, {
      ops: 100_000
    }),
    await compare(
      "cache: floor, bare Effect.succeed per read (context) vs lru-cache",
      effectLoop("yield* Effect.succeed", (key) => Effect.succeed(key)),
      baseline,
      { ops: 100_000 }
    ),
    await compare(
      "cache: effect Cache.get (context) vs lru-cache",
      effectLoop("effect Cache.get", (key) => Cache.get(effectCache, key)),
      baseline,
      { ops: 100_000 }
    )
  ]
  if (sink === 0) console.log("unreachable")
  return results
}
