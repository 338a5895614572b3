import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { HttpApi, HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import { SecurityHeaders } from "../src/index.ts"
import { type Reply, serve, widgetsApp } from "./fixtures/client.ts"
import { statusRoutes } from "./fixtures/StatusRoutes.ts"
import { Api, knownId } from "./fixtures/WidgetsApi.ts"

// Written out, not taken from the module: a change of the set must show up here.
const permissionsPolicy =
  "accelerometer=(), autoplay=(), bluetooth=(), camera=(), clipboard-read=(), clipboard-write=(), " +
  "display-capture=(), encrypted-media=(), fullscreen=(), gamepad=(), geolocation=(), gyroscope=(), hid=(), " +
  "idle-detection=(), local-fonts=(), magnetometer=(), microphone=(), midi=(), payment=(), " +
  "picture-in-picture=(), publickey-credentials-create=(), publickey-credentials-get=(), " +
  "screen-wake-lock=(), serial=(), storage-access=(), sync-xhr=(), usb=(), web-share=(), " +
  "window-management=(), xr-spatial-tracking=()"

const expected = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
  "permissions-policy": permissionsPolicy,
  "referrer-policy": "no-referrer",
  "strict-transport-security": "max-age=31536000; includeSubDomains",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "cross-origin-embedder-policy": "require-corp",
  "x-permitted-cross-domain-policies": "none"
}

/** The security headers of a reply, and the banners (which must be absent). */
const securityHeadersOf = (reply: Reply) =>
  Object.fromEntries(
    [...Object.keys(expected), "server", "x-powered-by"].map((name) => [name, reply.headers.get(name)])
  )

const assertSecured = (
  reply: Reply,
  csp = expected["content-security-policy"],
  permissions = expected["permissions-policy"]
) => {
  assert.deepStrictEqual(
    securityHeadersOf(reply),
    {
      ...expected,
      "content-security-policy": csp,
      "permissions-policy": permissions,
      server: null,
      "x-powered-by": null
    },
    `security headers on ${reply.status}`
  )
}

const docs = HttpRouter.add("GET", "/docs", HttpServerResponse.html("<h1>docs</h1>"))
const bannered = HttpRouter.add(
  "GET",
  "/bannered",
  HttpServerResponse.text("hi", { headers: { server: "effect/4.1", "x-powered-by": "coffee" } })
)

