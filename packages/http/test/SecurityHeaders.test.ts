import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { SecurityHeaders } from "../src/index.ts"
import { type Reply, serve, widgetsApp } from "./fixtures/client.ts"
import { knownId } from "./fixtures/WidgetsApi.ts"

const expected = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
  "referrer-policy": "no-referrer",
  "strict-transport-security": "max-age=31536000; includeSubDomains",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin"
}

const assertSecured = (reply: Reply, csp = expected["content-security-policy"]) => {
  for (const [name, value] of Object.entries({ ...expected, "content-security-policy": csp })) {
    assert.strictEqual(reply.headers.get(name), value, `${name} on ${reply.status}`)
  }
  assert.isNull(reply.headers.get("server"))
  assert.isNull(reply.headers.get("x-powered-by"))
}

const docs = HttpRouter.add("GET", "/docs", HttpServerResponse.html("<h1>docs</h1>"))
const bannered = HttpRouter.add(
  "GET",
  "/bannered",
  HttpServerResponse.text("hi", { headers: { server: "effect/4.1", "x-powered-by": "coffee" } })
)

describe("SecurityHeaders", () => {
  it.effect("are on 200, 400, 404, 405, 413, 500 and 503 responses", () =>
    Effect.gen(function* () {
      const app = yield* serve(widgetsApp({ bodyLimit: 16 }))
      const replies = [
        yield* app.call("GET", `/widgets/${knownId}`),
        yield* app.call("GET", "/widgets/nope"),
        yield* app.call("GET", "/missing"),
        yield* app.call("DELETE", "/widgets"),
        yield* app.call("POST", "/widgets", { body: JSON.stringify({ name: "too long a body", price: 1 }) }),
        yield* app.call("GET", "/boom")
      ]
      assert.deepStrictEqual(
        replies.map((reply) => reply.status),
        [200, 400, 404, 405, 413, 500]
      )
      for (const reply of replies) assertSecured(reply)
    }).pipe(Effect.scoped)
  )

  it.effect("relax the CSP under a configured path prefix only", () =>
    Effect.gen(function* () {
      const app = yield* serve(
        widgetsApp({
          routes: [docs],
          securityHeaders: {
            contentSecurityPolicyByPath: { "/docs": SecurityHeaders.docsContentSecurityPolicy }
          }
        })
      )
      assertSecured(yield* app.call("GET", "/docs"), SecurityHeaders.docsContentSecurityPolicy)
      assertSecured(yield* app.call("GET", "/docs/missing"), SecurityHeaders.docsContentSecurityPolicy)
      assertSecured(yield* app.call("GET", "/docsx"))
      assertSecured(yield* app.call("GET", "/whoami"))
    }).pipe(Effect.scoped)
  )

  it.effect("remove Server and X-Powered-By banners", () =>
    Effect.gen(function* () {
      const app = yield* serve(widgetsApp({ routes: [bannered] }))
      const reply = yield* app.call("GET", "/bannered")
      assert.strictEqual(reply.text, "hi")
      assertSecured(reply)
    }).pipe(Effect.scoped)
  )

  describe("headersFor", () => {
    it("picks the longest matching prefix and lets extra headers override", () => {
      const options: SecurityHeaders.Options = {
        contentSecurityPolicyByPath: { "/docs": "a", "/docs/api": "b" },
        headers: { "Strict-Transport-Security": "max-age=60" }
      }
      assert.strictEqual(SecurityHeaders.headersFor("/docs/api/x", options)["content-security-policy"], "b")
      assert.strictEqual(SecurityHeaders.headersFor("/docs/x", options)["content-security-policy"], "a")
      assert.strictEqual(
        SecurityHeaders.headersFor("/api", options)["content-security-policy"],
        SecurityHeaders.apiContentSecurityPolicy
      )
      assert.strictEqual(
        SecurityHeaders.headersFor("/api", options)["strict-transport-security"],
        "max-age=60"
      )
    })
  })
})
