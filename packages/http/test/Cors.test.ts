import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Option } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { Cors, HttpApp, Problem } from "../src/index.ts"
import { type Reply, serve, widgetsApp } from "./fixtures/client.ts"
import { Api, handlers, knownId } from "./fixtures/WidgetsApi.ts"

const app = "https://app.example.com"
const local = "http://localhost:5173"
const origins = [app, local]

const preflight = (origin: string, method: string, requestHeaders?: string) => ({
  headers: {
    origin,
    "access-control-request-method": method,
    ...(requestHeaders === undefined ? {} : { "access-control-request-headers": requestHeaders })
  }
})

/** Every `access-control-*` header of a reply. */
const corsHeaders = (reply: Reply): Record<string, string> =>
  Object.fromEntries([...reply.headers].filter(([name]) => name.startsWith("access-control-")))

const varyOf = (reply: Reply): Array<string> =>
  (reply.headers.get("vary") ?? "").split(",").map((name) => name.trim().toLowerCase())

const lookAlikes = [
  "https://app.example.com.evil.com",
  "https://evil-app.example.com",
  "https://evilapp.example.com",
  "https://app.example.co",
  "http://app.example.com",
  "https://app.example.com:8443",
  "https://APP.example.com",
  "https://app.example.com/",
  "https://app.example.com/path",
  "https://user@app.example.com",
  "ws://app.example.com",
  "null",
  "*",
  ""
]

