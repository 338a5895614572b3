/**
 * The Redis revocation store: the RevocationStore laws on the shared Redis
 * (REDIS_URL), and fault tests on a private redis-server that is killed,
 * restarted empty (no persistence) and paused. The durable tier is an
 * in-memory store wrapped so a test can make it fail and count its reads
 * (the point here is Redis behaviour; the SQL store has its own laws).
 */
import { assert, describe, it } from "@effect/vitest"
import { RevocationStore } from "@org/core"
import { IoRedis, RedisRevocationStore } from "@org/redis"
import { RevocationStoreLaws } from "@org/testing"
import { Clock, Duration, Effect, Exit, Layer, Schedule } from "effect"
import * as SecureRandom from "effect/crypto/SecureRandom"
import { Redis } from "effect/persistence"
import { skipRedis, url } from "./env.ts"
import * as RedisServer from "./redisServer.ts"

const unique = Effect.flatMap(SecureRandom.SecureRandom, (random) => random.uuidV4()).pipe(
  Effect.provide(SecureRandom.layerWebCrypto)
)

/** A durable store that can be switched to failing, and counts the checks it answered. */
const faultyDurable = Effect.gen(function* () {
  const inner = yield* RevocationStore.makeMemory
  let failing = false
  let checks = 0
  const guard = <A>(operation: string, effect: Effect.Effect<A, RevocationStore.RevocationUnavailable>) =>
    Effect.suspend(() =>
      failing
        ? Effect.fail(
            new RevocationStore.RevocationUnavailable({
              operation: `durable.${operation}`,
              cause: "switched off"
            })
          )
        : effect
    )
  const store = RevocationStore.RevocationStore.of({
    revokeToken: (tokenId, until) => guard("revokeToken", inner.revokeToken(tokenId, until)),
    revokeSubject: (subject, cutoff, until) =>
      guard("revokeSubject", inner.revokeSubject(subject, cutoff, until)),
    isRevoked: (ref) =>
      guard(
        "isRevoked",
        Effect.suspend(() => {
          checks++
          return inner.isRevoked(ref)
        })
      ),
    entries: guard("entries", inner.entries)
  })
  return {
    store,
    fail: (on: boolean) =>
      Effect.sync(() => {
        failing = on
      }),
    checks: Effect.sync(() => checks)
  }
})

// ---------------------------------------------------------------------------
// Laws on the shared Redis
// ---------------------------------------------------------------------------

const fresh = Effect.gen(function* () {
  const durable = yield* RevocationStore.makeMemory
  const namespace = `test:${yield* unique}:`
  const redis = yield* Redis.Redis
  // Entry keys expire on their own; the marker does not.
  yield* Effect.addFinalizer(() => Effect.ignore(redis.send("DEL", `${namespace}loaded`)))
  const store = yield* RedisRevocationStore.make(durable, { namespace })
  return { store, advance: (millis: number) => Effect.sleep(Duration.millis(millis)), slackMillis: 25 }
})

describe.skipIf(skipRedis)("RedisRevocationStore obeys the RevocationStore laws on a real Redis", () => {
  for (const [name, law] of Object.entries(RevocationStoreLaws.laws)) {
    it.live(
      name,
      () => law(fresh, { runs: 5 }).pipe(Effect.scoped, Effect.provide(IoRedis.layer({ url }))),
      30_000
    )
  }
})

// ---------------------------------------------------------------------------
// Faults on a private redis-server
// ---------------------------------------------------------------------------

/** A private server, a client on it, a raw view of its keys, and the store over a faulty durable tier. */
const setup = (timeout: Duration.Duration = Duration.millis(100)) =>
  Effect.gen(function* () {
    const server = yield* RedisServer.make
    const client = yield* Layer.build(IoRedis.layer({ url: server.url, options: { connectTimeout: 1_000 } }))
    const raw = yield* Layer.build(IoRedis.layer({ url: server.url, options: { connectTimeout: 1_000 } }))
    const durable = yield* faultyDurable
    const namespace = `test:${yield* unique}:`
    const makeStore = RedisRevocationStore.make(durable.store, {
      namespace,
      timeout,
      cooldown: Duration.millis(300)
    }).pipe(Effect.provideContext(client))
    const store = yield* makeStore
    const now = yield* Clock.currentTimeMillis
    // The raw client reconnects on its own after a restart: give it time.
    const rawGet = (key: string) =>
      Effect.flatMap(Redis.Redis, (redis) => redis.send<string | null>("GET", `${namespace}${key}`)).pipe(
        Effect.retry({ schedule: Schedule.spaced(Duration.millis(100)), times: 50 }),
        Effect.provideContext(raw)
      )
    return { server, store, makeStore, durable, now, raw, rawGet, namespace }
  })