describe("SecurityHeaders", () => {
  it.effect("are the same full set on every status the fixtures produce", () =>
    Effect.gen(function* () {
      const app = yield* serve(
        widgetsApp({ bodyLimit: 64, routes: [statusRoutes], cors: { origins: ["https://app.example.com"] } })
      )
      const json = (body: unknown) => ({ body: JSON.stringify(body) })
      const preflight = (origin: string) => ({
        headers: { origin, "access-control-request-method": "POST" }
      })
      const cases: ReadonlyArray<readonly [number, Effect.Effect<Reply>]> = [
        [200, app.call("GET", `/widgets/${knownId}`)],
        [200, app.call("HEAD", `/widgets/${knownId}`)],
        [201, app.call("POST", "/widgets", json({ name: "gear", price: 1 }))],
        [204, app.call("GET", "/status/204")],
        [204, app.call("POST", "/session/logout")],
        [204, app.call("OPTIONS", "/widgets", preflight("https://app.example.com"))],
        [304, app.call("GET", "/status/304")],
        [400, app.call("GET", "/widgets/nope")],
        [400, app.call("POST", "/widgets", { body: new Uint8Array([0x7b, 0xff, 0x7d]) })],
        [401, app.call("GET", "/status/401")],
        [401, app.call("POST", "/session/token", json({ user: "nobody" }))],
        [403, app.call("OPTIONS", "/widgets", preflight("https://evil.example"))],
        [404, app.call("GET", "/missing")],
        [405, app.call("DELETE", "/widgets")],
        [409, app.call("POST", "/widgets", json({ name: "taken", price: 1 }))],
        [413, app.call("POST", "/widgets", json({ name: "gear", price: 1, pad: "x".repeat(64) }))],
        [415, app.call("POST", "/widgets", { body: "name=gear", headers: { "content-type": "text/plain" } })],
        [412, app.call("GET", "/status/412")],
        [422, app.call("GET", "/status/422")],
        [429, app.call("GET", "/status/429")],
        [500, app.call("GET", "/boom")],
        [503, app.call("GET", "/status/503")]
      ]
      for (const [status, request] of cases) {
        const reply = yield* request
        assert.strictEqual(reply.status, status, `status of case ${status}`)
        assertSecured(reply)
      }
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

  it.effect("relax the Permissions-Policy under a configured path prefix only", () =>
    Effect.gen(function* () {
      const app = yield* serve(
        widgetsApp({
          routes: [docs],
          securityHeaders: {
            contentSecurityPolicyByPath: { "/docs": SecurityHeaders.docsContentSecurityPolicy },
            permissionsPolicyByPath: { "/docs": SecurityHeaders.docsPermissionsPolicy }
          }
        })
      )
      const page = yield* app.call("GET", "/docs")
      assertSecured(page, SecurityHeaders.docsContentSecurityPolicy, SecurityHeaders.docsPermissionsPolicy)
      assert.include(page.headers.get("permissions-policy"), "clipboard-write=(self)")
      assert.include(page.headers.get("permissions-policy"), "camera=()")
      assertSecured(yield* app.call("GET", "/whoami"))
    }).pipe(Effect.scoped)
  )

  describe("Cache-Control: no-store", () => {
    it.effect("is on every response to a request with Authorization", () =>
      Effect.gen(function* () {
        const app = yield* serve(widgetsApp())
        const bearer = { headers: { authorization: "Bearer x" } }
        assert.strictEqual(
          (yield* app.call("GET", "/whoami", bearer)).headers.get("cache-control"),
          "no-store"
        )
        assert.strictEqual(
          (yield* app.call("GET", "/missing", bearer)).headers.get("cache-control"),
          "no-store"
        )
        assert.isNull((yield* app.call("GET", "/whoami")).headers.get("cache-control"))
      }).pipe(Effect.scoped)
    )

    it.effect("is on every response of an endpoint annotated NoStore, without Authorization", () =>
      Effect.gen(function* () {
        const app = yield* serve(widgetsApp())
        const issued = yield* app.call("POST", "/session/token", { body: JSON.stringify({ user: "ada" }) })
        assert.strictEqual(issued.status, 200)
        assert.strictEqual(issued.body.token, "token-of-ada")
        assert.strictEqual(issued.headers.get("cache-control"), "no-store")
        const refused = yield* app.call("POST", "/session/token", {
          body: JSON.stringify({ user: "nobody" })
        })
        assert.strictEqual(refused.status, 401)
        assert.strictEqual(refused.headers.get("cache-control"), "no-store")
        const invalid = yield* app.call("POST", "/session/token", { body: "{}" })
        assert.strictEqual(invalid.status, 400)
        assert.strictEqual(invalid.headers.get("cache-control"), "no-store")
        // Another method at the same path is not the annotated endpoint.
        const other = yield* app.call("GET", "/session/token")
        assert.strictEqual(other.status, 405)
        assert.isNull(other.headers.get("cache-control"))
        assert.isNull(
          (yield* app.call("POST", "/widgets", { body: '{"name":"a","price":1}' })).headers.get(
            "cache-control"
          )
        )
      }).pipe(Effect.scoped)
    )
  })

  describe("Clear-Site-Data", () => {
    it.effect("is on the successful responses of an endpoint annotated ClearSiteData only", () =>
      Effect.gen(function* () {
        const app = yield* serve(widgetsApp())
        const out = yield* app.call("POST", "/session/logout")
        assert.strictEqual(out.status, 204)
        assert.strictEqual(out.headers.get("clear-site-data"), '"cache", "storage"')
        const expired = yield* app.call("POST", "/session/logout?expired=true")
        assert.strictEqual(expired.status, 401)
        assert.isNull(expired.headers.get("clear-site-data"))
        assert.isNull((yield* app.call("GET", "/whoami")).headers.get("clear-site-data"))
      }).pipe(Effect.scoped)
    )
  })

  describe("fromApi", () => {
    it("finds annotated endpoints by method and URL, HEAD through GET", () => {
      const endpoints = SecurityHeaders.fromApi(Api)
      assert.deepStrictEqual(endpoints("POST", "/session/token?x=1"), { noStore: true, clearSiteData: [] })
      assert.deepStrictEqual(endpoints("POST", "/session/logout"), {
        noStore: false,
        clearSiteData: ["cache", "storage"]
      })
      assert.isUndefined(endpoints("GET", "/session/token"))
      assert.isUndefined(endpoints("POST", "/widgets"))
      assert.isUndefined(endpoints("GET", "/missing"))
    })

    it("sees group annotations and group prefixes, an endpoint's own value winning", () => {
      const auth = HttpApiGroup.make("auth")
        .add(
          HttpApiEndpoint.post("login", "/login"),
          HttpApiEndpoint.get("me", "/me/:id").annotate(SecurityHeaders.NoStore, false)
        )
        .prefix("/api/v1/auth")
        .annotate(SecurityHeaders.NoStore, true)
      const endpoints = SecurityHeaders.fromApi(HttpApi.make("prefixed").add(auth))
      assert.deepStrictEqual(endpoints("POST", "/api/v1/auth/login"), { noStore: true, clearSiteData: [] })
      assert.isUndefined(endpoints("POST", "/login"))
      assert.isUndefined(endpoints("GET", "/api/v1/auth/me/1"))
    })
  })

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
