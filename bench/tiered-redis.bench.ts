/**
 * The L2 hit path on a real Redis: `TieredCache.getOrLoad` with an L1 too
 * small to hold anything (every read goes to Redis and decodes the value)
 * against a plain ioredis `GET` of the same key, both awaited one at a time.
 * Also measures the cross-instance invalidation delay over pub/sub.
 * Needs REDIS_URL (skipped without it).
 * Usage: `REDIS_URL=redis://127.0.0.1:6379 ./node_modules/.bin/pnpm bench tiered`.
 */
import { Effect, Exit, Layer, Schema, Scope } from "effect"
import { Redis as IoRedisClient } from "ioredis"
import * as TieredCache from "../packages/core/src/TieredCache.ts"
import * as IoRedis from "../packages/redis/src/IoRedis.ts"
import * as RedisCacheStore from "../packages/redis/src/RedisCacheStore.ts"
import * as RedisInvalidationBus from "../packages/redis/src/RedisInvalidationBus.ts"
import { type Comparison, compare } from "./harness.ts"

const url = process.env.REDIS_URL

const Item = Schema.Struct({ id: Schema.String, price: Schema.Number })

export const run = async (): Promise<ReadonlyArray<Comparison>> => {
  if (url === undefined || url === "") {
    console.log("tiered-redis: skipped (REDIS_URL is not set)")
    return []
  }
  const scope = Scope.makeUnsafe()
  const namespace = `bench:${process.pid}:`
  const instance = () =>
    Effect.runPromise(
      Scope.provide(
        Effect.gen(function* () {
          const context = yield* Layer.build(
            Layer.mergeAll(
              RedisCacheStore.layer({ namespace }),
              RedisInvalidationBus.layer({ channel: `${namespace}bus` })
            ).pipe(Layer.provide(IoRedis.layer({ url })))
          )
          return yield* TieredCache.make({
            name: "bench-tiered",
            namespace: "items",
            schema: Item,
            ttl: "1 minute",
            l1: { maxEntries: 1 },
            lock: false,
            timeout: "1 second"
          }).pipe(Effect.provideContext(context))
        }),
        scope
      )
    )
  const cache = await instance()
  const keys = Array.from({ length: 100 }, (_, i) => `item:${i}`)
  for (const key of keys) await Effect.runPromise(cache.set(key, { id: key, price: 1 }))
  const plain = new IoRedisClient(url)
  const rawKeys = keys.map((key) => `${namespace}v:items:${key}`)
  const ours = {
    name: "TieredCache L2 hit",
    batch: async (ops: number) => {
      for (let i = 0; i < ops; i++) {
        await Effect.runPromise(cache.getOrLoad(keys[i % 100]!, () => Effect.die("loaded")))
      }
    }
  }
  const baseline = {
    name: "ioredis GET",
    batch: async (ops: number) => {
      for (let i = 0; i < ops; i++) await plain.get(rawKeys[i % 100]!)
    }
  }
  const result = await compare("tiered cache: L2 hit vs plain ioredis GET", ours, baseline, {
    ops: 2_000,
    samples: 7
  })

  // Cross-instance invalidation: a set on A, polled on B until it shows.
  const other = await instance()
  const delays: Array<number> = []
  for (let round = 0; round < 50; round++) {
    await Effect.runPromise(other.getOrLoad("hot", () => Effect.succeed({ id: "hot", price: round })))
    const start = performance.now()
    await Effect.runPromise(cache.set("hot", { id: "hot", price: round + 1000 }))
    for (;;) {
      // Through L1, then L2: the new value shows once B's L1 copy is dropped.
      const seen = await Effect.runPromise(other.getOrLoad("hot", () => Effect.die("not cached")))
      if (seen.price === round + 1000) break
      await new Promise((resolve) => setTimeout(resolve, 0))
    }
    delays.push(performance.now() - start)
  }
  delays.sort((a, b) => a - b)
  console.log(
    `tiered-redis: cross-instance invalidation delay over pub/sub (50 rounds): p50 ${delays[25]!.toFixed(2)} ms, max ${delays[49]!.toFixed(2)} ms`
  )
  plain.disconnect()
  await Effect.runPromise(Scope.close(scope, Exit.void))
  return [result]
}
