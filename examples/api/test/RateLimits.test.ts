/**
 * The example's rate limits as an attacker meets them (issue 11): password
 * guessing from many addresses, a burst from one client, the headers of
 * limited routes. In memory; `RateLimits.integration.test.ts` shares one
 * Redis between two instances.
 */
import { assert, describe, it } from "@effect/vitest"
import type { HttpApp } from "@org/http"
import { Duration, Effect, Option } from "effect"
import { HttpServerRequest } from "effect/http"
import { serve } from "./client.ts"

// Each request says which address it comes from (`x-test-address`), as a
// trusted proxy's X-Forwarded-For would: the only way to be many clients in
// one process.
const addressFromHeader: HttpApp.Middleware = (app) =>
  Effect.updateService(app, HttpServerRequest.HttpServerRequest, (request) =>
    request.modify({ remoteAddress: Option.fromNullishOr(request.headers["x-test-address"]) })
  )

const limits = (auth: number, general: number) => ({
  policies: {
    default: { limit: general, window: Duration.minutes(1) },
    auth: { limit: auth, window: Duration.minutes(1), onUnavailable: "refuse" as const }
  }
})

describe("rate limits", () => {
  it.effect(
    "40 wrong passwords for one account from 40 addresses: 10 are checked, then 429, right password too",
    () =>
      Effect.gen(function* () {
        const api = yield* serve({ rateLimits: limits(10, 1000), middlewares: [addressFromHeader] })
        const victim = yield* api.signUp()
        const statuses: Array<number> = []
        for (let i = 0; i < 40; i++) {
          const reply = yield* api.call(
            "POST",
            "/api/v1/auth/login",
            { email: victim.email, password: `guess number ${i} of many` },
            { authorization: "", "x-test-address": `198.51.100.${i + 1}` }
          )
          statuses.push(reply.status)
        }
        // signUp's own login counted once for the account
        assert.deepStrictEqual(statuses.slice(0, 9), Array(9).fill(401))
        assert.deepStrictEqual(statuses.slice(9), Array(31).fill(429))
        const right = yield* api.call(
          "POST",
          "/api/v1/auth/login",
          { email: victim.email, password: "correct horse battery staple 42" },
          { authorization: "", "x-test-address": "203.0.113.9" }
        )
        assert.strictEqual(right.status, 429, right.text)
        const retryAfter = Number(right.headers.get("retry-after"))
        assert.isTrue(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `${retryAfter}`)
        assert.strictEqual(right.headers.get("content-type"), "application/problem+json")
        assert.notProperty(right.body, "access_token")
        // another account from the same addresses is not affected
        const other = yield* api.signUp()
        assert.isString(other.access)
      }).pipe(Effect.scoped)
  )

  it.effect("one address guessing many accounts, a burst from one client, health probes: one app", () =>
    Effect.gen(function* () {
      // general 21: signing up read /auth/me once under the same window
      const api = yield* serve({ rateLimits: limits(5, 21), middlewares: [addressFromHeader] })

      // one address guessing many accounts is stopped by its own window
      const statuses: Array<number> = []
      for (let i = 0; i < 8; i++) {
        const reply = yield* api.call(
          "POST",
          "/api/v1/auth/login",
          { email: `nobody${i}@example.test`, password: "a guess that is long enough" },
          { authorization: "", "x-test-address": "192.0.2.77" }
        )
        statuses.push(reply.status)
      }
      assert.deepStrictEqual(statuses, [401, 401, 401, 401, 401, 429, 429, 429])

      // a burst of 60 concurrent requests from one signed-in client: exactly 20 pass
      const replies = yield* Effect.all(
        Array.from({ length: 60 }, () => api.call("GET", "/api/v1/items")),
        { concurrency: "unbounded" }
      )
      const passed = replies.filter((reply) => reply.status === 200)
      assert.strictEqual(passed.length, 20)
      assert.strictEqual(replies.filter((reply) => reply.status === 429).length, 40)
      for (const reply of passed) {
        assert.strictEqual(reply.headers.get("ratelimit-policy"), `"default";q=21;w=60`)
        assert.match(reply.headers.get("ratelimit") ?? "", /^"default";r=\d+;t=\d+$/)
      }

      // forged tokens count against their sender's address: no unlimited signature checks
      const forged: Array<number> = []
      for (let i = 0; i < 24; i++) {
        const reply = yield* api.call("GET", "/api/v1/items", undefined, {
          authorization: `Bearer forged.${i}.token`,
          "x-test-address": "192.0.2.99"
        })
        forged.push(reply.status)
      }
      assert.deepStrictEqual(forged, [...Array(21).fill(401), 429, 429, 429])

      // health probes are never limited (more than any window here)
      for (let i = 0; i < 25; i++) {
        const reply = yield* api.call("GET", "/health/live", undefined, {
          authorization: "",
          "x-test-address": "10.0.0.1"
        })
        assert.strictEqual(reply.status, 200)
        assert.isNull(reply.headers.get("ratelimit"))
      }
    }).pipe(Effect.scoped)
  )
})