describe("Cors", () => {
  describe("parseOrigin", () => {
    it.each([
      ["https://app.example.com", "https://app.example.com"],
      ["https://App.Example.COM", "https://app.example.com"],
      ["https://app.example.com:443", "https://app.example.com"],
      ["https://app.example.com/", "https://app.example.com"],
      [" http://localhost:5173 ", "http://localhost:5173"],
      ["http://[::1]:8080", "http://[::1]:8080"],
      ["https://bücher.example", "https://xn--bcher-kva.example"]
    ])("%j is the origin %j", (input, origin) => {
      assert.deepStrictEqual(Cors.parseOrigin(input), Option.some(origin))
    })

    it.each([
      "null",
      "*",
      "https://*.example.com",
      "app.example.com",
      "file:///etc/passwd",
      "ftp://app.example.com",
      "chrome-extension://abcdef",
      "https://app.example.com/path",
      "https://app.example.com?x=1",
      "https://app.example.com#top",
      "https://user:pass@app.example.com",
      "https://app.example.com\\@evil.com",
      ""
    ])("%j is not an origin", (input) => {
      assert.isTrue(Option.isNone(Cors.parseOrigin(input)))
    })
  })

  describe("configuration", () => {
    const read = (value: string | undefined) =>
      Cors.config().pipe(
        Effect.provide(
          ConfigProvider.layer(ConfigProvider.fromUnknown(value === undefined ? {} : { CORS_ORIGINS: value }))
        )
      )

    it.effect("reads CORS_ORIGINS as comma-separated exact origins, none by default", () =>
      Effect.gen(function* () {
        assert.deepStrictEqual(yield* read(undefined), [])
        assert.deepStrictEqual(yield* read(""), [])
        assert.deepStrictEqual(yield* read(" https://App.example.com , http://localhost:5173,, "), [
          app,
          local
        ])
      })
    )

    it.effect("refuses a bad entry, naming the variable", () =>
      Effect.gen(function* () {
        for (const value of ["*", "null", `${app},https://app.example.com/api`, "app.example.com"]) {
          const error = yield* Effect.flip(read(value))
          assert.include(String(error), "CORS_ORIGINS", value)
        }
      })
    )

    it.effect("make validates origins and header names, and an empty list is no CORS", () =>
      Effect.gen(function* () {
        const policy = yield* Cors.make({
          origins: ["https://App.example.com:443"],
          allowHeaders: ["X-Trace"]
        })
        assert.deepStrictEqual([...policy.origins], [app])
        assert.deepStrictEqual([...policy.allowHeaders], ["x-trace"])
        assert.isFalse(policy.credentials)
        assert.strictEqual(yield* Cors.make({ origins: [] }), Cors.disabled)
        assert.isTrue((yield* Effect.result(Cors.make({ origins: ["null"] })))._tag === "Failure")
        assert.isTrue(
          (yield* Effect.result(Cors.make({ origins: [app], allowHeaders: ["bad header"] })))._tag ===
            "Failure"
        )
        assert.isTrue(
          (yield* Effect.result(Cors.make({ origins: [app], maxAgeSeconds: -1 })))._tag === "Failure"
        )
      })
    )
  })

  describe("preflight", () => {
    it.effect("is answered 204 with the methods the route serves and the allowed requested headers", () =>
      Effect.gen(function* () {
        const client = yield* serve(widgetsApp({ cors: { origins } }))
        const reply = yield* client.call(
          "OPTIONS",
          "/widgets",
          preflight(app, "POST", "content-type,x-request-id,idempotency-key,x-evil")
        )
        assert.strictEqual(reply.status, 204)
        assert.strictEqual(reply.text, "")
        assert.deepStrictEqual(corsHeaders(reply), {
          "access-control-allow-origin": app,
          "access-control-allow-methods": "GET, HEAD, POST",
          "access-control-allow-headers": "content-type, x-request-id, idempotency-key",
          "access-control-max-age": "600"
        })
        assert.includeMembers(varyOf(reply), [
          "origin",
          "access-control-request-method",
          "access-control-request-headers"
        ])
        assert.strictEqual(reply.headers.get("x-frame-options"), "DENY")
        assert.isString(reply.headers.get("x-request-id"))
        // Another route, other methods.
        const item = yield* client.call(
          "OPTIONS",
          `/widgets/${knownId}`,
          preflight(local, "GET", "authorization")
        )
        assert.strictEqual(item.status, 204)
        assert.strictEqual(item.headers.get("access-control-allow-origin"), local)
        assert.strictEqual(item.headers.get("access-control-allow-methods"), "GET, HEAD")
        assert.strictEqual(item.headers.get("access-control-allow-headers"), "authorization")
      }).pipe(Effect.scoped)
    )

    it.effect("for a method the route does not serve is a 405 with Allow and no CORS headers", () =>
      Effect.gen(function* () {
        const client = yield* serve(widgetsApp({ cors: { origins } }))
        const reply = yield* client.call("OPTIONS", `/widgets/${knownId}`, preflight(app, "DELETE"))
        assert.strictEqual(reply.status, 405)
        assert.strictEqual(reply.body.type, Problem.types.methodNotAllowed)
        assert.strictEqual(reply.headers.get("allow"), "GET, HEAD")
        assert.deepStrictEqual(corsHeaders(reply), {})
        assert.include(varyOf(reply), "origin")
        // Methods are case-sensitive: a lower-case `patch` preflight is not PATCH.
        const lower = yield* client.call("OPTIONS", "/widgets", preflight(app, "post"))
        assert.strictEqual(lower.status, 405)
        assert.deepStrictEqual(corsHeaders(lower), {})
      }).pipe(Effect.scoped)
    )

    it.effect("for a path no route serves is the router's 404, with no CORS headers", () =>
      Effect.gen(function* () {
        const client = yield* serve(widgetsApp({ cors: { origins } }))
        const reply = yield* client.call("OPTIONS", "/nowhere", preflight(app, "GET"))
        assert.strictEqual(reply.status, 404)
        assert.strictEqual(reply.body.type, Problem.types.notFound)
        assert.deepStrictEqual(corsHeaders(reply), {})
      }).pipe(Effect.scoped)
    )

    it.effect("from an origin not exactly allowed is a 403 with no CORS headers", () =>
      Effect.gen(function* () {
        const client = yield* serve(widgetsApp({ cors: { origins } }))
        for (const origin of lookAlikes) {
          const reply = yield* client.call("OPTIONS", "/widgets", preflight(origin, "POST", "content-type"))
          assert.strictEqual(reply.status, 403, origin)
          assert.strictEqual(reply.headers.get("content-type"), "application/problem+json")
          assert.strictEqual(reply.body.type, Problem.types.forbidden)
          assert.deepStrictEqual(corsHeaders(reply), {}, origin)
          assert.include(varyOf(reply), "origin")
        }
      }).pipe(Effect.scoped)
    )

    it.effect("without CORS configured is what it always was: a 405, no CORS headers, no Vary", () =>
      Effect.gen(function* () {
        const client = yield* serve(widgetsApp())
        const reply = yield* client.call("OPTIONS", "/widgets", preflight(app, "POST"))
        assert.strictEqual(reply.status, 405)
        assert.deepStrictEqual(corsHeaders(reply), {})
        assert.isNull(reply.headers.get("vary"))
        assert.isNull(
          (yield* client.call("GET", "/whoami", { headers: { origin: app } })).headers.get("vary")
        )
      }).pipe(Effect.scoped)
    )

    it.effect("an OPTIONS request that is not a preflight goes to the router", () =>
      Effect.gen(function* () {
        const client = yield* serve(widgetsApp({ cors: { origins } }))
        const plain = yield* client.call("OPTIONS", "/widgets", { headers: { origin: app } })
        assert.strictEqual(plain.status, 405)
        const noOrigin = yield* client.call("OPTIONS", "/widgets", {
          headers: { "access-control-request-method": "POST" }
        })
        assert.strictEqual(noOrigin.status, 405)
        assert.isNull(noOrigin.headers.get("access-control-allow-origin"))
      }).pipe(Effect.scoped)
    )
  })

  describe("responses", () => {
    it.effect("to an allowed origin carry its exact origin and the exposed headers, errors included", () =>
      Effect.gen(function* () {
        const client = yield* serve(widgetsApp({ cors: { origins } }))
        const expected = {
          "access-control-allow-origin": app,
          "access-control-expose-headers":
            "etag, location, retry-after, ratelimit, ratelimit-policy, x-request-id"
        }
        const withOrigin = { headers: { origin: app } }
        const replies = [
          yield* client.call("GET", `/widgets/${knownId}`, withOrigin),
          yield* client.call("POST", "/widgets", {
            ...withOrigin,
            body: JSON.stringify({ name: "gear", price: 1 })
          }),
          yield* client.call("GET", "/widgets/nope", withOrigin),
          yield* client.call("GET", "/missing", withOrigin),
          yield* client.call("POST", "/widgets", {
            ...withOrigin,
            body: "x",
            headers: { ...withOrigin.headers, "content-type": "text/plain" }
          }),
          yield* client.call("GET", "/boom", withOrigin)
        ]
        assert.deepStrictEqual(
          replies.map((reply) => reply.status),
          [200, 201, 400, 404, 415, 500]
        )
        for (const reply of replies) {
          assert.deepStrictEqual(corsHeaders(reply), expected, `on ${reply.status}`)
          assert.include(varyOf(reply), "origin")
        }
      }).pipe(Effect.scoped)
    )

    it.effect("to another origin, or without Origin, carry only Vary: Origin", () =>
      Effect.gen(function* () {
        const client = yield* serve(widgetsApp({ cors: { origins } }))
        for (const origin of [...lookAlikes, undefined]) {
          const reply = yield* client.call("GET", `/widgets/${knownId}`, {
            headers: origin === undefined ? {} : { origin }
          })
          assert.strictEqual(reply.status, 200)
          assert.deepStrictEqual(corsHeaders(reply), {}, String(origin))
          assert.deepStrictEqual(reply.headers.get("vary"), "Origin")
        }
      }).pipe(Effect.scoped)
    )

    it.effect("add Origin to a Vary the route set", () =>
      Effect.gen(function* () {
        const negotiated = HttpRouter.add(
          "GET",
          "/negotiated",
          HttpServerResponse.text("hi", { headers: { vary: "Accept-Encoding" } })
        )
        const already = HttpRouter.add(
          "GET",
          "/already",
          HttpServerResponse.text("hi", { headers: { vary: "origin" } })
        )
        const client = yield* serve(widgetsApp({ cors: { origins }, routes: [negotiated, already] }))
        assert.strictEqual(
          (yield* client.call("GET", "/negotiated")).headers.get("vary"),
          "Accept-Encoding, Origin"
        )
        assert.strictEqual((yield* client.call("GET", "/already")).headers.get("vary"), "origin")
      }).pipe(Effect.scoped)
    )

    it.effect("credentials are off unless configured, and the origin is never *", () =>
      Effect.gen(function* () {
        const off = yield* serve(widgetsApp({ cors: { origins } }))
        const plain = yield* off.call("GET", "/whoami", { headers: { origin: app } })
        assert.isNull(plain.headers.get("access-control-allow-credentials"))
        const on = yield* serve(widgetsApp({ cors: { origins, credentials: true, maxAgeSeconds: 60 } }))
        const actual = yield* on.call("GET", "/whoami", { headers: { origin: app } })
        assert.strictEqual(actual.headers.get("access-control-allow-credentials"), "true")
        assert.strictEqual(actual.headers.get("access-control-allow-origin"), app)
        const checked = yield* on.call("OPTIONS", "/whoami", preflight(app, "GET"))
        assert.strictEqual(checked.status, 204)
        assert.strictEqual(checked.headers.get("access-control-allow-credentials"), "true")
        assert.strictEqual(checked.headers.get("access-control-allow-origin"), app)
        assert.strictEqual(checked.headers.get("access-control-max-age"), "60")
      }).pipe(Effect.scoped)
    )
  })

  describe("with HttpApp", () => {
    it.effect("reads the policy from Cors.layerConfig when the cors option is omitted", () =>
      Effect.gen(function* () {
        const configured = HttpApp.layer({ api: Api, handlers: handlers(), accessLog: false }).pipe(
          Layer.provide(Layer.orDie(Cors.layerConfig())),
          Layer.provide(
            ConfigProvider.layer(ConfigProvider.fromUnknown({ CORS_ORIGINS: `${local}, ${app}` }))
          )
        )
        const client = yield* serve(configured)
        const reply = yield* client.call("OPTIONS", "/widgets", preflight(app, "POST", "content-type"))
        assert.strictEqual(reply.status, 204)
        assert.strictEqual(reply.headers.get("access-control-allow-origin"), app)
        const unset = yield* serve(HttpApp.layer({ api: Api, handlers: handlers(), accessLog: false }))
        const refused = yield* unset.call("OPTIONS", "/widgets", preflight(app, "POST"))
        assert.strictEqual(refused.status, 405)
      }).pipe(Effect.scoped)
    )

    it.effect("refuses to build with an invalid origin", () =>
      Effect.gen(function* () {
        const { handler, dispose } = HttpApp.toWebHandler(
          HttpApp.layer({
            api: Api,
            handlers: handlers(),
            accessLog: false,
            cors: { origins: ["https://*.example.com"] }
          })
        )
        const error = yield* Effect.tryPromise(() => handler(new Request("http://localhost/whoami"))).pipe(
          Effect.flip
        )
        yield* Effect.promise(dispose)
        assert.include(String(error.cause), "invalid cors options")
      })
    )
  })
})
