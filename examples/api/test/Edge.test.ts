/**
 * The example's HTTP edge as a browser and an attacker meet it (issue 11):
 * CORS for the configured origin only, no cross-site "simple request"
 * accepted, token responses never cached, logout clearing the site's data,
 * one spelling per path.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { password, serve } from "./client.ts"

const app = "https://app.example.com"

describe("the example's HTTP edge", () => {
  it.effect("CORS: the configured origin gets the route's methods; look-alikes get nothing", () =>
    Effect.gen(function* () {
      const api = yield* serve({ cors: { origins: [app] } })
      const preflight = (origin: string, method: string) =>
        api.call("OPTIONS", "/api/v1/items", undefined, {
          authorization: "",
          origin,
          "access-control-request-method": method,
          "access-control-request-headers": "authorization, content-type"
        })
      const allowed = yield* preflight(app, "POST")
      assert.strictEqual(allowed.status, 204, allowed.text)
      assert.strictEqual(allowed.headers.get("access-control-allow-origin"), app)
      assert.sameMembers(
        (allowed.headers.get("access-control-allow-methods") ?? "").split(/,\s*/),
        ["GET", "HEAD", "POST"],
        "the methods /api/v1/items serves"
      )
      assert.include(allowed.headers.get("access-control-allow-headers") ?? "", "authorization")
      assert.isNull(allowed.headers.get("access-control-allow-credentials"))
      for (const origin of ["https://app.example.com.evil.com", "http://app.example.com", "null"]) {
        const refused = yield* preflight(origin, "POST")
        assert.isNull(refused.headers.get("access-control-allow-origin"), origin)
        assert.strictEqual(refused.headers.get("content-type"), "application/problem+json", origin)
      }
      const list = yield* api.call("GET", "/api/v1/items", undefined, { origin: app })
      assert.strictEqual(list.status, 200)
      assert.strictEqual(list.headers.get("access-control-allow-origin"), app)
      assert.include(list.headers.get("vary") ?? "", "Origin")
      assert.include((list.headers.get("access-control-expose-headers") ?? "").toLowerCase(), "ratelimit")
    }).pipe(Effect.scoped)
  )

  it.effect("a cross-site form-style POST does not create an account: 415, never parsed", () =>
    Effect.gen(function* () {
      const api = yield* serve()
      const email = `csrf-${Date.now()}@example.test`
      const body = JSON.stringify({ email, password: "correct horse battery staple 42" })
      for (const contentType of [undefined, "text/plain", "application/x-www-form-urlencoded"]) {
        const reply = yield* api.call("POST", "/api/v1/auth/register", body, {
          authorization: "",
          origin: "https://evil.example",
          // `call` sets JSON for a body; a browser's simple request says otherwise
          "content-type": contentType ?? ""
        })
        assert.strictEqual(reply.status, 415, `${contentType}: ${reply.text}`)
        assert.strictEqual(reply.headers.get("content-type"), "application/problem+json")
      }
      // the account does not exist: registering it properly now succeeds
      const registered = yield* api.call("POST", "/api/v1/auth/register", JSON.parse(body), {
        authorization: ""
      })
      assert.strictEqual(registered.status, 201, registered.text)
    }).pipe(Effect.scoped)
  )

  it.effect("token responses are never cached; logout clears the site's data", () =>
    Effect.gen(function* () {
      const api = yield* serve()
      const login = yield* api.call(
        "POST",
        "/api/v1/auth/login",
        { email: api.user.email, password },
        { authorization: "" }
      )
      assert.strictEqual(login.status, 200, login.text)
      assert.strictEqual(login.headers.get("cache-control"), "no-store")
      const refreshed = yield* api.call(
        "POST",
        "/api/v1/auth/refresh",
        { refresh_token: login.body.refresh_token },
        { authorization: "" }
      )
      assert.strictEqual(refreshed.status, 200, refreshed.text)
      assert.strictEqual(refreshed.headers.get("cache-control"), "no-store")
      const logout = yield* api.call("POST", "/api/v1/auth/logout", undefined, {
        authorization: `Bearer ${refreshed.body.access_token}`
      })
      assert.strictEqual(logout.status, 204, logout.text)
      assert.strictEqual(logout.headers.get("clear-site-data"), '"cache", "storage"')
      // a refused logout clears nothing
      const again = yield* api.call("POST", "/api/v1/auth/logout", undefined, {
        authorization: `Bearer ${refreshed.body.access_token}`
      })
      assert.strictEqual(again.status, 401)
      assert.isNull(again.headers.get("clear-site-data"))
    }).pipe(Effect.scoped)
  )

  it.effect("one spelling per path: aliases of a route are 404 problems", () =>
    Effect.gen(function* () {
      const api = yield* serve()
      const created = yield* api.call("POST", "/api/v1/items", { name: "Saw", price: 9.5, quantity: 1 })
      assert.strictEqual(created.status, 201, created.text)
      const id = created.body.id as string
      for (const path of [
        "/api/v1/items;foo=bar",
        "/api/v1//items",
        "/api/v1/items/",
        `/api/v1/items/${id};x`
      ]) {
        const reply = yield* api.call("GET", path)
        assert.strictEqual(reply.status, 404, path)
        assert.strictEqual(reply.headers.get("content-type"), "application/problem+json", path)
      }
      assert.strictEqual((yield* api.call("GET", `/api/v1/items/${id}`)).status, 200)
    }).pipe(Effect.scoped)
  )

  it.effect("every problem type the API sends has its anchor on /docs/problems", () =>
    Effect.gen(function* () {
      const api = yield* serve()
      const page = yield* api.call("GET", "/docs/problems", undefined, { authorization: "" })
      assert.strictEqual(page.status, 200)
      for (const slug of [
        "validation",
        "not-found",
        "too-many-requests",
        "idempotency-key-reused",
        "idempotency-key-in-progress"
      ])
        assert.include(page.text, `id="${slug}"`, slug)
    }).pipe(Effect.scoped)
  )
})
