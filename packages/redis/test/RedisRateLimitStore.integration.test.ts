/**
 * The Redis rate-limit store: the RateLimitStore laws on the shared Redis
 * (REDIS_URL; real time, so short windows), what Redis holds (keys, TTLs,
 * members), two instances sharing one limit, and fault tests on a private
 * redis-server that is killed and paused.
 */
import { assert, describe, it } from "@effect/vitest"
import type { RateLimiter } from "@org/core"
import { IoRedis, RedisRateLimitStore } from "@org/redis"
import { RateLimitStoreLaws } from "@org/testing"
import { Duration, Effect, Layer } from "effect"
import * as SecureRandom from "effect/crypto/SecureRandom"
import { Redis } from "effect/persistence"
import { skipRedis, url } from "./env.ts"
import * as RedisServer from "./redisServer.ts"

const RedisLive = IoRedis.layer({ url })

const unique = Effect.flatMap(SecureRandom.SecureRandom, (random) => random.uuidV4()).pipe(
  Effect.provide(SecureRandom.layerWebCrypto)
)

const sleep = (millis: number) => Effect.sleep(Duration.millis(millis))

// Every law gets its own prefix on the shared server; keys expire on their own.
const fresh = Effect.gen(function* () {
  const store = yield* RedisRateLimitStore.make({ prefix: `test:${yield* unique}:ratelimit:` })
  // Same host: Redis's clock is the test's clock. Sleeps overshoot and round trips take a little.
  return { store, advance: sleep, slackMillis: 5, delayMillis: 150 }
})

describe.skipIf(skipRedis)("RedisRateLimitStore obeys the RateLimitStore laws on a real Redis", () => {
  for (const [name, law] of Object.entries(RateLimitStoreLaws.laws)) {
    it.live(name, () => law(fresh).pipe(Effect.provide(RedisLive)), 20_000)
  }
})

const send = <A>(command: string, ...args: ReadonlyArray<string>) =>
  Effect.flatMap(Redis.Redis, (redis) => redis.send<A>(command, ...args))

describe.skipIf(skipRedis)("RedisRateLimitStore in Redis", () => {
  it.live(
    "a key per client key and policy, at most limit members, expiring a window after the last allowed request",
    () =>
      Effect.gen(function* () {
        const prefix = `test:${yield* unique}:ratelimit:`
        const store = yield* RedisRateLimitStore.make({ prefix })
        const policy = { limit: 10, window: Duration.millis(400) }
        const key = `${prefix}10/400:client`
        const decisions = yield* Effect.all(
          Array.from({ length: 30 }, () => store.take("client", policy)),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(decisions.filter((d) => d.allowed).length, 10)
        assert.strictEqual(yield* send<number>("ZCARD", key), 10, "refused requests must not be recorded")
        // Requests in one millisecond are distinct members with equal scores.
        const members = yield* send<Array<string>>("ZRANGE", key, "0", "-1", "WITHSCORES")
        const scores = new Set(members.filter((_, i) => i % 2 === 1))
        assert.isBelow(scores.size, 10, "expected several requests in one millisecond (a pipelined burst)")
        const ttl = yield* send<number>("PTTL", key)
        assert.isTrue(ttl > 0 && ttl <= 400, `PTTL is ${ttl} ms, expected within the window (400 ms)`)
        yield* store.take("client", { limit: 10, window: Duration.millis(800) })
        assert.strictEqual(yield* send<number>("EXISTS", `${prefix}10/800:client`), 1)
        yield* sleep(450)
        assert.strictEqual(yield* send<number>("EXISTS", key), 0, "the key outlived its window")
        assert.strictEqual(yield* send<number>("EXISTS", `${prefix}10/800:client`), 1)
      }).pipe(Effect.provide(RedisLive)),
    20_000
  )

  it.live(
    "two instances on two connections share one limit",
    () =>
      Effect.gen(function* () {
        const prefix = `test:${yield* unique}:ratelimit:`
        // Two clients: as two instances of a service would have.
        const a = yield* RedisRateLimitStore.make({ prefix }).pipe(
          Effect.provideContext(yield* Layer.build(RedisLive))
        )
        const b = yield* RedisRateLimitStore.make({ prefix }).pipe(
          Effect.provideContext(yield* Layer.build(RedisLive))
        )
        const policy = { limit: 10, window: Duration.seconds(10) }
        const decisions = yield* Effect.all(
          Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).take("shared", policy)),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(decisions.filter((d) => d.allowed).length, 10)
      }).pipe(Effect.scoped),
    20_000
  )

  it.live(
    "survives a SCRIPT FLUSH (the script is loaded again)",
    () =>
      Effect.gen(function* () {
        const store = yield* RedisRateLimitStore.make({ prefix: `test:${yield* unique}:ratelimit:` })
        const policy = { limit: 3, window: Duration.seconds(10) }
        assert.strictEqual((yield* store.take("k", policy)).remaining, 2)
        yield* send("SCRIPT", "FLUSH")
        assert.strictEqual((yield* store.take("k", policy)).remaining, 1)
      }).pipe(Effect.provide(RedisLive)),
    20_000
  )
})

