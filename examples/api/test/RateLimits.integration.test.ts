/**
 * Two instances of the example on one Redis (REDIS_URL) act as one service:
 * a client's window is shared, so of a burst spread over both exactly the
 * limit passes.
 */
import { assert, describe, it } from "@effect/vitest"
import { HttpApp } from "@org/http"
import { IoRedis } from "@org/redis"
import { Duration, Effect } from "effect"
import * as RedisEnv from "../../../packages/redis/test/env.ts"
import * as Stores from "../src/server/Stores.ts"
import { AppLayer, makeApi } from "./client.ts"

const limits = {
  policies: {
    default: { limit: 12, window: Duration.minutes(1) },
    auth: { limit: 1000, window: Duration.minutes(1), onUnavailable: "refuse" as const }
  }
}

const instance = Effect.map(
  Effect.acquireRelease(
    Effect.sync(() =>
      HttpApp.toWebHandler(
        AppLayer({ stores: Stores.layerRedisFrom(IoRedis.layer({ url: RedisEnv.url })), rateLimits: limits })
      )
    ),
    ({ dispose }) => Effect.promise(dispose)
  ),
  ({ handler }) => handler
)

describe.skipIf(RedisEnv.skipRedis)("rate limits shared by two instances through Redis", () => {
  it.live(
    "a burst of 36 concurrent requests spread over two instances: exactly the limit passes",
    () =>
      Effect.gen(function* () {
        const [a, b] = yield* Effect.all([instance, instance], { concurrency: 2 })
        const onA = yield* makeApi(a)
        // The same account on B: the tokens are signed with the same test keys.
        const requests = Array.from({ length: 36 }, (_, i) =>
          Effect.promise(() =>
            (i % 2 === 0 ? a : b)(
              new Request("http://localhost/api/v1/items", { headers: onA.user.auth })
            ).then((response) => response.status)
          )
        )
        const statuses = yield* Effect.all(requests, { concurrency: "unbounded" })
        // signing up read /auth/me once in the same window; two windows of
        // their own would have let up to 23 through
        assert.strictEqual(statuses.filter((status) => status === 200).length, 11)
        assert.strictEqual(statuses.filter((status) => status === 429).length, 25)
      }).pipe(Effect.scoped),
    60_000
  )
})