const ref = (tokenId: string, subject: string, issuedAt: number) => ({ tokenId, subject, issuedAt })

/** Polls until `condition` holds (up to 8 s), checking `invariant` on every round. */
const eventually = <E, R>(
  condition: Effect.Effect<boolean, unknown, R>,
  invariant: Effect.Effect<void, E, R>,
  what: string
) =>
  Effect.gen(function* () {
    for (let round = 0; round < 160; round++) {
      yield* invariant
      if (yield* Effect.orElseSucceed(condition, () => false)) return
      yield* Effect.sleep(Duration.millis(50))
    }
    return yield* Effect.die(new Error(`timed out waiting until ${what}`))
  })

const timedCheck = (store: RevocationStore.RevocationStore["Service"], r: RevocationStore.TokenRef) =>
  Effect.map(Effect.timed(store.isRevoked(r)), ([duration, revoked]) => ({
    revoked,
    millis: Duration.toMillis(duration)
  }))

describe.skipIf(RedisServer.skipPrivateRedis)("RedisRevocationStore under Redis faults", () => {
  it.live(
    "healthy: Redis alone answers, and a revocation made through one instance is refused by another",
    () =>
      Effect.gen(function* () {
        const { store, makeStore, durable, now, rawGet } = yield* setup()
        const other = yield* makeStore
        yield* store.revokeToken("t1", now + 60_000)
        yield* store.revokeSubject("u1", now, now + 60_000)
        assert.strictEqual(yield* rawGet("t:t1"), String(now + 60_000))
        assert.strictEqual(yield* rawGet("s:u1"), `${now} ${now + 60_000}`)
        assert.isTrue(yield* other.isRevoked(ref("t1", "u9", now)))
        assert.isTrue(yield* other.isRevoked(ref("t2", "u1", now)))
        assert.isFalse(yield* other.isRevoked(ref("t2", "u1", now + 1)))
        assert.isFalse(yield* other.isRevoked(ref("t3", "u2", now)))
        assert.strictEqual(yield* durable.checks, 0, "a healthy Redis should answer every check")
      }).pipe(Effect.scoped),
    20_000
  )

  it.live(
    "Redis killed: revoked tokens are still refused and valid ones served, from the durable store, promptly",
    () =>
      Effect.gen(function* () {
        const { server, store, durable, now } = yield* setup()
        yield* store.revokeToken("t1", now + 60_000)
        yield* store.revokeSubject("u1", now, now + 60_000)
        yield* server.kill
        const results = []
        for (let i = 0; i < 3; i++) {
          results.push(yield* timedCheck(store, ref("t1", "u9", now)))
          results.push(yield* timedCheck(store, ref("t2", "u1", now - 1)))
          results.push(yield* timedCheck(store, ref("t3", "u2", now)))
        }
        assert.deepStrictEqual(
          results.map((r) => r.revoked),
          [true, true, false, true, true, false, true, true, false]
        )
        assert.isAbove(yield* durable.checks, 0)
        const slowest = Math.max(...results.map((r) => r.millis))
        // The timeout is 100 ms, and a dead server's connection fails faster than that.
        assert.isBelow(slowest, 350, `slowest check took ${slowest} ms`)
      }).pipe(Effect.scoped),
    20_000
  )

  it.live(
    "Redis hung (SIGSTOP): a check costs at most about the timeout, then skips Redis",
    () =>
      Effect.gen(function* () {
        const { server, store, now } = yield* setup(Duration.millis(300))
        yield* store.revokeToken("t1", now + 60_000)
        yield* server.pause
        const first = yield* timedCheck(store, ref("t1", "u", now))
        const second = yield* timedCheck(store, ref("t2", "u", now))
        yield* server.resume
        assert.isTrue(first.revoked)
        assert.isFalse(second.revoked)
        // The first check waits out the 300 ms timeout; the next one skips Redis.
        assert.isAtLeast(first.millis, 290, `first check took ${first.millis} ms`)
        assert.isBelow(first.millis, 600, `first check took ${first.millis} ms`)
        assert.isBelow(second.millis, 150, `a check during the cooldown took ${second.millis} ms`)
      }).pipe(Effect.scoped),
    20_000
  )

  it.live(
    "a revocation made before a Redis restart (no persistence) still holds after it, and is rebuilt into Redis",
    () =>
      Effect.gen(function* () {
        const { server, store, durable, now, rawGet } = yield* setup()
        yield* store.revokeToken("t1", now + 60_000)
        yield* store.revokeSubject("u1", now, now + 60_000)
        yield* server.kill
        yield* server.start
        assert.isNull(yield* rawGet("t:t1"), "the restarted server should be empty")
        const stillRefused = Effect.gen(function* () {
          assert.isTrue(yield* store.isRevoked(ref("t1", "u9", now)), "t1 was served during the restart")
          assert.isTrue(
            yield* store.isRevoked(ref("t2", "u1", now)),
            "u1's token was served during the restart"
          )
          assert.isFalse(yield* store.isRevoked(ref("t3", "u2", now)), "a valid token was refused")
        })
        yield* eventually(
          Effect.map(rawGet("loaded"), (marker) => marker !== null),
          stillRefused,
          "Redis is rebuilt"
        )
        assert.strictEqual(yield* rawGet("t:t1"), String(now + 60_000))
        assert.strictEqual(yield* rawGet("s:u1"), `${now} ${now + 60_000}`)
        const before = yield* durable.checks
        yield* stillRefused
        assert.strictEqual(yield* durable.checks, before, "after the rebuild Redis answers again")
      }).pipe(Effect.scoped),
    20_000
  )

  it.live(
    "a revocation made while Redis is down is recorded durably, refused, and still refused after Redis comes back empty",
    () =>
      Effect.gen(function* () {
        const { server, store, durable, now, rawGet } = yield* setup()
        yield* server.kill
        yield* store.revokeToken("t1", now + 60_000)
        yield* store.revokeSubject("u1", now, now + 60_000)
        assert.isTrue(
          yield* durable.store.isRevoked(ref("t1", "u9", now)),
          "the durable store has the revocation"
        )
        const stillRefused = Effect.gen(function* () {
          assert.isTrue(yield* store.isRevoked(ref("t1", "u9", now)), "t1 was served")
          assert.isTrue(yield* store.isRevoked(ref("t2", "u1", now)), "u1's token was served")
          assert.isFalse(yield* store.isRevoked(ref("t3", "u2", now)), "a valid token was refused")
        })
        yield* stillRefused
        yield* server.start
        yield* eventually(
          Effect.map(rawGet("t:t1"), (value) => value !== null),
          stillRefused,
          "the missed write reaches Redis"
        )
        assert.strictEqual(yield* rawGet("s:u1"), `${now} ${now + 60_000}`)
      }).pipe(Effect.scoped),
    20_000
  )

  it.live(
    "Redis down and the durable store failing: RevocationUnavailable, never an answer",
    () =>
      Effect.gen(function* () {
        const { server, store, durable, now } = yield* setup()
        yield* store.revokeToken("t1", now + 60_000)
        yield* server.kill
        yield* durable.fail(true)
        for (const r of [ref("t1", "u", now), ref("t2", "u", now)]) {
          const exit = yield* Effect.exit(store.isRevoked(r))
          assert.isTrue(Exit.isFailure(exit), `isRevoked(${r.tokenId}) answered ${JSON.stringify(exit)}`)
          const error = yield* Effect.flip(store.isRevoked(r))
          assert.strictEqual(error._tag, "RevocationUnavailable")
        }
        const write = yield* Effect.flip(store.revokeToken("t3", now + 60_000))
        assert.strictEqual(write._tag, "RevocationUnavailable")
      }).pipe(Effect.scoped),
    20_000
  )

  it.live(
    "Redis flushed and the durable store failing: RevocationUnavailable, never an answer",
    () =>
      Effect.gen(function* () {
        const { store, durable, now, raw } = yield* setup()
        yield* store.revokeToken("t1", now + 60_000)
        yield* Effect.flatMap(Redis.Redis, (redis) => redis.send("FLUSHALL")).pipe(Effect.provideContext(raw))
        yield* durable.fail(true)
        const error = yield* Effect.flip(store.isRevoked(ref("t2", "u", now)))
        assert.strictEqual(error._tag, "RevocationUnavailable")
      }).pipe(Effect.scoped),
    20_000
  )

  it.live(
    "durable store failing, Redis healthy: checks are answered by Redis, revocations are refused",
    () =>
      Effect.gen(function* () {
        const { store, durable, now, rawGet } = yield* setup()
        yield* store.revokeToken("t1", now + 60_000)
        yield* durable.fail(true)
        assert.isTrue(yield* store.isRevoked(ref("t1", "u", now)))
        assert.isFalse(yield* store.isRevoked(ref("t2", "u", now)))
        const error = yield* Effect.flip(store.revokeToken("t2", now + 60_000))
        assert.strictEqual(error._tag, "RevocationUnavailable")
        assert.isNull(yield* rawGet("t:t2"), "a revocation the durable store refused must not reach Redis")
      }).pipe(Effect.scoped),
    20_000
  )
})