// ---------------------------------------------------------------------------
// Faults on a private redis-server
// ---------------------------------------------------------------------------

const setup = (options: RedisRateLimitStore.Options) =>
  Effect.gen(function* () {
    const server = yield* RedisServer.make
    const client = yield* Layer.build(IoRedis.layer({ url: server.url, options: { connectTimeout: 1_000 } }))
    const store = yield* RedisRateLimitStore.make(options).pipe(Effect.provideContext(client))
    return { server, store }
  })

const policy: RateLimiter.Policy = { limit: 5, window: Duration.seconds(10) }

const timedTake = (store: RateLimiter.RateLimitStore["Service"]) =>
  Effect.map(Effect.timed(Effect.result(store.take("k", policy))), ([duration, result]) => ({
    result,
    millis: Duration.toMillis(duration)
  }))

describe.skipIf(RedisServer.skipPrivateRedis)("RedisRateLimitStore under Redis faults", () => {
  it.live(
    "Redis killed: RateLimitUnavailable at once, never a decision; decisions again once it is back",
    () =>
      Effect.gen(function* () {
        const { server, store } = yield* setup({ cooldown: Duration.millis(200) })
        assert.isTrue((yield* store.take("k", policy)).allowed)
        yield* server.kill
        for (let i = 0; i < 5; i++) {
          const { result, millis } = yield* timedTake(store)
          assert.strictEqual(result._tag, "Failure", `take ${i} answered while Redis was down`)
          if (result._tag === "Failure") assert.strictEqual(result.failure._tag, "RateLimitUnavailable")
          assert.isBelow(millis, 100, `take ${i} took ${millis} ms`)
        }
        yield* server.start
        // The client reconnects with backoff; the cooldown is short.
        let back = false
        for (let i = 0; i < 100 && !back; i++) {
          back = (yield* timedTake(store)).result._tag === "Success"
          if (!back) yield* sleep(50)
        }
        assert.isTrue(back, "no decision within 5 s of Redis coming back")
      }).pipe(Effect.scoped),
    20_000
  )

  it.live(
    "Redis hung (SIGSTOP): the first take costs the timeout, the next ones fail at once until the cooldown ends",
    () =>
      Effect.gen(function* () {
        const { server, store } = yield* setup({
          timeout: Duration.millis(200),
          cooldown: Duration.millis(500)
        })
        assert.isTrue((yield* store.take("k", policy)).allowed)
        yield* server.pause
        const first = yield* timedTake(store)
        const second = yield* timedTake(store)
        yield* server.resume
        assert.strictEqual(first.result._tag, "Failure")
        assert.strictEqual(second.result._tag, "Failure")
        assert.isAtLeast(first.millis, 190, `first take took ${first.millis} ms`)
        assert.isBelow(first.millis, 500, `first take took ${first.millis} ms`)
        assert.isBelow(second.millis, 50, `a take during the cooldown took ${second.millis} ms`)
        yield* sleep(600)
        const after = yield* timedTake(store)
        assert.strictEqual(
          after.result._tag,
          "Success",
          "no decision after the server resumed and the cooldown ended"
        )
      }).pipe(Effect.scoped),
    20_000
  )
})
