/**
 * Revocation with Redis over the durable Postgres copy, as the example runs
 * it with REDIS_URL, against a private redis-server (no persistence) that the
 * test kills and restarts: revoked tokens stay refused and valid ones keep
 * working while Redis is down and after it comes back empty; a logout while
 * Redis is down still holds. The rate limits live in that Redis too: the
 * general one lets requests through while it is down, the auth one refuses.
 */
import { assert, describe, it } from "@effect/vitest"
import { HttpApp } from "@org/http"
import { IoRedis } from "@org/redis"
import { Effect, Schedule } from "effect"
import * as RedisServer from "../../../packages/redis/test/redisServer.ts"
import * as Stores from "../src/server/Stores.ts"
import { type Api, AppLayer, makeApi, type Reply } from "./client.ts"

const serveWithRedis = (url: string) =>
  Effect.flatMap(
    Effect.acquireRelease(
      Effect.sync(() =>
        HttpApp.toWebHandler(AppLayer({ stores: Stores.layerRedisFrom(IoRedis.layer({ url })) }))
      ),
      ({ dispose }) => Effect.promise(dispose)
    ),
    ({ handler }) => makeApi(handler)
  )

const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const started = performance.now()
    const value = yield* effect
    return { value, millis: performance.now() - started }
  })

const items = (api: Api, auth: Record<string, string>) =>
  timed(api.call("GET", "/api/v1/items", undefined, auth))

const expectStatus = (
  reply: { readonly value: Reply; readonly millis: number },
  status: number,
  what: string
) => {
  assert.strictEqual(reply.value.status, status, `${what}: ${reply.value.text.slice(0, 200)}`)
  assert.isBelow(reply.millis, 2_000, `${what} took ${reply.millis} ms`)
}

describe.skipIf(RedisServer.skipPrivateRedis)("revocations with Redis over Postgres, Redis failing", () => {
  it.live(
    "Redis killed, then restarted empty: revoked tokens refused, valid tokens served, throughout",
    () =>
      Effect.gen(function* () {
        const redis = yield* RedisServer.make
        const api = yield* serveWithRedis(redis.url)
        const leaving = yield* api.signUp()
        const staying = yield* api.signUp()
        assert.strictEqual((yield* api.call("POST", "/api/v1/auth/logout", {}, leaving.auth)).status, 204)
        expectStatus(yield* items(api, leaving.auth), 401, "revoked, Redis up")
        expectStatus(yield* items(api, staying.auth), 200, "valid, Redis up")

        const duringOutage = yield* api.signUp()
        yield* redis.kill
        for (let i = 0; i < 3; i++) {
          expectStatus(yield* items(api, leaving.auth), 401, `revoked, Redis down (${i})`)
          // the general rate limit fails open: served while its store is down
          expectStatus(yield* items(api, staying.auth), 200, `valid, Redis down (${i})`)
        }
        // Readiness tells the truth meanwhile.
        const notReady = yield* api.call("GET", "/health/ready", undefined, { authorization: "" })
        assert.strictEqual(notReady.status, 503, notReady.text)
        assert.strictEqual(notReady.body.checks.redis.status, "fail")
        // The auth routes' rate limit fails closed: no password guessing while it cannot count.
        const register = yield* timed(
          api.call("POST", "/api/v1/auth/register", {
            email: "outage@example.com",
            password: "a long and unusual passphrase 42"
          })
        )
        expectStatus(register, 503, "register while the rate-limit store is down")
        assert.strictEqual(register.value.headers.get("retry-after"), "5")
        // A logout while Redis is down is recorded durably and holds.
        assert.strictEqual(
          (yield* api.call("POST", "/api/v1/auth/logout", {}, duringOutage.auth)).status,
          204
        )
        expectStatus(yield* items(api, duringOutage.auth), 401, "revoked while Redis was down")

        // Back, empty (no persistence): nothing revoked is forgotten.
        yield* redis.start
        const ready = yield* api.call("GET", "/health/ready", undefined, { authorization: "" }).pipe(
          Effect.repeat({
            until: (reply) => reply.status === 200,
            schedule: Schedule.spaced("200 millis")
          }),
          Effect.timeout("10 seconds")
        )
        assert.strictEqual(ready.body.checks.redis.status, "pass")
        for (let i = 0; i < 3; i++) {
          expectStatus(yield* items(api, leaving.auth), 401, `revoked, after restart (${i})`)
          expectStatus(
            yield* items(api, duringOutage.auth),
            401,
            `revoked during outage, after restart (${i})`
          )
          expectStatus(yield* items(api, staying.auth), 200, `valid, after restart (${i})`)
          yield* Effect.sleep("300 millis")
        }
      }).pipe(Effect.scoped),
    120_000
  )
})
