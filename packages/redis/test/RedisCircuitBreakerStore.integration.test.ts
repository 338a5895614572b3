/**
 * Circuit breakers of two instances sharing their state through Redis: the
 * store's compare-and-set contract, and an opening on one instance refusing
 * calls on the other within `syncEvery`.
 */
import { assert, describe, it } from "@effect/vitest"
import { CircuitBreaker } from "@org/core"
import { IoRedis, RedisCircuitBreakerStore } from "@org/redis"
import { Effect, Layer } from "effect"
import * as SecureRandom from "effect/crypto/SecureRandom"
import { skipRedis, url } from "./env.ts"

const unique = Effect.flatMap(SecureRandom.SecureRandom, (random) => random.uuidV4()).pipe(
  Effect.provide(SecureRandom.layerWebCrypto)
)

const storeOn = (namespace: string) =>
  Effect.flatMap(Layer.build(IoRedis.layer({ url })), (client) =>
    RedisCircuitBreakerStore.make({ namespace }).pipe(Effect.provideContext(client))
  )

describe.skipIf(skipRedis)("RedisCircuitBreakerStore", () => {
  it.live(
    "compare-and-set writes only against the current version",
    () =>
      Effect.gen(function* () {
        const store = yield* storeOn(`test:${yield* unique}:`)
        assert.isUndefined(yield* store.get("db"))
        const open = { status: "open" as const, openUntil: 1_000, openings: 1, version: 1 }
        assert.isTrue(yield* store.compareAndSet("db", 0, open))
        assert.deepStrictEqual(yield* store.get("db"), open)
        assert.isFalse(yield* store.compareAndSet("db", 0, { ...open, version: 2 }), "a stale writer loses")
        assert.isTrue(yield* store.compareAndSet("db", 1, { ...open, status: "closed", version: 2 }))
        assert.strictEqual((yield* store.get("db"))?.status, "closed")
      }).pipe(Effect.scoped),
    20_000
  )

  it.live(
    "an opening on one instance refuses calls on the other within syncEvery",
    () =>
      Effect.gen(function* () {
        const namespace = `test:${yield* unique}:`
        const options = {
          name: "payments",
          trip: { consecutiveFailures: 2 },
          openFor: "30 seconds",
          syncEvery: "100 millis"
        } as const
        const a = yield* CircuitBreaker.make({ ...options, store: yield* storeOn(namespace) })
        const b = yield* CircuitBreaker.make({ ...options, store: yield* storeOn(namespace) })
        for (let i = 0; i < 2; i++) yield* Effect.exit(a.execute(Effect.fail("boom")))
        assert.strictEqual((yield* a.state).status, "open")
        yield* Effect.sleep("400 millis")
        const refused = yield* Effect.flip(b.execute(Effect.succeed("never runs")))
        assert.strictEqual(refused._tag, "CircuitOpen")
        assert.strictEqual((yield* b.state).status, "open", "b opened without a failure of its own")
      }).pipe(Effect.scoped),
    20_000
  )
})
