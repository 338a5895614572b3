/**
 * One `take` of the in-memory sliding-log `RateLimitStore` against the least
 * a limiter must do (read the clock, `Map.get`, push a timestamp) in a plain
 * loop, on the allowed path (10 000 keys already seen, round-robin at
 * 100/minute, so every take is allowed and recorded) and on the refused path
 * (one key over its limit). For context: the floor of any effectful call (a bare
 * `Effect.succeed` per op in the same loop) and Effect's own fixed-window
 * `RateLimiter` (`effect/persistence`, memory store) on the allowed path.
 * The Effect cases run their `ops` takes in a loop inside one Effect run.
 * No target is set: the ratios are reported as measured.
 * Usage: `./node_modules/.bin/pnpm bench rate-limiter`.
 */
import { Duration, Effect, Layer } from "effect"
import * as EffectRateLimiter from "effect/persistence/RateLimiter"
import * as RateLimiter from "../packages/core/src/RateLimiter.ts"
import { type Case, type Comparison, compare } from "./harness.ts"

const size = 10_000
const keys = Array.from({ length: size }, (_, i) => `client:${i}`)
const policy: RateLimiter.Policy = { limit: 100, window: Duration.minutes(1) }

const effectLoop = (name: string, op: (key: string) => Effect.Effect<unknown, unknown>): Case => ({
  name,
  batch: (ops) =>
    Effect.runSync(
      Effect.gen(function* () {
        for (let i = 0; i < ops; i++) yield* op(keys[i % size]!)
      }).pipe(Effect.ignore)
    )
})

export const run = async (): Promise<ReadonlyArray<Comparison>> => {
  const logs = new Map<string, Array<number>>()
  let sink = 0
  const baseline: Case = {
    name: "Map.get + push",
    batch: (ops) => {
      for (let i = 0; i < ops; i++) {
        const key = keys[i % size]!
        const now = Date.now()
        const log = logs.get(key)
        if (log === undefined) logs.set(key, [now])
        else sink += log.push(now)
      }
    }
  }

  const allowedStore = Effect.runSync(RateLimiter.makeMemory)
  const allowedCase = effectLoop("RateLimiter take", (key) => allowedStore.take(key, policy))
  // Steady state: every key already seen (a first sight also allocates its
  // entry), and the code optimized (the harness' three warm-up batches are
  // not enough here: the first 80 000 takes run about 4x slower).
  await allowedCase.batch(10 * size)
  const refusedStore = Effect.runSync(RateLimiter.makeMemory)
  const hot = { limit: 10, window: Duration.hours(1) }
  const effectLimiter = Effect.runSync(
    EffectRateLimiter.make.pipe(Effect.provide(Layer.fresh(EffectRateLimiter.layerStoreMemory)))
  )

  const results = [
    await compare("rate limiter: memory take, allowed (10k keys, 100/minute)", allowedCase, baseline),
    await compare(
      "rate limiter: memory take, refused (one key over its limit)",
      effectLoop("RateLimiter take refused", () => refusedStore.take("hot", hot)),
      baseline
    ),
    await compare(
      "context: the Effect loop alone (no limiter)",
      effectLoop("bare Effect", () => Effect.succeed(1)),
      baseline
    ),
    await compare(
      "context: effect/persistence RateLimiter, fixed window, allowed",
      effectLoop("effect RateLimiter", (key) =>
        effectLimiter.consume({ key, limit: 1_000_000, window: "1 minute", algorithm: "fixed-window" })
      ),
      allowedCase
    )
  ]
  if (sink < 0) console.log(sink)
  return results
}
