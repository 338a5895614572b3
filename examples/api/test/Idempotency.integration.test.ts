/**
 * `Idempotency-Key` with the records in Redis (REDIS_URL), as the example
 * runs when Redis is configured: a race of identical requests creates one
 * item, and a later retry replays it.
 */
import { assert, describe, it } from "@effect/vitest"
import { IoRedis } from "@org/redis"
import { Effect } from "effect"
import * as RedisEnv from "../../../packages/redis/test/env.ts"
import * as Stores from "../src/server/Stores.ts"
import { serve } from "./client.ts"

const saw = { name: "Saw", price: 12.5, quantity: 3 }

describe.skipIf(RedisEnv.skipRedis)("Idempotency-Key on POST /api/v1/items, records in Redis", () => {
  it.live(
    "a race creates one item; a retry replays it",
    () =>
      Effect.gen(function* () {
        const api = yield* serve({ stores: Stores.layerRedisFrom(IoRedis.layer({ url: RedisEnv.url })) })
        // Unique per run: the Redis is shared and keeps keys for 24 h.
        const key = `race-${api.user.id}`
        const replies = yield* Effect.all(
          Array.from({ length: 3 }, () => api.call("POST", "/api/v1/items", saw, { "idempotency-key": key })),
          { concurrency: "unbounded" }
        )
        for (const reply of replies) {
          assert.strictEqual(reply.status, 201, reply.text)
          assert.strictEqual(reply.body.id, replies[0]?.body.id)
        }
        const retry = yield* api.call("POST", "/api/v1/items", saw, { "idempotency-key": key })
        assert.strictEqual(retry.text, replies[0]?.text)
        assert.strictEqual(retry.headers.get("idempotent-replayed"), "true")
        const other = yield* api.call(
          "POST",
          "/api/v1/items",
          { ...saw, quantity: 9 },
          { "idempotency-key": key }
        )
        assert.strictEqual(other.status, 422, other.text)
        const list = yield* api.call("GET", "/api/v1/items")
        assert.strictEqual(list.body.total, 1)
      }).pipe(Effect.scoped),
    60_000
  )
})
